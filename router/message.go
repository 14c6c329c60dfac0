package router

import (
	"encoding/json"
	"hash/fnv"
	"time"
)

// The Segment message types, as they appear in a message's "type" field.
const (
	TypeIdentify = "identify"
	TypeTrack    = "track"
	TypePage     = "page"
	TypeScreen   = "screen"
	TypeGroup    = "group"
	TypeAlias    = "alias"
)

// Types lists every Segment message type in the order the spec names them.
var Types = []string{TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias}

// IsType reports whether t is one of the six Segment message types.
func IsType(t string) bool {
	switch t {
	case TypeIdentify, TypeTrack, TypePage, TypeScreen, TypeGroup, TypeAlias:
		return true
	}
	return false
}

// TimeLayout is the layout of every timestamp eventrouter writes:
// ISO-8601 in UTC with millisecond precision.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t in [TimeLayout], converted to UTC.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Message is one accepted Segment message on its way through the log to the
// destinations. Body holds the complete normalised message as JSON (the
// Segment spec's fields: type, messageId, userId, anonymousId, context,
// integrations, timestamps and the type's own fields, plus any unknown
// top-level fields the client sent); the other fields are copies of the parts
// of Body that routing needs, so that dispatch never has to decode Body.
//
// A Message is immutable once ingest has built it; destinations must not
// modify Body.
type Message struct {
	// ID is the message's messageId, unique per source (the dedupe key).
	ID string
	// Source is the name of the configured source that accepted the message.
	Source string
	// Type is one of the six Segment types.
	Type string
	// UserID and AnonymousID are the message's identities; at least one is
	// set for every type but alias, which always has UserID.
	UserID      string
	AnonymousID string
	// Event is the track event name; empty for other types.
	Event string
	// ReceivedAt is when ingest received the request that carried the message.
	ReceivedAt time.Time
	// Body is the normalised message as JSON.
	Body json.RawMessage
	// Violations is the number of tracking-plan violations recorded in
	// Body's context.protocols.violations (0 when the message is clean or
	// was not validated), so that dispatch can skip them for destinations
	// that accept only valid messages without decoding Body.
	Violations int
}

// PartitionKey is the key that decides a message's partition and so the
// order in which it is delivered: userId, else anonymousId. Messages with the
// same key are delivered to every destination in the order they were
// accepted.
func (m *Message) PartitionKey() string {
	if m.UserID != "" {
		return m.UserID
	}
	return m.AnonymousID
}

// Partition maps a partition key to one of n partitions (FNV-1a, modulo n).
// It is stable across processes and versions: changing it would break the
// per-user order of messages already in the log.
func Partition(key string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// Rejected is a message (or request) that ingest answered 200 for but could
// not accept, kept with the reason so that nothing is silently lost
// (as Segment does). Rejected messages are stored in the log's rejected stream.
type Rejected struct {
	// Source is the source the request was addressed to; empty when the write
	// key was unknown.
	Source string `json:"source,omitempty"`
	// Reason is a machine-readable code such as "no_user_anon_id" or
	// "message_too_large".
	Reason string `json:"reason"`
	// Detail is a human-readable explanation.
	Detail string `json:"detail,omitempty"`
	// MessageID is the item's messageId when it had a usable one.
	MessageID string `json:"messageId,omitempty"`
	// Route is the request path the item arrived on.
	Route string `json:"route,omitempty"`
	// ReceivedAt is when the request arrived.
	ReceivedAt time.Time `json:"receivedAt"`
	// Body is the item as received (after the batch envelope merge; as
	// sent, without the envelope, when it was rejected for a size limit),
	// or the raw request body when the request itself could not be parsed.
	// It is valid JSON when it could be parsed, else a JSON string of the
	// raw bytes; an item rejected for its nesting or a non-finite number is
	// a JSON string of its text too.
	Body json.RawMessage `json:"body"`
}
