package admin

import (
	"encoding/json"
	"fmt"

	"github.com/eventrouter/eventrouter/router"
)

// The wire types of the admin API: what the handlers write and what
// [Client] reads, defined once so that the two cannot drift apart.

// APIError is the error answer of every admin endpoint,
// {"error": {"code": ..., "message": ...}}, and the final error line of
// an NDJSON operation. [Client] returns it (as *APIError) for an answer
// that is not 2xx or an operation that ended in an error line.
type APIError struct {
	// Status is the HTTP status of the answer (not sent: it is the
	// status line's).
	Status int `json:"-"`
	// Code is a stable, machine-readable name such as "not_found".
	Code string `json:"code"`
	// Message says what went wrong, for people.
	Message string `json:"message"`
}

// Error returns the message, status and code, or the status alone for an
// answer without the error shape (a proxy's, say).
func (e *APIError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the server answered %d", e.Status)
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// errorBody is the JSON object an error answer is.
type errorBody struct {
	Error *APIError `json:"error"`
}

// ndjsonLine is one line of an NDJSON operation's answer: exactly one of
// its fields is set.
type ndjsonLine struct {
	Progress *Progress       `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *APIError       `json:"error,omitempty"`
}

// DeadLetterItem is one dead letter as GET /admin/dlq lists it and GET
// /admin/dlq/{seq} shows it (the latter with Message).
type DeadLetterItem struct {
	Seq          uint64          `json:"seq"`
	LogSeq       uint64          `json:"log_seq"`
	Destination  string          `json:"destination"`
	MessageID    string          `json:"message_id"`
	Source       string          `json:"source"`
	Type         string          `json:"type"`
	Event        string          `json:"event"`
	UserID       string          `json:"user_id"`
	Error        string          `json:"error"`
	Attempts     int             `json:"attempts"`
	FirstFailure string          `json:"first_failure"`
	DeadAt       string          `json:"dead_lettered_at"`
	Message      json.RawMessage `json:"message,omitempty"`
}

// DeadLetterPage is the answer of GET /admin/dlq: dead letters newest
// first, how many match in all, and the seq to pass as before= for the
// next page (nil on the last page).
type DeadLetterPage struct {
	Messages   []DeadLetterItem `json:"messages"`
	Total      int              `json:"total"`
	NextBefore *uint64          `json:"next_before"`
}

// RedriveRequest is the body of POST /admin/dlq/redrive.
type RedriveRequest struct {
	// Destination is required.
	Destination string `json:"destination"`
	// IDs are dead-letter seq numbers; nil selects by the other fields,
	// an empty list is refused.
	IDs []uint64 `json:"ids"`
	// Since is an RFC 3339 time or a duration meaning "that long ago".
	Since string `json:"since"`
	// ErrorContains matches the last error, case-insensitively.
	ErrorContains string `json:"error_contains"`
	// DryRun counts and changes nothing.
	DryRun bool `json:"dry_run"`
}

// RedriveResult is the result line of POST /admin/dlq/redrive.
type RedriveResult struct {
	Redriven int `json:"redriven"`
	Matched  int `json:"matched"`
	// NotFound are the requested IDs that are not dead letters of the
	// destination matching the selection.
	NotFound []uint64 `json:"not_found"`
	DryRun   bool     `json:"dry_run"`
}

// ReplayRequest is the body of POST /admin/replay (the log's history,
// again to one destination).
type ReplayRequest struct {
	Destination string `json:"destination"`
	// Since (required) and Until are RFC 3339 times or durations meaning
	// "that long ago"; Until "" is now.
	Since string `json:"since"`
	Until string `json:"until"`
	// Events, when not empty, selects track messages of these names.
	Events []string `json:"events"`
	DryRun bool     `json:"dry_run"`
}

// LogReplayResult is the result line of POST /admin/replay.
type LogReplayResult struct {
	Replayed int    `json:"replayed"`
	Matched  uint64 `json:"matched"`
	Scanned  int    `json:"scanned"`
	DryRun   bool   `json:"dry_run"`
}

// QuarantineItem is one quarantine entry as GET /admin/quarantine lists
// it and GET /admin/quarantine/{seq} shows it (the latter with Message).
type QuarantineItem struct {
	Seq           uint64 `json:"seq"`
	Source        string `json:"source"`
	Type          string `json:"type"`
	Event         string `json:"event"`
	MessageID     string `json:"message_id"`
	UserID        string `json:"user_id"`
	AnonymousID   string `json:"anonymous_id"`
	ReceivedAt    string `json:"received_at"`
	QuarantinedAt string `json:"quarantined_at"`
	Reason        string `json:"reason"`
	Detail        string `json:"detail"`
	PlanID        string `json:"plan_id"`
	PlanVersion   string `json:"plan_version"`
	// Violations have router.Violation's Segment-style names
	// (violationType, violationField, violationDescription, ...), as in
	// context.protocols and /admin/messages.
	Violations []router.Violation `json:"violations"`
	Message    json.RawMessage    `json:"message,omitempty"`
}

// QuarantinePage is the answer of GET /admin/quarantine, shaped like
// [DeadLetterPage].
type QuarantinePage struct {
	Messages   []QuarantineItem `json:"messages"`
	Total      int              `json:"total"`
	NextBefore *uint64          `json:"next_before"`
}

// StreamMessage is the data of a "message" event of the live stream
// (GET /admin/stream) and an entry of GET /admin/messages: a [Summary] in
// the admin API's shape, "id" being "<source>/<messageId>".
type StreamMessage struct {
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Event       string `json:"event"`
	UserID      string `json:"user_id"`
	AnonymousID string `json:"anonymous_id"`
	MessageID   string `json:"message_id"`
	ReceivedAt  string `json:"received_at"`
	Violations  int    `json:"violations"`
	Status      string `json:"status"`
}

// StreamStats is the data of a "stats" event of the live stream, sent on
// connect and then every second.
type StreamStats struct {
	ReceivedPerSecond uint64 `json:"received_per_s"`
	Received          uint64 `json:"received_total"`
	Accepted          uint64 `json:"accepted_total"`
	Rejected          uint64 `json:"rejected_total"`
	Quarantined       uint64 `json:"quarantined_total"`
	// SampledOut counts the messages this stream did not show (at most
	// ~50 a second are).
	SampledOut   uint64              `json:"sampled_out_total"`
	Destinations []DestinationStatus `json:"destinations"`
}
