package eventlog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Append stores msgs in the events stream and returns once JetStream has
// acknowledged every one. The messages of one partition go into one record
// (more when they exceed a record's limits), in the order given; see
// record.go.
//
// A message whose (source, messageId) was stored within the dedupe window
// is not stored again and is counted in duplicates; so is a repeat within
// msgs, and a message that a concurrent Append is storing (Append waits
// for that one's outcome). The dedupe index says what was stored (see the
// package documentation).
//
// Any failure to store (stream full, no responders, no quorum, timeout
// after Config.StoreTimeout, a cancelled ctx) returns an error wrapping
// router.ErrUnavailable; some records may then have been stored, which a
// retry of the whole request finds as duplicates.
func (l *Log) Append(ctx context.Context, msgs []router.Message) (duplicates int, err error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	start := time.Now()
	duplicates, err = l.append(ctx, msgs)
	l.metrics.observeAppend(time.Since(start), len(msgs), duplicates, err)
	if err != nil {
		return duplicates, fmt.Errorf("storing %d message(s): %w", len(msgs), err)
	}
	return duplicates, nil
}

func (l *Log) append(ctx context.Context, msgs []router.Message) (duplicates int, err error) {
	rctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	keys := make([]dedupe.Key, len(msgs))
	for i := range msgs {
		keys[i] = dedupe.KeyOf(msgs[i].Source, msgs[i].ID)
	}
	dup, res, err := l.index.Reserve(rctx, keys)
	if err != nil {
		return 0, fmt.Errorf("%w: checking message ids: %w", router.ErrUnavailable, err)
	}
	defer res.Close()

	// The pieces: per partition, in the order of msgs, cut at the record
	// limits; each partition's writer packs them with other Appends'
	// pieces into records (see writer.go).
	op := &appendOp{msgs: msgs, keys: keys, res: res, done: make(chan struct{})}
	byPartition := make(map[int][]*piece)
	for i := range msgs {
		if dup[i] {
			duplicates++
			continue
		}
		p := router.Partition(msgs[i].PartitionKey(), l.cfg.Partitions)
		size := encodedSize(&msgs[i])
		ps := byPartition[p]
		var pc *piece
		if n := len(ps); n > 0 && len(ps[n-1].idx) < maxRecordCount && recordHeaderSize+ps[n-1].size+size <= maxRecordBytes {
			pc = ps[n-1]
		} else {
			pc = &piece{op: op}
			byPartition[p] = append(ps, pc)
			op.pending++
		}
		pc.idx = append(pc.idx, i)
		pc.size += size
	}
	if op.pending == 0 {
		return duplicates, nil
	}
	for p, ps := range byPartition {
		l.writers[p].enqueue(ps)
	}
	select {
	case <-op.done:
	case <-rctx.Done():
	}
	// Whatever happened, nothing of op is published from here on and
	// res is no longer touched by the writers (res.Close, deferred, runs
	// after this).
	finished, err := op.abandon()
	duplicates += op.duplicates
	if !finished {
		if errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return duplicates, fmt.Errorf("%w: no acknowledgement from jetstream after %s", router.ErrUnavailable, l.cfg.StoreTimeout)
		}
		return duplicates, fmt.Errorf("%w: %w", router.ErrUnavailable, rctx.Err())
	}
	return duplicates, err
}

// publishEvents publishes records like publish, but without nats.go's
// retry of a publish answered "no responders" (by default twice, 250ms
// apart, during a stream leader election): that retry re-sends one record
// on its own, after later ones may have been stored. A record that finds
// no stream leader fails the Append instead (503), and the client's retry
// of the whole request keeps its order; what was stored is found as
// duplicates.
func (l *Log) publishEvents(ctx context.Context, pubs []*nats.Msg) ([]*jetstream.PubAck, error) {
	return l.publishWith(ctx, pubs, jetstream.WithRetryAttempts(0))
}

// Reject stores rejected items, as the JSON of router.Rejected, in the
// rejected stream on subject <prefix>.rejected.<reason>, with the same
// durability as Append. Errors wrap router.ErrUnavailable.
func (l *Log) Reject(ctx context.Context, rejected []router.Rejected) error {
	if len(rejected) == 0 {
		return nil
	}
	pubs := make([]*nats.Msg, len(rejected))
	for i := range rejected {
		r := &rejected[i]
		data, err := marshalEntry(r)
		if err != nil {
			return fmt.Errorf("encoding rejected item: %w", err)
		}
		h := nats.Header{hdrReason: []string{escape(r.Reason)}}
		if r.Source != "" {
			h[hdrSource] = []string{escape(r.Source)}
		}
		pubs[i] = &nats.Msg{Subject: l.cfg.StreamPrefix + ".rejected." + subjectToken(r.Reason), Header: h, Data: data}
	}
	if _, err := l.publishAll(ctx, pubs); err != nil {
		return fmt.Errorf("storing %d rejected item(s): %w", len(rejected), err)
	}
	return nil
}

// publishAll publishes every message asynchronously, in order, then waits
// for all the acknowledgements, up to Config.StoreTimeout, and counts the
// duplicates. Errors wrap router.ErrUnavailable.
func (l *Log) publishAll(ctx context.Context, pubs []*nats.Msg) (duplicates int, err error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StoreTimeout)
	defer cancel()
	acks, err := l.publish(ctx, pubs)
	for _, a := range acks {
		if a != nil && a.Duplicate {
			duplicates++
		}
	}
	return duplicates, err
}

// publish publishes every message asynchronously, in order, then waits for
// all the acknowledgements (one round of acks, not one round trip per
// message) until ctx ends. acks[i] is message i's acknowledgement, nil when
// it has none; err wraps router.ErrUnavailable when any is missing.
func (l *Log) publish(ctx context.Context, pubs []*nats.Msg) (acks []*jetstream.PubAck, err error) {
	return l.publishWith(ctx, pubs)
}

// publishWith is publish with extra publish options.
func (l *Log) publishWith(ctx context.Context, pubs []*nats.Msg, opts ...jetstream.PublishOpt) (acks []*jetstream.PubAck, err error) {
	acks = make([]*jetstream.PubAck, len(pubs))
	futures := make([]jetstream.PubAckFuture, 0, len(pubs))
	opts = append(opts, jetstream.WithStallWait(l.cfg.StoreTimeout))
	for _, m := range pubs {
		f, err := l.js.PublishMsgAsync(m, opts...)
		if err != nil {
			err = fmt.Errorf("%w: publishing: %w", router.ErrUnavailable, err)
			return acks, errors.Join(err, l.collect(ctx, futures, acks))
		}
		futures = append(futures, f)
	}
	return acks, l.collect(ctx, futures, acks)
}

// collect waits for the acknowledgements of futures until ctx ends, into
// acks.
func (l *Log) collect(ctx context.Context, futures []jetstream.PubAckFuture, acks []*jetstream.PubAck) error {
	var errs []error
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			acks[i] = ack
		case err := <-f.Err():
			errs = append(errs, err)
		case <-ctx.Done():
			if len(errs) == 0 {
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return fmt.Errorf("%w: no acknowledgement from jetstream after %s", router.ErrUnavailable, l.cfg.StoreTimeout)
				}
				return fmt.Errorf("%w: %w", router.ErrUnavailable, ctx.Err())
			}
			return fmt.Errorf("%w: %w", router.ErrUnavailable, errors.Join(errs...))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", router.ErrUnavailable, errors.Join(errs...))
	}
	return nil
}
