// Package health is both ends of the server's health checks: the routes
// it serves (GET /healthz, 200 while the process serves HTTP; GET /readyz,
// 200 while a readiness check passes, else 503) and the probe that
// `eventrouter health` runs against them (for places with no HTTP client,
// such as the container image's HEALTHCHECK).
//
// A failed readiness check's reason may name internal addresses, so it
// goes to the server's log, not to whoever probes: a WARN line with the
// reason when readiness turns to 503, and another, with how long it
// lasted, when it is ready again (both at WARN, so that an operator who
// sees the first also sees the second). It is internal because it knows
// nothing of eventrouter's parts: the check is a function.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// CheckTimeout bounds one readiness check.
const CheckTimeout = 2 * time.Second

// Readiness serves GET /healthz and GET /readyz for one server: mount it
// on each of its listeners' muxes, so that a change of readiness is logged
// once. It is safe for concurrent use.
type Readiness struct {
	check  func(context.Context) error
	logger *slog.Logger

	mu    sync.Mutex
	down  bool
	since time.Time
}

// NewReadiness returns the health routes of a server that is ready while
// check (called with a deadline of CheckTimeout) returns nil.
func NewReadiness(check func(context.Context) error, logger *slog.Logger) *Readiness {
	return &Readiness{check: check, logger: logger}
}

// Mount mounts GET /healthz and GET /readyz on mux.
func (rd *Readiness) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.Handle("GET /readyz", rd)
}

// ServeHTTP answers GET /readyz.
func (rd *Readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), CheckTimeout)
	defer cancel()
	err := rd.check(ctx)
	rd.observe(err)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "log": "unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

// observe logs a change of readiness.
func (rd *Readiness) observe(err error) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	switch {
	case err != nil && !rd.down:
		rd.down, rd.since = true, time.Now()
		rd.logger.Warn("not ready: /readyz answers 503", "reason", err.Error())
	case err != nil:
		rd.logger.Debug("still not ready", "reason", err.Error())
	case rd.down:
		rd.down = false
		rd.logger.Warn("ready again: /readyz answers 200", "unready_seconds", time.Since(rd.since).Seconds())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Probe asks url (a server's /healthz) for its health with hc (nil:
// http.DefaultClient) and returns the answer's status line when it is 200;
// any other answer is an error quoting its status and the start of its
// body.
func Probe(ctx context.Context, hc *http.Client, url string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s %s", url, resp.Status, body)
	}
	return resp.Status, nil
}

// ProbeAddr turns a listen address into one to connect to: a wildcard or
// empty host becomes the loopback address of its family.
func ProbeAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}
