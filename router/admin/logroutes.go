package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// LogOperations is what the operating routes read and change in the durable log.
// *eventlog.Log implements it; its errors wrap router.ErrUnavailable when the
// log cannot be reached and router.ErrNotFound for a missing item.
type LogOperations interface {
	// Info reads the log's limits and size.
	Info(ctx context.Context) (router.LogInfo, error)
	// Backlog reads what a destination has not yet acknowledged.
	Backlog(ctx context.Context, destination string) (router.Backlog, error)
	// DeadLetterCounts counts the dead letters of each destination.
	DeadLetterCounts(ctx context.Context, destinations []string) (map[string]uint64, error)
	// ScanDeadLetters calls fn with the dead letters of destination (all
	// when empty), oldest first, without their bodies, until fn returns
	// false.
	ScanDeadLetters(ctx context.Context, destination string, fn func(router.DeadLetter) bool) error
	// DeadLetterByID reads one dead letter in full.
	DeadLetterByID(ctx context.Context, id uint64) (router.DeadLetter, error)
	// RemoveDeadLetters deletes dead letters by id and returns how many
	// it deleted; ids that no longer exist are skipped, not errors.
	RemoveDeadLetters(ctx context.Context, ids []uint64) (int, error)
	// Requeue queues messages again for one destination only; dispatch
	// delivers them with the destination's filters, rate limit and
	// retries. Deliveries with a DeadLetterID are deduplicated on it (the
	// same dead letter queued twice is queued once).
	Requeue(ctx context.Context, destination string, ds []router.Delivery) error
	// ScanEvents calls fn with the messages stored from since to until,
	// in order, with progress counts.
	ScanEvents(ctx context.Context, since, until time.Time, fn func(d router.Delivery, done, total uint64) error) error
}

// DestinationInfo names one configured destination.
type DestinationInfo struct {
	Name string
	Type string
}

// Operations are the parts the operating routes (the debugger's data,
// destinations, log, dead letters, replay) work with.
type Operations struct {
	// Log is the durable log.
	Log LogOperations
	// Recorder is fed by ingest and dispatch (see their Observe methods).
	Recorder *Recorder
	// Destinations are the configured destinations, in display order.
	Destinations []DestinationInfo
	// BacklogWarning is the fraction of the retention at which a
	// destination's backlog is flagged (queue.backlog_warning). Default 0.8.
	BacklogWarning float64
	// Logger receives what goes wrong; nil discards it.
	Logger *slog.Logger
}

// ops serves the operating routes.
type ops struct {
	Operations
	srv   *Server
	known map[string]bool

	mu        sync.Mutex
	destAt    time.Time
	destCache []DestinationStatus
}

// Mount registers the routes of the debugger's data, the destinations, the
// log, the dead letters and replay (ADMIN_API.md) on s.
func (o Operations) Mount(s *Server) {
	if o.BacklogWarning <= 0 {
		o.BacklogWarning = 0.8
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &ops{Operations: o, srv: s, known: map[string]bool{}}
	for _, d := range o.Destinations {
		h.known[d.Name] = true
	}
	s.HandleFunc("GET /admin/stream", h.stream)
	s.HandleFunc("GET /admin/messages", h.recent)
	s.HandleFunc("GET /admin/messages/{source}/{messageId}", h.message)
	s.HandleFunc("GET /admin/destinations", h.destinations)
	s.HandleFunc("GET /admin/log", h.log)
	s.HandleFunc("GET /admin/dlq", h.dlqList)
	s.HandleFunc("GET /admin/dlq/{seq}", h.dlqShow)
	s.HandleFunc("POST /admin/dlq/redrive", h.redrive)
	s.HandleFunc("POST /admin/replay", h.replay)
}

// unavailable answers 503 for a log error, logging its text (it may name
// internal addresses).
func (o *ops) unavailable(w http.ResponseWriter, what string, err error) {
	o.Logger.Warn(what, "err", err.Error())
	WriteError(w, http.StatusServiceUnavailable, "unavailable", what+": the log cannot be reached (see the server's log)")
}

func filterOf(r *http.Request) Filter {
	q := r.URL.Query()
	v := q.Get("violations")
	return Filter{
		Source: q.Get("source"), Type: q.Get("type"), Event: q.Get("event"), UserID: q.Get("user_id"),
		ViolationsOnly: v == "1" || v == "true",
	}
}

// streamWriteTimeout bounds each write of the live stream: a client that
// stops reading (a stalled network, a suspended laptop) is dropped after
// it instead of holding the handler until TCP gives up.
const streamWriteTimeout = 30 * time.Second

// stream serves the live stream as Server-Sent Events, until the client
// goes away or the server shuts down.
func (o *ops) stream(w http.ResponseWriter, r *http.Request) {
	ctx, stop := o.srv.longContext(r)
	defer stop()
	rc := http.NewResponseController(w)
	deadline := func() { _ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout)) }
	sub, cancel := o.Recorder.subscribe(filterOf(r))
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	deadline()
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": eventrouter live stream\n\n")
	if rc.Flush() != nil {
		return
	}
	stats := time.NewTicker(time.Second)
	defer stats.Stop()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	send := func(event string, v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		deadline()
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// sendStats sends the exact counts and the destinations: once on
	// connect, so the page has figures at once, then every second.
	sendStats := func() bool {
		c := o.Recorder.Counts()
		ds, _ := o.destinationList(ctx)
		return send("stats", StreamStats{
			ReceivedPerSecond: o.Recorder.ReceivedPerSecond(), Received: c.Received, Accepted: c.Accepted,
			Rejected: c.Rejected, Quarantined: c.Quarantined,
			SampledOut: sub.out.Load(), Destinations: nonNil(ds),
		})
	}
	if !sendStats() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-sub.ch:
			if !send("message", s) {
				return
			}
		case <-stats.C:
			if !sendStats() {
				return
			}
		case <-ping.C:
			deadline()
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// recent lists the most recent messages of the window (newest first).
func (o *ops) recent(w http.ResponseWriter, r *http.Request) {
	limit := queryInt(r, "limit", 100, 1000)
	cfg := o.Recorder.Config()
	WriteJSON(w, http.StatusOK, map[string]any{"messages": nonNil(o.Recorder.Recent(filterOf(r), limit)),
		"window": cfg.Messages, "kept_per_second": cfg.KeepRate, "not_kept": o.Recorder.NotKept()})
}

func (o *ops) message(w http.ResponseWriter, r *http.Request) {
	d, ok := o.Recorder.Message(r.PathValue("source"), r.PathValue("messageId"))
	if !ok {
		cfg := o.Recorder.Config()
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("the message is not in the debugger's recent window (the last %d messages kept; above %d accepted messages/s, a sample is kept)", cfg.Messages, cfg.KeepRate))
		return
	}
	WriteJSON(w, http.StatusOK, d)
}

// DestinationStatus is one destination's line of GET /admin/destinations
// and of the live stream's "stats" events.
type DestinationStatus struct {
	Name           string  `json:"name"`
	Type           string  `json:"type"`
	DeliveredPerS  float64 `json:"delivered_per_s"`
	DeliveredTotal uint64  `json:"delivered_total"`
	Failing        bool    `json:"failing"`
	Retrying       int     `json:"retrying"`
	Lag            uint64  `json:"lag"`
	DeadLetters    uint64  `json:"dead_letters"`
	LastError      string  `json:"last_error"`
	LastErrorAt    string  `json:"last_error_at"`
}

// destinationList builds the destinations' lines; the log's part is read
// at most once a second.
func (o *ops) destinationList(ctx context.Context) ([]DestinationStatus, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if time.Since(o.destAt) < time.Second && o.destCache != nil {
		return o.destCache, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	names := make([]string, len(o.Destinations))
	for i, d := range o.Destinations {
		names[i] = d.Name
	}
	counts, err := o.Log.DeadLetterCounts(ctx, names)
	out := make([]DestinationStatus, 0, len(o.Destinations))
	for _, d := range o.Destinations {
		st := o.Recorder.Destination(d.Name)
		dj := DestinationStatus{
			Name: d.Name, Type: d.Type, DeliveredPerS: st.DeliveredPerS, DeliveredTotal: st.DeliveredTotal,
			Failing: st.Failing, Retrying: st.Retrying, DeadLetters: counts[d.Name],
			LastError: st.LastError, LastErrorAt: formatTime(st.LastErrorAt),
		}
		if err == nil {
			b, berr := o.Log.Backlog(ctx, d.Name)
			if berr != nil {
				err = berr
			}
			dj.Lag = b.Pending
		}
		out = append(out, dj)
	}
	if err != nil {
		return out, err
	}
	o.destAt, o.destCache = time.Now(), out
	return out, nil
}

func (o *ops) destinations(w http.ResponseWriter, r *http.Request) {
	ds, err := o.destinationList(r.Context())
	if err != nil {
		o.unavailable(w, "reading destinations", err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"destinations": ds})
}

// log describes the log's retention, size and each destination's backlog.
func (o *ops) log(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	info, err := o.Log.Info(ctx)
	if err != nil {
		o.unavailable(w, "reading the log", err)
		return
	}
	ret := "unlimited"
	if info.Retention > 0 {
		ret = info.Retention.String()
	}
	now := time.Now()
	type destLog struct {
		Name            string  `json:"name"`
		Lag             uint64  `json:"lag"`
		OldestPendingAt string  `json:"oldest_pending_at"`
		OldestPendingS  float64 `json:"oldest_pending_age_seconds"`
		RetentionLeft   string  `json:"retention_left"`
		Warning         bool    `json:"warning"`
	}
	dests := make([]destLog, 0, len(o.Destinations))
	for _, d := range o.Destinations {
		b, err := o.Log.Backlog(ctx, d.Name)
		if err != nil {
			o.unavailable(w, "reading the log", err)
			return
		}
		dl := destLog{Name: d.Name, Lag: b.Pending, OldestPendingAt: formatTime(b.Oldest)}
		if b.Pending > 0 && !b.Oldest.IsZero() {
			age := max(now.Sub(b.Oldest), 0)
			dl.OldestPendingS = age.Seconds()
			if info.Retention > 0 {
				dl.RetentionLeft = max(info.Retention-age, 0).Round(time.Second).String()
				dl.Warning = age >= time.Duration(o.BacklogWarning*float64(info.Retention))
			}
		}
		dests = append(dests, dl)
	}
	WriteJSON(w, http.StatusOK, map[string]any{
		"retention": ret, "max_bytes": info.MaxBytes, "bytes": info.Bytes, "messages": info.Messages,
		"first_seq": info.FirstSeq, "first_time": formatTime(info.FirstTime),
		"dedupe": map[string]any{
			"window": info.DedupeWindow.String(), "disk_bytes": info.DedupeDiskBytes,
			"memory_bytes": info.DedupeMemoryBytes, "memory_limit_bytes": info.DedupeMemoryLimit,
		},
		"backlog_warning": o.BacklogWarning,
		"bytes_warning":   info.MaxBytes > 0 && float64(info.Bytes) >= o.BacklogWarning*float64(info.MaxBytes),
		"destinations":    dests,
	})
}

func itemOf(dl *router.DeadLetter) DeadLetterItem {
	m := &dl.Message
	it := DeadLetterItem{
		Seq: dl.ID, LogSeq: dl.Seq, Destination: dl.Destination, MessageID: m.ID, Source: m.Source,
		Type: m.Type, Event: m.Event, UserID: m.UserID, Error: dl.LastError, Attempts: dl.Attempts,
		FirstFailure: formatTime(dl.FirstFailure), DeadAt: formatTime(dl.DeadAt),
	}
	if len(m.Body) > 0 && json.Valid(m.Body) {
		it.Message = json.RawMessage(m.Body)
	}
	return it
}

// dlqSelect is a selection of dead letters.
type dlqSelect struct {
	destination   string
	since         time.Time
	errorContains string
	ids           map[uint64]bool // nil: every id
}

func (s *dlqSelect) match(dl *router.DeadLetter) bool {
	return (s.destination == "" || dl.Destination == s.destination) &&
		(s.since.IsZero() || !dl.DeadAt.Before(s.since)) &&
		(s.errorContains == "" || strings.Contains(strings.ToLower(dl.LastError), s.errorContains)) &&
		(s.ids == nil || s.ids[dl.ID])
}

func (o *ops) dlqList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sel := dlqSelect{destination: q.Get("destination"), errorContains: strings.ToLower(q.Get("error_contains"))}
	if !parseSinceParam(w, q.Get("since"), &sel.since) {
		return
	}
	limit := queryInt(r, "limit", 100, 1000)
	var before uint64
	if v := q.Get("before"); v != "" {
		b, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			WriteError(w, http.StatusBadRequest, "invalid_before", "before: not a sequence number")
			return
		}
		before = b
	}
	// Newest first: keep the last `limit` matches below `before`.
	var total, below int
	page := make([]router.DeadLetter, 0, limit)
	err := o.Log.ScanDeadLetters(r.Context(), sel.destination, func(dl router.DeadLetter) bool {
		if !sel.match(&dl) {
			return true
		}
		total++
		if before != 0 && dl.ID >= before {
			return true
		}
		below++
		if len(page) == limit {
			copy(page, page[1:])
			page = page[:limit-1]
		}
		page = append(page, dl)
		return true
	})
	if err != nil {
		o.unavailable(w, "reading dead letters", err)
		return
	}
	items := make([]DeadLetterItem, len(page))
	for i := range page {
		items[len(page)-1-i] = itemOf(&page[i])
	}
	out := DeadLetterPage{Messages: items, Total: total}
	if below > len(page) && len(page) > 0 {
		out.NextBefore = &page[0].ID
	}
	WriteJSON(w, http.StatusOK, out)
}

func (o *ops) dlqShow(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_seq", "not a sequence number")
		return
	}
	dl, err := o.Log.DeadLetterByID(r.Context(), id)
	if errors.Is(err, router.ErrNotFound) {
		WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no dead letter %d (it may have been redriven or expired)", id))
		return
	}
	if err != nil {
		o.unavailable(w, "reading a dead letter", err)
		return
	}
	WriteJSON(w, http.StatusOK, itemOf(&dl))
}

// redrive queues the selected dead letters of one destination again for
// that destination only, and removes each from the dead-letter stream once
// it is queued.
func (o *ops) redrive(w http.ResponseWriter, r *http.Request) {
	var req RedriveRequest
	if !decodeBody(w, r, &req) || !o.knownDestination(w, req.Destination) {
		return
	}
	sel, ok := redriveSelection(w, &req)
	if !ok {
		return
	}
	ctx, cancel := o.srv.longContext(r)
	defer cancel()
	var ids []uint64
	if err := o.Log.ScanDeadLetters(ctx, req.Destination, func(dl router.DeadLetter) bool {
		if sel.match(&dl) {
			ids = append(ids, dl.ID)
		}
		return true
	}); err != nil {
		o.unavailable(w, "reading dead letters", err)
		return
	}
	notFound := []uint64{}
	if sel.ids != nil {
		notFound = missingIDs(req.IDs, ids)
	}
	nd := StartNDJSON(w)
	p := Progress{Total: uint64(len(ids)), Matched: uint64(len(ids))}
	if req.DryRun {
		nd.Result(p, RedriveResult{Redriven: 0, Matched: len(ids), NotFound: notFound, DryRun: true})
		return
	}
	run := redriveRun{o: o, ctx: ctx, nd: nd, destination: req.Destination, byID: sel.ids != nil, total: len(ids), notFound: notFound}
	for start := 0; start < len(ids); start += redriveChunk {
		// Stop only here, between chunks: never between queueing a chunk
		// and removing its dead letters.
		if ctx.Err() != nil {
			run.stopped()
			return
		}
		chunk := ids[start:min(start+redriveChunk, len(ids))]
		if !run.chunk(chunk) {
			return
		}
		p.Done = uint64(start + len(chunk))
		nd.Progress(p)
	}
	p.Done = p.Total
	o.Logger.Info("dead letters redriven", "destination", req.Destination, "redriven", run.redriven)
	nd.Result(p, RedriveResult{Redriven: run.redriven, Matched: len(ids), NotFound: run.notFound, DryRun: false})
}

// redriveChunk is how many dead letters a redrive queues at a time.
const redriveChunk = 100

// redriveSelection is the selection of a redrive request, or false when it
// is not valid (answered with 400).
func redriveSelection(w http.ResponseWriter, req *RedriveRequest) (dlqSelect, bool) {
	if req.IDs != nil && len(req.IDs) == 0 {
		WriteError(w, http.StatusBadRequest, "empty_ids", `ids: the list is empty; list the dead letters to redrive, or leave "ids" out to select by since and error_contains`)
		return dlqSelect{}, false
	}
	sel := dlqSelect{destination: req.Destination, errorContains: strings.ToLower(req.ErrorContains)}
	if !parseSinceParam(w, req.Since, &sel.since) {
		return dlqSelect{}, false
	}
	if req.IDs != nil {
		sel.ids = make(map[uint64]bool, len(req.IDs))
		for _, id := range req.IDs {
			sel.ids[id] = true
		}
	}
	return sel, true
}

// missingIDs returns the ids asked for that are not among found (not, or
// no longer, dead letters of the destination matching the selection), in
// the order asked, each once.
func missingIDs(asked, found []uint64) []uint64 {
	missing := []uint64{}
	seen := make(map[uint64]bool, len(found))
	for _, id := range found {
		seen[id] = true
	}
	for _, id := range asked {
		if !seen[id] {
			seen[id] = true // once, even when listed twice
			missing = append(missing, id)
		}
	}
	return missing
}

// redriveRun is a redrive under way, past its selection: it queues the
// dead letters chunk by chunk and reports to nd.
type redriveRun struct {
	o           *ops
	ctx         context.Context
	nd          *NDJSON
	destination string
	byID        bool // the request listed ids: the ones gone meanwhile are reported
	total       int
	redriven    int
	notFound    []uint64
}

// stopped reports that the request's context ended the redrive.
func (run *redriveRun) stopped() {
	run.nd.Error("stopped", fmt.Sprintf("%s: the redrive stopped after %d of %d dead letters were redriven; run it again for the rest", stoppedMessage(run.ctx), run.redriven, run.total))
}

// chunk queues the dead letters ids again for the destination (each under
// its dead letter's identity: a concurrent redrive of the same dead
// letters queues nothing more) and removes them from the dead-letter
// stream. It reports false when it stopped or failed (reported to nd).
func (run *redriveRun) chunk(ids []uint64) bool {
	o, ctx := run.o, run.ctx
	ds := make([]router.Delivery, 0, len(ids))
	done := make([]uint64, 0, len(ids))
	for _, id := range ids {
		dl, err := o.Log.DeadLetterByID(ctx, id)
		if errors.Is(err, router.ErrNotFound) {
			if run.byID {
				run.notFound = append(run.notFound, id)
			}
			continue // redriven meanwhile, or expired
		}
		if err != nil {
			run.fail("reading dead letters", err)
			return false
		}
		ds = append(ds, router.Delivery{Message: dl.Message, Seq: dl.Seq, Partition: -1, Delivered: 1, DeadLetterID: id})
		done = append(done, id)
	}
	if err := o.Log.Requeue(ctx, run.destination, ds); err != nil {
		run.fail("queueing", err)
		return false
	}
	// Queued: remove them even when the client has gone away or the
	// server is stopping, or a later redrive would queue them again
	// once the log's dedupe window is over.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	n, err := o.Log.RemoveDeadLetters(rctx, done)
	rcancel()
	run.redriven += n
	if err != nil {
		o.Logger.Warn("removing redriven dead letters", "err", err.Error())
		run.nd.Error("unavailable", fmt.Sprintf("%d dead letters were queued again but could not all be removed from the dead-letter stream", run.redriven+len(done)-n))
		return false
	}
	return true
}

// fail reports that step (reading dead letters, or queueing) failed with
// err: as stopped when the request's context ended, else as unavailable.
func (run *redriveRun) fail(step string, err error) {
	if run.ctx.Err() != nil {
		run.stopped()
		return
	}
	run.o.Logger.Warn("redriving dead letters", "err", err.Error())
	run.nd.Error("unavailable", fmt.Sprintf("%s failed after %d of %d were redriven; run the redrive again for the rest", step, run.redriven, run.total))
}

// removeTimeout bounds the removal of what was already stored again (dead
// letters after their redrive, quarantine entries after their replay),
// which runs even when the request was cancelled.
const removeTimeout = 30 * time.Second

// errStop ends a scan early.
var errStop = errors.New("stop")

// replay queues the log's messages of a time range (optionally of some
// event names only) again for one destination.
func (o *ops) replay(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if !decodeBody(w, r, &req) || !o.knownDestination(w, req.Destination) {
		return
	}
	now := time.Now()
	if req.Since == "" {
		WriteError(w, http.StatusBadRequest, "invalid_since", "since: required (RFC 3339 or a duration such as 24h)")
		return
	}
	since, err := ParseSince(req.Since, now)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_since", err.Error())
		return
	}
	var until time.Time
	if req.Until != "" {
		if until, err = ParseSince(req.Until, now); err != nil {
			WriteError(w, http.StatusBadRequest, "invalid_until", err.Error())
			return
		}
		if until.Before(since) {
			WriteError(w, http.StatusBadRequest, "invalid_until", "until is before since")
			return
		}
	}
	events := map[string]bool{}
	for _, e := range req.Events {
		if e = strings.TrimSpace(e); e != "" {
			events[e] = true
		}
	}
	ctx, cancel := o.srv.longContext(r)
	defer cancel()
	nd := StartNDJSON(w)
	var p Progress
	var buf []router.Delivery
	replayed := 0
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := o.Log.Requeue(ctx, req.Destination, buf); err != nil {
			return err
		}
		replayed += len(buf)
		buf = buf[:0]
		return nil
	}
	scanned := 0 // messages; done and total count the log's records
	err = o.Log.ScanEvents(ctx, since, until, func(d router.Delivery, done, total uint64) error {
		p.Done, p.Total = done, total
		scanned++
		if len(events) == 0 || events[d.Message.Event] {
			p.Matched++
			if !req.DryRun {
				buf = append(buf, d)
				if len(buf) >= 500 {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		nd.Progress(p)
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	if err != nil && ctx.Err() != nil {
		nd.Error("stopped", fmt.Sprintf("%s: the replay stopped after %d message(s) were queued again", stoppedMessage(ctx), replayed))
		return
	}
	if err != nil {
		o.Logger.Warn("replaying", "destination", req.Destination, "err", err.Error())
		nd.Error("unavailable", fmt.Sprintf("the replay stopped after %d message(s) were queued again", replayed))
		return
	}
	p.Done = p.Total
	if !req.DryRun {
		o.Logger.Info("replay queued", "destination", req.Destination, "replayed", replayed, "since", formatTime(since), "until", formatTime(until))
	}
	nd.Result(p, LogReplayResult{Replayed: replayed, Matched: p.Matched, Scanned: scanned, DryRun: req.DryRun})
}

// ParseSince reads a point in time given as RFC 3339 or as a duration
// meaning "that long before now" (a Go duration such as 90m or 24h, or a
// number of days such as 7d).
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.ParseFloat(n, 64); err == nil && days >= 0 {
			return now.Add(-time.Duration(days * 24 * float64(time.Hour))), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h", s)
	}
	return now.Add(-d), nil
}

// knownDestination answers 400 and returns false when name is not a
// configured destination.
func (o *ops) knownDestination(w http.ResponseWriter, name string) bool {
	if !o.known[name] {
		WriteError(w, http.StatusBadRequest, "unknown_destination", fmt.Sprintf("destination %q is not configured", name))
		return false
	}
	return true
}

// parseSinceParam sets *t to the time an optional since parameter v names
// (unchanged when v is empty); it answers 400 and returns false when v is
// neither RFC 3339 nor a duration.
func parseSinceParam(w http.ResponseWriter, v string, t *time.Time) bool {
	if v == "" {
		return true
	}
	since, err := ParseSince(v, time.Now())
	if err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_since", err.Error())
		return false
	}
	*t = since
	return true
}

// decodeBody decodes a JSON request body of at most 1 MiB; it answers 400
// and returns false when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		WriteError(w, http.StatusBadRequest, "invalid_json", "reading the request body: "+err.Error())
		return false
	}
	return true
}

func queryInt(r *http.Request, key string, def, maxV int) int {
	n, err := strconv.Atoi(r.URL.Query().Get(key))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, maxV)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
