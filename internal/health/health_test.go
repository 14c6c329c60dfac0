package health

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestReadiness serves the routes and flips the check: /readyz follows
// it, /healthz does not, and each change is logged once at WARN with the
// reason, which the answer never carries.
func TestReadiness(t *testing.T) {
	var failing atomic.Bool
	var logs bytes.Buffer
	rd := NewReadiness(func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("the check has no deadline")
		}
		if failing.Load() {
			return errors.New("nats://10.0.0.7:4222: connection refused")
		}
		return nil
	}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
	mux := http.NewServeMux()
	rd.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %v, Content-Type %q", path, err, resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, body
	}
	steps := []struct {
		failing    bool
		wantStatus int
		wantBody   string
	}{
		{false, 200, "ready"},
		{true, 503, "unavailable"},
		{true, 503, "unavailable"},
		{false, 200, "ready"},
	}
	for i, s := range steps {
		failing.Store(s.failing)
		code, body := get("/readyz")
		if code != s.wantStatus || body["status"] != s.wantBody {
			t.Errorf("step %d: /readyz %d %v, want %d %s", i, code, body, s.wantStatus, s.wantBody)
		}
		if strings.Contains(fmt.Sprint(body), "10.0.0.7") {
			t.Errorf("the answer names an internal address: %v", body)
		}
		if code, body := get("/healthz"); code != 200 || body["status"] != "ok" {
			t.Errorf("step %d: /healthz %d %v", i, code, body)
		}
	}
	if n := strings.Count(logs.String(), "not ready: /readyz answers 503"); n != 1 || !strings.Contains(logs.String(), "10.0.0.7:4222") {
		t.Errorf("logged %d turn(s) to 503, want 1 with the reason:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "ready again: /readyz answers 200"); n != 1 || !strings.Contains(logs.String(), "unready_seconds=") {
		t.Errorf("logged %d return(s) to 200, want 1 with how long:\n%s", n, logs.String())
	}
}

func TestProbe(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(`{"status":"x"}`))
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if got, err := Probe(ctx, nil, srv.URL+"/healthz"); err != nil || got != "200 OK" {
		t.Errorf("healthy: %q, %v", got, err)
	}
	status = http.StatusServiceUnavailable
	if _, err := Probe(ctx, nil, srv.URL+"/healthz"); err == nil || !strings.Contains(err.Error(), `503 Service Unavailable {"status":"x"}`) {
		t.Errorf("unhealthy: %v", err)
	}
	srv.Close()
	if _, err := Probe(ctx, nil, srv.URL+"/healthz"); err == nil || !strings.HasPrefix(err.Error(), srv.URL+"/healthz: ") {
		t.Errorf("nobody listening: %v", err)
	}
}

func TestProbeAddr(t *testing.T) {
	tests := []struct{ listen, want string }{
		{":8080", "127.0.0.1:8080"},
		{"0.0.0.0:8080", "127.0.0.1:8080"},
		{"[::]:8080", "[::1]:8080"},
		{"10.1.2.3:9000", "10.1.2.3:9000"},
		{"localhost:1", "localhost:1"},
	}
	for _, tt := range tests {
		if got, err := ProbeAddr(tt.listen); err != nil || got != tt.want {
			t.Errorf("ProbeAddr(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	if _, err := ProbeAddr("8080"); err == nil {
		t.Error("ProbeAddr accepted an address without a port")
	}
}
