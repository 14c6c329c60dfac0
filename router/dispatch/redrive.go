package dispatch

import (
	"context"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// RedriveLog is implemented by a log that can deliver messages again to
// one destination (eventlog.Log does): dead letters being redriven and
// history being replayed are queued on the destination's redrive cursor,
// which dispatch reads besides its partitions.
type RedriveLog interface {
	// RedriveReader returns the reader of destination's redrive cursor.
	// Its deliveries carry their original log position in Seq and their
	// position on the redrive cursor in Redrive.
	RedriveReader(ctx context.Context, destination string, ackWait time.Duration) (router.PartitionReader, error)
}

// redrive works the destination's redrive cursor for as long as ctx
// lives, when the log has one: under the lease "<destination>/redrive"
// (one process at a time), in the order the messages were queued, with
// the route's filters, rate limit (shared with its partitions), retries
// and dead-lettering, exactly as a partition is worked.
func (d *Dispatcher) redrive(ctx, hard context.Context, r *route) {
	rl, ok := d.log.(RedriveLog)
	if !ok {
		return
	}
	var rd router.PartitionReader
	never := make(chan struct{}) // the redrive cursor is not balanced
	for ctx.Err() == nil {
		if rd == nil {
			var err error
			if rd, err = rl.RedriveReader(ctx, r.name, r.opts.AckWait); err != nil {
				if ctx.Err() == nil {
					r.log.Warn("opening the redrive cursor", "err", err)
				}
				rd = nil
				sleep(ctx, jitter(5*time.Second))
				continue
			}
		}
		lease, err := d.log.Acquire(ctx, r.name+"/redrive")
		if err != nil {
			sleep(ctx, jitter(d.acquireEvery))
			continue
		}
		d.rewind(ctx, r, rd, "redrive", 0)
		for ctx.Err() == nil && lease.Held() {
			ds, err := rd.Fetch(ctx, r.opts.BatchSize, r.opts.BatchTimeout)
			if err != nil && ctx.Err() == nil {
				r.log.Warn("reading the redrive cursor", "err", err)
				sleep(ctx, time.Second)
			}
			if len(ds) > 0 {
				d.process(ctx, hard, r, rd, lease, never, ds)
			}
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := lease.Release(rctx); err != nil {
			r.log.Warn("releasing the redrive cursor", "err", err)
		}
		cancel()
	}
}
