package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// binPath is the eventrouter binary that TestMain builds once for the
// end-to-end tests, which run it as a subprocess exactly as a user would.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "eventrouter-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "eventrouter")
	build := exec.Command("go", "build", "-o", binPath, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building eventrouter for the end-to-end tests:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// serverProc is one `eventrouter serve` subprocess.
type serverProc struct {
	t       testing.TB
	cfgPath string
	base    string
	cmd     *exec.Cmd
	logs    *syncBuffer
	done    chan struct{}
}

// startServer writes cfg to a file and starts `eventrouter serve` on it; addr
// must be the http.listen address inside cfg. It waits for /readyz.
func startServer(t testing.TB, cfg, addr string) *serverProc {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "eventrouter.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{t: t, cfgPath: cfgPath, base: "http://" + addr}
	p.start()
	t.Cleanup(func() { p.stop() })
	return p
}

func (p *serverProc) start() {
	p.t.Helper()
	p.logs = &syncBuffer{}
	p.cmd = exec.Command(binPath, "serve", "--config", p.cfgPath)
	p.cmd.Stdout = p.logs
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("eventrouter exited before it was ready:\n%s", p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("eventrouter not ready after 60s:\n%s", p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits up to 30s for a clean exit.
func (p *serverProc) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.t.Errorf("eventrouter did not stop within 30s of SIGTERM; killing it")
		p.kill()
	}
}

// opsAdminToken is the http.admin_token of the servers startAdminServer
// starts; runAdminCLI uses it.
const opsAdminToken = "adm-7c1f4e-very-secret-token"

// startAdminServer starts `eventrouter serve` on a free port with
// http.admin_token opsAdminToken and a fresh data_dir; the rest of the
// configuration is fmt.Sprintf(format, args...).
func startAdminServer(t *testing.T, format string, args ...any) *serverProc {
	t.Helper()
	addr := freeAddr(t)
	cfg := fmt.Sprintf("http: {listen: %q, admin_token: %q}\ndata_dir: %q\n", addr, opsAdminToken, t.TempDir()) +
		fmt.Sprintf(format, args...)
	return startServer(t, cfg, addr)
}

// adminRequest sends an admin API request (with body when not empty) with
// the given Authorization header value (none when empty) and returns the
// status and body of the answer.
func adminRequest(t *testing.T, base, method, path, auth, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// adminCall sends an admin API request with the bearer token and returns
// the status and body of the answer.
func adminCall(t *testing.T, base, token, method, path, body string) (int, []byte) {
	t.Helper()
	return adminRequest(t, base, method, path, "Bearer "+token, body)
}

// runAdminCLI runs the eventrouter binary with opsAdminToken in its
// environment and returns its exit code, stdout and stderr.
func runAdminCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "EVENTROUTER_ADMIN_TOKEN="+opsAdminToken)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errOut.String()
}

// post sends body to path with Basic auth key and returns status and body.
func post(ctx context.Context, client *http.Client, url, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(key, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// sinkMessage is what the sink keeps of each delivered message.
type sinkMessage struct {
	MessageID string         `json:"messageId"`
	UserID    string         `json:"userId"`
	Type      string         `json:"type"`
	Event     string         `json:"event"`
	Body      map[string]any `json:"-"`
}

// webhookSink is an httptest server that receives the webhook destination's
// batches. Its answer can be changed while it runs.
type webhookSink struct {
	*httptest.Server
	mu       sync.Mutex
	received []sinkMessage
	respond  func() (status int, header http.Header) // nil = 200
	requests int
}

func newSink(t *testing.T) *webhookSink {
	s := &webhookSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *webhookSink) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	respond := s.respond
	s.mu.Unlock()
	if respond != nil {
		if status, h := respond(); status != http.StatusOK {
			for k, v := range h {
				w.Header()[k] = v
			}
			w.WriteHeader(status)
			return
		}
	}
	var body struct {
		Batch []json.RawMessage `json:"batch"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	msgs := make([]sinkMessage, 0, len(body.Batch))
	for _, raw := range body.Batch {
		var m sinkMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := json.Unmarshal(raw, &m.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		msgs = append(msgs, m)
	}
	s.mu.Lock()
	s.received = append(s.received, msgs...)
	s.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (s *webhookSink) setRespond(f func() (int, http.Header)) {
	s.mu.Lock()
	s.respond = f
	s.mu.Unlock()
}

func (s *webhookSink) messages() []sinkMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMessage(nil), s.received...)
}

// waitForIDs waits until every id in want has been received, or fails.
func (s *webhookSink) waitForIDs(t *testing.T, want map[string]bool, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]bool{}
		for _, m := range s.messages() {
			got[m.MessageID] = true
		}
		missing := 0
		var example string
		for id := range want {
			if !got[id] {
				missing++
				example = id
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged messages never reached the sink (e.g. %s)", missing, len(want), example)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var sigterm = syscall.SIGTERM

// startNATS runs a real NATS server with JetStream on a random loopback
// port, standing in for an external cluster; it stops when the test ends.
func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(ns.Shutdown)
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready")
	}
	return ns
}

// syncBuffer collects a subprocess's output; it is safe to read while the
// process writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
