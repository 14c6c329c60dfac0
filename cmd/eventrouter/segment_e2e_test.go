package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"

	"github.com/eventrouter/eventrouter/router/eventlog"
)

// segmentFront stands in front of the server that plays Segment: it counts
// the requests and, while answer returns a status other than 200, answers
// with that status and body instead of passing the request on.
type segmentFront struct {
	*httptest.Server
	requests atomic.Int64
	refused  atomic.Int64
	answer   atomic.Pointer[func() (int, string)]
}

// newSegmentFront starts a front that proxies to target (a base URL; empty:
// nothing behind it, every passed request is answered 502).
func newSegmentFront(t *testing.T, target string) *segmentFront {
	t.Helper()
	f := &segmentFront{}
	var proxy http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nothing behind this front", http.StatusBadGateway)
	})
	if target != "" {
		u, err := url.Parse(target)
		if err != nil {
			t.Fatal(err)
		}
		proxy = httputil.NewSingleHostReverseProxy(u)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if a := f.answer.Load(); a != nil {
			if status, body := (*a)(); status != http.StatusOK {
				f.refused.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, body)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *segmentFront) setAnswer(a func() (int, string)) { f.answer.Store(&a) }

// startSegmentStandIn starts server B, an eventrouter that plays Segment: a
// segment source with write key "seg-key" whose messages go to a webhook
// sink.
func startSegmentStandIn(t *testing.T) (*serverProc, *webhookSink) {
	t.Helper()
	snk := newSink(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  segment-api: {type: segment, write_keys: ["seg-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 50ms}
`, addr, t.TempDir(), snk.URL+"/in")
	return startServer(t, cfg, addr), snk
}

// waitForMetric polls p's /metrics until it has line, or fails.
func waitForMetric(t *testing.T, p *serverProc, line string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(metricsOf(t, p), line) {
		if time.Now().After(deadline) {
			name, _, _ := strings.Cut(line, "{")
			t.Fatalf("no %q in /metrics after %s; it has:\n%s\nlogs:\n%s", line, timeout, grepLines(metricsOf(t, p), name), p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// asJSONMap returns v encoded as JSON and decoded again, as the receiving
// end sees it.
func asJSONMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSegmentDestinationToSecondServer points server A's segment
// destination at server B, a second eventrouter acting as Segment. The six
// message types, sent to A with analytics-go,
// must each reach B's sink exactly once with their ids, names, traits,
// properties, context extras and integrations intact, plus the
// integrations disable_integrations turns off.
func TestSegmentDestinationToSecondServer(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	b, snk := startSegmentStandIn(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  app: {type: segment, write_keys: ["app-key"]}
destinations:
  seg: {type: segment, endpoint: %q, write_key: seg-key, disable_integrations: ["Customer.io"], batch_timeout: 50ms}
`, addr, t.TempDir(), b.base)
	a := startServer(t, cfg, addr)

	cb := &recordingCallback{}
	client, err := analytics.NewWithConfig("app-key", analytics.Config{
		Endpoint:  a.base,
		BatchSize: 6,
		Interval:  time.Hour,
		Callback:  cb,
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx := &analytics.Context{
		Campaign: analytics.CampaignInfo{Name: "spring", Source: "newsletter", Medium: "email"},
		Extra: map[string]any{
			"customKey":  map[string]any{"nested": "value", "n": 7, "on": true},
			"experiment": "variant-b",
		},
	}
	integrations := func() analytics.Integrations { return analytics.NewIntegrations().Disable("Mixpanel") }
	historical := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	msgs := []analytics.Message{
		analytics.Identify{MessageId: "seg-identify", UserId: "u1", AnonymousId: "a1", Context: mctx, Integrations: integrations(),
			Traits: analytics.NewTraits().SetEmail("ada@example.com").SetName("Ada").Set("plan", "pro").Set("logins", 42).
				Set("address", map[string]any{"city": "Paris", "postalCode": "75001"})},
		analytics.Track{MessageId: "seg-track", UserId: "u1", Event: "Order Completed", Timestamp: historical, Context: mctx, Integrations: integrations(),
			Properties: analytics.NewProperties().SetRevenue(9.99).SetCurrency("EUR").
				Set("items", []any{map[string]any{"sku": "A1", "qty": 2}}).Set("big", 12345678901234)},
		analytics.Page{MessageId: "seg-page", UserId: "u1", Name: "Docs", Context: mctx, Integrations: integrations(),
			Properties: analytics.NewProperties().SetPath("/docs").SetTitle("Docs")},
		analytics.Screen{MessageId: "seg-screen", AnonymousId: "a1", Name: "Home", Context: mctx, Integrations: integrations(),
			Properties: analytics.NewProperties().Set("theme", "dark")},
		analytics.Group{MessageId: "seg-group", UserId: "u1", GroupId: "g1", Context: mctx, Integrations: integrations(),
			Traits: analytics.NewTraits().SetName("Acme").Set("employees", 50)},
		analytics.Alias{MessageId: "seg-alias", PreviousId: "a1", UserId: "u1", Context: mctx, Integrations: integrations()},
	}
	wantType := map[string]string{"seg-identify": "identify", "seg-track": "track", "seg-page": "page",
		"seg-screen": "screen", "seg-group": "group", "seg-alias": "alias"}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatalf("enqueue %T: %v", m, err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if len(cb.failed) > 0 || len(cb.succeeded) != len(msgs) {
		t.Fatalf("analytics-go callbacks: %d successes, failures %v", len(cb.succeeded), cb.failed)
	}

	sent := map[string]map[string]any{}
	for _, m := range msgs {
		sent[messageID(m)] = asJSONMap(t, m)
	}
	want := map[string]bool{}
	for id := range sent {
		want[id] = true
	}
	snk.waitForIDs(t, want, 30*time.Second)
	waitForMetric(t, a, `eventrouter_dispatch_delivered_total{destination="seg"} 6`, 10*time.Second)
	time.Sleep(300 * time.Millisecond) // let any duplicate show up

	sentCtx := asJSONMap(t, mctx)
	seen := map[string]int{}
	for _, m := range snk.messages() {
		id := m.MessageID
		seen[id]++
		s, ok := sent[id]
		if !ok {
			t.Errorf("B received a message that was never sent: %v", m.Body)
			continue
		}
		if m.Type != wantType[id] {
			t.Errorf("%s: type %q, want %q", id, m.Type, wantType[id])
		}
		for _, f := range []string{"userId", "anonymousId", "event", "name", "groupId", "previousId", "traits", "properties"} {
			if got, want := m.Body[f], s[f]; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s = %#v at B, sent %#v", id, f, got, want)
			}
		}
		ctx, _ := m.Body["context"].(map[string]any)
		for _, k := range []string{"campaign", "customKey", "experiment"} {
			if got, want := ctx[k], sentCtx[k]; want == nil || !reflect.DeepEqual(got, want) {
				t.Errorf("%s: context.%s = %#v at B, sent %#v", id, k, got, want)
			}
		}
		wantIntegrations := map[string]any{"Mixpanel": false, "Customer.io": false}
		if got := m.Body["integrations"]; !reflect.DeepEqual(got, wantIntegrations) {
			t.Errorf("%s: integrations = %#v at B, want %#v (the message's own plus disable_integrations)", id, got, wantIntegrations)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s reached B's sink %d times, want exactly once", id, seen[id])
		}
	}
	// A forwards the originalTimestamp it stored (the client's timestamp):
	// B records it exactly, and derives about the timestamp A stored.
	for _, m := range snk.messages() {
		if m.MessageID != "seg-track" {
			continue
		}
		ot, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m.Body["originalTimestamp"]))
		if err != nil {
			t.Fatalf("track originalTimestamp at B: %v", err)
		}
		if !ot.Equal(historical) {
			t.Errorf("track originalTimestamp at B = %v, want the client's timestamp %v", ot, historical)
		}
		ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(m.Body["timestamp"]))
		if err != nil {
			t.Fatalf("track timestamp at B: %v", err)
		}
		if d := ts.Sub(historical); d < 0 || d > time.Minute {
			t.Errorf("track timestamp at B = %v, want the client's timestamp %v plus the send delay", ts, historical)
		}
	}
	if strings.Contains(a.logs.String(), "seg-key") {
		t.Errorf("A's logs quote the segment write key:\n%s", a.logs.String())
	}
}

// TestSegmentDestinationOutage makes the endpoint in front of B answer 503
// until the test has seen A retry a few times, then pass requests on. Every
// event must reach B's sink exactly once, each user's in the order sent.
func TestSegmentDestinationOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const users, perUser = 5, 10
	b, snk := startSegmentStandIn(t)
	front := newSegmentFront(t, b.base)
	var down atomic.Bool
	down.Store(true)
	front.setAnswer(func() (int, string) {
		if down.Load() {
			return http.StatusServiceUnavailable, `{"code":"unavailable"}`
		}
		return http.StatusOK, ""
	})

	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: error}
queue: {partitions: 4}
sources:
  app: {type: segment, write_keys: ["app-key"]}
destinations:
  seg: {type: segment, endpoint: %q, write_key: seg-key, batch_size: 20, batch_timeout: 50ms, initial_backoff: 50ms, max_backoff: 400ms, max_attempts: 1000}
`, addr, t.TempDir(), front.URL)
	a := startServer(t, cfg, addr)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	acked := map[string]bool{}
	start := time.Now()
	// One request per step, sent in turn: event j of a user is accepted
	// before its event j+1.
	for j := 0; j < perUser; j++ {
		var sb strings.Builder
		sb.WriteString(`{"batch":[`)
		for u := 0; u < users; u++ {
			if u > 0 {
				sb.WriteByte(',')
			}
			id := fmt.Sprintf("segout-u%d-%02d", u, j)
			fmt.Fprintf(&sb, `{"type":"track","messageId":%q,"userId":"u%d","event":"Step","properties":{"seq":%d}}`, id, u, j)
			acked[id] = true
		}
		sb.WriteString(`]}`)
		status, body, err := post(ctx, client, a.base+"/v1/batch", "app-key", []byte(sb.String()))
		if err != nil || status != http.StatusOK {
			t.Fatalf("step %d: status %d, body %s, err %v", j, status, body, err)
		}
	}

	// The outage lasts 1.5s and until A has been refused a few times, so
	// that retries back off past initial_backoff.
	deadline := time.Now().Add(20 * time.Second)
	for front.refused.Load() < 5 || time.Since(start) < 1500*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("A tried the failing endpoint only %d times in 20s", front.refused.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(snk.messages()); n != 0 {
		t.Fatalf("B's sink got %d messages while its front answered 503", n)
	}
	down.Store(false)
	snk.waitForIDs(t, acked, 30*time.Second)
	waitForMetric(t, a, fmt.Sprintf(`eventrouter_dispatch_delivered_total{destination="seg"} %d`, users*perUser), 10*time.Second)
	time.Sleep(300 * time.Millisecond) // let any duplicate show up

	seen := map[string]int{}
	last := map[string]int{}
	for _, m := range snk.messages() {
		seen[m.MessageID]++
		if seen[m.MessageID] > 1 {
			continue
		}
		props, _ := m.Body["properties"].(map[string]any)
		seq, ok := props["seq"].(float64)
		if !ok {
			t.Errorf("%s: properties.seq = %#v", m.MessageID, props["seq"])
			continue
		}
		if prev, ok := last[m.UserID]; (ok && int(seq) != prev+1) || (!ok && seq != 0) {
			t.Errorf("user %s: seq %v after %d: out of order", m.UserID, seq, prev)
		}
		last[m.UserID] = int(seq)
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("%s reached B's sink %d times, want exactly once", id, seen[id])
		}
	}
	if len(seen) != len(acked) {
		t.Errorf("B's sink got %d distinct messages, want %d", len(seen), len(acked))
	}
	if dl := grepLines(metricsOf(t, a), `eventrouter_dispatch_dead_lettered_total{destination="seg"}`); !strings.HasSuffix(dl, " 0") {
		t.Errorf("messages were dead-lettered during a retryable outage: %s", dl)
	}
	if r := grepLines(metricsOf(t, a), `eventrouter_dispatch_retried_total{destination="seg"}`); r == "" || strings.HasSuffix(r, " 0") {
		t.Errorf("A counted no retries during the outage: %q", r)
	}
	t.Logf("outage: the front refused %d of %d requests with 503; all %d events reached B once, in per-user order",
		front.refused.Load(), front.requests.Load(), len(acked))
}

// TestSegmentDestination400DeadLetters makes the endpoint answer 400: the
// message must be dead-lettered after one attempt, with the status and the
// answer's body as the reason in the dead-letter stream and in A's log.
func TestSegmentDestination400DeadLetters(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const answer = `{"code":"bad","message":"no"}`
	front := newSegmentFront(t, "")
	front.setAnswer(func() (int, string) { return http.StatusBadRequest, answer })
	// An external NATS, so that the test can read A's dead-letter stream.
	ns := startNATS(t)

	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {url: %q}
sources:
  app: {type: segment, write_keys: ["app-key"]}
destinations:
  seg: {type: segment, endpoint: %q, write_key: seg-key, batch_timeout: 50ms, initial_backoff: 50ms, max_attempts: 10}
`, addr, t.TempDir(), ns.ClientURL(), front.URL)
	a := startServer(t, cfg, addr)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	const id = "seg-rejected-1"
	body := fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u1","event":"Refused","properties":{"n":1}}`, id)
	status, resp, err := post(ctx, client, a.base+"/v1/track", "app-key", []byte(body))
	if err != nil || status != http.StatusOK {
		t.Fatalf("track: status %d, body %s, err %v", status, resp, err)
	}

	waitForMetric(t, a, `eventrouter_dispatch_dead_lettered_total{destination="seg"} 1`, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // ten initial backoffs: a retry would show
	if n := front.requests.Load(); n != 1 {
		t.Errorf("the endpoint got %d requests, want 1: a 400 is permanent, not retried", n)
	}
	m := metricsOf(t, a)
	for _, line := range []string{
		`eventrouter_dispatch_retried_total{destination="seg"} 0`,
		`eventrouter_dispatch_delivered_total{destination="seg"} 0`,
	} {
		if !strings.Contains(m, line) {
			t.Errorf("A's /metrics lacks %q:\n%s", line, grepLines(m, `destination="seg"`))
		}
	}

	// The reason, in the dead-letter stream: the status and the answer.
	log, err := eventlog.Open(ctx, eventlog.Config{URL: ns.ClientURL(), DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	dls, err := log.DeadLetters(ctx, "seg", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 {
		t.Fatalf("%d dead letters for seg, want 1: %+v", len(dls), dls)
	}
	dl := dls[0]
	if dl.Message.ID != id || dl.Destination != "seg" || dl.Attempts != 1 {
		t.Errorf("dead letter: message %q, destination %q, %d attempts; want %q, seg, 1", dl.Message.ID, dl.Destination, dl.Attempts, id)
	}
	for _, part := range []string{"400 Bad Request", strconv.Quote(answer)} {
		if !strings.Contains(dl.LastError, part) {
			t.Errorf("dead letter reason %q does not contain %s", dl.LastError, part)
		}
	}
	var stored map[string]any
	if err := json.Unmarshal(dl.Message.Body, &stored); err != nil || stored["event"] != "Refused" {
		t.Errorf("dead letter body %s (err %v), want the stored track", dl.Message.Body, err)
	}

	// The reason, in A's log.
	logs := a.logs.String()
	deadLine := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "message dead-lettered") && strings.Contains(l, id) {
			deadLine = l
		}
	}
	if !strings.Contains(deadLine, "400 Bad Request") || !strings.Contains(deadLine, `bad`) {
		t.Errorf("no log line dead-lettering %s with the 400 and its answer; logs:\n%s", id, logs)
	}
	if strings.Contains(logs, "seg-key") || strings.Contains(dl.LastError, "seg-key") {
		t.Errorf("the segment write key is quoted in the logs or the reason")
	}
}
