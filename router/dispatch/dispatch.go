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
	shape   *shaping      // transform and suppress; see transform.go
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
		sh, err := newShaping(opts)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", rt.Name, err))
			continue
		}
		if _, ok := log.(SuppressionLog); sh.sup != nil && !ok {
			errs = append(errs, fmt.Errorf("%s: suppress: the log does not remember delivered keys", rt.Name))
			continue
		}
		r := &route{name: rt.Name, dest: rt.Destination, opts: opts, filter: newFilter(rt.Name, opts), shape: sh, m: m.route(rt.Name, sh.reasons()...), log: logger.With("destination", rt.Name)}
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
	out      router.Message // what is sent: d.Message, or its transformed copy
	key      string         // the suppression key, when keyed
	keyed    bool
	attempts int
	first    time.Time
	lastErr  error
	dead     bool // to be dead-lettered; storing it failed so far
}

// batch is the state of one batch being worked on by process.
type batch struct {
	todo   []*item           // neither delivered nor dead-lettered yet, in log order
	done   []router.Delivery // delivered, dead-lettered or filtered out: to acknowledge
	sent   bool              // a round has called Send
	failed bool              // a message has failed in some round
}

// process works one batch until every message is delivered or
// dead-lettered, retrying the failed ones (and only them, in their order)
// with backoff, and acknowledges the batch. It works in rounds, each one
// Send of at most BatchSize messages, until the stop rule (batch.over)
// ends the batch: it stops early, leaving the unfinished messages
// unacknowledged for delivery again, when the lease is lost, when ctx is
// cancelled (after at most the Send in flight) or when the drain timeout
// (hard) ends. When yield closes (the partition is to be given up to
// another process), it also stops after at most one more Send and hands
// the unfinished messages back to the log, for delivery again before
// anything newer to the partition's next holder.
func (d *Dispatcher) process(ctx, hard context.Context, r *route, rd router.PartitionReader, lease router.Lease, yield <-chan struct{}, ds []router.Delivery) {
	bctx, cancel := context.WithCancel(hard)
	defer cancel()
	go keepInFlight(bctx, cancel, r, rd, lease, ds)

	b := d.filterBatch(r, ds)
	for !b.over(bctx, lease, stopping(ctx, yield)) {
		res, ok := d.round(bctx, r, b)
		if !ok {
			break // cut short: the lease is lost or the drain timeout ended
		}
		// Retries, and dead letters not stored, wait for their backoff.
		if !res.atOnce() && !b.over(bctx, lease, stopping(ctx, yield)) {
			d.backOff(ctx, bctx, r, yield, b, res.retryAfter)
		}
	}

	d.acknowledge(ctx, r, rd, b.done)
	leaveForLater(ctx, r, rd, lease, yield, b.todo)
}

// keepInFlight keeps the batch ds in flight (InProgress every AckWait/3),
// so that the log does not hand it out again while it is worked on, until
// ctx is done; it cancels ctx when the lease is lost.
func keepInFlight(ctx context.Context, cancel context.CancelFunc, r *route, rd router.PartitionReader, lease router.Lease, ds []router.Delivery) {
	keep := time.NewTicker(r.opts.AckWait / 3)
	defer keep.Stop()
	for {
		select {
		case <-lease.Lost():
			cancel()
			return
		case <-ctx.Done():
			return
		case <-keep.C:
			if err := rd.InProgress(ctx, ds); err != nil && ctx.Err() == nil {
				r.log.Warn("keeping batch in flight", "err", err)
			}
		}
	}
}

// filterBatch applies the route's filters, then its transform, to ds: the
// messages the destination does not take are done (acknowledged without
// being sent), the others are to do (see shape). A message the log
// delivers again counts the earlier deliveries as attempts.
func (d *Dispatcher) filterBatch(r *route, ds []router.Delivery) *batch {
	// One allocation each for the items, the pointers to them and what is
	// done: per message, they were most of dispatch's garbage.
	items := make([]item, len(ds))
	b := &batch{todo: make([]*item, 0, len(ds)), done: make([]router.Delivery, 0, len(ds))}
	for i := range ds {
		dl := &ds[i] // not a copy: a copy escaped to the heap, per message
		why := r.filter.reason(&dl.Message)
		var it *item
		if why == "" {
			it, why = d.shapeInto(r, dl, &items[i])
		}
		if why != "" {
			r.m.filtered[why].Inc()
			d.observeFiltered(r, &dl.Message, why)
			b.done = append(b.done, *dl)
			continue
		}
		b.todo = append(b.todo, it)
	}
	return b
}

// stopping reports whether the worker is stopping: ctx (Run's) is done, or
// yield is closed because the partition is to be given up.
func stopping(ctx context.Context, yield <-chan struct{}) bool {
	return ctx.Err() != nil || closed(yield)
}

// over is the stop rule of a batch, checked before each round and before
// each wait between rounds. The batch is over when
//
//   - nothing is left to do: every message is delivered, dead-lettered or
//     filtered out;
//   - the lease is lost, or bctx is done (the lease is lost or the drain
//     timeout ended): what is left stays unacknowledged, to be delivered
//     again; or
//   - the worker is stopping, and the batch has been finished as far as it
//     goes without a failure: a round has been sent, and a message has
//     failed or every message left has been attempted. Every part of a
//     batch is sent once when stopping, because a batch holds whole records
//     of the log, which are acknowledged only when all their messages are
//     done, so stopping half-way would deliver the sent half again after
//     the restart; but nothing is retried.
func (b *batch) over(bctx context.Context, lease router.Lease, stopping bool) bool {
	switch {
	case len(b.todo) == 0:
		return true
	case !lease.Held() || bctx.Err() != nil:
		return true
	case stopping:
		return b.sent && (b.failed || !unsent(b.todo))
	}
	return false
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

// roundResult is what one round of a batch leaves for the next one.
type roundResult struct {
	failed     bool          // a message failed
	heldBack   int           // messages left for the next round by the batch size
	retryAfter time.Duration // the longest delay a destination asked for, capped at MaxRetryAfter
}

// atOnce reports whether the next round follows without a wait: nothing
// failed and the round only left messages beyond the batch size.
func (res roundResult) atOnce() bool { return !res.failed && res.heldBack > 0 }

// round makes one round of batch b under ctx (the batch's): it stores the
// dead letters whose storing failed before, then sends the first
// BatchSize messages left, within the rate limit, and records each one's
// outcome. ok is false, and b.todo unchanged, when the round was cut short
// by a lost lease or the drain timeout.
func (d *Dispatcher) round(ctx context.Context, r *route, b *batch) (res roundResult, ok bool) {
	send, keep := d.retryDeadLetters(ctx, r, b)
	// Suppressed messages are done; the round ends before a second
	// message with one key (see suppress).
	send, rest, err := d.suppress(ctx, r, b, send)
	if err != nil {
		r.log.Warn("delivery held back", "err", err)
		res.failed = true
	}
	// A batch holds whole records of the log, so it may exceed the batch
	// size: the rest waits for the next round, after what is sent now (and
	// its retries), which keeps per-user order.
	if len(send) > r.opts.BatchSize {
		send, rest = send[:r.opts.BatchSize], append(send[r.opts.BatchSize:], rest...)
	}
	res.heldBack = len(rest)
	if len(send) > 0 {
		if r.limiter != nil {
			if err := r.limiter.WaitN(ctx, len(send)); err != nil {
				return res, false
			}
		}
		err := d.send(ctx, r, send)
		b.sent = true
		if err != nil && ctx.Err() != nil {
			// Cut short by a lost lease or the drain timeout: not an
			// attempt the messages should be charged for.
			return res, false
		}
		keep, res.retryAfter, res.failed = d.recordOutcomes(ctx, r, b, send, err, keep)
	}
	b.todo = append(keep, rest...)
	b.failed = b.failed || res.failed
	return res, true
}

// retryDeadLetters tries again to store the dead letters of b.todo whose
// storing failed before; those stored are done. It returns the other
// messages of b.todo, to send, and the dead letters still not stored.
func (d *Dispatcher) retryDeadLetters(ctx context.Context, r *route, b *batch) (send, dead []*item) {
	send = b.todo[:0:0]
	for _, it := range b.todo {
		if !it.dead {
			send = append(send, it)
		} else if d.deadLetter(ctx, r, it) {
			b.done = append(b.done, it.d)
		} else {
			dead = append(dead, it)
		}
	}
	return send, dead
}

// send makes one Send call of items to the destination, within
// SendTimeout and, for a router.RequestPacer, the route's pacer; it
// records the call's duration and reports it to the observer.
func (d *Dispatcher) send(ctx context.Context, r *route, items []*item) error {
	msgs := make([]router.Message, len(items))
	for i, it := range items {
		msgs[i] = it.out
	}
	sctx, cancel := context.WithTimeout(ctx, r.opts.SendTimeout)
	if r.pacer != nil {
		sctx = router.WithPacer(sctx, r.pacer)
	}
	start := time.Now() // a Send's duration is real time, not d.clock's
	err := r.dest.Send(sctx, msgs)
	cancel()
	r.m.sendSeconds.Observe(time.Since(start).Seconds())
	d.observeSend(r, msgs, err, time.Since(start))
	return err
}

// recordOutcomes applies the outcome of a Send of items (err, or for a
// *router.BatchError each message's own error): a delivered message is
// done; a failed one is dead-lettered when the route gives up on it (see
// givesUp), else kept for a retry. It returns keep with the messages to
// retry and the dead letters not stored appended, in their order; the
// longest Retry-After asked for (capped at MaxRetryAfter); and whether any
// message failed.
func (d *Dispatcher) recordOutcomes(ctx context.Context, r *route, b *batch, items []*item, err error, keep []*item) ([]*item, time.Duration, bool) {
	var be *router.BatchError
	isBatch := errors.As(err, &be)
	now := d.clock.Now()
	delivered, retried := 0, 0
	var retryAfter time.Duration
	var lastErr error
	var ok []*item
	for i, it := range items {
		e := err
		if isBatch {
			e = be.Failed[i]
		}
		kind, after := router.Classify(e)
		if kind == router.KindOK {
			delivered++
			b.done = append(b.done, it.d)
			ok = append(ok, it)
			continue
		}
		lastErr = e
		it.attempts++
		it.lastErr = e
		if it.first.IsZero() {
			it.first = now
		}
		if r.givesUp(it, kind, now) {
			it.dead = true
			if d.deadLetter(ctx, r, it) {
				b.done = append(b.done, it.d)
			} else {
				keep = append(keep, it)
			}
			continue
		}
		retried++
		retryAfter = max(retryAfter, min(after, r.opts.MaxRetryAfter))
		keep = append(keep, it)
	}
	d.rememberDelivered(r, ok)
	r.m.delivered.Add(float64(delivered))
	r.m.retried.Add(float64(retried))
	if lastErr != nil {
		r.log.Warn("delivery failed", "partition", items[0].d.Partition, "messages", len(items), "failed", len(items)-delivered, "err", lastErr)
	}
	return keep, retryAfter, lastErr != nil
}

// givesUp reports whether a message that has just failed (with an error of
// kind, at now) is to be dead-lettered rather than retried: its failure is
// permanent, it has failed MaxAttempts times, or it is older than MaxAge.
func (r *route) givesUp(it *item, kind router.Kind, now time.Time) bool {
	tooOld := !it.d.Message.ReceivedAt.IsZero() && now.Sub(it.d.Message.ReceivedAt) > r.opts.MaxAge
	return kind == router.KindPermanent || it.attempts >= r.opts.MaxAttempts || tooOld
}

// backOff waits before the next round of b: the backoff after the most
// attempts any message left has had, or retryAfter when longer; it stops
// waiting when bctx or ctx is done or yield closes.
func (d *Dispatcher) backOff(ctx, bctx context.Context, r *route, yield <-chan struct{}, b *batch, retryAfter time.Duration) {
	attempts := 0
	for _, it := range b.todo {
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

// acknowledge acknowledges the messages of a batch that are done, also
// when ctx is done.
func (d *Dispatcher) acknowledge(ctx context.Context, r *route, rd router.PartitionReader, done []router.Delivery) {
	if len(done) == 0 {
		return
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := rd.Ack(actx, done); err != nil {
		r.log.Warn("acknowledging batch", "err", err)
	}
}

// leaveForLater leaves the unfinished messages of a batch (todo) for
// delivery again. When the partition is being given up to another process
// (yield is closed, while ctx lives and the lease is held), it hands them
// back to the log, due again at once, ahead of newer messages; otherwise
// they come back when their ack wait ends or the next holder rewinds.
func leaveForLater(ctx context.Context, r *route, rd router.PartitionReader, lease router.Lease, yield <-chan struct{}, todo []*item) {
	if len(todo) == 0 {
		return
	}
	yielding := closed(yield) && ctx.Err() == nil && lease.Held()
	if yielding {
		left := make([]router.Delivery, len(todo))
		for i, it := range todo {
			left[i] = it.d
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := rd.Release(rctx, left); err != nil {
			r.log.Warn("handing unfinished batch back", "err", err)
		}
		cancel()
	}
	r.log.Info("batch left for later delivery", "messages", len(todo), "lease_held", lease.Held(), "stopping", ctx.Err() != nil, "rebalancing", yielding)
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
