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
	return &reader{cons: cons, partition: cfg.Partition, inflight: make(map[uint64]jetstream.Msg)}, nil
}

// reader implements router.PartitionReader on one durable pull consumer.
type reader struct {
	cons      jetstream.Consumer
	partition int
	// redrive marks a reader of the redrive stream: its deliveries carry
	// the original log position (header Er-Seq) in Seq, the redrive
	// stream's in Redrive, and their partition computed from the message.
	redrive    bool
	partitions int

	mu       sync.Mutex
	inflight map[uint64]jetstream.Msg // fetched, not yet acked or released, by stream sequence (see inflightKey)
}

// Fetch pulls up to max messages; the pull request expires on the server
// after wait, so every message the server sent is received before Fetch
// returns.
func (r *reader) Fetch(ctx context.Context, max int, wait time.Duration) ([]router.Delivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if wait < 10*time.Millisecond {
		wait = 10 * time.Millisecond
	}
	batch, err := r.cons.Fetch(max, jetstream.FetchMaxWait(wait))
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
		m, err := decode(msg.Headers(), msg.Data())
		if err != nil {
			// A message this package did not write; keep it in flight
			// so that it is neither lost nor blocking: it is handed on
			// with what could be read.
			decodeErr = errors.Join(decodeErr, fmt.Errorf("decoding message %d: %w", md.Sequence.Stream, err))
		}
		r.mu.Lock()
		r.inflight[md.Sequence.Stream] = msg
		r.mu.Unlock()
		d := router.Delivery{
			Message:   m,
			Partition: r.partition,
			Seq:       md.Sequence.Stream,
			Delivered: int(md.NumDelivered),
		}
		if r.redrive {
			d.Redrive = d.Seq
			d.Seq, _ = strconv.ParseUint(msg.Headers().Get(hdrSeq), 10, 64)
			d.Partition = router.Partition(m.PartitionKey(), r.partitions)
		}
		out = append(out, d)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
		return out, fmt.Errorf("fetching messages: %w", err)
	}
	if len(out) == 0 && decodeErr != nil {
		return nil, decodeErr
	}
	return out, nil
}

// take removes ds from the in-flight set and returns their messages.
func (r *reader) take(ds []router.Delivery, remove bool) []jetstream.Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]jetstream.Msg, 0, len(ds))
	for _, d := range ds {
		k := inflightKey(d)
		if m, ok := r.inflight[k]; ok {
			out = append(out, m)
			if remove {
				delete(r.inflight, k)
			}
		}
	}
	return out
}

// inflightKey is the stream sequence a delivery was read at: Redrive for
// a redriven one, else Seq.
func inflightKey(d router.Delivery) uint64 {
	if d.Redrive != 0 {
		return d.Redrive
	}
	return d.Seq
}

// Ack acknowledges ds: every ack but the last is sent without waiting, the
// last one waits for the server's confirmation, which comes after the
// earlier ones were processed.
func (r *reader) Ack(ctx context.Context, ds []router.Delivery) error {
	msgs := r.take(ds, true)
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

// InProgress tells the server that ds are still being worked on.
func (r *reader) InProgress(_ context.Context, ds []router.Delivery) error {
	var errs []error
	for _, m := range r.take(ds, false) {
		if err := m.InProgress(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("extending ack wait: %w", err)
	}
	return nil
}

// Release negatively acknowledges ds, for delivery again at once.
func (r *reader) Release(_ context.Context, ds []router.Delivery) error {
	var errs []error
	for _, m := range r.take(ds, true) {
		if err := m.Nak(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("releasing messages: %w", err)
	}
	return nil
}

// Pending reads the consumer's lag from the server.
func (r *reader) Pending(ctx context.Context) (router.Pending, error) {
	info, err := r.cons.Info(ctx)
	if err != nil {
		return router.Pending{}, fmt.Errorf("reading consumer info: %w", err)
	}
	return router.Pending{Waiting: info.NumPending, InFlight: uint64(info.NumAckPending)}, nil
}
