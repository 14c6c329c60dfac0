package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// profilingServer serves an admin Server with the profiles mounted, over
// real HTTP, with a write timeout shorter than the CPU profile the test
// takes.
func profilingServer(t *testing.T, token string) *httptest.Server {
	t.Helper()
	s := New(token, nil)
	s.MountProfiling()
	srv := httptest.NewUnstartedServer(s)
	srv.Config.WriteTimeout = 500 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, ctx context.Context, method, url, token string) (int, []byte) {
	t.Helper()
	status, body, err := do(ctx, method, url, token)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// do sends a request with the admin token (when not empty) and reads the
// whole answer.
func do(ctx context.Context, method, url, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("reading %s: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

var gzipMagic = []byte{0x1f, 0x8b}

func TestProfiling(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	on := profilingServer(t, "s3cret-token")
	off := profilingServer(t, "")

	tests := []struct {
		name   string
		srv    *httptest.Server
		method string
		path   string
		token  string
		status int
		check  func(body []byte) bool // nil: any body
	}{
		{name: "no token", srv: on, path: "/debug/pprof/heap", status: 401},
		{name: "wrong token", srv: on, path: "/debug/pprof/heap", token: "nope", status: 401},
		{name: "index without token", srv: on, path: "/debug/pprof/", status: 401},
		{name: "cpu profile without token", srv: on, path: "/debug/pprof/profile?seconds=1", status: 401},
		{name: "symbol without token", srv: on, method: "POST", path: "/debug/pprof/symbol", status: 401},
		{name: "off: 404 with a token", srv: off, path: "/debug/pprof/heap", token: "s3cret-token", status: 404},
		{name: "off: 404 without", srv: off, path: "/debug/pprof/", status: 404},
		{
			name: "heap profile, gzipped protobuf", srv: on, path: "/debug/pprof/heap", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) },
		},
		{
			name: "heap profile as text", srv: on, path: "/debug/pprof/heap?debug=1", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, []byte("heap profile: ")) },
		},
		{
			name: "allocs", srv: on, path: "/debug/pprof/allocs", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) },
		},
		{
			name: "goroutines as text", srv: on, path: "/debug/pprof/goroutine?debug=2", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.Contains(b, []byte("goroutine ")) },
		},
		{
			name: "index", srv: on, path: "/debug/pprof/", token: "s3cret-token", status: 200,
			check: func(b []byte) bool {
				return bytes.Contains(b, []byte("heap")) && bytes.Contains(b, []byte("goroutine"))
			},
		},
		{
			name: "unknown profile", srv: on, path: "/debug/pprof/nope", token: "s3cret-token", status: 404,
		},
		{
			name: "cmdline", srv: on, path: "/debug/pprof/cmdline", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return len(b) > 0 },
		},
		{
			name: "symbol", srv: on, path: "/debug/pprof/symbol", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, []byte("num_symbols: ")) },
		},
		{
			// Longer than the server's 500ms write timeout.
			name: "cpu profile past the write timeout", srv: on, path: "/debug/pprof/profile?seconds=1", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, gzipMagic) },
		},
		{
			name: "execution trace", srv: on, path: "/debug/pprof/trace?seconds=0.2", token: "s3cret-token", status: 200,
			check: func(b []byte) bool { return bytes.HasPrefix(b, []byte("go 1.")) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			status, body := fetch(t, ctx, method, tt.srv.URL+tt.path, tt.token)
			if status != tt.status {
				t.Fatalf("status %d, want %d (%.200s)", status, tt.status, body)
			}
			if tt.check != nil && !tt.check(body) {
				t.Fatalf("unexpected body (%d bytes): %q", len(body), body[:min(len(body), 80)])
			}
			if status == 401 && !strings.Contains(string(body), `"unauthorized"`) {
				t.Fatalf("401 body %s, want the admin API's error", body)
			}
		})
	}
}

// TestProfileDoesNotHoldShutdown: a CPU profile being taken ends, with
// the samples it has, when the server shuts down, rather than holding
// http.Server.Shutdown for its whole duration.
func TestProfileDoesNotHoldShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := profilingServer(t, "tok")
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		status, body, err := do(ctx, "GET", srv.URL+"/debug/pprof/profile?seconds=60", "tok")
		done <- result{status, body, err}
	}()
	time.Sleep(300 * time.Millisecond) // the profile has started
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	start := time.Now()
	if err := srv.Config.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with a 60s CPU profile in progress: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.status != 200 || !bytes.HasPrefix(r.body, gzipMagic) {
			t.Fatalf("profile cut short by shutdown: %d %q, want 200 and a profile", r.status, r.body[:min(len(r.body), 80)])
		}
	case <-ctx.Done():
		t.Fatal("the profile request did not end")
	}
}
