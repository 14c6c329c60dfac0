package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestOutageRecoversInOrder makes the sink of one destination answer 503 for
// a while, then 429 with Retry-After, then recover. Everything must arrive,
// each user's messages in the order they were accepted, and a second, healthy
// destination must keep delivering during the outage.
func TestOutageRecoversInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end outage test skipped in -short mode")
	}
	const (
		users        = 20
		perUser      = 40
		phase503     = 2 * time.Second
		phase429     = 2 * time.Second
		retryAfterS  = "1"
		totalEvents  = users * perUser
		requestBatch = 10
	)
	broken := newSink(t)
	healthy := newSink(t)
	var phase atomic.Int32 // 0: 503, 1: 429, 2: healthy
	var saw503, saw429 atomic.Int64
	broken.setRespond(func() (int, http.Header) {
		switch phase.Load() {
		case 0:
			saw503.Add(1)
			return http.StatusServiceUnavailable, nil
		case 1:
			saw429.Add(1)
			return http.StatusTooManyRequests, http.Header{"Retry-After": {retryAfterS}}
		}
		return http.StatusOK, nil
	})

	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {partitions: 4}
sources:
  app: {type: segment, write_keys: ["outage-key"]}
destinations:
  flaky: {type: webhook, url: %q, batch_size: 50, batch_timeout: 50ms, initial_backoff: 50ms, max_backoff: 400ms, max_attempts: 1000}
  steady: {type: webhook, url: %q, batch_size: 50, batch_timeout: 50ms}
`, addr, t.TempDir(), broken.URL+"/in", healthy.URL+"/in")
	srv := startServer(t, cfg, addr)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	acked := map[string]bool{}
	start := time.Now()
	// Send sequentially so that acceptance order is the send order: event k of
	// user u is sent before event k+1 of user u.
	for k := 0; k < perUser; k += requestBatch / 2 {
		var b strings.Builder
		b.WriteString(`{"batch":[`)
		first := true
		var ids []string
		for u := 0; u < users; u++ {
			for j := k; j < k+requestBatch/2 && j < perUser; j++ {
				id := fmt.Sprintf("outage-u%02d-%03d", u, j)
				if !first {
					b.WriteByte(',')
				}
				first = false
				fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"u%02d","event":"Step","properties":{"seq":%d}}`, id, u, j)
				ids = append(ids, id)
			}
		}
		b.WriteString(`]}`)
		status, body, err := post(ctx, client, srv.base+"/v1/batch", "outage-key", []byte(b.String()))
		if err != nil || status != http.StatusOK {
			t.Fatalf("sending batch: status %d, body %s, err %v", status, body, err)
		}
		for _, id := range ids {
			acked[id] = true
		}
	}
	if len(acked) != totalEvents {
		t.Fatalf("acknowledged %d events, want %d", len(acked), totalEvents)
	}

	// The 503 phase lasts until the healthy destination has everything: it
	// must not be held back by the broken one.
	healthy.waitForIDs(t, acked, time.Minute)
	if n := len(broken.messages()); n != 0 {
		t.Fatalf("flaky sink accepted %d messages while answering 503", n)
	}
	time.Sleep(time.Until(start.Add(phase503)))
	phase.Store(1)
	time.Sleep(phase429)
	phase.Store(2)
	broken.waitForIDs(t, acked, time.Minute)

	if saw503.Load() == 0 || saw429.Load() == 0 {
		t.Fatalf("the outage did not happen as planned: %d answers of 503, %d of 429", saw503.Load(), saw429.Load())
	}
	for name, s := range map[string]*webhookSink{"flaky": broken, "steady": healthy} {
		last := map[string]int{}
		seen := map[string]bool{}
		dups := 0
		for _, m := range s.messages() {
			if seen[m.MessageID] {
				dups++
				continue
			}
			seen[m.MessageID] = true
			props, _ := m.Body["properties"].(map[string]any)
			seq := int(props["seq"].(float64))
			if prev, ok := last[m.UserID]; ok && seq != prev+1 {
				t.Errorf("%s: user %s got seq %d after %d: out of order", name, m.UserID, seq, prev)
			} else if !ok && seq != 0 {
				t.Errorf("%s: user %s started at seq %d", name, m.UserID, seq)
			}
			last[m.UserID] = seq
		}
		if dups > 0 {
			t.Errorf("%s: %d duplicate deliveries (the sink refused every failed attempt, so none were expected)", name, dups)
		}
	}
	t.Logf("outage: flaky sink answered 503 %d times and 429 %d times; all %d events arrived in per-user order at both destinations",
		saw503.Load(), saw429.Load(), totalEvents)
}
