package routertest

import (
	"context"
	"fmt"
	"sync"

	"github.com/eventrouter/eventrouter/router"
)

// Recorder is a router.Destination that accepts every batch and records its
// messages in the order Send was called. The zero value is ready to use.
type Recorder struct {
	mu      sync.Mutex
	msgs    []router.Message
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
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Close returns nil.
func (r *Recorder) Close(context.Context) error { return nil }

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

// WaitFor blocks until at least n messages have been recorded or ctx is
// done. It returns nil, or an error wrapping ctx's error that says how many
// messages arrived.
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
			return fmt.Errorf("waiting for %d messages, got %d: %w", n, have, ctx.Err())
		}
	}
}
