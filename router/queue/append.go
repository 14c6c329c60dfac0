package queue

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Append stores msgs in the events stream, each on the subject of its
// partition, in the order given, and returns once JetStream has
// acknowledged every one. A message whose (source, messageId) was stored
// within the dedupe window is not stored again and is counted in
// duplicates. Any failure to store (stream full, no responders, no quorum,
// timeout after Config.StoreTimeout, a cancelled ctx) returns an error
// wrapping router.ErrUnavailable; some messages may then have been stored,
// which a retry of the whole request finds as duplicates.
func (l *Log) Append(ctx context.Context, msgs []router.Message) (duplicates int, err error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	start := time.Now()
	pubs := make([]*nats.Msg, len(msgs))
	var lastAt time.Time
	var lastAtStr string
	for i := range msgs {
		m := &msgs[i]
		if i == 0 || !m.ReceivedAt.Equal(lastAt) {
			lastAt, lastAtStr = m.ReceivedAt, m.ReceivedAt.UTC().Format(time.RFC3339Nano)
		}
		pubs[i] = encode(m, l.subjects[router.Partition(m.PartitionKey(), l.cfg.Partitions)], lastAtStr)
	}
	duplicates, err = l.publishAll(ctx, pubs)
	l.metrics.observeAppend(time.Since(start), len(msgs), duplicates, err)
	if err != nil {
		return duplicates, fmt.Errorf("storing %d message(s): %w", len(msgs), err)
	}
	return duplicates, nil
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
		data, err := json.Marshal(r)
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
// for all the acknowledgements (one round of acks, not one round trip per
// message), up to Config.StoreTimeout. Errors wrap router.ErrUnavailable.
func (l *Log) publishAll(ctx context.Context, pubs []*nats.Msg) (duplicates int, err error) {
	futures := make([]jetstream.PubAckFuture, 0, len(pubs))
	stall := jetstream.WithStallWait(l.cfg.StoreTimeout)
	for _, m := range pubs {
		f, err := l.js.PublishMsgAsync(m, stall)
		if err != nil {
			return 0, fmt.Errorf("%w: publishing: %w", router.ErrUnavailable, err)
		}
		futures = append(futures, f)
	}
	timer := time.NewTimer(l.cfg.StoreTimeout)
	defer timer.Stop()
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				duplicates++
			}
		case err := <-f.Err():
			return duplicates, fmt.Errorf("%w: %w", router.ErrUnavailable, err)
		case <-timer.C:
			return duplicates, fmt.Errorf("%w: no acknowledgement from jetstream after %s", router.ErrUnavailable, l.cfg.StoreTimeout)
		case <-ctx.Done():
			return duplicates, fmt.Errorf("%w: %w", router.ErrUnavailable, ctx.Err())
		}
	}
	return duplicates, nil
}
