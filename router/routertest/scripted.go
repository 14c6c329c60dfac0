package routertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Scripted is a router.Destination whose Send returns a programmed sequence
// of outcomes: the first call returns the first outcome, the second call the
// second, and so on; once the script is used up, every call returns Then.
// An outcome is any error Send may return: nil, a plain error (retryable),
// router.Permanent(err), router.RetryAfter(err, d) or a *router.BatchError.
//
// Every call is recorded as an attempt (see Attempts). Messages counted as
// delivered — all of a batch for a nil outcome, those absent from
// BatchError.Failed for a batch error, none otherwise — are recorded in
// Delivered.
type Scripted struct {
	// Then is the outcome once the script is used up (nil: success). Set it
	// before the first Send.
	Then error
	// Latency, when positive, is how long each Send takes before its
	// outcome; a Send cancelled during it returns ctx's error without
	// consuming an outcome. Set it before the first Send.
	Latency time.Duration
	// Delivered records the messages counted as delivered.
	Delivered Recorder

	mu       sync.Mutex
	script   []error
	attempts [][]router.Message
	closed   int
}

// NewScripted returns a destination answering with outcomes in order, then
// with success.
func NewScripted(outcomes ...error) *Scripted {
	return &Scripted{script: outcomes}
}

// NewFailing returns a destination whose every Send fails with err.
func NewFailing(err error) *Scripted {
	return &Scripted{Then: err}
}

// Send records the attempt and returns the next outcome. If ctx is done
// (before the call or during Latency) it returns ctx's error, still
// recording the attempt but not consuming an outcome.
func (s *Scripted) Send(ctx context.Context, batch []router.Message) error {
	s.mu.Lock()
	s.attempts = append(s.attempts, append([]router.Message(nil), batch...))
	s.mu.Unlock()
	if s.Latency > 0 {
		t := time.NewTimer(s.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending scripted batch: %w", err)
	}
	s.mu.Lock()
	out := s.Then
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

// Push appends outcomes to the script.
func (s *Scripted) Push(outcomes ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, outcomes...)
}

// Remaining returns how many scripted outcomes have not been used yet.
func (s *Scripted) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.script)
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

// Close counts the call and returns nil.
func (s *Scripted) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return nil
}

// Closed returns how many times Close was called.
func (s *Scripted) Closed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
