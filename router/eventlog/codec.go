package eventlog

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a stored message. The message's routing fields travel in
// headers so that a reader rebuilds the router.Message without decoding the
// body; the body (the normalised Segment message) is the NATS payload,
// stored as ingest produced it.
const (
	hdrMessageID   = "Er-Message-Id"
	hdrSource      = "Er-Source"
	hdrType        = "Er-Type"
	hdrEvent       = "Er-Event"
	hdrUserID      = "Er-User-Id"
	hdrAnonymousID = "Er-Anonymous-Id"
	hdrReceivedAt  = "Er-Received-At"
	hdrViolations  = "Er-Violations"

	// Dead-letter headers, added to the original ones.
	hdrDestination  = "Er-Destination"
	hdrSeq          = "Er-Seq"
	hdrAttempts     = "Er-Attempts"
	hdrFirstFailure = "Er-First-Failure"
	hdrLastError    = "Er-Last-Error"
	hdrDeadAt       = "Er-Dead-At"

	// Rejected-item headers.
	hdrReason = "Er-Reason"
)

// upperHex are the digits of the %XX and =XX escapes.
const upperHex = "0123456789ABCDEF"

// dedupeID is the Nats-Msg-Id of a message: unique per (source,
// messageId), unambiguous whatever either holds (the source's length
// prefixes it).
func dedupeID(source, id string) string {
	return strconv.Itoa(len(source)) + ":" + source + ":" + id
}

// encode builds the NATS message storing m on subject.
// receivedAt is m.ReceivedAt already formatted.
func encode(m *router.Message, subject, receivedAt string) *nats.Msg {
	h := make(nats.Header, 9)
	// One backing array for every header's value, instead of one per
	// header; each value is capped so that an append cannot spill over.
	vals := make([]string, 0, 9)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set(jetstream.MsgIDHeader, escape(dedupeID(m.Source, m.ID)))
	set(hdrMessageID, escape(m.ID))
	set(hdrSource, escape(m.Source))
	set(hdrType, escape(m.Type))
	set(hdrReceivedAt, receivedAt)
	if m.UserID != "" {
		set(hdrUserID, escape(m.UserID))
	}
	if m.AnonymousID != "" {
		set(hdrAnonymousID, escape(m.AnonymousID))
	}
	if m.Event != "" {
		set(hdrEvent, escape(m.Event))
	}
	if m.Violations > 0 {
		set(hdrViolations, strconv.Itoa(m.Violations))
	}
	return &nats.Msg{Subject: subject, Header: h, Data: m.Body}
}

// decode rebuilds the router.Message stored in a NATS message.
func decode(h nats.Header, data []byte) (router.Message, error) {
	m := router.Message{
		ID:          unescape(h.Get(hdrMessageID)),
		Source:      unescape(h.Get(hdrSource)),
		Type:        unescape(h.Get(hdrType)),
		UserID:      unescape(h.Get(hdrUserID)),
		AnonymousID: unescape(h.Get(hdrAnonymousID)),
		Event:       unescape(h.Get(hdrEvent)),
		Body:        data,
	}
	if ra := h.Get(hdrReceivedAt); ra != "" {
		t, err := time.Parse(time.RFC3339Nano, ra)
		if err != nil {
			return m, fmt.Errorf("decoding %s %q: %w", hdrReceivedAt, ra, err)
		}
		m.ReceivedAt = t
	}
	if v := h.Get(hdrViolations); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return m, fmt.Errorf("decoding %s %q: %w", hdrViolations, v, err)
		}
		m.Violations = n
	}
	return m, nil
}

// escape makes s safe as a NATS header value that reads back unchanged:
// control bytes, '%', and spaces at either end (which header parsing
// trims) become %XX. Most values need nothing and are returned as they are.
func escape(s string) string {
	need := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '%' {
			need = true
			break
		}
	}
	if !need && (s == "" || s[0] != ' ' && s[len(s)-1] != ' ') {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c == '%' || c == ' ' && (i == 0 || i == len(s)-1) {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// unescape reverses escape.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// subjectToken makes a name (a destination, a reason code) usable as one
// token of a subject, a consumer name or a KV key: letters, digits, '-' and
// '_' stay; any other byte becomes "=XX". The mapping is one-to-one.
func subjectToken(name string) string {
	ok := name != ""
	for i := 0; i < len(name) && ok; i++ {
		ok = isTokenByte(name[i])
	}
	if ok {
		return name
	}
	if name == "" {
		return "="
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isTokenByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('=')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
