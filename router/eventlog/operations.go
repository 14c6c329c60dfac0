package eventlog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// This file holds what the admin API reads and changes in the log: its
// size and limits, the backlog of each destination, the dead letters, and
// the redrive stream through which dead letters and replayed history are
// delivered again to one destination.

func (l *Log) redriveStream() string { return l.cfg.StreamPrefix + "_REDRIVE" }

// redriveSubject returns the redrive subject of a destination.
func (l *Log) redriveSubject(destination string) string {
	return l.cfg.StreamPrefix + ".redrive." + subjectToken(destination)
}

// redriveConfig is the configuration of the redrive stream: a work queue
// (a message is removed once its destination acknowledged it) with the
// limits of the other streams.
func (l *Log) redriveConfig() jetstream.StreamConfig {
	cfg := l.streamConfig(l.redriveStream(), l.cfg.StreamPrefix+".redrive.*")
	cfg.Description = "eventrouter messages queued again for one destination (dead-letter redrive, replay)"
	cfg.Retention = jetstream.WorkQueuePolicy
	return cfg
}

// Info reads the events stream's size (Messages counts records), the log's
// limits and the dedupe index's disk and memory use.
func (l *Log) Info(ctx context.Context) (router.LogInfo, error) {
	info, err := l.events.Info(ctx)
	if err != nil {
		return router.LogInfo{}, fmt.Errorf("reading log info: %w: %w", router.ErrUnavailable, err)
	}
	li := router.LogInfo{
		Retention: max(l.cfg.Retention, 0),
		MaxBytes:  int64(l.cfg.MaxBytes),
		Bytes:     info.State.Bytes,
		Messages:  info.State.Msgs,
	}
	if info.State.Msgs > 0 {
		li.FirstSeq, li.FirstTime = info.State.FirstSeq, info.State.FirstTime
	}
	st := l.index.Stats()
	li.DedupeWindow, li.DedupeDiskBytes, li.DedupeMemoryBytes, li.DedupeMemoryLimit = l.cfg.DedupeWindow, st.DiskBytes, st.MemoryBytes, int64(l.cfg.DedupeMemory)
	return li, nil
}

// Backlog reads what destination has not yet acknowledged, over all its
// partitions' cursors, and when the oldest of it was stored. A cursor that
// does not exist (a destination never started) counts as empty.
func (l *Log) Backlog(ctx context.Context, destination string) (router.Backlog, error) {
	var b router.Backlog
	for p := range l.cfg.Partitions {
		cons, err := l.events.Consumer(ctx, ConsumerName(destination, p))
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			continue
		}
		if err != nil {
			return b, fmt.Errorf("reading backlog of %s: %w: %w", destination, router.ErrUnavailable, err)
		}
		ci := cons.CachedInfo()
		n := ci.NumPending + uint64(ci.NumAckPending)
		if n == 0 {
			continue
		}
		b.Pending += n
		// The oldest unacknowledged message of the partition is the first
		// one on its subject after the ack floor.
		msg, err := l.events.GetMsg(ctx, ci.AckFloor.Stream+1, jetstream.WithGetMsgSubject(l.subjects[p]))
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue
			}
			return b, fmt.Errorf("reading backlog of %s: %w: %w", destination, router.ErrUnavailable, err)
		}
		if b.Oldest.IsZero() || msg.Time.Before(b.Oldest) {
			b.Oldest = msg.Time
		}
	}
	return b, nil
}

// DeadLetterCounts returns how many dead letters each of destinations has.
func (l *Log) DeadLetterCounts(ctx context.Context, destinations []string) (map[string]uint64, error) {
	info, err := l.dlq.Info(ctx, jetstream.WithSubjectFilter(l.cfg.StreamPrefix+".dlq.>"))
	if err != nil {
		return nil, fmt.Errorf("counting dead letters: %w: %w", router.ErrUnavailable, err)
	}
	out := make(map[string]uint64, len(destinations))
	for _, d := range destinations {
		out[d] = info.State.Subjects[l.dlqSubject(d)]
	}
	return out, nil
}

// ScanDeadLetters calls fn with every dead letter of destination (of every
// destination when it is empty), oldest first, until fn returns false. The
// dead letters have no Message.Body (only the headers are read); read one
// in full with [Log.DeadLetterByID].
func (l *Log) ScanDeadLetters(ctx context.Context, destination string, fn func(router.DeadLetter) bool) error {
	subject := l.cfg.StreamPrefix + ".dlq.*"
	if destination != "" {
		subject = l.dlqSubject(destination)
	}
	info, err := l.dlq.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("reading dead letters: %w: %w", router.ErrUnavailable, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if n == 0 {
		return nil
	}
	cons, err := l.js.OrderedConsumer(ctx, l.dlqStream(), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject}, HeadersOnly: true,
	})
	if err != nil {
		return fmt.Errorf("reading dead letters: %w: %w", router.ErrUnavailable, err)
	}
	var read uint64
	for read < n {
		batch, err := cons.Fetch(int(min(n-read, 500)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("reading dead letters: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			read++
			dl, err := decodeDeadLetter(msg)
			if err != nil {
				return fmt.Errorf("reading dead letters: %w", err)
			}
			if !fn(dl) {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("reading dead letters: %w", err)
		}
		if got == 0 {
			break
		}
	}
	return ctx.Err()
}

// DeadLetterByID reads one dead letter in full, by its position in the
// dead-letter stream (router.DeadLetter.ID). An id that does not exist
// (any more) is an error matching router.ErrNotFound.
func (l *Log) DeadLetterByID(ctx context.Context, id uint64) (router.DeadLetter, error) {
	msg, err := l.dlq.GetMsg(ctx, id)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return router.DeadLetter{}, fmt.Errorf("reading dead letter %d: %w", id, router.ErrNotFound)
		}
		return router.DeadLetter{}, fmt.Errorf("reading dead letter %d: %w: %w", id, router.ErrUnavailable, err)
	}
	dl, err := decodeDeadLetterParts(msg.Header, msg.Data)
	if err != nil {
		return dl, fmt.Errorf("reading dead letter %d: %w", id, err)
	}
	dl.ID = msg.Sequence
	return dl, nil
}

// RemoveDeadLetters deletes dead letters by id and returns how many this
// call deleted; ids that no longer exist (removed by a concurrent redrive,
// or expired) are skipped, not errors.
func (l *Log) RemoveDeadLetters(ctx context.Context, ids []uint64) (int, error) {
	removed := 0
	for _, id := range ids {
		ok, err := deleteMsg(ctx, l.dlq, id)
		if err != nil {
			return removed, fmt.Errorf("removing dead letter %d: %w: %w", id, router.ErrUnavailable, err)
		}
		if ok {
			removed++
		}
	}
	return removed, nil
}

// deleteMsg deletes the message at seq from stream and reports whether
// this call deleted it; a message that is already gone is not an error.
// nats.go reports a missing message as a failed deletion without the API
// error's code, so on failure the message is looked up: missing means
// deleted (by someone else).
func deleteMsg(ctx context.Context, stream jetstream.Stream, seq uint64) (bool, error) {
	err := stream.DeleteMsg(ctx, seq)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if _, gerr := stream.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return false, err
}

// Requeue stores ds on the redrive subject of destination, in order, and
// returns once JetStream has acknowledged all of them. Dispatch delivers
// them to that destination only (through [Log.RedriveReader]), with its
// filters, rate limit and retries, and dead-letters them again if they
// fail; each keeps its messageId and its original Seq. Errors wrap
// router.ErrUnavailable (the redrive stream may be full: it has the log's
// max_bytes).
//
// A delivery with a DeadLetterID (a dead-letter redrive) is stored under
// an identity derived from the dead letter (destination and dead-letter
// position): the same dead letter queued again within the dedupe window
// (two redrives at once, or a redrive repeated after its removal step
// failed) is dropped by JetStream as a duplicate. A message that fails
// again becomes a new dead letter, with a new position, and can be
// redriven again. Other deliveries (a replay) get a fresh identity per
// call: replaying the same history twice queues it twice, on purpose.
func (l *Log) Requeue(ctx context.Context, destination string, ds []router.Delivery) error {
	if len(ds) == 0 {
		return nil
	}
	var op [6]byte
	_, _ = rand.Read(op[:])
	opID := hex.EncodeToString(op[:])
	subject := l.redriveSubject(destination)
	pubs := make([]*nats.Msg, len(ds))
	for i := range ds {
		d := &ds[i]
		msg := encode(&d.Message, subject, d.Message.ReceivedAt.UTC().Format(time.RFC3339Nano))
		seq := strconv.FormatUint(d.Seq, 10)
		id := "r:" + opID + ":" + dedupeID(destination, seq)
		if d.DeadLetterID != 0 {
			id = "d:" + dedupeID(destination, strconv.FormatUint(d.DeadLetterID, 10))
		}
		msg.Header[jetstream.MsgIDHeader] = []string{escape(id)}
		msg.Header[hdrSeq] = []string{seq}
		pubs[i] = msg
	}
	if _, err := l.publishAll(ctx, pubs); err != nil {
		return fmt.Errorf("queueing %d message(s) again for %s: %w", len(ds), destination, err)
	}
	return nil
}

// RedriveReader returns the reader of destination's redrive cursor: a
// durable pull consumer on the redrive stream, filtered on the
// destination's subject. Its deliveries carry the message's original log
// position in Seq and their redrive position in Redrive; acknowledging
// one removes it from the redrive stream.
func (l *Log) RedriveReader(ctx context.Context, destination string, ackWait time.Duration) (router.PartitionReader, error) {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	name := subjectToken(destination) + "-redrive"
	var cons jetstream.Consumer
	err := l.retry(ctx, "creating consumer "+name, func(ctx context.Context) (err error) {
		cons, err = l.redrive.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   fmt.Sprintf("eventrouter destination %q, redrive", destination),
			FilterSubject: l.redriveSubject(destination),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			MaxDeliver:    -1,
			MaxAckPending: 1000,
			DeliverPolicy: jetstream.DeliverAllPolicy,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("opening reader %s: %w", name, err)
	}
	return l.newReader(l.redrive, cons, name, 0, true), nil
}

// ScanEvents calls fn with the messages of the events stream stored from
// since (the oldest retained when zero) up to until (no bound when zero),
// in the order they were stored, until fn returns an error (which
// ScanEvents returns). Messages stored after ScanEvents started are not
// read. done and total count the records of the range read so far and in
// all, for progress reports.
func (l *Log) ScanEvents(ctx context.Context, since, until time.Time, fn func(d router.Delivery, done, total uint64) error) error {
	info, err := l.events.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading the log: %w: %w", router.ErrUnavailable, err)
	}
	last := info.State.LastSeq
	if info.State.Msgs == 0 {
		return nil
	}
	occ := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !since.IsZero() {
		occ.DeliverPolicy, occ.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	cons, err := l.js.OrderedConsumer(ctx, l.eventsStream(), occ)
	if err != nil {
		return fmt.Errorf("reading the log: %w: %w", router.ErrUnavailable, err)
	}
	var first uint64
	for {
		batch, err := cons.Fetch(500, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				return fmt.Errorf("reading message metadata: %w", err)
			}
			seq := md.Sequence.Stream
			if seq > last || !until.IsZero() && md.Timestamp.After(until) {
				return nil
			}
			if first == 0 {
				first = seq
			}
			msgs, err := decodeRecord(msg.Headers(), msg.Data())
			if err != nil {
				return fmt.Errorf("decoding record %d: %w", seq, err)
			}
			for i, m := range msgs {
				d := router.Delivery{Message: m, Partition: router.Partition(m.PartitionKey(), l.cfg.Partitions), Seq: eventSeq(seq, i), Delivered: 1}
				if err := fn(d, seq-first+1, last-first+1); err != nil {
					return err
				}
			}
			if seq == last {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("reading the log: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if got == 0 {
			return nil
		}
	}
}
