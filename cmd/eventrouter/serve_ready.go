package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// readiness answers GET /readyz: 200 while the log is reachable, else 503.
// The reason may name internal addresses, so it goes to the server's log,
// not to whoever probes: a WARN line with the reason when readiness turns
// to 503, and another, with how long it lasted, when it is ready again
// (both at WARN, so that an operator who sees the first also sees the
// second).
type readiness struct {
	check  func(context.Context) error
	logger *slog.Logger

	mu    sync.Mutex
	down  bool
	since time.Time
}

func newReadiness(check func(context.Context) error, logger *slog.Logger) *readiness {
	return &readiness{check: check, logger: logger}
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
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
func (rd *readiness) observe(err error) {
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
