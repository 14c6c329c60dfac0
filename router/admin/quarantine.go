package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// QuarantineStore is the quarantine as the admin API sees it; *queue.Log
// implements it. It is safe for concurrent use.
type QuarantineStore interface {
	// Quarantined returns the entries, oldest first, of source (all when
	// empty) whose track event is event (any when empty), quarantined at
	// or after since (any time when zero).
	Quarantined(ctx context.Context, source, event string, since time.Time) ([]router.Quarantined, error)
	// QuarantinedMessage returns one entry; an error matching
	// router.ErrNotFound when there is none.
	QuarantinedMessage(ctx context.Context, seq uint64) (router.Quarantined, error)
	// Unquarantine deletes one entry; deleting a missing one is no error.
	Unquarantine(ctx context.Context, seq uint64) error
}

// Reingester validates a quarantined message against the plan in force
// and stores it in the log when it passes; *ingest.Handler implements it.
// It returns whether the message passed (stored unless dryRun) and the
// violations found; an error matching ErrUnknownSource (see
// [ReplayQuarantine]) means its source is no longer configured.
type Reingester interface {
	Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (passed bool, violations []router.Violation, err error)
}

// ReplaySelection selects the quarantine entries to replay. Empty fields
// select everything.
type ReplaySelection struct {
	// IDs are the entries' sequence numbers; empty: every entry matching
	// the other fields.
	IDs []uint64 `json:"ids,omitempty"`
	// Source is a source name.
	Source string `json:"source,omitempty"`
	// Event is an exact track event name.
	Event string `json:"event,omitempty"`
	// Since is an RFC 3339 time or a Go duration meaning "that long ago".
	Since string `json:"since,omitempty"`
	// DryRun reports what would be replayed and changes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// ReplayResult is the outcome of a quarantine replay.
type ReplayResult struct {
	// Replayed counts the entries that now pass: stored in the log with
	// their messageIds and deleted from the quarantine (with DryRun: that
	// would be).
	Replayed int `json:"replayed"`
	// StillInvalid counts the entries the plan in force still blocks; they
	// stay quarantined.
	StillInvalid int `json:"still_invalid"`
	// Skipped counts the entries that could not be replayed (their source
	// is no longer configured, or storing failed); they stay quarantined.
	Skipped int `json:"skipped"`
	// DryRun is set when nothing was changed.
	DryRun bool `json:"dry_run,omitempty"`
	// Error is the error that stopped the replay early, if any.
	Error string `json:"error,omitempty"`
}

// ReplayProgress is one progress report of a replay.
type ReplayProgress struct {
	// Done is the number of selected entries handled so far.
	Done int `json:"done"`
	// Total is the number of selected entries.
	Total int `json:"total"`
	// Matched is the number that passed so far.
	Matched int `json:"matched"`
}

// ErrUnknownSource is what a [Reingester] error matches (with errors.Is)
// when a message's source is no longer configured; cmd/eventrouter maps
// ingest's sentinel to it.
var ErrUnknownSource = errors.New("unknown source")

// ReplayQuarantine validates the selected quarantine entries again, oldest
// first, through re, and deletes from the quarantine those that passed and
// were stored. progress, when not nil, is called after every entry (the
// caller rate-limits its output). Storing or deleting that fails stops the
// replay; what was done stays done, and replaying again is safe: the log
// drops a messageId it already holds.
func ReplayQuarantine(ctx context.Context, store QuarantineStore, re Reingester, sel ReplaySelection, progress func(ReplayProgress)) (ReplayResult, error) {
	res := ReplayResult{DryRun: sel.DryRun}
	since, err := quarantineSince(sel.Since, time.Now())
	if err != nil {
		return res, err
	}
	entries, err := store.Quarantined(ctx, sel.Source, sel.Event, since)
	if err != nil {
		return res, fmt.Errorf("listing quarantine: %w", err)
	}
	if len(sel.IDs) > 0 {
		kept := entries[:0]
		for _, q := range entries {
			if slices.Contains(sel.IDs, q.Seq) {
				kept = append(kept, q)
			}
		}
		entries = kept
	}
	p := ReplayProgress{Total: len(entries)}
	if progress != nil {
		progress(p)
	}
	for _, q := range entries {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("replaying quarantine: %w", err)
		}
		passed, _, err := re.Reingest(ctx, q, sel.DryRun)
		switch {
		case errors.Is(err, ErrUnknownSource):
			res.Skipped++
		case err != nil:
			res.Skipped++
			return res, fmt.Errorf("replaying quarantined message %d: %w", q.Seq, err)
		case !passed:
			res.StillInvalid++
		default:
			if !sel.DryRun {
				if err := store.Unquarantine(ctx, q.Seq); err != nil {
					return res, fmt.Errorf("replaying quarantined message %d: %w", q.Seq, err)
				}
			}
			res.Replayed++
			p.Matched++
		}
		p.Done++
		if progress != nil {
			progress(p)
		}
	}
	return res, nil
}

// quarantineSince parses a since parameter: empty (zero time), or what
// [ParseSince] reads.
func quarantineSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseSince(s, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("since: %w", err)
	}
	return t, nil
}

// quarantineItem is one entry as the admin API shows it.
type quarantineItem struct {
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

func toQuarantineItem(q router.Quarantined, withMessage bool) quarantineItem {
	it := quarantineItem{
		Seq: q.Seq, Source: q.Message.Source, Type: q.Message.Type, Event: q.Message.Event,
		MessageID: q.Message.ID, UserID: q.Message.UserID, AnonymousID: q.Message.AnonymousID,
		ReceivedAt: router.FormatTime(q.Message.ReceivedAt), QuarantinedAt: router.FormatTime(q.QuarantinedAt),
		Reason: q.Reason, Detail: q.Detail, PlanID: q.PlanID, PlanVersion: q.PlanVersion,
		Violations: nonNil(q.Violations),
	}
	if withMessage {
		it.Message = q.Message.Body
	}
	return it
}

// MountQuarantine registers the quarantine routes:
//
//	GET  /admin/quarantine?source=&event=&since=&limit=100&before=<seq>
//	     {"messages":[...newest first...],"total":N,"next_before":N|null}
//	GET  /admin/quarantine/{seq}   the entry plus "message" (the normalised message)
//	POST /admin/quarantine/replay  body ReplaySelection; NDJSON progress lines
//	     {"progress":{done,total,matched}} (at most every 200 ms), then {"result":{...}} or {"error":{...}}
//
// after, when not nil, is called with the result of every replay that
// changed something (for metrics).
func (s *Server) MountQuarantine(store QuarantineStore, re Reingester, after func(ReplayResult)) {
	s.HandleFunc("GET /admin/quarantine", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		since, err := quarantineSince(q.Get("since"), time.Now())
		if err != nil {
			WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		limit := 100
		if v := q.Get("limit"); v != "" {
			if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > 1000 {
				WriteError(w, http.StatusBadRequest, "bad_request", "limit: must be a number between 1 and 1000")
				return
			}
		}
		var before uint64
		if v := q.Get("before"); v != "" {
			if before, err = strconv.ParseUint(v, 10, 64); err != nil {
				WriteError(w, http.StatusBadRequest, "bad_request", "before: must be a sequence number")
				return
			}
		}
		entries, err := store.Quarantined(r.Context(), q.Get("source"), q.Get("event"), since)
		if err != nil {
			s.logger.Warn("listing quarantine", "error", err)
			WriteError(w, http.StatusServiceUnavailable, "unavailable", "the quarantine could not be read: "+err.Error())
			return
		}
		total := len(entries)
		items := make([]quarantineItem, 0, min(limit, total))
		var next any
		for i := len(entries) - 1; i >= 0; i-- { // newest first
			e := entries[i]
			if before != 0 && e.Seq >= before {
				continue
			}
			if len(items) == limit {
				next = items[len(items)-1].Seq
				break
			}
			items = append(items, toQuarantineItem(e, false))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"messages": items, "total": total, "next_before": next})
	})
	s.HandleFunc("GET /admin/quarantine/{seq}", func(w http.ResponseWriter, r *http.Request) {
		seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
		if err != nil {
			WriteError(w, http.StatusBadRequest, "bad_request", "seq: must be a sequence number")
			return
		}
		e, err := store.QuarantinedMessage(r.Context(), seq)
		switch {
		case errors.Is(err, router.ErrNotFound):
			WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no quarantined message %d (never stored, replayed, or aged out)", seq))
			return
		case err != nil:
			WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
			return
		}
		WriteJSON(w, http.StatusOK, toQuarantineItem(e, true))
	})
	s.HandleFunc("POST /admin/quarantine/replay", func(w http.ResponseWriter, r *http.Request) {
		var sel ReplaySelection
		if r.ContentLength != 0 {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&sel); err != nil {
				WriteError(w, http.StatusBadRequest, "bad_request", "decoding the body: "+err.Error())
				return
			}
		}
		if _, err := quarantineSince(sel.Since, time.Now()); err != nil {
			WriteError(w, http.StatusBadRequest, "bad_request", err.Error())
			return
		}
		nd := StartNDJSON(w) // lifts the write deadline: a replay may outlast http.write_timeout
		var last Progress
		res, err := ReplayQuarantine(r.Context(), store, re, sel, func(p ReplayProgress) {
			last = Progress{Done: uint64(p.Done), Total: uint64(p.Total), Matched: uint64(p.Matched)}
			nd.Progress(last)
		})
		if after != nil && (res.Replayed > 0 || res.StillInvalid > 0) {
			after(res)
		}
		if err != nil {
			s.logger.Warn("quarantine replay stopped", "error", err, "replayed", res.Replayed)
			nd.Error("replay_failed", fmt.Sprintf("%v (replayed %d, still invalid %d, skipped %d before it stopped)",
				err, res.Replayed, res.StillInvalid, res.Skipped))
			return
		}
		nd.Result(last, res)
	})
}
