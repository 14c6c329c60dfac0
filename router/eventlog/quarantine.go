package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Quarantine headers, added to the message's own (see encode).
const (
	hdrQuarantinedAt = "Er-Quarantined-At"
)

func (l *Log) quarantineStream() string { return l.cfg.StreamPrefix + "_QUARANTINE" }

// quarantineSubject returns the quarantine subject of a source.
func (l *Log) quarantineSubject(source string) string {
	return l.cfg.StreamPrefix + ".quarantine." + subjectToken(source)
}

// quarantinePayload is the stored form of a router.Quarantined besides the
// routing headers: the message body travels as it was normalised.
type quarantinePayload struct {
	Reason      string             `json:"reason"`
	Detail      string             `json:"detail,omitempty"`
	Violations  []router.Violation `json:"violations"`
	PlanID      string             `json:"plan_id,omitempty"`
	PlanVersion string             `json:"plan_version,omitempty"`
	Message     json.RawMessage    `json:"message"`
}

// Quarantine stores messages the tracking plan blocked in the quarantine
// stream, on subject <prefix>.quarantine.<source>, with the same durability
// as Append: it returns once JetStream acknowledged every one. Each keeps
// its routing headers, so that it is listed without decoding, and its
// Nats-Msg-Id is (source, messageId): a client's retry of a blocked message
// within the dedupe window is kept once. Errors wrap router.ErrUnavailable.
func (l *Log) Quarantine(ctx context.Context, qs []router.Quarantined) error {
	if len(qs) == 0 {
		return nil
	}
	now := time.Now()
	pubs := make([]*nats.Msg, len(qs))
	for i := range qs {
		q := &qs[i]
		at := q.QuarantinedAt
		if at.IsZero() {
			at = now
		}
		data, err := marshalEntry(quarantinePayload{
			Reason: q.Reason, Detail: q.Detail, Violations: q.Violations,
			PlanID: q.PlanID, PlanVersion: q.PlanVersion, Message: q.Message.Body,
		})
		if err != nil {
			return fmt.Errorf("encoding quarantined message: %w", err)
		}
		m := q.Message
		m.Violations = len(q.Violations)
		msg := encode(&m, l.quarantineSubject(m.Source), m.ReceivedAt.UTC().Format(time.RFC3339Nano))
		msg.Header[hdrReason] = []string{escape(q.Reason)}
		msg.Header[hdrQuarantinedAt] = []string{at.UTC().Format(time.RFC3339Nano)}
		msg.Data = data
		pubs[i] = msg
	}
	if _, err := l.publishAll(ctx, pubs); err != nil {
		return fmt.Errorf("storing %d quarantined message(s): %w", len(qs), err)
	}
	return nil
}

// Quarantined returns the quarantined messages, oldest first, of source
// (every source when empty) whose track event is event (any when empty)
// and that were quarantined at or after since (any time when zero). It
// holds them all in memory: the admin API reads the quarantine through
// [Log.ScanQuarantined] instead.
func (l *Log) Quarantined(ctx context.Context, source, event string, since time.Time) ([]router.Quarantined, error) {
	var out []router.Quarantined
	err := l.ScanQuarantined(ctx, source, event, since, func(q router.Quarantined) bool {
		out = append(out, q)
		return true
	})
	return out, err
}

// ScanQuarantined calls fn with the quarantined messages, oldest first, of
// source (every source when empty) whose track event is event (any when
// empty) and that were quarantined at or after since (any time when zero),
// until fn returns false. It reads the matching part of the stream once,
// in batches of at most 500, and keeps nothing: the caller decides what
// to hold. Entries stored after the scan started are not read.
func (l *Log) ScanQuarantined(ctx context.Context, source, event string, since time.Time, fn func(router.Quarantined) bool) error {
	cfg := jetstream.OrderedConsumerConfig{}
	subject := l.cfg.StreamPrefix + ".quarantine.*"
	if source != "" {
		subject = l.quarantineSubject(source)
	}
	cfg.FilterSubjects = []string{subject}
	if !since.IsZero() {
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		t := since
		cfg.OptStartTime = &t
	}
	info, err := l.quarantine.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return fmt.Errorf("reading quarantine: %w", err)
	}
	var pending uint64
	for _, n := range info.State.Subjects {
		pending += n
	}
	if pending == 0 {
		return nil
	}
	last := info.State.LastSeq
	cons, err := l.js.OrderedConsumer(ctx, l.quarantineStream(), cfg)
	if err != nil {
		return fmt.Errorf("reading quarantine: %w", err)
	}
	for {
		// pending counts every entry of the subject, so that a batch of
		// that size fills at once (without since and event, exactly).
		batch, err := cons.Fetch(int(min(pending, 500)), jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return fmt.Errorf("reading quarantine: %w", err)
		}
		got, reachedEnd, stop := 0, false, false
		for msg := range batch.Messages() {
			got++
			if stop {
				continue // drain the batch
			}
			q, err := decodeQuarantined(msg)
			if err != nil {
				return fmt.Errorf("reading quarantine: %w", err)
			}
			if q.Seq > last {
				stop = true
				continue
			}
			if q.Seq == last {
				reachedEnd = true
			}
			if event != "" && q.Message.Event != event {
				continue
			}
			if !fn(q) {
				stop = true
			}
		}
		if stop {
			return nil
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			return fmt.Errorf("reading quarantine: %w", err)
		}
		pending -= min(pending, uint64(got))
		if got == 0 || reachedEnd || pending == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading quarantine: %w", err)
		}
	}
}

// QuarantinedMessage returns the quarantine entry at seq; an error matching
// router.ErrNotFound when there is none (never stored, replayed, or aged
// out).
func (l *Log) QuarantinedMessage(ctx context.Context, seq uint64) (router.Quarantined, error) {
	raw, err := l.quarantine.GetMsg(ctx, seq)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return router.Quarantined{}, fmt.Errorf("reading quarantined message %d: %w", seq, router.ErrNotFound)
		}
		return router.Quarantined{}, fmt.Errorf("reading quarantined message %d: %w", seq, err)
	}
	q, err := decodeQuarantinedParts(raw.Header, raw.Data, raw.Sequence, raw.Time)
	if err != nil {
		return q, fmt.Errorf("reading quarantined message %d: %w", seq, err)
	}
	return q, nil
}

// Unquarantine deletes the quarantine entry at seq (after it was replayed).
// Deleting an entry that is already gone is not an error.
func (l *Log) Unquarantine(ctx context.Context, seq uint64) error {
	if _, err := deleteMsg(ctx, l.quarantine, seq); err != nil {
		return fmt.Errorf("deleting quarantined message %d: %w", seq, err)
	}
	return nil
}

func decodeQuarantined(msg jetstream.Msg) (router.Quarantined, error) {
	md, err := msg.Metadata()
	if err != nil {
		return router.Quarantined{}, fmt.Errorf("reading metadata: %w", err)
	}
	return decodeQuarantinedParts(msg.Headers(), msg.Data(), md.Sequence.Stream, md.Timestamp)
}

func decodeQuarantinedParts(h nats.Header, data []byte, seq uint64, stored time.Time) (router.Quarantined, error) {
	var p quarantinePayload
	if err := json.Unmarshal(data, &p); err != nil {
		return router.Quarantined{Seq: seq}, fmt.Errorf("decoding quarantined message %d: %w", seq, err)
	}
	m, err := decode(h, p.Message)
	if err != nil {
		return router.Quarantined{Seq: seq}, err
	}
	m.Violations = 0 // the message as it was before enforcement
	q := router.Quarantined{
		Seq: seq, Message: m, Reason: p.Reason, Detail: p.Detail, Violations: p.Violations,
		PlanID: p.PlanID, PlanVersion: p.PlanVersion, QuarantinedAt: stored,
	}
	if at := h.Get(hdrQuarantinedAt); at != "" {
		if t, err := time.Parse(time.RFC3339Nano, at); err == nil {
			q.QuarantinedAt = t
		}
	}
	return q, nil
}
