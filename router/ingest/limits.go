package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/router"
)

// Limits on what a request stores (see "Limits" in the package
// documentation). They hold for the messages as stored, after the batch
// envelope's merge, normalisation, ingest notes and tracking-plan
// annotations, not only for what arrived.
const (
	// storedLimit is the largest stored message: the 32 KiB of the item
	// with its batch envelope, plus room for the fields ingest sets
	// (messageId, the four timestamps, channel, version, context.ip, notes:
	// about 500 bytes at most) and tracking-plan annotations.
	storedLimit = 36 << 10
	// budgetFactor and budgetPerItem bound what one request stores:
	// budgetFactor × its decoded size + budgetPerItem per item (of at most
	// maxBatchSize), counting every body it stores (accepted, rejected and
	// quarantined messages, copies for forward_blocked_to) except those kept
	// as sent, which are part of the decoded size already. The Violation
	// Generated events of forward_violations_to have a pool of their own,
	// budgetFactor × its decoded size + forwardPerRequest (room for about
	// three of them, at some 700 bytes each, in the smallest request; see
	// request.chargeForwards).
	budgetFactor      = 4
	budgetPerItem     = 512
	forwardPerRequest = 2 << 10
	// maxNesting is the deepest nesting a stored message may have: the
	// message object is level 1, {"properties":{"a":{}}} is 3. Segment's
	// libraries and common decoders accept far less than encoding/json's
	// 10,000 (which the request parser still allows, so that a deep item
	// is rejected alone rather than failing its batch).
	maxNesting = 64
	// budgetPerViolation is what each tracking-plan violation of a message
	// adds to its request's budget, for at most budgetViolations of them:
	// room for its annotation in context.protocols (violationType,
	// violationField, violationDescription, eventType, eventName: about
	// 200 bytes), or in the quarantine's list.
	budgetPerViolation = 256
	budgetViolations   = 20
	// maxRejectedBody is the largest body of a rejected entry. Each entry is
	// one message of the log, and NATS refuses messages over its
	// max_payload (1 MiB by default): an entry over it could never be
	// stored, and its request would be answered 503 on every retry. Bodies
	// stay well under it as sent (a batch is at most 500 KiB), but a body
	// kept as a JSON string of its text can grow up to six times (an
	// invalid UTF-8 byte becomes \ufffd), and a webhook delivery may be
	// 1 MiB: such a body is cut (see capBody).
	maxRejectedBody = 768 << 10
)

// planAllowance is what n violations of one message add to the budget.
func planAllowance(n int) int { return budgetPerViolation * min(n, budgetViolations) }

// The reason codes of rejections for the limits above.
const (
	reasonTooLarge       = "message_too_large"
	reasonRequestTooBig  = "request_too_large"
	reasonNestingTooDeep = "nesting_too_deep"
	reasonNumberInfinite = "number_not_finite"
	reasonTooManyEvents  = "batch_too_many_events"
)

// valueShape walks v (a value built by the parser) and returns its shape;
// it stops descending once the nesting passes maxNesting.
func valueShape(v any) shape {
	var s shape
	walkShape(v, 1, &s)
	return s
}

func walkShape(v any, depth int, s *shape) {
	switch v := v.(type) {
	case map[string]any:
		s.depth = max(s.depth, depth)
		if depth > maxNesting {
			return
		}
		for _, e := range v {
			walkShape(e, depth+1, s)
		}
	case []any:
		s.depth = max(s.depth, depth)
		if depth > maxNesting {
			return
		}
		for _, e := range v {
			walkShape(e, depth+1, s)
		}
	case json.Number:
		if !s.nonFinite && !finiteNumber(string(v)) {
			s.nonFinite = true
		}
	}
}

// finiteNumber reports whether a JSON number literal is a finite double.
func finiteNumber(lit string) bool {
	f, err := strconv.ParseFloat(lit, 64)
	return err == nil || !math.IsInf(f, 0)
}

// shapeReason returns the rejection reason and detail of a message of
// shape s (nesting counted from the message object), or "".
func shapeReason(s shape) (reason, detail string) {
	switch {
	case s.depth > maxNesting:
		return reasonNestingTooDeep, fmt.Sprintf("the message nests %d levels deep; at most %d are stored (kept as sent, as a JSON string)", s.depth, maxNesting)
	case s.nonFinite:
		return reasonNumberInfinite, "the message holds a number that is not a finite double (such as 1e400); kept as sent, as a JSON string"
	}
	return "", ""
}

// envelopeInfo is what the checks need to know about a batch envelope,
// computed once per request.
type envelopeInfo struct {
	// size is the encoded size of the envelope's context and integrations,
	// plus its sentAt when that cannot be parsed (it is then copied into
	// each item's notes): what the merge may add to each item at most.
	size int
	// depth is how deep the envelope nests inside a message (its context
	// at level 2 and below); nonFinite: it holds a non-finite number.
	shape
}

func newEnvelopeInfo(env *envelope) envelopeInfo {
	var info envelopeInfo
	for _, part := range []map[string]any{env.context, env.integrations} {
		if part == nil {
			continue
		}
		info.size += len(appendJSON(nil, part))
		s := valueShape(part)
		info.depth = max(info.depth, s.depth+1)
		info.nonFinite = info.nonFinite || s.nonFinite
	}
	if env.hasSentAt {
		if _, ok := parseTime(env.sentAt); !ok {
			info.size += len(appendJSON(nil, env.sentAt))
			// A note's value sits at level 5: message, _ingest, notes, note.
			s := valueShape(env.sentAt)
			info.depth = max(info.depth, s.depth+4)
			info.nonFinite = info.nonFinite || s.nonFinite
		}
	}
	return info
}

// charge takes n bytes from the request's budget; it reports false, taking
// nothing, when fewer remain.
func (q *request) charge(n int) bool {
	if n > q.budget {
		return false
	}
	q.budget -= n
	return true
}

// rejectAsSent rejects a batch item (or a single message) without merging
// the envelope into it: its body is the item as it arrived, without
// writeKey and _metadata, so that what it stores is bounded by what was
// sent. raw is the item's bytes in the request, nil when unknown. An item
// that nests deeper than maxNesting or holds a number that is not a finite
// double, whatever its reason, is kept as a JSON string of its text (raw,
// writeKey included, when known): a reader's JSON decoder could not take it
// as JSON either.
func (q *request) rejectAsSent(it any, raw []byte, reason, detail string) {
	msgID := ""
	var body []byte
	if m, ok := it.(map[string]any); ok {
		delete(m, "writeKey")
		delete(m, "_metadata")
		if id, ok := m["messageId"].(string); ok && id != "" && utf8.RuneCountInString(id) <= maxIDLength {
			msgID = id
		}
	}
	asText := reason == reasonNestingTooDeep || reason == reasonNumberInfinite
	if !asText {
		if sh := valueShape(it); sh.depth > maxNesting || sh.nonFinite {
			asText = true
			detail += fmt.Sprintf("; kept as a JSON string of its text, since it nests deeper than %d levels or holds a number that is not a finite double", maxNesting)
		}
	}
	if asText {
		if raw == nil {
			raw = appendJSON(nil, it)
		}
		body = appendString(nil, string(raw))
	} else {
		body = appendJSON(nil, it)
	}
	q.reject(q.src.name, reason, detail, msgID, body)
}

// chargeRejected takes the body of the rejection just appended from the
// budget; when it does not fit, the rejection is replaced by the item as
// sent (which the decoded size already accounts for).
func (q *request) chargeRejected(m map[string]any, raw []byte) {
	last := &q.rejected[len(q.rejected)-1]
	if q.charge(len(last.Body)) {
		return
	}
	reason, detail := last.Reason, last.Detail
	q.rejected = q.rejected[:len(q.rejected)-1]
	q.rejectOriginal(m, raw, reason, detail+" (kept as sent: the request's storage budget is used up)")
}

// rejectOriginal is rejectAsSent for a message that merging and
// normalising may have changed already: the item is decoded again from raw,
// its bytes in the request (m is used when raw is nil).
func (q *request) rejectOriginal(m map[string]any, raw []byte, reason, detail string) {
	var it any = m
	if raw != nil {
		if v, _, err := parseTop(raw, false); err == nil {
			it = v
		}
	}
	q.rejectAsSent(it, raw, reason, detail)
}

// storedSize is the size a quarantined message takes, roughly: its body
// and its violations.
func storedSize(qm router.Quarantined) int {
	n := len(qm.Message.Body) + 128
	for _, v := range qm.Violations {
		n += len(v.Type) + len(v.Field) + len(v.Description) + len(v.EventName) + len(v.EventType) + 96
	}
	return n
}

// rejectExcess keeps the items of a batch past the maxBatchSize-th (items;
// spans their places in body, nil when unknown) as rejected, reason
// batch_too_many_events. A single one is kept like any rejected item; more
// share one entry whose body is a JSON array of them as sent (without
// writeKey and _metadata, unless kept as text), because an entry of its
// own for each would store a few hundred bytes of record for an item of two
// ("0,"): a 500 KiB batch of them used to store 40 MB.
func (q *request) rejectExcess(items []any, spans []span, body []byte) {
	if len(items) == 1 {
		var raw []byte
		if spans != nil {
			raw = body[spans[0].start:spans[0].end]
		}
		q.rejectAsSent(items[0], raw, reasonTooManyEvents, fmt.Sprintf("the batch has more than %d items", maxBatchSize))
		return
	}
	// An item a JSON decoder may not take: keep the text (as sent, so
	// with any writeKey and _metadata when spans are known).
	asText := false
	for i, it := range items {
		sh := shape{}
		if spans != nil {
			sh = spans[i].shape
		} else {
			sh = valueShape(it)
		}
		// Each item sits one level below the entry's array.
		asText = asText || sh.depth+1 > maxNesting || sh.nonFinite
		if m, ok := it.(map[string]any); ok {
			delete(m, "writeKey")
			delete(m, "_metadata")
		}
	}
	var b []byte
	switch {
	case asText && spans != nil:
		b = appendString(nil, "["+string(body[spans[0].start:spans[len(spans)-1].end])+"]")
	case asText:
		b = appendString(nil, string(appendJSON(nil, items)))
	default:
		b = appendJSON(nil, items)
	}
	detail := fmt.Sprintf("the batch has %d items, more than %d: the %d past the %dth are kept together in this entry, as sent, as a JSON array", maxBatchSize+len(items), maxBatchSize, len(items), maxBatchSize)
	if asText {
		detail += " (as a JSON string of its text: one of them nests too deep or holds a number that is not a finite double)"
	}
	q.reject(q.src.name, reasonTooManyEvents, detail, "", b)
	q.extra += len(items) - 1
}

// rawBody is the body of a rejected entry that keeps b, a request body as
// received: b itself when it is JSON that every reader takes (nesting at
// most maxNesting levels, only finite numbers), else a JSON string of b.
func rawBody(b []byte) json.RawMessage {
	if _, _, sh, err := parseShape(b, false); err == nil && json.Valid(b) && sh.depth <= maxNesting && !sh.nonFinite {
		return append(json.RawMessage(nil), b...)
	}
	return appendString(nil, string(b))
}

// capBody returns the body of a rejected entry, b, when it is within
// maxRejectedBody; else a JSON string of as much of its beginning as fits,
// and a note for the entry's detail saying so.
func capBody(b []byte) (body []byte, note string) {
	if len(b) <= maxRejectedBody {
		return b, ""
	}
	for cut := maxRejectedBody / 2; ; cut /= 2 {
		for cut > 0 && !utf8.RuneStart(b[cut]) {
			cut--
		}
		if body = appendString(nil, string(b[:cut])); len(body) <= maxRejectedBody {
			return body, fmt.Sprintf("; the entry's body (%d bytes) is cut to its first %d bytes, as a JSON string, to fit in one message of the log", len(b), cut)
		}
	}
}
