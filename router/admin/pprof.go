package admin

import (
	"net/http"
	"net/http/pprof"
)

// MountProfiling registers the Go runtime's profiles, as net/http/pprof
// serves them, under /debug/pprof/, behind the admin token like every other
// admin route: the index page, the named profiles (heap, allocs, goroutine,
// threadcreate, and block and mutex, which stay empty as eventrouter does
// not turn their sampling on; ?debug=1 gives text), cmdline, a CPU profile
// (profile?seconds=N, default 30), an execution trace (trace?seconds=N,
// default 1) and symbol. The HTTP server must route "/debug/pprof/" to s.
//
// The handlers are registered here explicitly; nothing serves
// http.DefaultServeMux, where importing net/http/pprof also registers them.
// A CPU profile or trace, and a delta profile (?seconds=N), runs for its
// duration past http.write_timeout (net/http/pprof extends the write
// deadline) but ends early, with what it has, when the server shuts down.
func (s *Server) MountProfiling() {
	s.Handle("GET /debug/pprof/", s.untilShutdown(http.HandlerFunc(pprof.Index)))
	s.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.Handle("GET /debug/pprof/profile", s.untilShutdown(http.HandlerFunc(pprof.Profile)))
	s.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	s.Handle("GET /debug/pprof/trace", s.untilShutdown(http.HandlerFunc(pprof.Trace)))
}

// untilShutdown runs h with the context of a long request, cancelled when
// the HTTP server starts shutting down, so that a profile being taken does
// not hold the shutdown for its whole duration.
func (s *Server) untilShutdown(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := s.longContext(r)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}
