package routertest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/eventrouter/eventrouter/router"
)

// Scripted is a router.Destination whose Send returns a programmed sequence
// of outcomes: the first call returns the first outcome, the second call the
// second, and so on; once the script is used up, every call returns the
// final outcome (success for NewScripted, the error for NewFailing). An
// outcome is any error Send may return: nil, a plain error (retryable),
// router.Permanent(err), router.RetryAfter(err, d) or a *router.BatchError.
//
// Every call is recorded as an attempt (see Attempts). Messages counted as
// delivered — all of a batch for a nil outcome, those absent from
// BatchError.Failed for a batch error, none otherwise — are recorded in
// Delivered.
type Scripted struct {
	// Delivered records the messages counted as delivered.
	Delivered Recorder

	mu       sync.Mutex
	script   []error
	then     error // the outcome once the script is used up
	attempts [][]router.Message
}

// NewScripted returns a destination answering with outcomes in order, then
// with success.
func NewScripted(outcomes ...error) *Scripted {
	return &Scripted{script: outcomes}
}

// NewFailing returns a destination whose every Send fails with err.
func NewFailing(err error) *Scripted {
	return &Scripted{then: err}
}

// Send records the attempt and returns the next outcome. If ctx is done it
// returns ctx's error, still recording the attempt but not consuming an
// outcome.
func (s *Scripted) Send(ctx context.Context, batch []router.Message) error {
	s.mu.Lock()
	s.attempts = append(s.attempts, append([]router.Message(nil), batch...))
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("sending scripted batch: %w", err)
	}
	out := s.then
	if len(s.script) > 0 {
		out = s.script[0]
		s.script = s.script[1:]
	}
	s.mu.Unlock()

	var be *router.BatchError
	switch {
	case out == nil:
		s.Delivered.record(batch)
	case errors.As(out, &be):
		var ok []router.Message
		for i, m := range batch {
			if _, failed := be.Failed[i]; !failed {
				ok = append(ok, m)
			}
		}
		s.Delivered.record(ok)
	}
	return out
}

// Attempts returns a copy of every batch Send was called with, in order.
func (s *Scripted) Attempts() [][]router.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]router.Message(nil), s.attempts...)
}

// Calls returns how many times Send was called.
func (s *Scripted) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.attempts)
}

// Close returns nil.
func (s *Scripted) Close(context.Context) error { return nil }
