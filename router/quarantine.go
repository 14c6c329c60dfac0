package router

import (
	"errors"
	"time"
)

// ReasonBlocked is the reason recorded for a message that the tracking plan
// blocked.
const ReasonBlocked = "blocked_by_tracking_plan"

// Violation is one way a message breaks the tracking plan, in the shape of
// Segment's "Violation Generated" fields. It mirrors
// schemas.Violation, which package router may not import.
type Violation struct {
	// Type is the violation type, such as Unplanned, UnplannedProperty,
	// Required, Type or CommonRequired.
	Type string `json:"violationType"`
	// Field is the dotted path of the offending value, such as
	// properties.revenue ("event" for Unplanned).
	Field string `json:"violationField"`
	// Description is a human-readable explanation.
	Description string `json:"violationDescription"`
	// EventName is the track event or page/screen name.
	EventName string `json:"eventName,omitempty"`
	// EventType is the message type.
	EventType string `json:"eventType,omitempty"`
	// RuleVersion is the x-segment-version of the broken rule (0 for
	// Unplanned).
	RuleVersion int `json:"ruleVersion,omitempty"`
}

// Quarantined is a message that the tracking plan blocked: answered 200,
// never dropped, kept in the log's quarantine with its violations until it
// is replayed (re-validated against the plan then in force and stored if it
// passes) or ages out with the log's retention.
type Quarantined struct {
	// Seq is the entry's position in the quarantine; set when read back.
	Seq uint64
	// Message is the normalised message as ingest built it, before any
	// enforcement (nothing omitted, no annotations).
	Message Message
	// Reason is why it was quarantined: ReasonBlocked.
	Reason string
	// Detail says which setting blocked it, e.g. "track.unplanned_events: block".
	Detail string
	// Violations are the violations found when it was blocked.
	Violations []Violation
	// PlanID and PlanVersion identify the plan that blocked it (plan.yaml's
	// id and the plan's content hash).
	PlanID, PlanVersion string
	// QuarantinedAt is when it was quarantined; set by the log when zero.
	QuarantinedAt time.Time
}

// ErrNotFound is matched by errors.Is when a stored item asked for by its
// sequence number or id does not exist (any more).
var ErrNotFound = errors.New("not found")

// ErrUnknownSource is matched by errors.Is when a quarantined message is
// replayed whose source is not configured (any more): ingest's Reingest
// returns it and the admin API answers it as such.
var ErrUnknownSource = errors.New("unknown source")
