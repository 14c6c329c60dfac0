package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRetriesDeduplicatedAcrossKillAndRebuild: a client's retry of a batch,
// and GrowSurf's redelivery of a webhook, are not delivered twice when they
// come after the server was kill -9ed right after answering 200 (the dedupe
// index may have lost its last writes and is repaired from the log), nor
// after its dedupe index was deleted while it was stopped (rebuilt from the
// log, with progress lines). The retries come both as they were and in
// another order (another split into records), so that the index decides,
// not JetStream's short duplicate window on records.
//
// The destination batches for 2 s, so that nothing is delivered before the
// kill: a batch delivered before a kill -9 may be delivered again after it
// (its acknowledgement can die with the process; delivery is at least
// once), which would hide what this test checks, duplicates stored by
// ingest.
func TestRetriesDeduplicatedAcrossKillAndRebuild(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	webhook, err := os.ReadFile("../../router/ingest/testdata/growsurf/t2_referred_signup.json")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec-dedupe"
	snk := newSink(t)
	addr := freeAddr(t)
	data := t.TempDir()
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: info}
queue: {partitions: 4}
sources:
  app: {type: segment, write_keys: ["dd-key"]}
  referrals: {type: growsurf, secret: %q}
destinations:
  hook: {type: webhook, url: %q, batch_size: 500, batch_timeout: 2s}
`, addr, data, secret, snk.URL+"/in")
	srv := startServer(t, cfg, addr)
	ctx := context.Background()

	ids := make([]string, 120)
	for i := range ids {
		ids[i] = fmt.Sprintf("dd-%03d", i)
	}
	body := func(order []string) []byte {
		var b strings.Builder
		b.WriteString(`{"batch":[`)
		for i, id := range order {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"u%s","event":"Retried"}`, id, id[len(id)-1:])
		}
		b.WriteString(`]}`)
		return []byte(b.String())
	}
	reversed := make([]string, len(ids))
	for i, id := range ids {
		reversed[len(ids)-1-i] = id
	}
	send := func(order []string) {
		t.Helper()
		if status, out, err := post(ctx, http.DefaultClient, srv.base+"/v1/batch", "dd-key", body(order)); err != nil || status != 200 {
			t.Fatalf("batch: %d %s %v", status, out, err)
		}
	}
	deliver := func() {
		t.Helper()
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(webhook)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+"/webhooks/growsurf", bytes.NewReader(webhook))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("GrowSurf-Signature", "ts="+ts+",v="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}

	// Stored, answered 200, killed at once.
	send(ids)
	deliver()
	srv.kill()

	srv.start()
	send(reversed)
	send(ids)
	deliver()
	snk.waitForIDs(t, want, time.Minute)

	// Deleted while stopped: rebuilt from the log, which still holds
	// every record of the window.
	srv.stop()
	if err := os.RemoveAll(filepath.Join(data, "dedupe")); err != nil {
		t.Fatal(err)
	}
	srv.start()
	if logs := srv.logs.String(); !strings.Contains(logs, "rebuilding dedupe index from the log") || !strings.Contains(logs, "dedupe index ready") {
		t.Errorf("no rebuild lines in the log after the index was deleted:\n%s", logs)
	}
	send(reversed)
	deliver()

	// The webhook's four messages, then a second for anything delivered
	// twice to arrive.
	deadline := time.Now().Add(time.Minute)
	for {
		n := 0
		for _, m := range snk.messages() {
			if !want[m.MessageID] {
				n++
			}
		}
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	counts := map[string]int{}
	webhookMsgs := 0
	for _, m := range snk.messages() {
		counts[m.MessageID]++
		if !want[m.MessageID] {
			webhookMsgs++
		}
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	if webhookMsgs != 4 {
		t.Errorf("the GrowSurf delivery made %d messages across three deliveries, want 4 (two identifies, two tracks) once", webhookMsgs)
	}
}
