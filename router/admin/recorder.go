package admin

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Defaults of RecorderConfig.
const (
	DefaultRecentMessages = 10000
	DefaultRecentBytes    = 32 << 20
	DefaultStreamRate     = 50
	DefaultKeepRate       = 1000
	maxAttemptsKept       = 20 // per message and destination
)

// RecorderConfig bounds what a [Recorder] keeps.
type RecorderConfig struct {
	// Messages is how many recent messages are kept (their summary and
	// delivery attempts). Default 10000.
	Messages int
	// Bytes bounds the request bodies and normalised messages kept for
	// the recent messages; the oldest are dropped first. Default 32 MiB.
	Bytes int
	// StreamRate is the most messages per second sent to one client of
	// the live stream; the others are counted, not sent. Default 50.
	StreamRate int
	// KeepRate is the most accepted messages per second kept in the
	// recent window. Above it, a request whose messages were all accepted
	// is counted (and offered to the live stream) but not kept; a request
	// with a rejected or quarantined message is always kept. Default 1000.
	//
	// Keeping a message copies its request's body and the normalised
	// message. At full ingest (60,000 messages/s and more) the window of
	// Messages then spanned a fraction of a second, the copies were a
	// ninth of the server's allocation and the window a fifth of its live
	// heap, which the garbage collector paid for on every cycle; at
	// KeepRate the window spans seconds of traffic, a sample of it.
	KeepRate int
}

// Recorder keeps a bounded window of recent messages with what each
// destination did with them, and exact counts, for the live debugger. It
// implements ingest.Observer (ObserveIngest) and dispatch.Observer
// (ObserveSend, ObserveDeadLetter, ObserveFiltered) and is safe for
// concurrent use.
type Recorder struct {
	cfg RecorderConfig

	received, accepted, rejected, quarantined atomic.Uint64

	// now is the clock; tests set it.
	now func() time.Time

	subMu sync.Mutex
	subs  atomic.Pointer[[]*subscriber]

	mu     sync.Mutex
	ring   []entry
	next   int // slot of the next entry
	seq    uint64
	index  map[msgKey]int // slot by (source, messageId)
	chunks []*chunk       // bodies kept, oldest first
	bytes  int            // held by chunks
	dests  map[string]*destStats

	// Messages received per second of the clock: secN in second sec,
	// prevN in the second before it.
	sec         int64
	secN, prevN uint64

	// Accepted messages kept in second keepSec (see KeepRate), and the
	// messages not kept since the start.
	keepMu  sync.Mutex
	keepSec int64
	keptN   int
	notKept atomic.Uint64
}

// msgKey identifies a message: its source and messageId.
type msgKey struct{ source, id string }

// chunk holds the raw body of one request and the normalised messages it
// produced; data is nil once dropped to stay within RecorderConfig.Bytes.
type chunk struct {
	data   []byte
	rawLen int
}

// entry is one recent message.
type entry struct {
	seq        uint64 // 0: empty slot
	sum        Summary
	chunk      *chunk
	off, n     int // the normalised message in chunk.data
	violations []router.Violation
	reason     string // rejected: the reason code and detail
	detail     string
	// attempts are what the destinations did with the message, oldest
	// first, at most maxAttemptsKept per destination. The first is kept
	// inline: most messages have one attempt at one destination, and
	// recording it then allocates nothing.
	first    attempt
	attempts []attempt // after first
}

// attempt is one Attempt as the recorder keeps it; it is formatted for
// the API only when read.
type attempt struct {
	dest   string // "": none (first only)
	n      int
	status string // a constant: delivered, retrying, ...
	err    string
	took   time.Duration
	at     time.Time
}

func (a *attempt) api() Attempt {
	return Attempt{Attempt: a.n, Status: a.status, Error: a.err,
		LatencyMS: float64(a.took.Microseconds()) / 1000, At: formatTime(a.at)}
}

// Summary is one message as the live stream and the message list show it.
type Summary struct {
	Source      string
	Type        string
	Event       string
	UserID      string
	AnonymousID string
	MessageID   string
	ReceivedAt  time.Time
	Violations  int
	// Status is accepted, rejected or quarantined.
	Status string
}

// MarshalJSON writes the summary in the admin API's shape, with "id"
// being "<source>/<messageId>".
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(StreamMessage{
		ID: s.Source + "/" + s.MessageID, Source: s.Source, Type: s.Type, Event: s.Event,
		UserID: s.UserID, AnonymousID: s.AnonymousID, MessageID: s.MessageID,
		ReceivedAt: formatTime(s.ReceivedAt), Violations: s.Violations, Status: s.Status,
	})
}

// Attempt is one thing a destination did with a message.
type Attempt struct {
	Attempt int `json:"attempt"`
	// Status is delivered, retrying, failed (a permanent error),
	// dead_lettered or filtered.
	Status    string  `json:"status"`
	Error     string  `json:"error"`
	LatencyMS float64 `json:"latency_ms"`
	At        string  `json:"at"`
}

// destStats are one destination's counts, as this process saw them.
type destStats struct {
	delivered, deadLettered uint64
	failing                 bool
	lastError               string
	lastErrorAt             time.Time
	retrying                map[msgKey]time.Time
	rateAt                  time.Time // when rate was last computed
	rateBase                uint64
	rate                    float64
}

// NewRecorder returns a recorder with cfg's bounds (zero fields take their
// defaults).
func NewRecorder(cfg RecorderConfig) *Recorder {
	if cfg.Messages <= 0 {
		cfg.Messages = DefaultRecentMessages
	}
	if cfg.Bytes <= 0 {
		cfg.Bytes = DefaultRecentBytes
	}
	if cfg.StreamRate <= 0 {
		cfg.StreamRate = DefaultStreamRate
	}
	if cfg.KeepRate <= 0 {
		cfg.KeepRate = DefaultKeepRate
	}
	return &Recorder{
		cfg:   cfg,
		ring:  make([]entry, cfg.Messages),
		index: make(map[msgKey]int, cfg.Messages),
		dests: map[string]*destStats{},
		now:   time.Now,
	}
}

// Config returns the recorder's bounds, defaults filled in.
func (r *Recorder) Config() RecorderConfig { return r.cfg }

func summarize(m *router.Message, status string) Summary {
	return Summary{
		Source: m.Source, Type: m.Type, Event: m.Event, UserID: m.UserID, AnonymousID: m.AnonymousID,
		MessageID: m.ID, ReceivedAt: m.ReceivedAt, Violations: m.Violations, Status: status,
	}
}

// ObserveIngest records a stored request: it counts its messages, offers
// them to the live stream's clients, and keeps them, with the request's
// body, in the recent window.
func (r *Recorder) ObserveIngest(rec router.IngestRecord) {
	n := len(rec.Accepted) + len(rec.Rejected) + len(rec.Quarantined)
	if n == 0 {
		return
	}
	r.received.Add(uint64(n))
	r.accepted.Add(uint64(len(rec.Accepted)))
	r.rejected.Add(uint64(len(rec.Rejected)))
	r.quarantined.Add(uint64(len(rec.Quarantined)))

	if subs := r.subs.Load(); subs != nil && len(*subs) > 0 {
		now := r.now().Unix()
		for i := range rec.Accepted {
			offer(*subs, now, summarize(&rec.Accepted[i], "accepted"))
		}
		for i := range rec.Quarantined {
			q := &rec.Quarantined[i]
			s := summarize(&q.Message, "quarantined")
			s.Violations = len(q.Violations)
			offer(*subs, now, s)
		}
		for i := range rec.Rejected {
			offer(*subs, now, rejectedSummary(&rec.Rejected[i]))
		}
	}

	sec := r.now().Unix()
	if !r.keep(sec, len(rec.Accepted), len(rec.Rejected)+len(rec.Quarantined)) {
		r.notKept.Add(uint64(n))
		r.mu.Lock()
		r.countSecond(sec, n)
		r.mu.Unlock()
		return
	}

	// One allocation holds the raw body and every normalised message.
	size := len(rec.Raw)
	for i := range rec.Accepted {
		size += len(rec.Accepted[i].Body)
	}
	for i := range rec.Quarantined {
		size += len(rec.Quarantined[i].Message.Body)
	}
	for i := range rec.Rejected {
		size += len(rec.Rejected[i].Body)
	}
	c := &chunk{data: make([]byte, 0, size), rawLen: len(rec.Raw)}
	c.data = append(c.data, rec.Raw...)
	add := func(b []byte) (int, int) {
		off := len(c.data)
		c.data = append(c.data, b...)
		return off, len(b)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	r.countSecond(sec, n)
	for i := range rec.Accepted {
		m := &rec.Accepted[i]
		e := r.put(summarize(m, "accepted"))
		e.chunk = c
		e.off, e.n = add(m.Body)
	}
	for i := range rec.Quarantined {
		q := &rec.Quarantined[i]
		s := summarize(&q.Message, "quarantined")
		s.Violations = len(q.Violations)
		e := r.put(s)
		e.chunk = c
		e.off, e.n = add(q.Message.Body)
		e.violations = append([]router.Violation(nil), q.Violations...)
		e.reason, e.detail = q.Reason, q.Detail
	}
	for i := range rec.Rejected {
		rj := &rec.Rejected[i]
		e := r.put(rejectedSummary(rj))
		e.chunk = c
		e.off, e.n = add(rj.Body)
		e.reason, e.detail = rj.Reason, rj.Detail
	}
	r.chunks = append(r.chunks, c)
	r.bytes += cap(c.data)
	for r.bytes > r.cfg.Bytes && len(r.chunks) > 1 {
		old := r.chunks[0]
		r.chunks[0] = nil
		r.chunks = r.chunks[1:]
		r.bytes -= cap(old.data)
		old.data = nil
	}
}

// keep reports whether a request observed in second sec with accepted
// accepted messages and failed rejected or quarantined ones is kept in the
// recent window (see RecorderConfig.KeepRate).
func (r *Recorder) keep(sec int64, accepted, failed int) bool {
	r.keepMu.Lock()
	defer r.keepMu.Unlock()
	if sec > r.keepSec {
		r.keepSec, r.keptN = sec, 0
	}
	if failed == 0 && r.keptN >= r.cfg.KeepRate {
		return false
	}
	r.keptN += accepted
	return true
}

// countSecond counts n messages received in second sec; r.mu is held.
func (r *Recorder) countSecond(sec int64, n int) {
	switch {
	case sec == r.sec:
		r.secN += uint64(n)
	case sec == r.sec-1: // a request observed late, across a second's edge
		r.prevN += uint64(n)
	case sec > r.sec:
		if sec == r.sec+1 {
			r.prevN = r.secN
		} else {
			r.prevN = 0
		}
		r.sec, r.secN = sec, uint64(n)
	}
}

// NotKept is how many messages were counted but not kept in the recent
// window because they came above RecorderConfig.KeepRate.
func (r *Recorder) NotKept() uint64 { return r.notKept.Load() }

func rejectedSummary(rj *router.Rejected) Summary {
	return Summary{Source: rj.Source, MessageID: rj.MessageID, ReceivedAt: rj.ReceivedAt, Status: "rejected"}
}

// put stores s in the next slot, replacing the oldest entry; r.mu is held.
func (r *Recorder) put(s Summary) *entry {
	slot := r.next
	r.next = (r.next + 1) % len(r.ring)
	e := &r.ring[slot]
	if e.seq != 0 {
		k := msgKey{e.sum.Source, e.sum.MessageID}
		if r.index[k] == slot {
			delete(r.index, k)
		}
	}
	r.seq++
	*e = entry{seq: r.seq, sum: s}
	if s.MessageID != "" {
		r.index[msgKey{s.Source, s.MessageID}] = slot
	}
	return e
}

// lookup returns the recent entry of a message, or nil; r.mu is held.
func (r *Recorder) lookup(source, id string) *entry {
	slot, ok := r.index[msgKey{source, id}]
	if !ok {
		return nil
	}
	return &r.ring[slot]
}

// dest returns the stats of a destination; r.mu is held.
func (r *Recorder) dest(name string) *destStats {
	d := r.dests[name]
	if d == nil {
		d = &destStats{retrying: map[msgKey]time.Time{}}
		r.dests[name] = d
	}
	return d
}

func (e *entry) addAttempt(dest, status string, err error, took time.Duration, at time.Time) {
	// The destination's last attempt gives the number of this one; a
	// dead-lettering is the outcome of the last attempt, not a new one.
	n, kept, oldest := 1, 0, -1
	e.eachAttempt(func(i int, a *attempt) {
		if a.dest == dest {
			n = a.n
			if kept == 0 {
				oldest = i
			}
			kept++
		}
	})
	if kept > 0 && status != "dead_lettered" {
		n++
	}
	a := attempt{dest: dest, n: n, status: status, took: took, at: at}
	if err != nil {
		a.err = err.Error()
	}
	if kept >= maxAttemptsKept {
		e.removeAttempt(oldest)
	}
	if e.first.dest == "" {
		e.first = a
		return
	}
	e.attempts = append(e.attempts, a)
}

// eachAttempt calls f with every attempt kept, oldest first, and its
// position (0 is first).
func (e *entry) eachAttempt(f func(i int, a *attempt)) {
	if e.first.dest == "" {
		return
	}
	f(0, &e.first)
	for i := range e.attempts {
		f(i+1, &e.attempts[i])
	}
}

// removeAttempt removes the attempt at position i, keeping the order.
func (e *entry) removeAttempt(i int) {
	if i == 0 {
		if len(e.attempts) == 0 {
			e.first = attempt{}
			return
		}
		e.first = e.attempts[0]
		i = 1
	}
	e.attempts = append(e.attempts[:i-1], e.attempts[i:]...)
}

// ObserveSend records one Send call to destination.
func (r *Recorder) ObserveSend(destination string, batch []router.Message, err error, took time.Duration) {
	var be *router.BatchError
	isBatch := errors.As(err, &be)
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dest(destination)
	failed := false
	for i := range batch {
		m := &batch[i]
		e := err
		if isBatch {
			e = be.Failed[i]
		}
		kind, _ := router.Classify(e)
		status := "delivered"
		k := msgKey{m.Source, m.ID}
		switch kind {
		case router.KindOK:
			d.delivered++
			delete(d.retrying, k)
		case router.KindPermanent:
			status = "failed"
			delete(d.retrying, k)
		default:
			status = "retrying"
			d.retrying[k] = now
		}
		if e != nil {
			failed = true
			d.lastError, d.lastErrorAt = e.Error(), now
		}
		if ent := r.lookup(m.Source, m.ID); ent != nil {
			ent.addAttempt(destination, status, e, took, now)
		}
	}
	d.failing = failed
}

// ObserveDeadLetter records a message dead-lettered for a destination.
func (r *Recorder) ObserveDeadLetter(dl router.DeadLetter) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dest(dl.Destination)
	d.deadLettered++
	delete(d.retrying, msgKey{dl.Message.Source, dl.Message.ID})
	if ent := r.lookup(dl.Message.Source, dl.Message.ID); ent != nil {
		var err error
		if dl.LastError != "" {
			err = errors.New(dl.LastError)
		}
		ent.addAttempt(dl.Destination, "dead_lettered", err, 0, now)
	}
}

// ObserveFiltered records a message a destination's filters skip.
func (r *Recorder) ObserveFiltered(destination string, m *router.Message, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ent := r.lookup(m.Source, m.ID); ent != nil {
		ent.addAttempt(destination, "filtered", errors.New("filtered: "+reason), 0, time.Now())
	}
}

// Detail is everything the recorder keeps of one recent message.
type Detail struct {
	Summary Summary `json:"summary"`
	// Raw is the request body; empty once dropped from the recent bytes.
	Raw string `json:"raw"`
	// Message is the normalised message (the item as received for a
	// rejected one); null once dropped.
	Message      json.RawMessage      `json:"message"`
	Violations   []router.Violation   `json:"violations"`
	Reason       string               `json:"reason,omitempty"`
	Detail       string               `json:"detail,omitempty"`
	Destinations map[string][]Attempt `json:"destinations"`
}

// Message returns what the recorder keeps of a message, and false when it
// is not in the recent window.
func (r *Recorder) Message(source, id string) (Detail, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookup(source, id)
	if e == nil {
		return Detail{}, false
	}
	d := Detail{Summary: e.sum, Reason: e.reason, Detail: e.detail, Violations: e.violations, Destinations: map[string][]Attempt{}}
	if e.chunk != nil && e.chunk.data != nil {
		d.Raw = string(e.chunk.data[:e.chunk.rawLen])
		if e.n > 0 {
			d.Message = json.RawMessage(append([]byte(nil), e.chunk.data[e.off:e.off+e.n]...))
		}
	}
	e.eachAttempt(func(_ int, a *attempt) {
		d.Destinations[a.dest] = append(d.Destinations[a.dest], a.api())
	})
	if d.Violations == nil && e.sum.Violations > 0 && d.Message != nil {
		d.Violations = protocolViolations(d.Message)
	}
	if d.Violations == nil {
		d.Violations = []router.Violation{}
	}
	return d, true
}

// protocolViolations reads context.protocols.violations of a message that
// was annotated rather than blocked.
func protocolViolations(body []byte) []router.Violation {
	var m struct {
		Context struct {
			Protocols struct {
				Violations []router.Violation `json:"violations"`
			} `json:"protocols"`
		} `json:"context"`
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	return m.Context.Protocols.Violations
}

// Recent returns up to limit of the most recent messages, newest first,
// that match f.
func (r *Recorder) Recent(f Filter, limit int) []Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Summary
	for i := 1; i <= len(r.ring) && len(out) < limit; i++ {
		e := &r.ring[(r.next-i+len(r.ring))%len(r.ring)]
		if e.seq == 0 {
			break
		}
		if f.Match(&e.sum) {
			out = append(out, e.sum)
		}
	}
	return out
}

// Counts are the recorder's exact counts since the process started.
type Counts struct {
	Received, Accepted, Rejected, Quarantined uint64
}

// Counts returns the exact counts.
func (r *Recorder) Counts() Counts {
	return Counts{r.received.Load(), r.accepted.Load(), r.rejected.Load(), r.quarantined.Load()}
}

// ReceivedPerSecond returns how many messages were received in the last
// complete second of the clock (the one before the current second), so a
// live-stream client that has just connected gets a real rate at once.
func (r *Recorder) ReceivedPerSecond() uint64 {
	sec := r.now().Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch sec {
	case r.sec + 1:
		return r.secN
	case r.sec:
		return r.prevN
	}
	return 0
}

// DestinationStats are one destination's delivery counts as this process
// saw them.
type DestinationStats struct {
	DeliveredPerS  float64
	DeliveredTotal uint64
	DeadLettered   uint64
	Failing        bool
	Retrying       int
	LastError      string
	LastErrorAt    time.Time
}

// Destination returns a destination's stats; delivered/s is averaged
// since the previous call at least a second ago.
func (r *Recorder) Destination(name string) DestinationStats {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dest(name)
	if el := now.Sub(d.rateAt); el >= time.Second {
		if !d.rateAt.IsZero() {
			d.rate = float64(d.delivered-d.rateBase) / el.Seconds()
		}
		d.rateAt, d.rateBase = now, d.delivered
	}
	for k, t := range d.retrying {
		if now.Sub(t) > 15*time.Minute {
			delete(d.retrying, k)
		}
	}
	return DestinationStats{
		DeliveredPerS: d.rate, DeliveredTotal: d.delivered, DeadLettered: d.deadLettered,
		Failing: d.failing, Retrying: len(d.retrying), LastError: d.lastError, LastErrorAt: d.lastErrorAt,
	}
}

// Filter selects messages of the live stream and the recent list.
type Filter struct {
	Source, Type, Event, UserID string
	// ViolationsOnly keeps messages with violations (quarantined ones
	// included).
	ViolationsOnly bool
}

// Match reports whether s passes f.
func (f *Filter) Match(s *Summary) bool {
	return (f.Source == "" || f.Source == s.Source) &&
		(f.Type == "" || f.Type == s.Type) &&
		(f.Event == "" || f.Event == s.Event) &&
		(f.UserID == "" || f.UserID == s.UserID || f.UserID == s.AnonymousID) &&
		(!f.ViolationsOnly || s.Violations > 0)
}

// subscriber is one client of the live stream.
type subscriber struct {
	filter Filter
	rate   int64
	ch     chan Summary
	out    atomic.Uint64

	mu  sync.Mutex
	sec int64 // the second (of the recorder's clock) counted in n; guarded by mu
	n   int64 // messages let through in that second; guarded by mu
}

// admit counts one message for the second sec (of the recorder's clock)
// and reports whether it is within the client's rate. The check and the
// count are one step: concurrent requests cannot both take the last slot,
// nor reset a second another one already counted in.
func (s *subscriber) admit(sec int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A request that read the clock just before another one moved on to
	// the next second counts in that next second.
	if sec > s.sec {
		s.sec, s.n = sec, 0
	}
	if s.n >= s.rate {
		return false
	}
	s.n++
	return true
}

// offer hands s to every subscriber whose filter it passes, within each
// one's rate per second of the recorder's clock (now, in Unix seconds; not
// the message's ReceivedAt, which concurrent requests do not observe in
// order); the rest are counted as sampled out.
func offer(subs []*subscriber, now int64, s Summary) {
	for _, sub := range subs {
		if !sub.filter.Match(&s) {
			continue
		}
		if !sub.admit(now) {
			sub.out.Add(1)
			continue
		}
		select {
		case sub.ch <- s:
		default:
			sub.out.Add(1)
		}
	}
}

// subscribe adds a live-stream client; cancel removes it.
func (r *Recorder) subscribe(f Filter) (*subscriber, func()) {
	s := &subscriber{filter: f, rate: int64(r.cfg.StreamRate), ch: make(chan Summary, r.cfg.StreamRate*2)}
	r.subMu.Lock()
	var cur []*subscriber
	if p := r.subs.Load(); p != nil {
		cur = *p
	}
	next := append(append([]*subscriber(nil), cur...), s)
	r.subs.Store(&next)
	r.subMu.Unlock()
	return s, func() {
		r.subMu.Lock()
		defer r.subMu.Unlock()
		cur := *r.subs.Load()
		next := make([]*subscriber, 0, len(cur))
		for _, x := range cur {
			if x != s {
				next = append(next, x)
			}
		}
		r.subs.Store(&next)
	}
}

// formatTime formats t as RFC 3339 with milliseconds in UTC, "" for zero.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return router.FormatTime(t)
}
