package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
)

// Server is the admin API: a mux whose every route requires the admin
// token. It is an http.Handler meant to be mounted at "/admin/" (and
// "/debugger" for the page, "/debug/pprof/" for the profiles).
type Server struct {
	tokenSum [sha256.Size]byte
	enabled  bool
	mux      *http.ServeMux
	logger   *slog.Logger

	stopMu sync.Mutex
	// stops holds, for each http.Server that served a long request, a
	// channel closed when that server starts shutting down.
	stops map[*http.Server]chan struct{}
}

// ErrShuttingDown is the cause of the context of a long admin request
// (live stream, redrive, replay) that ended because the HTTP server is
// shutting down.
var ErrShuttingDown = errors.New("the server is shutting down")

// New returns a Server guarded by token. An empty token turns the admin API
// off: every request is answered 404 with a message saying how to turn it
// on.
func New(token string, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		tokenSum: sha256.Sum256([]byte(token)),
		enabled:  token != "",
		mux:      http.NewServeMux(),
		logger:   logger,
		stops:    map[*http.Server]chan struct{}{},
	}
}

// longContext returns the context of a long request (the live stream, an
// NDJSON operation): r's, also cancelled, with cause ErrShuttingDown,
// when the http.Server serving r shuts down. http.Server.Shutdown waits
// for active requests; without this an open debugger tab or `eventrouter
// tail` would hold it for the whole shutdown_timeout. The server is
// found in r's context (http.ServerContextKey) and watched through
// RegisterOnShutdown, once per server. Call cancel when the request ends.
func (s *Server) longContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return ctx, func() { cancel(context.Canceled) }
	}
	s.stopMu.Lock()
	ch, ok := s.stops[srv]
	if !ok {
		ch = make(chan struct{})
		s.stops[srv] = ch
		srv.RegisterOnShutdown(func() { close(ch) })
	}
	s.stopMu.Unlock()
	go func() {
		select {
		case <-ch:
			cancel(ErrShuttingDown)
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// stoppedMessage describes why a long operation's context ended, for its
// final error line.
func stoppedMessage(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), ErrShuttingDown) {
		return "the server is shutting down"
	}
	return "the request was cancelled"
}

// Enabled reports whether an admin token is configured.
func (s *Server) Enabled() bool { return s.enabled }

// Handle registers h for pattern (a net/http ServeMux pattern such as
// "GET /admin/dlq"); the token check runs before h.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
}

// HandleFunc registers f for pattern, like [Server.Handle].
func (s *Server) HandleFunc(pattern string, f func(http.ResponseWriter, *http.Request)) {
	s.mux.HandleFunc(pattern, f)
}

// HandlePublic registers h for pattern without the token check: only for
// the debugger page's static shell, which holds no data and asks for the
// token itself.
func (s *Server) HandlePublic(pattern string, h http.Handler) {
	s.mux.Handle(pattern, publicHandler{h})
}

type publicHandler struct{ http.Handler }

// ServeHTTP checks the token, then routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enabled {
		WriteError(w, http.StatusNotFound, "admin_disabled", "the admin API and the debugger are off: set http.admin_token in the config to turn them on")
		return
	}
	// The mux serves the request itself (not the handler Handler returns),
	// so that the route's path values ({seq}, ...) are set.
	h, pattern := s.mux.Handler(r)
	if _, public := h.(publicHandler); public && pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eventrouter admin"`)
		WriteError(w, http.StatusUnauthorized, "unauthorized", "a valid admin token is required: send Authorization: Bearer <token>")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// authorized compares the request's bearer token with the configured one in
// constant time (both are hashed first, so neither their content nor their
// length leaks through timing).
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(sum[:], s.tokenSum[:]) == 1
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// WriteError writes the JSON error shape that every admin endpoint uses:
// {"error": {"code": ..., "message": ...}}.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	WriteJSON(w, status, errorBody{Error: &APIError{Code: code, Message: message}})
}
