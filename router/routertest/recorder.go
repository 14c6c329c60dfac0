package routertest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/eventrouter/eventrouter/router"
)

// Recorder is a router.Destination that accepts every batch and records its
// messages in the order Send was called. The zero value is ready to use.
type Recorder struct {
	mu      sync.Mutex
	msgs    []router.Message
	batches int
	closed  int
	changed chan struct{} // closed and replaced whenever msgs grows
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{} }

// Send records the batch and returns nil, or ctx's error if ctx is already
// done (recording nothing).
func (r *Recorder) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("recording batch: %w", err)
	}
	r.record(batch)
	return nil
}

func (r *Recorder) record(batch []router.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, batch...)
	r.batches++
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Close counts the call and returns nil.
func (r *Recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

// Messages returns a copy of every message recorded so far, in order.
func (r *Recorder) Messages() []router.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]router.Message(nil), r.msgs...)
}

// IDs returns the IDs of the messages recorded so far, in order.
func (r *Recorder) IDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		ids[i] = m.ID
	}
	return ids
}

// Len returns the number of messages recorded so far.
func (r *Recorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// Batches returns the number of batches recorded so far.
func (r *Recorder) Batches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.batches
}

// Closed returns how many times Close was called.
func (r *Recorder) Closed() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Reset forgets every recorded message and batch.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = nil
	r.batches = 0
}

// ErrNotEnough is wrapped by the error WaitFor returns when ctx ends before
// enough messages arrived.
var ErrNotEnough = errors.New("not enough messages recorded")

// WaitFor blocks until at least n messages have been recorded or ctx is
// done. It returns nil, or an error wrapping [ErrNotEnough] and ctx's error
// that says how many messages arrived.
func (r *Recorder) WaitFor(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		have := len(r.msgs)
		if have >= n {
			r.mu.Unlock()
			return nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d messages, got %d: %w: %w", n, have, ErrNotEnough, ctx.Err())
		}
	}
}
