package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestReplayOneDestination: `eventrouter replay` delivers exactly the
// selected history (a time range, one event name) again, with the same
// messageIds, to the named destination only.
func TestReplayOneDestination(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	hook := newSink(t)
	other := newSink(t)
	srv := startAdminServer(t, `log: {level: info}
queue: {partitions: 3}
sources:
  app: {type: segment, write_keys: ["replay-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 10, batch_timeout: 50ms}
  other: {type: webhook, url: %q, batch_size: 10, batch_timeout: 50ms}
`, hook.URL+"/in", other.URL+"/in")

	orders := []string{"rp-order-0", "rp-order-1", "rp-order-2", "rp-order-3", "rp-order-4"}
	signups := []string{"rp-signup-0", "rp-signup-1", "rp-signup-2"}
	postTrackBatch(t, srv.base, "replay-key", "Order Completed", orders)
	postTrackBatch(t, srv.base, "replay-key", "Signed Up", signups)
	all := map[string]bool{}
	for _, id := range append(append([]string(nil), orders...), signups...) {
		all[id] = true
	}
	hook.waitForIDs(t, all, 30*time.Second)
	other.waitForIDs(t, all, 30*time.Second)

	code, out, errOut := runAdminCLI(t, "replay", "--destination", "hook", "--since", "1h", "--events", "Order Completed", "--dry-run", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "dry run: 5 of 8 message(s)") {
		t.Fatalf("replay --dry-run: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runAdminCLI(t, "replay", "--destination", "nope", "--since", "1h", "--server", srv.base)
	if code != 1 || !strings.Contains(errOut, "unknown_destination") {
		t.Fatalf("replay to an unknown destination: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runAdminCLI(t, "replay", "--destination", "hook", "--since", "1h", "--events", "Order Completed", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "replayed: 5 message(s)") || !strings.Contains(errOut, "replay: ") {
		t.Fatalf("replay: %d\n%s\n%s", code, out, errOut)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := deliveryCounts(hook)
		done := true
		for _, id := range orders {
			done = done && n[id] == 2
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hook deliveries after the replay: %v", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // anything else would arrive by now
	for id, n := range deliveryCounts(hook) {
		want := 1
		if strings.HasPrefix(id, "rp-order-") {
			want = 2
		}
		if n != want {
			t.Errorf("hook received %s %d times, want %d", id, n, want)
		}
	}
	for id, n := range deliveryCounts(other) {
		if n != 1 {
			t.Errorf("other received %s %d times: the replay reached another destination", id, n)
		}
	}
}

// TestTail runs `eventrouter tail` against a running server and reads the
// messages it prints.
func TestTail(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	srv := startAdminServer(t, `log: {level: warn}
queue: {partitions: 2}
sources:
  app: {type: segment, write_keys: ["tail-key"]}
  web: {type: segment, write_keys: ["tail-web-key"]}
`)

	cmd := exec.Command(binPath, "tail", "--source", "app", "--server", srv.base)
	cmd.Env = append(os.Environ(), "EVENTROUTER_ADMIN_TOKEN="+opsAdminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()

	// tail connects in the background: send until a message shows up.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("tail exited: %s", stderr.String())
			}
			if strings.Contains(l, "tail-web-") {
				t.Fatalf("tail --source app printed a message of source web: %s", l)
			}
			if !strings.Contains(l, "id=tail-app-") || !strings.Contains(l, "accepted") || !strings.Contains(l, "Tail Test") || !strings.Contains(l, "user=u-0") {
				t.Fatalf("unexpected tail line: %q", l)
			}
			return
		case <-tick.C:
			postTrackBatch(t, srv.base, "tail-web-key", "Tail Test", []string{fmt.Sprintf("tail-web-%d", i)})
			postTrackBatch(t, srv.base, "tail-key", "Tail Test", []string{fmt.Sprintf("tail-app-%d", i)})
		case <-deadline:
			t.Fatalf("tail printed nothing within 30s; stderr: %s", stderr.String())
		}
	}
}

// TestRetentionWarning: a destination whose oldest pending message nears
// the log's retention is warned about in the log and in the metrics before
// anything expires.
func TestRetentionWarning(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	srv := startAdminServer(t, `log: {level: info}
queue: {partitions: 2, retention: 6s, dedupe_window: 1s, backlog_warning: 0.5}
sources:
  app: {type: segment, write_keys: ["ret-key"]}
destinations:
  parked: {type: webhook, url: "http://127.0.0.1:1/in", disabled: true}
`)
	postTrackBatch(t, srv.base, "ret-key", "Order Completed", []string{"ret-0", "ret-1"})
	sent := time.Now()

	deadline := time.Now().Add(20 * time.Second)
	const warning = "destination backlog nears the log's retention"
	for !strings.Contains(srv.logs.String(), warning) {
		if time.Now().After(deadline) {
			t.Fatalf("no retention warning in the log:\n%s", srv.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if el := time.Since(sent); el > 6*time.Second {
		t.Fatalf("the warning came %s after the message was stored: after it could expire (retention 6s)", el)
	}
	resp, err := httpGet(srv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`eventrouter_destination_backlog_warning{destination="parked"} 1`,
		`eventrouter_log_retention_seconds 6`,
		`eventrouter_destination_oldest_pending_age_seconds{destination="parked"}`,
		`eventrouter_log_bytes`,
	} {
		if !strings.Contains(resp, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	code, body := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/log", "")
	if code != 200 || !strings.Contains(string(body), `"retention":"6s"`) || !strings.Contains(string(body), `"name":"parked","lag":2`) || !strings.Contains(string(body), `"warning":true`) {
		t.Fatalf("GET /admin/log: %d %s", code, body)
	}
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
