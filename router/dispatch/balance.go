package dispatch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/prometheus/client_golang/prometheus"
)

// balance spreads the partitions of one destination over the processes
// feeding it. Each process counts the live members of the destination's
// group in the log (router.Log.Join) and holds at most its share,
// ceil(partitions / members), of the partitions' leases: below its share
// it takes free partitions, above it it asks its highest-numbered ones to
// be given up. Nothing is ever taken from another process: partitions move
// only when their holder gives them up or dies.
//
// Hysteresis keeps two processes from trading partitions back and forth: a
// surplus is given up only when two readings of the member count in a row
// show it, and a partition given up for balance is not taken back by the
// same process for one membership TTL (another process takes it meanwhile).
type balance struct {
	parts int
	gauge prometheus.Gauge
	log   *slog.Logger
	ready chan struct{} // closed by the first reading of the member count

	mu        sync.Mutex
	ttl       time.Duration // the membership's TTL, from the first reading
	changed   chan struct{} // closed and replaced when the share grows or a partition is given up
	members   int           // last reading; 0 before the first
	share     int           // most partitions to hold; 0 until members are known
	held      int           // partitions whose lease is held
	taking    int           // workers acquiring a lease now
	over      int           // readings in a row with more held than share
	cooldown  time.Duration
	owned     []bool
	yield     []chan struct{} // of an owned partition; closed to ask for it back
	asked     []bool          // yield[p] is closed
	notBefore []time.Time     // a partition given up is not taken again before
}

func newBalance(parts int, gauge prometheus.Gauge, log *slog.Logger) *balance {
	return &balance{
		parts:     parts,
		gauge:     gauge,
		log:       log,
		ready:     make(chan struct{}),
		changed:   make(chan struct{}),
		owned:     make([]bool, parts),
		yield:     make([]chan struct{}, parts),
		asked:     make([]bool, parts),
		notBefore: make([]time.Time, parts),
	}
}

// reserve reports whether the worker of partition p may try to take its
// lease now; when it may, it counts as taking one until took or cancel.
func (b *balance) reserve(p int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held+b.taking >= b.share || time.Now().Before(b.notBefore[p]) {
		return false
	}
	b.taking++
	return true
}

// ttlOf returns the membership's TTL, known once ready is closed.
func (b *balance) ttlOf() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ttl
}

// waitChange waits until the share grows or a partition is given up, for
// at most d or until ctx is done.
func (b *balance) waitChange(ctx context.Context, d time.Duration) {
	b.mu.Lock()
	ch := b.changed
	b.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
	}
}

// wakeLocked wakes the workers waiting in waitChange.
func (b *balance) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// cancel ends a reservation whose lease could not be taken.
func (b *balance) cancel() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.taking--
}

// took records that p's lease was taken under a reservation. The channel it
// returns is closed when the partition should be given up.
func (b *balance) took(p int) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.taking--
	b.held++
	b.owned[p] = true
	b.asked[p] = false
	b.yield[p] = make(chan struct{})
	b.gauge.Set(float64(b.held))
	return b.yield[p]
}

// gave records that p's lease was released or lost.
func (b *balance) gave(p int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.asked[p] {
		b.notBefore[p] = time.Now().Add(b.cooldown)
	}
	b.held--
	b.owned[p] = false
	b.asked[p] = false
	b.yield[p] = nil
	b.gauge.Set(float64(b.held))
	b.wakeLocked()
}

// observe records a reading of the member count, with the membership's TTL
// as the cooldown of a partition given up, and asks for the surplus
// partitions when this reading and the one before show more held than the
// share. It returns the partitions asked for, and whether the member count
// changed.
func (b *balance) observe(members int, cooldown time.Duration) (asked []int, changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	members = max(members, 1)
	changed = members != b.members
	b.ttl = cooldown
	if b.members == 0 {
		close(b.ready)
	}
	b.members = members
	share := (b.parts + members - 1) / members
	if share > b.share {
		b.wakeLocked()
	}
	b.share = share
	b.cooldown = cooldown
	leaving := 0
	for p := range b.parts {
		if b.asked[p] {
			leaving++
		}
	}
	surplus := b.held - leaving - b.share
	if surplus <= 0 {
		b.over = 0
		return nil, changed
	}
	b.over++
	if b.over < 2 {
		return nil, changed
	}
	for p := b.parts - 1; p >= 0 && surplus > 0; p-- {
		if b.owned[p] && !b.asked[p] {
			b.asked[p] = true
			close(b.yield[p])
			asked = append(asked, p)
			surplus--
		}
	}
	return asked, changed
}

// state returns the last member count, the share and the partitions held.
func (b *balance) state() (members, share, held int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.members, b.share, b.held
}

// balance registers this process as a member of r's group in the log and,
// every TTL/16 of the membership, reads the member count and rebalances,
// until ctx is done; then it leaves the group, so that the other members
// take over the partitions this process releases as it stops.
func (d *Dispatcher) balance(ctx context.Context, r *route) {
	var m router.Membership
	for m == nil {
		jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		var err error
		m, err = d.log.Join(jctx, r.name)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("joining the destination's members", "err", err)
			sleep(ctx, jitter(d.acquireEvery))
		}
	}
	defer func() {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.Leave(lctx); err != nil {
			r.log.Warn("leaving the destination's members", "err", err)
		}
	}()
	// TTL/16: a member that died is seen gone soon after its key expires
	// (3/4 of the TTL after its last renewal, see the log's lease timing),
	// in time for its partitions to be taken within the TTL. Each reading
	// lists the group's keys (with eventlog.Log, an ephemeral consumer on the
	// bucket): not more often than every 100ms, whatever the TTL.
	every := max(m.TTL()/16, 100*time.Millisecond)
	failing := false
	for {
		mctx, cancel := context.WithTimeout(ctx, max(every, time.Second))
		n, err := m.Members(mctx)
		cancel()
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if !failing {
				r.log.Warn("counting the destination's members", "err", err)
			}
			failing = true
		default:
			failing = false
			asked, changed := r.bal.observe(n, m.TTL())
			members, share, held := r.bal.state()
			if changed {
				r.log.Info("destination members changed", "members", members, "share", share, "partitions_held", held)
			}
			if len(asked) > 0 {
				r.log.Info("giving partitions up to rebalance", "partitions", asked, "members", members, "share", share)
			}
		}
		if !sleep(ctx, every) {
			return
		}
	}
}
