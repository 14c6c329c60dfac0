package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultAckWait is the AckWait of a reader whose config leaves it zero.
const DefaultAckWait = 30 * time.Second

// ConsumerName returns the name of the durable consumer behind the cursor
// of (destination, partition) on the events stream.
func ConsumerName(destination string, partition int) string {
	return subjectToken(destination) + "-p" + strconv.Itoa(partition)
}

// Reader returns the reader of the (destination, partition) cursor: a
// durable JetStream pull consumer named by ConsumerName, filtered on the
// partition's subject, with explicit acks and no delivery limit (dispatch
// decides when to give up). A new consumer starts with the messages stored
// from now on, or at the oldest retained one when cfg.FromStart is set; an
// existing one resumes where it stopped, with its AckWait updated to cfg's.
func (l *Log) Reader(ctx context.Context, cfg router.ReaderConfig) (router.PartitionReader, error) {
	if cfg.Partition < 0 || cfg.Partition >= l.cfg.Partitions {
		return nil, fmt.Errorf("opening reader: partition %d is not in [0, %d)", cfg.Partition, l.cfg.Partitions)
	}
	if cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	maxInFlight := cfg.MaxInFlight
	if maxInFlight <= 0 {
		maxInFlight = 1000
	}
	name := ConsumerName(cfg.Destination, cfg.Partition)
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   fmt.Sprintf("eventrouter destination %q, partition %d", cfg.Destination, cfg.Partition),
		FilterSubject: l.subjects[cfg.Partition],
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: maxInFlight,
		DeliverPolicy: jetstream.DeliverNewPolicy,
	}
	if cfg.FromStart {
		cc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	var cons jetstream.Consumer
	err := l.retry(ctx, "creating consumer "+name, func(ctx context.Context) error {
		cc := cc
		existing, err := l.events.Consumer(ctx, name)
		switch {
		case err == nil:
			old := existing.CachedInfo().Config
			cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return err
		}
		cons, err = l.events.CreateOrUpdateConsumer(ctx, cc)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening reader %s: %w", name, err)
	}
	return l.newReader(l.events, cons, name, cfg.Partition, false), nil
}

// reader implements router.PartitionReader on one durable pull consumer.
//
// The events stream holds records (see record.go); a reader hands out
// their messages and acknowledges a record once every message of it was
// acknowledged. Fetch returns whole records, so a batch may hold more
// messages than asked for when one record alone has more (dispatch sends
// such a batch in pieces); it never leaves part of a record behind, so
// that stopping between two batches leaves nothing half delivered.
//
// # Order through faults
//
// JetStream counts a message as delivered when it sends it, and hands out
// a delivery that never arrived (a pull answer lost with a connection or a
// server, or taken by another process's stale pull request) again only
// after AckWait, behind whatever was fetched meanwhile. The reader keeps
// per-partition order anyway, with three checks (see "Order through
// faults" in the package documentation):
//
//   - Rewind resets the consumer to its ack floor (JetStream's consumer
//     reset, ADR-60, nats-server 2.14): everything not acknowledged is due
//     at once, in stream order, and nothing stays in flight elsewhere.
//     Dispatch calls it when it takes a partition; the reader calls it
//     itself before the next fetch after a reconnection, a failed fetch or
//     a failed acknowledgement.
//   - Every delivery carries the consumer's delivery sequence, which the
//     server raises by one per delivery, to whoever it goes. After a
//     rewind it starts again at 1 (not at what the answer to the rewind
//     counts: see rewind), and this reader is the partition's only
//     reader while it holds the lease: a delivery sequence other than the
//     next one means deliveries went astray. Nothing from there on is
//     handed out; the reader rewinds and reads again.
//   - A record delivered again that is older than one already handed out
//     since the last rewind, and not held here, was acknowledged here and
//     the acknowledgement lost (with a consumer leader, say): it is
//     acknowledged again and not handed out a second time, after newer
//     messages.
type reader struct {
	cons      jetstream.Consumer
	stream    jetstream.Stream
	name      string
	partition int
	// redrive marks a reader of the redrive stream: its deliveries carry
	// the original log position (header Er-Seq) in Seq, the redrive
	// stream's in Redrive, and their partition computed from the message.
	redrive    bool
	partitions int
	l          *Log

	mu       sync.Mutex
	inflight map[uint64]*held // fetched records not yet acked, by stream sequence
	perRec   float64          // moving average of messages per record

	// The order checks (guarded by mu).
	rewindFor string // why a rewind is due before the next fetch; "" when none
	epoch     uint64 // the log's connection epoch at the last rewind
	next      uint64 // the delivery sequence expected next
	// unverified: since the last rewind, no fetch that received nothing
	// has confirmed with the server that no delivery went elsewhere.
	unverified bool
	high       uint64 // highest stream sequence handed out since the last rewind
}

// held is a fetched record.
type held struct {
	msg      jetstream.Msg
	done     []bool // done[i]: message i acknowledged
	left     int    // messages not done
	released time.Time
}

// Reasons for a rewind, as logged and counted.
const (
	rewindStart     = "start"     // a new reader
	rewindTakeover  = "takeover"  // dispatch took the partition (Rewind)
	rewindReconnect = "reconnect" // the connection to NATS was lost and made again
	rewindGap       = "gap"       // deliveries went astray
	rewindFetch     = "fetch"     // a fetch failed
	rewindAck       = "ack"       // an acknowledgement failed
)

func (l *Log) newReader(stream jetstream.Stream, cons jetstream.Consumer, name string, partition int, redrive bool) *reader {
	return &reader{
		cons: cons, stream: stream, name: name, partition: partition, redrive: redrive, partitions: l.cfg.Partitions, l: l,
		inflight: make(map[uint64]*held), perRec: 1, rewindFor: rewindStart,
	}
}

// Rewind resets the consumer to its ack floor; see router.PartitionReader.
func (r *reader) Rewind(ctx context.Context) error {
	return r.rewind(ctx, rewindTakeover)
}

// rewind resets the consumer to its ack floor and starts the order checks
// again. On failure the rewind stays due: Fetch tries again first.
func (r *reader) rewind(ctx context.Context, why string) error {
	epoch := r.l.epoch.Load()
	start := time.Now()
	resp, err := r.stream.ResetConsumer(ctx, r.name)
	if err == nil && resp.ConsumerInfo == nil {
		err = jetstream.ErrConsumerResetResponseEmpty
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		if r.rewindFor == "" {
			r.rewindFor = why
		}
		return fmt.Errorf("rewinding consumer %s to its ack floor: %w: %w", r.name, router.ErrUnavailable, err)
	}
	// The server numbers deliveries from 1 again after a reset. The
	// answer's own count is read after the server resumed delivering: a
	// pull request still waiting from the previous holder may have taken
	// messages in between, and counting from there would hand out what
	// follows them. So the next delivery here must be number 1, and when
	// some went elsewhere already, the rewind is due again at once.
	r.rewindFor = ""
	if resp.Delivered.Consumer > 0 {
		r.rewindFor = rewindGap
	}
	r.epoch = epoch
	r.next = 1
	r.unverified = true
	r.high = 0
	r.l.metrics.observeRewind(why, time.Since(start))
	lvl := slog.LevelInfo
	if why == rewindTakeover || why == rewindStart {
		lvl = slog.LevelDebug
	}
	r.l.log.Log(ctx, lvl, "reader rewound to its oldest unacknowledged message", "consumer", r.name, "reason", why,
		"from_seq", resp.ResetSeq, "ack_floor", resp.AckFloor.Stream, "seconds", time.Since(start).Seconds())
	return nil
}

// due returns why a rewind is due before the next fetch, "" when none.
func (r *reader) due() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rewindFor == "" && r.l.epoch.Load() != r.epoch {
		r.rewindFor = rewindReconnect
	}
	return r.rewindFor
}

// needRewind makes a rewind due before the next fetch.
func (r *reader) needRewind(why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rewindFor == "" {
		r.rewindFor = why
	}
}

// Fetch pulls records holding about max messages; the pull request expires
// on the server after wait, so every message the server sent is received
// before Fetch returns. A record delivered again after this reader
// acknowledged some of its messages (a released batch) hands out only the
// others. A due rewind comes first; see the order checks on reader.
func (r *reader) Fetch(ctx context.Context, max int, wait time.Duration) ([]router.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	for tries := 0; ; tries++ {
		why := r.due()
		if why == "" {
			break
		}
		if tries == maxRewinds {
			// Deliveries keep going elsewhere right after each rewind (a
			// stale pull request is still being served): wait as an
			// empty fetch would and try again on the next Fetch.
			sleepCtx(ctx, wait)
			return nil, ctx.Err()
		}
		if err := r.rewind(ctx, why); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	n := int(float64(max) / r.perRec)
	r.pruneLocked()
	r.mu.Unlock()
	n = min(maxInt(n, 1), maxInt(max, 1))
	batch, err := r.cons.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		r.needRewind(rewindFetch)
		return nil, fmt.Errorf("fetching messages: %w", err)
	}
	// Sized for what was asked: growing it by appending was the reader's
	// largest allocation (a Delivery is a whole message).
	out := make([]router.Delivery, 0, maxInt(max, 1))
	var decodeErr error
	gap, stale, received := false, 0, 0
	for msg := range batch.Messages() {
		received++
		if gap {
			// Not handed out: the rewind delivers them again.
			continue
		}
		md, err := msg.Metadata()
		if err != nil {
			decodeErr = errors.Join(decodeErr, fmt.Errorf("reading message metadata: %w", err))
			gap = true
			r.needRewind(rewindGap)
			continue
		}
		seq := md.Sequence.Stream
		r.mu.Lock()
		if want := r.next; md.Sequence.Consumer != want {
			r.mu.Unlock()
			r.l.log.Info("deliveries went astray; rewinding before reading on", "consumer", r.name,
				"delivery_seq", md.Sequence.Consumer, "expected", want, "stream_seq", seq)
			gap = true
			r.needRewind(rewindGap)
			continue
		}
		r.next++
		h := r.inflight[seq]
		if h == nil && seq <= r.high {
			// Acknowledged here, the acknowledgement lost: acknowledge
			// again rather than hand it out after newer messages.
			r.mu.Unlock()
			_ = msg.Ack()
			stale++
			continue
		}
		if seq > r.high {
			r.high = seq
		}
		r.mu.Unlock()

		var msgs []router.Message
		if r.redrive {
			m, err := decode(msg.Headers(), msg.Data())
			if err != nil {
				decodeErr = errors.Join(decodeErr, fmt.Errorf("decoding message %d: %w", seq, err))
			}
			msgs = []router.Message{m}
		} else {
			msgs, err = decodeRecord(msg.Headers(), msg.Data())
			if err != nil {
				// A message this package did not write: handed on
				// with what could be read (the single-message
				// headers), so it is neither lost nor blocking.
				decodeErr = errors.Join(decodeErr, fmt.Errorf("decoding record %d: %w", seq, err))
				if len(msgs) == 0 {
					m, _ := decode(msg.Headers(), msg.Data())
					msgs = []router.Message{m}
				}
			}
		}
		r.mu.Lock()
		if h == nil || len(h.done) != len(msgs) {
			h = &held{done: make([]bool, len(msgs)), left: len(msgs)}
			r.inflight[seq] = h
		}
		h.msg, h.released = msg, time.Time{}
		r.perRec += (float64(len(msgs)) - r.perRec) / 8
		allDone := h.left == 0
		if allDone {
			delete(r.inflight, seq)
		}
		r.mu.Unlock()
		if allDone {
			_ = msg.Ack()
			continue
		}
		for i := range msgs {
			if h.done[i] {
				continue
			}
			d := router.Delivery{
				Message:   msgs[i],
				Partition: r.partition,
				Seq:       eventSeq(seq, i),
				Delivered: int(md.NumDelivered),
			}
			if r.redrive {
				d.Redrive = seq
				d.Seq, _ = strconv.ParseUint(msg.Headers().Get(hdrSeq), 10, 64)
				d.Partition = router.Partition(msgs[i].PartitionKey(), r.partitions)
			}
			out = append(out, d)
		}
	}
	if stale > 0 {
		r.l.metrics.observeStale(stale)
		r.l.log.Info("records delivered again after they were acknowledged here; acknowledged again, not handed out", "consumer", r.name, "records", stale)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		r.needRewind(rewindFetch)
		return out, fmt.Errorf("fetching messages: %w", err)
	}
	if len(out) == 0 && decodeErr != nil {
		return nil, decodeErr
	}
	if received == 0 {
		r.verify(ctx)
	}
	return out, nil
}

// verify checks with the server, after a fetch that received nothing,
// whether deliveries went elsewhere since the last rewind: a previous
// holder's pull request still waiting on the server takes whatever comes,
// and this reader, receiving nothing, would see no gap; those messages
// would come back only after AckWait. When the server counts more
// deliveries than this reader received, a rewind is due; when it counts
// exactly these and no other pull request waits, the reader stops asking
// until the next rewind. So an idle partition costs one consumer info
// after each rewind.
func (r *reader) verify(ctx context.Context) {
	r.mu.Lock()
	check, next := r.unverified, r.next
	r.mu.Unlock()
	if !check || ctx.Err() != nil {
		return
	}
	info, err := r.cons.Info(ctx)
	if err != nil {
		return // asked again after the next empty fetch
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.next != next || r.rewindFor != "":
	case info.Delivered.Consumer >= next:
		r.l.log.Info("deliveries went elsewhere; rewinding before reading on", "consumer", r.name,
			"delivered", info.Delivered.Consumer, "received", next-1)
		r.rewindFor = rewindGap
	case info.NumWaiting == 0:
		r.unverified = false
	}
}

// maxRewinds is how many rewinds one Fetch tries before it reads.
const maxRewinds = 3

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// pruneLocked forgets records released more than 10 minutes ago that were
// not delivered here again (another process took them).
func (r *reader) pruneLocked() {
	for seq, h := range r.inflight {
		if !h.released.IsZero() && time.Since(h.released) > 10*time.Minute {
			delete(r.inflight, seq)
		}
	}
}

// position is where a delivery sits: its record's stream sequence and its
// index in the record.
func (r *reader) position(d router.Delivery) (uint64, int) {
	if r.redrive {
		return d.Redrive, 0
	}
	return splitSeq(d.Seq)
}

// records returns the held records of ds, once each, in order of first
// appearance; with ack set it marks ds done and returns only the records
// that are complete, removing them.
func (r *reader) records(ds []router.Delivery, ack bool) []jetstream.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []jetstream.Msg
	seen := make(map[uint64]bool, 4)
	for _, d := range ds {
		seq, i := r.position(d)
		h := r.inflight[seq]
		if h == nil || h.msg == nil {
			continue
		}
		if ack {
			if i < len(h.done) && !h.done[i] {
				h.done[i] = true
				h.left--
			}
			if h.left == 0 && !seen[seq] {
				seen[seq] = true
				out = append(out, h.msg)
				delete(r.inflight, seq)
			}
			continue
		}
		if !seen[seq] {
			seen[seq] = true
			out = append(out, h.msg)
		}
	}
	return out
}

// Ack acknowledges ds: a record is acknowledged when all its messages are.
// Every ack but the last is sent without waiting, the last one waits for
// the server's confirmation, which comes after the earlier ones were
// processed.
func (r *reader) Ack(ctx context.Context, ds []router.Delivery) error {
	msgs := r.records(ds, true)
	if len(msgs) == 0 {
		return nil
	}
	var errs []error
	for _, m := range msgs[:len(msgs)-1] {
		if err := m.Ack(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := msgs[len(msgs)-1].DoubleAck(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		// What was not acknowledged is delivered again by the rewind,
		// before anything newer.
		r.needRewind(rewindAck)
		return fmt.Errorf("acknowledging messages: %w", err)
	}
	return nil
}

// InProgress tells the server that the records of ds are still being
// worked on.
func (r *reader) InProgress(_ context.Context, ds []router.Delivery) error {
	var errs []error
	for _, m := range r.records(ds, false) {
		if err := m.InProgress(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("extending ack wait: %w", err)
	}
	return nil
}

// Release negatively acknowledges the records of ds, for delivery again
// at once; what was acknowledged of them is remembered, so that a record
// delivered here again hands out only the rest.
func (r *reader) Release(_ context.Context, ds []router.Delivery) error {
	msgs := r.records(ds, false)
	now := time.Now()
	r.mu.Lock()
	for _, d := range ds {
		seq, _ := r.position(d)
		if h := r.inflight[seq]; h != nil {
			h.released = now
		}
	}
	r.mu.Unlock()
	var errs []error
	for _, m := range msgs {
		if err := m.Nak(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("releasing messages: %w", err)
	}
	return nil
}

// Pending reads the consumer's lag from the server, in records.
func (r *reader) Pending(ctx context.Context) (router.Pending, error) {
	info, err := r.cons.Info(ctx)
	if err != nil {
		return router.Pending{}, fmt.Errorf("reading consumer info: %w", err)
	}
	return router.Pending{Waiting: info.NumPending, InFlight: uint64(info.NumAckPending)}, nil
}
