package dispatch

import (
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Observer is told what dispatch does with each message, for the live
// debugger. Its methods are called from the partitions' goroutines,
// concurrently, on the delivery path: they must be quick and must not
// block, and they must not keep the slices they are given.
type Observer interface {
	// ObserveSend reports one Send call to destination: the batch, its
	// outcome (nil, a classified error, or a *router.BatchError naming
	// the messages that failed) and how long it took.
	ObserveSend(destination string, batch []router.Message, err error, took time.Duration)
	// ObserveDeadLetter reports a message stored in the dead-letter
	// stream.
	ObserveDeadLetter(dl router.DeadLetter)
	// ObserveFiltered reports a message the destination's filters skip,
	// with the reason (ReasonType, ReasonEvent, ...).
	ObserveFiltered(destination string, m *router.Message, reason string)
}

// Observe makes d report to o. Call it before Run; nil (the default)
// reports nothing, and then the delivery path does no work for it.
func (d *Dispatcher) Observe(o Observer) { d.obs = o }

func (d *Dispatcher) observeSend(r *route, batch []router.Message, err error, took time.Duration) {
	if d.obs != nil {
		d.obs.ObserveSend(r.name, batch, err, took)
	}
}

func (d *Dispatcher) observeDeadLetter(dl *router.DeadLetter) {
	if d.obs != nil {
		d.obs.ObserveDeadLetter(*dl)
	}
}

func (d *Dispatcher) observeFiltered(r *route, m *router.Message, reason string) {
	if d.obs != nil {
		d.obs.ObserveFiltered(r.name, m, reason)
	}
}
