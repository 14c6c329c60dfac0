package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type dlqListing struct {
	Messages []struct {
		Seq       uint64 `json:"seq"`
		MessageID string `json:"message_id"`
		Error     string `json:"error"`
	} `json:"messages"`
	Total int `json:"total"`
}

func readDLQ(t *testing.T, base, dest string) dlqListing {
	t.Helper()
	code, body := adminCall(t, base, opsAdminToken, http.MethodGet, "/admin/dlq?destination="+dest, "")
	if code != 200 {
		t.Fatalf("GET /admin/dlq: %d %s", code, body)
	}
	var l dlqListing
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// postTrackBatch sends one batch of track events with the given ids and event
// name, for user u-<i>.
func postTrackBatch(t *testing.T, base, key, event string, ids []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"u-%d","event":%q}`, id, i, event)
	}
	b.WriteString(`]}`)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := post(ctx, http.DefaultClient, base+"/v1/batch", key, []byte(b.String()))
	if err != nil || status != 200 {
		t.Fatalf("posting events: %d %s %v", status, body, err)
	}
}

// deliveryCounts counts the deliveries of each message id at a sink.
func deliveryCounts(s *webhookSink) map[string]int {
	n := map[string]int{}
	for _, m := range s.messages() {
		n[m.MessageID]++
	}
	return n
}

// TestAdminAuthAndRedrive: the admin API answers 401 without the token and
// with a wrong one, the token never appears in the server's log, and `dlq
// redrive` delivers exactly the selected dead letters again, to their
// destination only, and removes them from the dead letters.
func TestAdminAuthAndRedrive(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	broken := newSink(t)
	other := newSink(t)
	var failing atomic.Bool
	failing.Store(true)
	broken.setRespond(func() (int, http.Header) {
		if failing.Load() {
			return http.StatusBadRequest, nil // permanent: dead-lettered at once
		}
		return http.StatusOK, nil
	})
	srv := startAdminServer(t, `log: {level: debug}
queue: {partitions: 2}
sources:
  app: {type: segment, write_keys: ["dlq-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 10, batch_timeout: 50ms}
  other: {type: webhook, url: %q, batch_size: 10, batch_timeout: 50ms}
`, broken.URL+"/in", other.URL+"/in")

	for _, tc := range []struct{ name, auth string }{
		{"no token", ""}, {"wrong token", "Bearer not-the-token"}, {"token as basic", "Basic " + opsAdminToken},
	} {
		for _, path := range []string{"/admin/dlq?destination=hook", "/admin/destinations", "/admin/log", "/admin/stream", "/admin/messages/app/dlq-1"} {
			if code, body := adminRequest(t, srv.base, http.MethodGet, path, tc.auth, ""); code != http.StatusUnauthorized {
				t.Errorf("%s: GET %s: %d %s, want 401", tc.name, path, code, body)
			}
		}
	}

	ids := []string{"dlq-0", "dlq-1", "dlq-2", "dlq-3", "dlq-4", "dlq-5"}
	postTrackBatch(t, srv.base, "dlq-key", "Order Completed", ids)
	other.waitForIDs(t, map[string]bool{"dlq-0": true, "dlq-1": true, "dlq-2": true, "dlq-3": true, "dlq-4": true, "dlq-5": true}, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	var l dlqListing
	for {
		if l = readDLQ(t, srv.base, "hook"); l.Total == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead letters of hook: %d, want %d", l.Total, len(ids))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(l.Messages[0].Error, "400") {
		t.Errorf("dead letter error %q does not name the 400", l.Messages[0].Error)
	}
	// The CLI lists them.
	code, out, errOut := runAdminCLI(t, "dlq", "list", "--destination", "hook", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "dlq-3") || !strings.Contains(out, "6 shown of 6") {
		t.Fatalf("dlq list: %d\n%s\n%s", code, out, errOut)
	}

	// Select three of them by seq.
	want := map[string]bool{}
	var sel []string
	for _, m := range l.Messages {
		if m.MessageID == "dlq-1" || m.MessageID == "dlq-2" || m.MessageID == "dlq-4" {
			want[m.MessageID] = true
			sel = append(sel, fmt.Sprint(m.Seq))
		}
	}
	code, out, errOut = runAdminCLI(t, "dlq", "redrive", "--destination", "hook", "--ids", strings.Join(sel, ","), "--dry-run", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "dry run: 3 dead letter(s)") {
		t.Fatalf("dlq redrive --dry-run: %d\n%s\n%s", code, out, errOut)
	}
	if n := readDLQ(t, srv.base, "hook").Total; n != 6 {
		t.Fatalf("a dry run changed the dead letters: %d left", n)
	}
	failing.Store(false)
	code, out, errOut = runAdminCLI(t, "dlq", "redrive", "--destination", "hook", "--ids", strings.Join(sel, ","), "--server", srv.base)
	if code != 0 || !strings.Contains(out, "redriven: 3") || !strings.Contains(errOut, "redrive") {
		t.Fatalf("dlq redrive: %d\n%s\n%s", code, out, errOut)
	}
	broken.waitForIDs(t, want, 30*time.Second)
	time.Sleep(time.Second) // anything else would arrive by now
	got := deliveryCounts(broken)
	var gotIDs []string
	for id := range got {
		gotIDs = append(gotIDs, id)
	}
	sort.Strings(gotIDs)
	if len(got) != 3 || got["dlq-1"] != 1 || got["dlq-2"] != 1 || got["dlq-4"] != 1 {
		t.Fatalf("hook received %v (%v), want dlq-1, dlq-2, dlq-4 once each", gotIDs, got)
	}
	for id, n := range deliveryCounts(other) {
		if n != 1 {
			t.Errorf("other received %s %d times: the redrive reached another destination", id, n)
		}
	}
	left := readDLQ(t, srv.base, "hook")
	if left.Total != 3 {
		t.Fatalf("%d dead letters left, want 3", left.Total)
	}
	for _, m := range left.Messages {
		if want[m.MessageID] {
			t.Errorf("%s was redriven but is still a dead letter", m.MessageID)
		}
	}
	// The same ids again: nothing to redrive, and the CLI says which ids
	// were not found rather than a bare 0.
	code, out, errOut = runAdminCLI(t, "dlq", "redrive", "--destination", "hook", "--ids", strings.Join(sel, ","), "--server", srv.base)
	if code != 0 || !strings.Contains(out, "redriven: 0") || !strings.Contains(out, "not found") || !strings.Contains(out, sel[0]) {
		t.Fatalf("dlq redrive of ids already redriven: %d\n%s\n%s", code, out, errOut)
	}
	// A redriven message shows in the debugger's recent window with its
	// attempts: the 400 that dead-lettered it, then the delivery.
	code2, body := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/messages/app/dlq-1", "")
	if code2 != 200 || !strings.Contains(string(body), `"dead_lettered"`) || !strings.Contains(string(body), `"delivered"`) || !strings.Contains(string(body), `\"dlq-1\"`) {
		_, recent := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/messages", "")
		t.Errorf("GET /admin/messages/app/dlq-1: %d %s\nrecent: %s", code2, body, recent)
	}

	srv.stop()
	if logs := srv.logs.String(); strings.Contains(logs, opsAdminToken) {
		t.Fatalf("the admin token appears in the server's log")
	} else if !strings.Contains(logs, "dead letters redriven") {
		t.Fatalf("the server's log does not show the redrive (is it captured?):\n%s", logs)
	}
}
