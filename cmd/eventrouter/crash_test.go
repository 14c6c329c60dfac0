package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLosesNothingAcknowledged runs eventrouter as a subprocess, sends
// batches from several clients, kill -9s the server in the middle of the
// load, restarts it on the same data directory and keeps sending. Every
// messageId that got a 200 must reach the webhook sink; duplicates are
// counted and reported (at-least-once), losses fail the test.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test skipped in -short mode")
	}
	const (
		clients        = 4
		batchSize      = 25
		totalEvents    = 6000
		killAfterAcked = 2000
	)
	snk := newSink(t)
	addr := freeAddr(t)
	dataDir := t.TempDir()
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {partitions: 8}
sources:
  app: {type: segment, write_keys: ["crash-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 200, batch_timeout: 100ms, initial_backoff: 50ms, max_backoff: 500ms, max_attempts: 1000}
`, addr, dataDir, snk.URL+"/in")
	srv := startServer(t, cfg, addr)

	var (
		mu      sync.Mutex
		acked   = map[string]bool{}
		nAcked  atomic.Int64
		next    atomic.Int64
		retries atomic.Int64
	)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for {
				start := next.Add(batchSize) - batchSize
				if start >= totalEvents {
					return
				}
				ids := make([]string, 0, batchSize)
				var b strings.Builder
				b.WriteString(`{"batch":[`)
				for i := start; i < start+batchSize; i++ {
					id := fmt.Sprintf("crash-%06d", i)
					ids = append(ids, id)
					if i > start {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"user-%d","event":"Crash Test","properties":{"n":%d}}`, id, i%50, i)
				}
				b.WriteString(`]}`)
				body := []byte(b.String())
				// Like an official client: resend the same batch until it is acknowledged.
				for {
					if ctx.Err() != nil {
						return
					}
					status, _, err := post(ctx, client, srv.base+"/v1/batch", "crash-key", body)
					if err == nil && status == http.StatusOK {
						break
					}
					retries.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				mu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				mu.Unlock()
				nAcked.Add(batchSize)
			}
		}(c)
	}

	for nAcked.Load() < killAfterAcked {
		if ctx.Err() != nil {
			t.Fatal("timed out before the kill point")
		}
		time.Sleep(5 * time.Millisecond)
	}
	delivered := len(snk.messages())
	srv.kill()
	t.Logf("killed the server (SIGKILL) after %d acknowledged events, %d delivered so far", nAcked.Load(), delivered)
	time.Sleep(300 * time.Millisecond)
	srv.start()
	t.Log("restarted the server on the same data directory")
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("load did not finish in time")
	}
	if got := len(acked); got < totalEvents {
		t.Fatalf("only %d of %d events acknowledged", got, totalEvents)
	}
	snk.waitForIDs(t, acked, 2*time.Minute)

	counts := map[string]int{}
	for _, m := range snk.messages() {
		counts[m.MessageID]++
	}
	var dups []string
	for id, n := range counts {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	sort.Strings(dups)
	t.Logf("crash test: %d events acknowledged, %d distinct delivered, 0 lost, %d delivered more than once, %d client resends",
		len(acked), len(counts), len(dups), retries.Load())
}
