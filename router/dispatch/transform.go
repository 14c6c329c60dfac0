package dispatch

import (
	"context"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch/transform"
)

// ReasonSuppressed means a message's suppression key was delivered to the
// destination within its suppress window (Options.Suppress).
const ReasonSuppressed = transform.ReasonSuppressed

// SuppressionLog is implemented by a log that remembers, on disk, which
// suppression keys were delivered to each destination and when; a route
// with Options.Suppress needs it. Its methods are called from the
// partitions' goroutines, concurrently.
type SuppressionLog interface {
	// DeliveredWithin reports whether key was delivered to destination
	// within window before now.
	DeliveredWithin(destination, key string, window time.Duration, now time.Time) (bool, error)
	// RememberDelivered records that keys were delivered to destination
	// at at, for window.
	RememberDelivered(destination string, keys []string, at time.Time, window time.Duration) error
}

// shaping is a route's compiled transform and suppress blocks.
type shaping struct {
	tf  *transform.Program    // nil: no transform
	sup *transform.Suppressor // nil: no suppression
}

// newShaping compiles the transform and suppress blocks of checked
// options.
func newShaping(o Options) (*shaping, error) {
	tf, err := transform.Compile(o.Transform)
	if err != nil {
		return nil, err
	}
	sup, err := transform.CompileSuppress(o.Suppress)
	if err != nil {
		return nil, err
	}
	return &shaping{tf: tf, sup: sup}, nil
}

// reasons are the filtered reasons the shaping adds to the route's.
func (s *shaping) reasons() []string {
	out := s.tf.DropReasons()
	if s.sup != nil {
		out = append(out, ReasonSuppressed)
	}
	return out
}

// shape runs the route's transform on a message its filters let through
// and computes its suppression key. It returns the item to work on, or
// the reason the transform dropped the message. A transform or key that
// fails makes the item a dead letter (dispatch stores it before sending
// anything), with the error: the stored message is never changed, so a
// redrive after the config is fixed delivers it.
func (d *Dispatcher) shape(r *route, dl router.Delivery) (it *item, dropped string) {
	return d.shapeInto(r, &dl, new(item))
}

// shapeInto is shape working in it (the batch's items are allocated
// together).
func (d *Dispatcher) shapeInto(r *route, dl *router.Delivery, it *item) (_ *item, dropped string) {
	*it = item{d: *dl, out: dl.Message, attempts: max(dl.Delivered-1, 0)}
	fail := func(err error) *item {
		it.dead, it.attempts, it.first = true, it.attempts+1, d.clock.Now()
		it.lastErr = router.Permanent(fmt.Errorf("transforming message for %s: %w", r.name, err))
		return it
	}
	if r.shape.tf != nil {
		res, err := r.shape.tf.Apply(&dl.Message)
		if err != nil {
			return fail(err), ""
		}
		if res.Dropped != "" {
			return nil, res.Dropped
		}
		it.out = res.Message
	}
	if r.shape.sup != nil {
		key, ok, err := r.shape.sup.Key(&it.out)
		if err != nil {
			return fail(err), ""
		}
		it.key, it.keyed = key, ok
	}
	return it, ""
}

// suppress applies the route's suppression to the messages of a round, in
// order: a message whose key was delivered within the window is done
// (filtered as suppressed); the round is cut before a message whose key
// an earlier message of the round has, so that the next round knows
// whether that one was delivered. It returns the messages to send now and
// those for the next round.
func (d *Dispatcher) suppress(ctx context.Context, r *route, b *batch, items []*item) (send, rest []*item, err error) {
	if r.shape.sup == nil {
		return items, nil, nil
	}
	sl := d.log.(SuppressionLog) // checked by New
	now := d.clock.Now()
	seen := map[string]bool{}
	send = items[:0:0]
	for i, it := range items {
		if !it.keyed {
			send = append(send, it)
			continue
		}
		if seen[it.key] {
			return send, items[i:], nil
		}
		hit, err := sl.DeliveredWithin(r.name, it.key, r.shape.sup.Window(), now)
		if err != nil {
			return send, items[i:], fmt.Errorf("reading suppression keys: %w", err)
		}
		if hit {
			r.m.filtered[ReasonSuppressed].Inc()
			d.observeFiltered(r, &it.out, ReasonSuppressed)
			b.done = append(b.done, it.d)
			continue
		}
		seen[it.key] = true
		send = append(send, it)
	}
	return send, nil, nil
}

// rememberDelivered records the suppression keys of delivered messages.
// A key that cannot be recorded is logged: the message is delivered, and
// the next one with its key may be too.
func (d *Dispatcher) rememberDelivered(r *route, delivered []*item) {
	if r.shape.sup == nil {
		return
	}
	var keys []string
	for _, it := range delivered {
		if it.keyed {
			keys = append(keys, it.key)
		}
	}
	if len(keys) == 0 {
		return
	}
	if err := d.log.(SuppressionLog).RememberDelivered(r.name, keys, d.clock.Now(), r.shape.sup.Window()); err != nil {
		r.log.Warn("remembering delivered suppression keys; their next messages may be delivered", "keys", len(keys), "err", err)
	}
}
