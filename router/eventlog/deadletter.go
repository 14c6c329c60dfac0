package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// dlqSubject returns the dead-letter subject of a destination.
func (l *Log) dlqSubject(destination string) string {
	return l.cfg.StreamPrefix + ".dlq." + subjectToken(destination)
}

// DeadLetter stores dl in the dead-letter stream, on subject
// <prefix>.dlq.<destination>, with the message's original headers and body
// plus the destination, the log sequence, the attempt count, the first
// failure's time, the last error and the time of dead-lettering. Its
// Nats-Msg-Id is (destination, Seq, and Redrive when set), so storing the same message twice
// (after a crash between storing and acknowledging) keeps one copy. Errors
// wrap router.ErrUnavailable.
func (l *Log) DeadLetter(ctx context.Context, dl router.DeadLetter) error {
	if dl.DeadAt.IsZero() {
		dl.DeadAt = time.Now()
	}
	m := &dl.Message
	msg := encode(m, l.dlqSubject(dl.Destination), m.ReceivedAt.UTC().Format(time.RFC3339Nano))
	seq := strconv.FormatUint(dl.Seq, 10)
	h := msg.Header
	id := dedupeID(dl.Destination, seq)
	if dl.Redrive != 0 {
		// Failed again after a redrive: a new dead letter, not a repeat of
		// the first one that the dedupe window would drop.
		id += ":r" + strconv.FormatUint(dl.Redrive, 10)
	}
	h[jetstream.MsgIDHeader] = []string{escape(id)}
	h[hdrDestination] = []string{escape(dl.Destination)}
	h[hdrSeq] = []string{seq}
	h[hdrAttempts] = []string{strconv.Itoa(dl.Attempts)}
	h[hdrFirstFailure] = []string{dl.FirstFailure.UTC().Format(time.RFC3339Nano)}
	h[hdrLastError] = []string{escape(dl.LastError)}
	h[hdrDeadAt] = []string{dl.DeadAt.UTC().Format(time.RFC3339Nano)}
	if _, err := l.publishAll(ctx, []*nats.Msg{msg}); err != nil {
		return fmt.Errorf("dead-lettering message %d for %s: %w", dl.Seq, dl.Destination, err)
	}
	return nil
}

// DeadLetters returns up to limit dead letters of destination, oldest
// first; limit <= 0 returns all of them.
func (l *Log) DeadLetters(ctx context.Context, destination string, limit int) ([]router.DeadLetter, error) {
	subject := l.dlqSubject(destination)
	info, err := l.dlq.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("reading dead letters of %s: %w", destination, err)
	}
	n := int(info.State.Subjects[subject])
	if limit <= 0 || limit > n {
		limit = n
	}
	if limit == 0 {
		return nil, nil
	}
	cons, err := l.js.OrderedConsumer(ctx, l.dlqStream(), jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("reading dead letters of %s: %w", destination, err)
	}
	out := make([]router.DeadLetter, 0, limit)
	for len(out) < limit {
		batch, err := cons.Fetch(limit-len(out), jetstream.FetchMaxWait(l.cfg.StoreTimeout))
		if err != nil {
			return out, fmt.Errorf("reading dead letters of %s: %w", destination, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			dl, err := decodeDeadLetter(msg)
			if err != nil {
				return out, fmt.Errorf("reading dead letters of %s: %w", destination, err)
			}
			out = append(out, dl)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return out, fmt.Errorf("reading dead letters of %s: %w", destination, err)
		}
		if got == 0 {
			break
		}
	}
	return out, nil
}

// decodeDeadLetter decodes a dead letter read through a consumer, with its
// position in the dead-letter stream as ID.
func decodeDeadLetter(msg jetstream.Msg) (router.DeadLetter, error) {
	dl, err := decodeDeadLetterParts(msg.Headers(), msg.Data())
	if err != nil {
		return dl, err
	}
	if md, err := msg.Metadata(); err == nil {
		dl.ID = md.Sequence.Stream
	}
	return dl, nil
}

// decodeDeadLetterParts decodes a dead letter from its headers and body.
func decodeDeadLetterParts(h nats.Header, data []byte) (router.DeadLetter, error) {
	m, err := decode(h, data)
	if err != nil {
		return router.DeadLetter{}, err
	}
	dl := router.DeadLetter{
		Destination: unescape(h.Get(hdrDestination)),
		Message:     m,
		LastError:   unescape(h.Get(hdrLastError)),
	}
	if dl.Seq, err = strconv.ParseUint(h.Get(hdrSeq), 10, 64); err != nil {
		return dl, fmt.Errorf("decoding %s: %w", hdrSeq, err)
	}
	if dl.Attempts, err = strconv.Atoi(h.Get(hdrAttempts)); err != nil {
		return dl, fmt.Errorf("decoding %s: %w", hdrAttempts, err)
	}
	if dl.FirstFailure, err = time.Parse(time.RFC3339Nano, h.Get(hdrFirstFailure)); err != nil {
		return dl, fmt.Errorf("decoding %s: %w", hdrFirstFailure, err)
	}
	if dl.DeadAt, err = time.Parse(time.RFC3339Nano, h.Get(hdrDeadAt)); err != nil {
		return dl, fmt.Errorf("decoding %s: %w", hdrDeadAt, err)
	}
	return dl, nil
}
