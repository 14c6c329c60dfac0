// Package httpserve runs a server's HTTP listeners: the public one and,
// when the operator's routes have an address of their own, the admin one.
// Both are opened before anything is served (so that an address in use
// stops the start, with the other listener closed), served at once, and
// shut down together, each waiting up to the same timeout for the
// requests in flight, so that what those requests store is stored before
// the caller drains what comes after them.
//
// It is internal because it knows nothing of eventrouter's parts: it
// serves the handlers it is given.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// IdleTimeout is how long a keep-alive connection may wait for its next
// request.
const IdleTimeout = 2 * time.Minute

// Options are the listeners' addresses and limits.
type Options struct {
	// Listen is the public listener's address (host:port; port 0 picks
	// one).
	Listen string
	// AdminListen is the admin listener's address; empty means none (the
	// public listener serves the operator's routes too).
	AdminListen string
	// ReadTimeout bounds reading a request, headers included.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer.
	WriteTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers.
	MaxHeaderBytes int
	// Logger receives the servers' own errors (at WARN) and shutdown
	// problems.
	Logger *slog.Logger
}

// Servers are the open listeners and their servers.
type Servers struct {
	public, admin     *http.Server
	publicLn, adminLn net.Listener
	logger            *slog.Logger
}

// Listen opens the public listener for public and, when o.AdminListen is
// set, the admin listener for admin. On an error no listener is left
// open; the error names the address (and http.admin_listen for the admin
// one).
func Listen(o Options, public, admin http.Handler) (*Servers, error) {
	newServer := func(h http.Handler) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadTimeout:       o.ReadTimeout,
			ReadHeaderTimeout: o.ReadTimeout,
			WriteTimeout:      o.WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    o.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
		}
	}
	s := &Servers{public: newServer(public), logger: o.Logger}
	var err error
	if s.publicLn, err = net.Listen("tcp", o.Listen); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", o.Listen, err)
	}
	if o.AdminListen != "" {
		s.admin = newServer(admin)
		if s.adminLn, err = net.Listen("tcp", o.AdminListen); err != nil {
			s.publicLn.Close()
			return nil, fmt.Errorf("listening on %s (http.admin_listen): %w", o.AdminListen, err)
		}
	}
	return s, nil
}

// Addr is the public listener's address.
func (s *Servers) Addr() string { return s.publicLn.Addr().String() }

// AdminAddr is the address that serves the operator's routes: the admin
// listener's, or the public one's when there is none.
func (s *Servers) AdminAddr() string {
	if s.adminLn != nil {
		return s.adminLn.Addr().String()
	}
	return s.Addr()
}

// Serve starts serving on every listener and returns the channel on which
// each server's Serve error arrives when it stops (http.ErrServerClosed
// after [Servers.Shutdown]).
func (s *Servers) Serve() <-chan error {
	done := make(chan error, 2)
	go func() { done <- s.public.Serve(s.publicLn) }()
	if s.admin != nil {
		go func() { done <- s.admin.Serve(s.adminLn) }()
	}
	return done
}

// Shutdown stops both servers at once, waiting up to timeout for the
// requests in flight; what is still running then is logged and cut.
func (s *Servers) Shutdown(timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	adminDone := make(chan struct{})
	go func() {
		defer close(adminDone)
		if s.admin == nil {
			return
		}
		if err := s.admin.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Warn("http shutdown (admin listener)", "error", err.Error())
		}
	}()
	if err := s.public.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.logger.Warn("http shutdown", "error", err.Error())
	}
	<-adminDone
}
