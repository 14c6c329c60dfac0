package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Dispatcher feeds every configured destination from the log.
type Dispatcher struct {
	log     router.Log
	routes  []*route
	logger  *slog.Logger
	metrics *metrics
	obs     Observer // see observe.go; nil reports nothing
	clock   clock    // retry waits and failure times; see clock.go

	// acquireEvery is how often a worker tries to take a partition another
	// process holds; pendingEvery how often the pending gauge is refreshed.
	acquireEvery time.Duration
	pendingEvery time.Duration
}

// route is one destination with its cursors and limits.
type route struct {
	name    string
	dest    router.Destination
	opts    Options
	filter  *filter
	limiter *rate.Limiter // per batch; nil when unlimited or paced per request
	pacer   *rate.Limiter // per request, for a router.RequestPacer; else nil
	readers []router.PartitionReader
	bal     *balance
	m       routeMetrics
	log     *slog.Logger
}

// New prepares a dispatcher for routes: it checks them, and creates or
// opens the durable cursor of every (destination, partition) in the log, so
// that a destination that is new starts with the messages accepted from now
// on. Call it before accepting traffic. Metrics are registered on reg when it
// is not nil; logger nil means slog.Default().
func New(log router.Log, routes []Route, logger *slog.Logger, reg prometheus.Registerer) (*Dispatcher, error) {
	if logger == nil {
		logger = slog.Default()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("registering dispatch metrics: %w", err)
	}
	d := &Dispatcher{log: log, logger: logger, metrics: m, clock: realClock{}, acquireEvery: time.Second, pendingEvery: 5 * time.Second}
	var errs []error
	seen := map[string]bool{}
	for _, rt := range routes {
		switch {
		case rt.Name == "":
			errs = append(errs, errors.New("route without a name"))
			continue
		case seen[rt.Name]:
			errs = append(errs, fmt.Errorf("%s: destination named twice", rt.Name))
			continue
		case rt.Destination == nil && !rt.Options.Disabled:
			errs = append(errs, fmt.Errorf("%s: no destination", rt.Name))
			continue
		}
		seen[rt.Name] = true
		opts, err := rt.Options.withDefaults(rt.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rt.Name, err))
			continue
		}
		r := &route{name: rt.Name, dest: rt.Destination, opts: opts, filter: newFilter(rt.Name, opts), m: m.route(rt.Name), log: logger.With("destination", rt.Name)}
		if opts.RateLimit > 0 {
			if rp, ok := rt.Destination.(router.RequestPacer); ok && rp.PacesRequests() {
				// One request per message, each waiting for its token: a
				// burst of a twentieth of a second's worth keeps any one
				// second within about 5% of the limit.
				r.pacer = rate.NewLimiter(rate.Limit(opts.RateLimit), max(1, int(math.Ceil(opts.RateLimit/20))))
			} else {
				burst := max(opts.BatchSize, int(math.Ceil(opts.RateLimit)))
				r.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), burst)
			}
		}
		r.bal = newBalance(log.Partitions(), r.m.owned, r.log)
		d.routes = append(d.routes, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring dispatch: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range d.routes {
		for p := range log.Partitions() {
			rd, err := log.Reader(ctx, router.ReaderConfig{Destination: r.name, Partition: p, AckWait: r.opts.AckWait, MaxInFlight: max(1000, r.opts.BatchSize), FromStart: r.opts.FromStart})
			if err != nil {
				return nil, fmt.Errorf("opening cursor of %s: %w", r.name, err)
			}
			r.readers = append(r.readers, rd)
		}
	}
	return d, nil
}

// Run delivers until ctx is cancelled. For every (destination, partition)
// it takes the partition's lease in the log (so that, with several processes
// sharing the log, one at a time works it) and feeds the destination from
// it. It registers as a member of each destination in the log and holds at
// most its fair share of the destination's partitions, giving surplus ones
// up cleanly when other processes join (see the package documentation).
// When ctx is cancelled, Run leaves the destinations' members, lets the Send
// calls in flight finish (up to each destination's DrainTimeout),
// acknowledges what they delivered, makes no further Send call (unfinished
// messages stay in the log for the next run), releases its leases, closes
// every destination and returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, r := range d.routes {
		if r.opts.Disabled {
			r.log.Info("destination disabled; its messages wait in the log")
			continue
		}
		hard, cancelHard := context.WithCancel(context.WithoutCancel(ctx))
		stop := context.AfterFunc(ctx, func() { time.AfterFunc(r.opts.DrainTimeout, cancelHard) })
		var rwg sync.WaitGroup
		rwg.Go(func() { d.balance(ctx, r) })
		for p := range r.readers {
			rwg.Go(func() { d.work(ctx, hard, r, p) })
		}
		rwg.Go(func() { d.redrive(ctx, hard, r) })
		wg.Go(func() {
			rwg.Wait()
			stop()
			cancelHard()
		})
	}
	wg.Go(func() { d.reportPending(ctx) })
	wg.Wait()

	var errs []error
	for _, r := range d.routes {
		if r.dest == nil {
			continue
		}
		cctx, cancel := context.WithTimeout(context.Background(), r.opts.DrainTimeout)
		if err := r.dest.Close(cctx); err != nil {
			errs = append(errs, fmt.Errorf("closing destination %s: %w", r.name, err))
		}
		cancel()
	}
	if err := errors.Join(errs...); err != nil {
		d.logger.Warn("closing destinations", "err", err)
	}
	return nil
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// jitter returns d ± 20%.
func jitter(d time.Duration) time.Duration {
	return d*4/5 + rand.N(d*2/5+1)
}

// work runs one (destination, partition) for as long as ctx lives: it takes
// the partition's lease whenever it is free and the destination's balance
// allows this process one more partition, and works the partition while the
// lease is held and the balance does not ask for it back.
func (d *Dispatcher) work(ctx, hard context.Context, r *route, p int) {
	name := r.name + "/" + strconv.Itoa(p)
	select {
	case <-r.bal.ready:
	case <-ctx.Done():
		return
	}
	// Polled every TTL/16 (at most acquireEvery), and at once when the
	// share grows: together with the lease timing of the log, a dead
	// process's partitions are taken within the TTL.
	every := min(d.acquireEvery, r.bal.ttlOf()/16)
	for ctx.Err() == nil {
		if !r.bal.reserve(p) {
			r.bal.waitChange(ctx, jitter(every))
			continue
		}
		lease, err := d.log.Acquire(ctx, name)
		if err != nil {
			r.bal.cancel()
			if !errors.Is(err, router.ErrLeaseHeld) && ctx.Err() == nil {
				r.log.Warn("acquiring partition", "partition", p, "err", err)
			}
			sleep(ctx, jitter(every))
			continue
		}
		yield := r.bal.took(p)
		r.log.Debug("partition taken", "partition", p)
		d.own(ctx, hard, r, p, lease, yield)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := lease.Release(rctx); err != nil {
			r.log.Warn("releasing partition", "partition", p, "err", err)
		}
		cancel()
		r.bal.gave(p)
		r.log.Debug("partition released", "partition", p, "rebalanced", closed(yield))
	}
}

// closed reports whether c is closed.
func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// own works a partition whose lease is held, until ctx is done, the lease
// is lost or yield is closed. A batch fetched when yield closes is still
// worked on (see process), so that, when the destination takes it, nothing
// is left in flight for the next holder to wait for.
func (d *Dispatcher) own(ctx, hard context.Context, r *route, p int, lease router.Lease, yield <-chan struct{}) {
	rd := r.readers[p]
	d.rewind(ctx, r, rd, "partition", p)
	for ctx.Err() == nil && lease.Held() && !closed(yield) {
		ds, err := rd.Fetch(ctx, r.opts.BatchSize, r.opts.BatchTimeout)
		if err != nil && ctx.Err() == nil {
			r.log.Warn("reading the log", "partition", p, "err", err)
		}
		if len(ds) == 0 {
			if err != nil {
				sleep(ctx, time.Second)
			}
			continue
		}
		if ctx.Err() != nil || !lease.Held() {
			// Not in flight yet: hand the batch back.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_ = rd.Release(rctx, ds)
			cancel()
			return
		}
		d.process(ctx, hard, r, rd, lease, yield, ds)
	}
}

// rewind keeps per-user order when a partition changes hands: whatever
// the previous holder (or this process, before) fetched and did not
// acknowledge is delivered again by the next Fetch, before anything newer,
// and nothing is left in flight to come back later (see
// router.PartitionReader.Rewind). When the rewind fails, Fetch retries it
// and hands nothing out until it succeeds.
func (d *Dispatcher) rewind(ctx context.Context, r *route, rd router.PartitionReader, what string, p int) {
	if err := rd.Rewind(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("rewinding to the oldest unacknowledged message; reading waits for it", what, p, "err", err)
	}
}

// item is one message of a batch being worked on.
type item struct {
	d        router.Delivery
	attempts int
	first    time.Time
	lastErr  error
	dead     bool // to be dead-lettered; storing it failed so far
}

// process works one batch until every message is delivered or
// dead-lettered, retrying the failed ones (and only them, in their order)
// with backoff, and acknowledges the batch. It stops early, leaving the
// unfinished messages unacknowledged for delivery again, when the lease is
// lost, when ctx is cancelled (after at most the Send in flight) or when the
// drain timeout (hard) ends. When yield closes (the partition is to be
// given up to another process), it also stops after at most one more Send
// and hands the unfinished messages back to the log, for delivery again
// before anything newer to the partition's next holder.
func (d *Dispatcher) process(ctx, hard context.Context, r *route, rd router.PartitionReader, lease router.Lease, yield <-chan struct{}, ds []router.Delivery) {
	bctx, cancel := context.WithCancel(hard)
	defer cancel()
	go func() {
		keep := time.NewTicker(r.opts.AckWait / 3)
		defer keep.Stop()
		for {
			select {
			case <-lease.Lost():
				cancel()
				return
			case <-bctx.Done():
				return
			case <-keep.C:
				if err := rd.InProgress(bctx, ds); err != nil && bctx.Err() == nil {
					r.log.Warn("keeping batch in flight", "err", err)
				}
			}
		}
	}()

	var done []router.Delivery
	todo := make([]*item, 0, len(ds))
	for _, dl := range ds {
		if why := r.filter.reason(&dl.Message); why != "" {
			r.m.filtered[why].Inc()
			d.observeFiltered(r, &dl.Message, why)
			done = append(done, dl)
			continue
		}
		todo = append(todo, &item{d: dl, attempts: max(dl.Delivered-1, 0)})
	}

	// stopping: ctx is done or the partition is to be given up. A batch
	// is then finished only as far as it goes without a failure: every
	// part of it is sent once (a batch holds whole records of the log,
	// which are acknowledged only when all their messages are done, so
	// stopping half-way would deliver the sent half again after the
	// restart), but nothing is retried.
	stopping := func() bool { return ctx.Err() != nil || closed(yield) }
	sent, failed := false, false
	for len(todo) > 0 && lease.Held() && bctx.Err() == nil && !(sent && stopping() && (failed || !unsent(todo))) {
		// Dead letters whose storing failed before go first.
		send := todo[:0:0]
		var keep []*item
		for _, it := range todo {
			if !it.dead {
				send = append(send, it)
			} else if d.deadLetter(bctx, r, it) {
				done = append(done, it.d)
			} else {
				keep = append(keep, it)
			}
		}
		// A batch holds whole records of the log, so it may exceed the
		// batch size: the rest waits for the next round, after what is
		// sent now (and its retries), which keeps per-user order.
		var rest []*item
		if len(send) > r.opts.BatchSize {
			send, rest = send[:r.opts.BatchSize], send[r.opts.BatchSize:]
		}
		var retryAfter time.Duration
		roundFailed := false
		if len(send) > 0 {
			if r.limiter != nil {
				if err := r.limiter.WaitN(bctx, len(send)); err != nil {
					break
				}
			}
			msgs := make([]router.Message, len(send))
			for i, it := range send {
				msgs[i] = it.d.Message
			}
			sctx, scancel := context.WithTimeout(bctx, r.opts.SendTimeout)
			if r.pacer != nil {
				sctx = router.WithPacer(sctx, r.pacer)
			}
			start := time.Now() // a Send's duration is real time, not d.clock's
			err := r.dest.Send(sctx, msgs)
			scancel()
			r.m.sendSeconds.Observe(time.Since(start).Seconds())
			d.observeSend(r, msgs, err, time.Since(start))
			sent = true
			if err != nil && bctx.Err() != nil {
				// Cut short by a lost lease or the drain timeout: not an
				// attempt the message should be charged for.
				break
			}
			var be *router.BatchError
			isBatch := errors.As(err, &be)
			now := d.clock.Now()
			delivered, retried := 0, 0
			var lastErr error
			for i, it := range send {
				e := err
				if isBatch {
					e = be.Failed[i]
				}
				kind, after := router.Classify(e)
				if kind == router.KindOK {
					delivered++
					done = append(done, it.d)
					continue
				}
				lastErr = e
				it.attempts++
				it.lastErr = e
				if it.first.IsZero() {
					it.first = now
				}
				tooOld := !it.d.Message.ReceivedAt.IsZero() && now.Sub(it.d.Message.ReceivedAt) > r.opts.MaxAge
				if kind == router.KindPermanent || it.attempts >= r.opts.MaxAttempts || tooOld {
					it.dead = true
					if d.deadLetter(bctx, r, it) {
						done = append(done, it.d)
					} else {
						keep = append(keep, it)
					}
					continue
				}
				retried++
				retryAfter = max(retryAfter, min(after, r.opts.MaxRetryAfter))
				keep = append(keep, it)
			}
			r.m.delivered.Add(float64(delivered))
			r.m.retried.Add(float64(retried))
			roundFailed = lastErr != nil
			if lastErr != nil {
				r.log.Warn("delivery failed", "partition", send[0].d.Partition, "messages", len(send), "failed", len(send)-delivered, "err", lastErr)
			}
		}
		todo = append(keep, rest...)
		failed = failed || roundFailed
		if len(todo) == 0 || stopping() && (failed || len(rest) == 0) {
			break
		}
		if !roundFailed && len(rest) > 0 {
			continue
		}
		attempts := 0
		for _, it := range todo {
			attempts = max(attempts, it.attempts)
		}
		wait := max(r.backoff(attempts), retryAfter)
		select {
		case <-d.clock.After(wait):
		case <-bctx.Done():
		case <-ctx.Done():
		case <-yield:
		}
	}

	if len(done) > 0 {
		actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := rd.Ack(actx, done); err != nil {
			r.log.Warn("acknowledging batch", "err", err)
		}
		acancel()
	}
	if len(todo) > 0 {
		yielding := closed(yield) && ctx.Err() == nil && lease.Held()
		if yielding {
			// Due again at once, ahead of newer messages.
			left := make([]router.Delivery, len(todo))
			for i, it := range todo {
				left[i] = it.d
			}
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := rd.Release(rctx, left); err != nil {
				r.log.Warn("handing unfinished batch back", "err", err)
			}
			rcancel()
		}
		r.log.Info("batch left for later delivery", "messages", len(todo), "lease_held", lease.Held(), "stopping", ctx.Err() != nil, "rebalancing", yielding)
	}
}

// unsent reports whether an item of todo was never attempted.
func unsent(todo []*item) bool {
	for _, it := range todo {
		if it.attempts == 0 && !it.dead {
			return true
		}
	}
	return false
}

// deadLetter stores it in the destination's dead-letter stream and reports
// whether that worked.
func (d *Dispatcher) deadLetter(ctx context.Context, r *route, it *item) bool {
	msg := ""
	if it.lastErr != nil {
		msg = it.lastErr.Error()
	}
	dl := router.DeadLetter{
		Destination:  r.name,
		Message:      it.d.Message,
		Seq:          it.d.Seq,
		Attempts:     it.attempts,
		FirstFailure: it.first,
		LastError:    msg,
		Redrive:      it.d.Redrive,
	}
	if err := d.log.DeadLetter(ctx, dl); err != nil {
		r.log.Warn("dead-lettering message", "message_id", it.d.Message.ID, "err", err)
		return false
	}
	d.observeDeadLetter(&dl)
	r.m.deadLettered.Inc()
	r.log.Warn("message dead-lettered", "message_id", it.d.Message.ID, "source", it.d.Message.Source, "attempts", it.attempts, "err", msg)
	return true
}

// backoff returns the delay before the attempt after the attempt-th failed
// one: InitialBackoff doubled per attempt, capped at MaxBackoff, with equal
// jitter (between half and all of it).
func (r *route) backoff(attempt int) time.Duration {
	b := r.opts.InitialBackoff
	for i := 1; i < attempt && b < r.opts.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, r.opts.MaxBackoff)
	half := b / 2
	return half + rand.N(b-half+1)
}

// reportPending refreshes the pending gauge of every destination until ctx
// is done.
func (d *Dispatcher) reportPending(ctx context.Context) {
	for {
		for _, r := range d.routes {
			var sum uint64
			ok := true
			for _, rd := range r.readers {
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				p, err := rd.Pending(pctx)
				cancel()
				if err != nil {
					ok = false
					break
				}
				sum += p.Waiting + p.InFlight
			}
			if ok {
				r.m.pending.Set(float64(sum))
			}
		}
		if !sleep(ctx, d.pendingEvery) {
			return
		}
	}
}
