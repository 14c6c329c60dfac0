package queue

import (
	"context"
	"errors"
	"fmt"
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
	existing, err := l.events.Consumer(ctx, name)
	switch {
	case err == nil:
		old := existing.CachedInfo().Config
		cc.DeliverPolicy, cc.OptStartSeq, cc.OptStartTime = old.DeliverPolicy, old.OptStartSeq, old.OptStartTime
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, fmt.Errorf("opening reader %s: %w", name, err)
	}
	cons, err := l.events.CreateOrUpdateConsumer(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", name, err)
	}
	return newReader(cons, cfg.Partition, false, l.cfg.Partitions), nil
}

// reader implements router.PartitionReader on one durable pull consumer.
//
// The events stream holds records (see record.go); a reader hands out
// their messages and acknowledges a record once every message of it was
// acknowledged. Fetch returns whole records, so a batch may hold more
// messages than asked for when one record alone has more (dispatch sends
// such a batch in pieces); it never leaves part of a record behind, so
// that stopping between two batches leaves nothing half delivered.
type reader struct {
	cons      jetstream.Consumer
	partition int
	// redrive marks a reader of the redrive stream: its deliveries carry
	// the original log position (header Er-Seq) in Seq, the redrive
	// stream's in Redrive, and their partition computed from the message.
	redrive    bool
	partitions int

	mu       sync.Mutex
	inflight map[uint64]*held // fetched records not yet acked, by stream sequence
	perRec   float64          // moving average of messages per record
}

// held is a fetched record.
type held struct {
	msg      jetstream.Msg
	done     []bool // done[i]: message i acknowledged
	left     int    // messages not done
	released time.Time
}

func newReader(cons jetstream.Consumer, partition int, redrive bool, partitions int) *reader {
	return &reader{cons: cons, partition: partition, redrive: redrive, partitions: partitions, inflight: make(map[uint64]*held), perRec: 1}
}

// Fetch pulls records holding about max messages; the pull request expires
// on the server after wait, so every message the server sent is received
// before Fetch returns. A record delivered again after this reader
// acknowledged some of its messages (a released batch) hands out only the
// others.
func (r *reader) Fetch(ctx context.Context, max int, wait time.Duration) ([]router.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	r.mu.Lock()
	n := int(float64(max) / r.perRec)
	r.pruneLocked()
	r.mu.Unlock()
	n = min(maxInt(n, 1), maxInt(max, 1))
	batch, err := r.cons.Fetch(n, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, fmt.Errorf("fetching messages: %w", err)
	}
	var out []router.Delivery
	var decodeErr error
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil {
			decodeErr = errors.Join(decodeErr, fmt.Errorf("reading message metadata: %w", err))
			continue
		}
		seq := md.Sequence.Stream
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
		h := r.inflight[seq]
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
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return out, fmt.Errorf("fetching messages: %w", err)
	}
	if len(out) == 0 && decodeErr != nil {
		return nil, decodeErr
	}
	return out, nil
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
