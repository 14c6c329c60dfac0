package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestSIGTERMDrains sends events to a slow destination and stops the server
// with SIGTERM while batches are in flight: the process must exit 0, and
// after a restart every event must be delivered exactly once — the batch in
// flight was finished and acknowledged, not abandoned.
func TestSIGTERMDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	snk := newSink(t)
	snk.setRespond(func() (int, http.Header) {
		time.Sleep(300 * time.Millisecond) // a slow remote
		return http.StatusOK, nil
	})
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: info}
queue: {partitions: 2}
sources:
  app: {type: segment, write_keys: ["term-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 10, batch_timeout: 20ms}
`, addr, t.TempDir(), snk.URL)
	srv := startServer(t, cfg, addr)
	ctx := context.Background()
	want := map[string]bool{}
	// 20 requests of 10: the log holds a record per request and
	// partition, and dispatch finishes the records it fetched before it
	// stops, so there must be more of them than one batch.
	for r := 0; r < 20; r++ {
		var b strings.Builder
		b.WriteString(`{"batch":[`)
		for i := r * 10; i < r*10+10; i++ {
			if i > r*10 {
				b.WriteByte(',')
			}
			id := fmt.Sprintf("term-%03d", i)
			want[id] = true
			fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"u%d","event":"E"}`, id, i%7)
		}
		b.WriteString(`]}`)
		if status, body, err := post(ctx, http.DefaultClient, srv.base+"/v1/batch", "term-key", []byte(b.String())); err != nil || status != 200 {
			t.Fatalf("status %d %s %v", status, body, err)
		}
	}
	time.Sleep(400 * time.Millisecond) // let dispatch start sending
	if err := srv.cmd.Process.Signal(sigterm); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM:\n%s", srv.logs)
	}
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, srv.logs)
	}
	if !strings.Contains(srv.logs.String(), "eventrouter stopped") {
		t.Errorf("logs lack the clean-stop line:\n%s", srv.logs)
	}
	before := len(snk.messages())
	if before == len(want) {
		t.Fatalf("everything was delivered before SIGTERM; the test did not stop anything in flight")
	}
	snk.setRespond(nil)
	srv.start()
	snk.waitForIDs(t, want, time.Minute)
	time.Sleep(300 * time.Millisecond)
	counts := map[string]int{}
	for _, m := range snk.messages() {
		counts[m.MessageID]++
	}
	for id, n := range counts {
		if n != 1 {
			t.Errorf("%s delivered %d times across a graceful restart, want once", id, n)
		}
	}
	t.Logf("SIGTERM: %d of %d delivered before the stop, the rest after the restart, none twice", before, len(want))
}

// TestOperability checks /healthz, /readyz and /metrics on a server using an
// external NATS, and what happens when that NATS goes away: /readyz turns
// 503 and ingest answers 503 (never 200) while /healthz stays up.
func TestOperability(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := startNATS(t)
	snk := newSink(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
queue: {url: %q, partitions: 2, store_timeout: 2s}
sources:
  app: {type: segment, write_keys: ["ops-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 20ms}
`, addr, t.TempDir(), ns.ClientURL(), snk.URL)
	srv := startServer(t, cfg, addr)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	ctx := context.Background()
	if status, body, err := post(ctx, http.DefaultClient, srv.base+"/v1/track", "ops-key", []byte(`{"userId":"u1","event":"Ops"}`)); err != nil || status != 200 {
		t.Fatalf("track: %d %s %v", status, body, err)
	}
	if status, _, _ := post(ctx, http.DefaultClient, srv.base+"/v1/track", "ops-key", []byte(`{"event":"NoUser"}`)); status != 200 {
		t.Fatalf("rejected event answered %d, want 200", status)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	wantMetrics := []string{
		`eventrouter_http_requests_total{code="200",route="/v1/track"} 2`,
		`eventrouter_events_rejected_total{reason="no_user_anon_id"} 1`,
		`eventrouter_dispatch_delivered_total{destination="hook"} 1`,
		`eventrouter_dispatch_pending{destination="hook"} 0`,
		`eventrouter_dispatch_retried_total{destination="hook"}`,
		`eventrouter_dispatch_dead_lettered_total{destination="hook"}`,
		`eventrouter_ingest_store_duration_seconds_count`,
		`go_goroutines`,
	}
	var metrics string
	deadline := time.Now().Add(20 * time.Second) // the pending gauge refreshes every 5s
	for {
		var code int
		code, metrics = get("/metrics")
		if code != 200 {
			t.Fatalf("/metrics = %d", code)
		}
		var missing []string
		for _, want := range wantMetrics {
			if !strings.Contains(metrics, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %q", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if strings.Contains(metrics, "ops-key") || strings.Contains(srv.logs.String(), "ops-key") {
		t.Error("the write key appears in metrics or logs")
	}

	port, storeDir := ns.Addr().(*net.TCPAddr).Port, ns.StoreDir()
	ns.Shutdown()
	ns.WaitForShutdown()
	deadline = time.Now().Add(15 * time.Second)
	for {
		code, _ := get("/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d 15s after NATS went away", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	status, body, err := post(ctx, http.DefaultClient, srv.base+"/v1/track", "ops-key", []byte(`{"userId":"u1","event":"WhileDown"}`))
	if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(string(body), `"code":"unavailable"`) {
		t.Fatalf("track with NATS down: %d %s %v; want 503 unavailable", status, body, err)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d while NATS is down; liveness must not depend on the log", code)
	}
	// The reason for the 503 is in the server's log, at WARN.
	waitForLog(t, srv, `"level":"WARN","msg":"not ready: /readyz answers 503","reason":"reaching log: `, 10*time.Second)

	// NATS comes back: /readyz turns 200, and says so at WARN.
	back, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: storeDir, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	back.Start()
	t.Cleanup(back.Shutdown)
	deadline = time.Now().Add(30 * time.Second)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz not 200 30s after NATS came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitForLog(t, srv, `"level":"WARN","msg":"ready again: /readyz answers 200","unready_seconds":`, 10*time.Second)
}
