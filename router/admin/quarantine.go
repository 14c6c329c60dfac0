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

// QuarantineStore is the quarantine as the admin API sees it; *eventlog.Log
// implements it. It is safe for concurrent use.
type QuarantineStore interface {
	// ScanQuarantined calls fn with the entries, oldest first, of source
	// (all when empty) whose track event is event (any when empty),
	// quarantined at or after since (any time when zero), until fn
	// returns false; it holds none of them.
	ScanQuarantined(ctx context.Context, source, event string, since time.Time, fn func(router.Quarantined) bool) error
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
	// IDs are the entries' sequence numbers; nil (absent): every entry
	// matching the other fields. Present but empty selects nothing and is
	// refused (ErrEmptyIDs), so that a client that built an empty list
	// does not replay the whole quarantine.
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
	// NotFound lists the requested IDs that are not quarantine entries
	// matching the selection (never stored, already replayed, or aged
	// out).
	NotFound []uint64 `json:"not_found,omitempty"`
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
// when a message's source is no longer configured: [router.ErrUnknownSource],
// which ingest's Reingest returns.
var ErrUnknownSource = router.ErrUnknownSource

// ErrEmptyIDs is returned by [ReplayQuarantine] for a selection whose IDs
// are present but empty.
var ErrEmptyIDs = errors.New(`ids: the list is empty; list the entries to replay, or leave "ids" out to select by source, event and since`)

// ReplayQuarantine validates the selected quarantine entries again, oldest
// first, through re, and deletes from the quarantine those that passed and
// were stored. The entries are read one at a time (the selection is
// resolved to sequence numbers first), so a large quarantine is not held
// in memory. progress, when not nil, is called after every entry (the
// caller rate-limits its output).
//
// Cancelling ctx stops the replay between entries, never between storing
// an entry and deleting it from the quarantine: the deletion runs on a
// context of its own. Storing or deleting that fails stops the replay;
// what was done stays done, and replaying again within the log's dedupe
// window is safe (the log drops a messageId it already holds).
func ReplayQuarantine(ctx context.Context, store QuarantineStore, re Reingester, sel ReplaySelection, progress func(ReplayProgress)) (ReplayResult, error) {
	res := ReplayResult{DryRun: sel.DryRun}
	if sel.IDs != nil && len(sel.IDs) == 0 {
		return res, ErrEmptyIDs
	}
	since, err := quarantineSince(sel.Since, time.Now())
	if err != nil {
		return res, err
	}
	var seqs []uint64
	if sel.IDs != nil {
		seqs = slices.Clone(sel.IDs)
		slices.Sort(seqs)
		seqs = slices.Compact(seqs)
	} else {
		err := store.ScanQuarantined(ctx, sel.Source, sel.Event, since, func(q router.Quarantined) bool {
			seqs = append(seqs, q.Seq)
			return true
		})
		if err != nil {
			return res, fmt.Errorf("listing quarantine: %w", err)
		}
	}
	p := ReplayProgress{Total: len(seqs)}
	if progress != nil {
		progress(p)
	}
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("replaying quarantine: %w", err)
		}
		q, err := store.QuarantinedMessage(ctx, seq)
		switch {
		case errors.Is(err, router.ErrNotFound):
			// Replayed meanwhile, or aged out.
			if sel.IDs != nil {
				res.NotFound = append(res.NotFound, seq)
			}
		case err != nil:
			return res, fmt.Errorf("replaying quarantined message %d: %w", seq, err)
		case sel.IDs != nil && !selected(&q, sel, since):
			res.NotFound = append(res.NotFound, seq)
		default:
			if err := replayOne(ctx, store, re, q, sel.DryRun, &res); err != nil {
				return res, err
			}
			p.Matched = res.Replayed
		}
		p.Done++
		if progress != nil {
			progress(p)
		}
	}
	return res, nil
}

// selected reports whether q matches sel's source, event and since.
func selected(q *router.Quarantined, sel ReplaySelection, since time.Time) bool {
	return (sel.Source == "" || q.Message.Source == sel.Source) &&
		(sel.Event == "" || q.Message.Event == sel.Event) &&
		(since.IsZero() || !q.QuarantinedAt.Before(since))
}

// replayOne validates q again, stores it when it passes and then deletes
// it from the quarantine, whatever happened to ctx meanwhile.
func replayOne(ctx context.Context, store QuarantineStore, re Reingester, q router.Quarantined, dryRun bool, res *ReplayResult) error {
	passed, _, err := re.Reingest(ctx, q, dryRun)
	switch {
	case errors.Is(err, ErrUnknownSource):
		res.Skipped++
	case err != nil:
		res.Skipped++
		return fmt.Errorf("replaying quarantined message %d: %w", q.Seq, err)
	case !passed:
		res.StillInvalid++
	default:
		if !dryRun {
			// Stored: delete it even if ctx was cancelled meanwhile, or a
			// later replay would store it again once the log's dedupe
			// window is over.
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
			err := store.Unquarantine(dctx, q.Seq)
			cancel()
			if err != nil {
				return fmt.Errorf("replaying quarantined message %d: %w", q.Seq, err)
			}
		}
		res.Replayed++
	}
	return nil
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

func toQuarantineItem(q router.Quarantined, withMessage bool) QuarantineItem {
	it := QuarantineItem{
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
	q := quarantineRoutes{s: s, store: store, re: re, after: after}
	s.HandleFunc("GET /admin/quarantine", q.list)
	s.HandleFunc("GET /admin/quarantine/{seq}", q.show)
	s.HandleFunc("POST /admin/quarantine/replay", q.replay)
}

// quarantineRoutes serves the quarantine's admin routes (MountQuarantine).
type quarantineRoutes struct {
	s     *Server
	store QuarantineStore
	re    Reingester
	after func(ReplayResult)
}

// list lists the quarantined messages of a source and event since a
// time, newest first: a page of at most limit (100) below the sequence
// number before, with the count of every match.
func (qr quarantineRoutes) list(w http.ResponseWriter, r *http.Request) {
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
	// Newest first: keep the last `limit` entries below `before` (without
	// their messages) while counting every match.
	var total, below int
	window := make([]QuarantineItem, limit) // a ring: below%limit is the next slot
	err = qr.store.ScanQuarantined(r.Context(), q.Get("source"), q.Get("event"), since, func(e router.Quarantined) bool {
		total++
		if before != 0 && e.Seq >= before {
			return true
		}
		window[below%limit] = toQuarantineItem(e, false)
		below++
		return true
	})
	if err != nil {
		qr.s.logger.Warn("listing quarantine", "error", err)
		WriteError(w, http.StatusServiceUnavailable, "unavailable", "the quarantine could not be read: "+err.Error())
		return
	}
	n := min(below, limit)
	items := make([]QuarantineItem, n)
	for i := range n { // newest first
		items[i] = window[(below-1-i)%limit]
	}
	out := QuarantinePage{Messages: items, Total: total}
	if below > n {
		out.NextBefore = &items[n-1].Seq
	}
	WriteJSON(w, http.StatusOK, out)
}

// show returns one quarantined message with its normalised message.
func (qr quarantineRoutes) show(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "bad_request", "seq: must be a sequence number")
		return
	}
	e, err := qr.store.QuarantinedMessage(r.Context(), seq)
	switch {
	case errors.Is(err, router.ErrNotFound):
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no quarantined message %d (never stored, replayed, or aged out)", seq))
		return
	case err != nil:
		WriteError(w, http.StatusServiceUnavailable, "unavailable", err.Error())
		return
	}
	WriteJSON(w, http.StatusOK, toQuarantineItem(e, true))
}

// replay validates the selected quarantined messages again against the
// plan in force and stores those that pass, with its progress as NDJSON.
func (qr quarantineRoutes) replay(w http.ResponseWriter, r *http.Request) {
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
	if sel.IDs != nil && len(sel.IDs) == 0 {
		WriteError(w, http.StatusBadRequest, "empty_ids", ErrEmptyIDs.Error())
		return
	}
	// Ends between entries when the client goes away or the server
	// shuts down.
	ctx, cancel := qr.s.longContext(r)
	defer cancel()
	nd := StartNDJSON(w) // lifts the write deadline: a replay may outlast http.write_timeout
	var last Progress
	res, err := ReplayQuarantine(ctx, qr.store, qr.re, sel, func(p ReplayProgress) {
		last = Progress{Done: uint64(p.Done), Total: uint64(p.Total), Matched: uint64(p.Matched)}
		nd.Progress(last)
	})
	if qr.after != nil && (res.Replayed > 0 || res.StillInvalid > 0) {
		qr.after(res)
	}
	if err != nil && ctx.Err() != nil {
		nd.Error("stopped", fmt.Sprintf("%s: the replay stopped (replayed %d, still invalid %d, skipped %d before it stopped)",
			stoppedMessage(ctx), res.Replayed, res.StillInvalid, res.Skipped))
		return
	}
	if err != nil {
		qr.s.logger.Warn("quarantine replay stopped", "error", err, "replayed", res.Replayed)
		nd.Error("replay_failed", fmt.Sprintf("%v (replayed %d, still invalid %d, skipped %d before it stopped)",
			err, res.Replayed, res.StillInvalid, res.Skipped))
		return
	}
	nd.Result(last, res)
}
