package ingest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/eventrouter/eventrouter/router"
)

// envelope is what a batch contributes to each of its items.
type envelope struct {
	context      map[string]any
	integrations map[string]any
	sentAt       any
	hasSentAt    bool
}

// The reserved top-level key for ingest notes (see the package doc).
const notesKey = "_ingest"

var (
	version2       = json.Number("2")
	channelServer  = "server"
	channelBrowser = "browser"
)

func stringField(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// mergeEnvelope deep-merges the envelope's context and integrations into
// item; on conflict the item's value wins (R3.1). Maps taken from the
// envelope are copied, since items are modified afterwards.
func mergeEnvelope(item map[string]any, env *envelope) {
	if env == nil {
		return
	}
	if env.context != nil {
		mergeKey(item, "context", env.context)
	}
	if env.integrations != nil {
		mergeKey(item, "integrations", env.integrations)
	}
}

func mergeKey(item map[string]any, key string, src map[string]any) {
	cur, present := item[key]
	if !present || cur == nil {
		item[key] = copyMap(src)
		return
	}
	if dst, ok := cur.(map[string]any); ok {
		deepMerge(dst, src)
	}
}

func deepMerge(dst, src map[string]any) {
	for k, sv := range src {
		dv, ok := dst[k]
		if !ok {
			if sm, isMap := sv.(map[string]any); isMap {
				sv = copyMap(sm)
			}
			dst[k] = sv
			continue
		}
		dm, dIsMap := dv.(map[string]any)
		sm, sIsMap := sv.(map[string]any)
		if dIsMap && sIsMap {
			deepMerge(dm, sm)
		}
	}
}

func copyMap(src map[string]any) map[string]any {
	dst := make(map[string]any, len(src))
	for k, v := range src {
		if m, ok := v.(map[string]any); ok {
			v = copyMap(m)
		}
		dst[k] = v
	}
	return dst
}

// rejectItem records a message that cannot be accepted: its body is m
// after the envelope merge, without writeKey and _metadata, charged to the
// request's budget (or, when that is used up, the item as sent; raw is the
// item's bytes in the request).
func (q *request) rejectItem(m map[string]any, raw []byte, reason, detail string) {
	msgID := ""
	if id, ok := m["messageId"].(string); ok && id != "" && utf8.RuneCountInString(id) <= maxIDLength {
		msgID = id
	}
	q.reject(q.src.name, reason, detail, msgID, appendJSON(nil, m))
	q.chargeRejected(m, raw)
}

// coerceID applies Segment's ID coercion: strings are trimmed,
// numbers become their decimal string; bad is set for any other JSON type.
// Absent and null yield "".
func coerceID(v any) (s string, bad bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return strings.TrimSpace(v), false
	case json.Number:
		d, ok := decimalString(string(v))
		return d, !ok
	}
	return "", true
}

// decimalString writes a JSON number literal without exponent. It fails for
// exponents beyond ±1000 (an ID that long is not an ID).
func decimalString(lit string) (string, bool) {
	if !strings.ContainsAny(lit, ".eE") {
		return lit, true
	}
	neg := strings.HasPrefix(lit, "-")
	if neg {
		lit = lit[1:]
	}
	mant, exp := lit, 0
	if i := strings.IndexAny(lit, "eE"); i >= 0 {
		mant = lit[:i]
		es := lit[i+1:]
		sign := 1
		if es != "" && (es[0] == '+' || es[0] == '-') {
			if es[0] == '-' {
				sign = -1
			}
			es = es[1:]
		}
		es = strings.TrimLeft(es, "0")
		if len(es) > 4 {
			return "", false
		}
		for _, c := range es {
			exp = exp*10 + int(c-'0')
		}
		if exp > 1000 {
			return "", false
		}
		exp *= sign
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	digits := intPart + frac
	point := len(intPart) + exp
	var s string
	switch {
	case point <= 0:
		s = "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		s = digits + strings.Repeat("0", point-len(digits))
	default:
		s = digits[:point] + "." + digits[point:]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	ip := s
	if i := strings.IndexByte(s, '.'); i >= 0 {
		ip = s[:i]
	}
	if trimmed := strings.TrimLeft(ip, "0"); len(trimmed) < len(ip) {
		if trimmed == "" || trimmed[0] == '.' {
			trimmed = "0" + trimmed
		}
		s = trimmed + s[len(ip):]
	}
	if neg && strings.Trim(s, "0.") != "" {
		s = "-" + s
	}
	return s, true
}

// present reports whether m has key k with a non-null value.
func present(m map[string]any, k string) bool {
	v, ok := m[k]
	return ok && v != nil
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

func nonEmptyString(v any) bool {
	s, ok := v.(string)
	return ok && strings.TrimSpace(s) != ""
}

// validate applies the event-level checks (after the envelope
// merge, before any change) and returns the reason code of the first
// failure, or "". typ is the message's type.
func validate(m map[string]any, typ string) (reason, detail string) {
	uid, badU := coerceID(m["userId"])
	aid, badA := coerceID(m["anonymousId"])
	if badU || badA {
		return "id_not_string", "userId and anonymousId must be strings or numbers"
	}
	if typ == router.TypeAlias {
		if uid == "" {
			return "no_user_anon_id", "an alias needs a userId"
		}
		if pid, bad := coerceID(m["previousId"]); bad || pid == "" {
			return "previous_id_required", "an alias needs a previousId"
		}
	} else if uid == "" && aid == "" {
		return "no_user_anon_id", "the message has neither userId nor anonymousId"
	}
	if v, ok := m["messageId"]; ok && v != nil {
		id, isStr := v.(string)
		if !isStr {
			return "message_id_invalid", "messageId must be a string"
		}
		if len(id) > maxIDLength && utf8.RuneCountInString(id) > maxIDLength {
			return "message_id_invalid", "messageId is longer than 100 characters"
		}
	}
	switch typ {
	case router.TypeTrack:
		ev, ok := m["event"]
		if !ok || ev == nil {
			return "event_not_defined", "a track needs an event"
		}
		s, isStr := ev.(string)
		if !isStr {
			return "event_not_string", "event must be a string"
		}
		if strings.TrimSpace(s) == "" {
			return "event_not_defined", "a track needs an event"
		}
	case router.TypeGroup:
		if gid, bad := coerceID(m["groupId"]); bad || gid == "" {
			return "group_id_required", "a group needs a groupId"
		}
	case router.TypePage, router.TypeScreen:
		if present(m, "name") && !nonEmptyString(m["name"]) {
			return "name_not_string", "name must be a non-empty string"
		}
		if present(m, "category") && !nonEmptyString(m["category"]) {
			return "category_not_string", "category must be a non-empty string"
		}
	}
	if present(m, "properties") && !isObject(m["properties"]) {
		return "properties_not_object", "properties must be an object"
	}
	if present(m, "traits") && !isObject(m["traits"]) {
		return "traits_not_object", "traits must be an object"
	}
	if present(m, "context") && !isObject(m["context"]) {
		return "context_not_object", "context must be an object"
	}
	if present(m, "integrations") && !isObject(m["integrations"]) {
		return "integrations_not_object", "integrations must be an object"
	}
	return "", ""
}

// setID stores a coerced ID, or removes the key when it is empty.
func setID(m map[string]any, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	s, bad := coerceID(v)
	if bad {
		return ""
	}
	if s == "" {
		delete(m, k)
	} else {
		m[k] = s
	}
	return s
}

type note struct {
	code, field string
	value       any
}

// parseTime parses a client timestamp: RFC 3339 with Z or an offset, any
// fractional precision.
func parseTime(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// item validates and normalises one message (the body of a single-event
// request, or a batch item with env its envelope; raw is its bytes in the
// request) into q.accepted, q.rejected or the tracking plan's outcomes,
// within the limits of limits.go. Its steps, in order: the type, the
// Segment spec's checks, the identities, the context, the timestamps and
// their notes, then the tracking plan and storing.
func (q *request) item(m map[string]any, env *envelope, raw []byte) {
	delete(m, "writeKey")
	delete(m, "_metadata")
	mergeEnvelope(m, env)
	typ, ok := q.itemType(m, raw)
	if !ok {
		return
	}
	if reason, detail := validate(m, typ); reason != "" {
		q.rejectItem(m, raw, reason, detail)
		return
	}
	userID, anonID, msgID := setIdentities(m, typ)
	q.setContext(m)
	notes := q.setTimestamps(m, env)
	if !q.setNotes(m, raw, notes) {
		return
	}
	event := ""
	if typ == router.TypeTrack {
		event, _ = m["event"].(string)
	}
	msg := router.Message{
		ID:          msgID,
		Source:      q.src.name,
		Type:        typ,
		UserID:      userID,
		AnonymousID: anonID,
		Event:       event,
		ReceivedAt:  q.receivedAt,
	}
	q.enforceAndStore(m, raw, &msg)
}

// itemType returns the message's type: the route's for a single-event
// request (set in m), the item's own in a batch, where one that is not a
// Segment type rejects the item (false).
func (q *request) itemType(m map[string]any, raw []byte) (string, bool) {
	if q.rt.kind != kindBatch {
		m["type"] = q.rt.typ
		return q.rt.typ, true
	}
	typ, _ := m["type"].(string)
	if !router.IsType(typ) {
		q.rejectItem(m, raw, "invalid_type", "type must be one of identify, track, page, screen, group, alias")
		return "", false
	}
	return typ, true
}

// setIdentities normalises the message's ids (userId and anonymousId
// always, groupId and previousId where the type needs them or they are
// present) and gives it a messageId when it has none.
func setIdentities(m map[string]any, typ string) (userID, anonID, msgID string) {
	userID = setID(m, "userId")
	anonID = setID(m, "anonymousId")
	if typ == router.TypeGroup || present(m, "groupId") {
		setID(m, "groupId")
	}
	if typ == router.TypeAlias || present(m, "previousId") {
		setID(m, "previousId")
	}
	msgID, _ = m["messageId"].(string)
	if msgID == "" {
		msgID = "api-" + uuid.NewString()
		m["messageId"] = msgID
	}
	return userID, anonID, msgID
}

// setContext drops context.protocols, sets context.ip to the client's
// address for browser and direct messages that have none, and sets the
// channel and the version.
func (q *request) setContext(m map[string]any) {
	ctx, _ := m["context"].(map[string]any)
	if ctx != nil {
		delete(ctx, "protocols")
	}
	if q.rt.browser || (ctx != nil && ctx["direct"] == true) {
		if !hasIP(ctx) {
			if ctx == nil {
				ctx = make(map[string]any, 1)
				m["context"] = ctx
			}
			ctx["ip"] = q.clientAddr()
		}
	}
	if q.rt.browser {
		m["channel"] = channelBrowser
	} else {
		m["channel"] = channelServer
	}
	m["version"] = version2
}

// setTimestamps sets receivedAt, timestamp (corrected for the client's
// clock skew: receivedAt less the time from timestamp to sentAt),
// originalTimestamp and sentAt (the item's, else the envelope's), and
// returns a note for each of timestamp and sentAt that was sent but could
// not be parsed. It counts a timestamp more than a minute ahead in q.future.
func (q *request) setTimestamps(m map[string]any, env *envelope) []note {
	var notes []note
	ot, hasOT := time.Time{}, false
	if v, ok := m["timestamp"]; ok && v != nil {
		if ot, hasOT = parseTime(v); !hasOT {
			notes = append(notes, note{"timestamp_unparseable", "timestamp", v})
		}
	}
	sa, hasSA := time.Time{}, false
	if v, ok := m["sentAt"]; ok && v != nil {
		if sa, hasSA = parseTime(v); !hasSA {
			notes = append(notes, note{"sent_at_unparseable", "sentAt", v})
		}
	}
	if !hasSA && env != nil && env.hasSentAt {
		if sa, hasSA = parseTime(env.sentAt); !hasSA {
			notes = append(notes, note{"sent_at_unparseable", "sentAt", env.sentAt})
		}
	}
	ts := q.receivedAt
	switch {
	case hasOT && hasSA:
		ts = q.receivedAt.Add(-sa.Sub(ot))
	case hasOT:
		ts = ot
	default:
		ot = q.receivedAt
	}
	if ts.After(q.receivedAt.Add(time.Minute)) {
		q.future++
	}
	if q.receivedAtStr == "" {
		q.receivedAtStr = formatTime(q.receivedAt)
	}
	m["receivedAt"] = q.receivedAtStr
	if ts.Equal(q.receivedAt) {
		m["timestamp"] = q.receivedAtStr
	} else {
		m["timestamp"] = formatTime(ts)
	}
	if ot.Equal(q.receivedAt) {
		m["originalTimestamp"] = q.receivedAtStr
	} else {
		m["originalTimestamp"] = formatTime(ot)
	}
	if hasSA {
		m["sentAt"] = formatTime(sa)
	} else {
		delete(m, "sentAt")
	}
	return notes
}

// setNotes records notes in the message under notesKey (or removes a
// client's notesKey when there are none). A note whose value would nest
// too deep rejects the message as sent (false).
func (q *request) setNotes(m map[string]any, raw []byte, notes []note) bool {
	if len(notes) == 0 {
		delete(m, notesKey)
		return true
	}
	list := make([]any, len(notes))
	for i, n := range notes {
		// A note's value sits at level 5 (message, _ingest, notes,
		// note, value).
		if s := valueShape(n.value); s.depth+4 > maxNesting {
			q.rejectOriginal(m, raw, reasonNestingTooDeep, fmt.Sprintf("the unusable %s, kept in the message's notes, would nest deeper than %d levels; kept as sent, as a JSON string", n.field, maxNesting))
			return false
		}
		list[i] = map[string]any{"code": n.code, "field": n.field, "value": n.value}
	}
	m[notesKey] = map[string]any{"notes": list}
	return true
}

// enforceAndStore checks the normalised message m against the tracking
// plan (after normalisation, before storing) and stores it in q.arena and
// q.accepted, or leaves it quarantined. Whatever does not fit the
// request's limits is rejected as sent, with the plan's outcomes for it
// taken back.
func (q *request) enforceAndStore(m map[string]any, raw []byte, msg *router.Message) {
	mark := q.pc.mark()
	if q.plan.applies(q.src.name) && !q.h.check(q.plan, q.src, m, msg, &q.pc, q.receivedAtStr) {
		// Blocked: quarantined (and maybe copied to another source),
		// within the limits; its Violation Generated events as they fit.
		allow := planAllowance(len(q.pc.quarantined[mark.quarantined].Violations))
		q.budget += allow
		if reason, detail := q.chargePlan(mark.quarantined, mark.forwarded); reason != "" {
			q.budget -= allow
			q.pc.undo(mark)
			q.rejectOriginal(m, raw, reason, detail)
			return
		}
		q.chargeForwards()
		return
	}
	// What the plan's annotations may add.
	allow := planAllowance(msg.Violations)
	q.budget += allow
	start := len(q.arena)
	q.arena = appendJSON(q.arena, m)
	size := len(q.arena) - start
	reason, detail := "", ""
	switch {
	case size > storedLimit:
		reason, detail = reasonTooLarge, fmt.Sprintf("as stored, with the fields ingest sets and the tracking plan's annotations, the message (%d bytes) exceeds %d KiB; kept as sent", size, storedLimit>>10)
	case !q.charge(size):
		reason, detail = reasonRequestTooBig, requestTooBigDetail
	}
	if reason != "" {
		q.budget -= allow
		q.arena = q.arena[:start]
		q.pc.undo(mark)
		q.rejectOriginal(m, raw, reason, detail)
		return
	}
	q.chargeForwards()
	msg.Body = json.RawMessage(q.arena[start:len(q.arena):len(q.arena)])
	q.accepted = append(q.accepted, *msg)
}

// chargePlan charges the quarantined messages and their copies for
// forward_blocked_to that the tracking plan added since the request held nq
// quarantined and nf forwarded messages (the Violation Generated events
// after them are chargeForwards'); it returns the rejection reason when
// that does not fit (taking nothing), else "".
func (q *request) chargePlan(nq, nf int) (reason, detail string) {
	n := 0
	for _, qm := range q.pc.quarantined[nq:] {
		if len(qm.Message.Body) > storedLimit {
			return reasonTooLarge, fmt.Sprintf("as stored the message exceeds %d KiB; kept as sent", storedLimit>>10)
		}
		n += storedSize(qm)
	}
	for _, f := range q.pc.forwarded[nf:q.pc.violationsFrom] {
		n += len(f.Body)
	}
	if !q.charge(n) {
		return reasonRequestTooBig, requestTooBigDetail
	}
	return "", ""
}

// chargeForwards charges the Violation Generated events that the last
// tracking-plan check added for forward_violations_to to the request's
// forward pool, in order; those that do not fit are not stored: the message
// they derive from is, with its annotations (context.protocols), and
// eventrouter_tracking_plan_forwards_dropped_total counts them. A message
// is never refused for its forwarded violations.
func (q *request) chargeForwards() {
	pc := &q.pc
	keep := pc.violationsFrom
	for _, f := range pc.forwarded[pc.violationsFrom:] {
		if len(f.Body) > q.forwardPool {
			continue
		}
		q.forwardPool -= len(f.Body)
		pc.forwarded[keep] = f
		keep++
	}
	pc.forwardsDropped += len(pc.forwarded) - keep
	clear(pc.forwarded[keep:])
	pc.forwarded = pc.forwarded[:keep]
}

// hasIP reports whether the context has a client-supplied, non-empty ip.
func hasIP(ctx map[string]any) bool {
	if ctx == nil {
		return false
	}
	switch v := ctx["ip"].(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(v) != ""
	}
	return true
}

// formatTime is router.FormatTime without the generality of time.Format:
// UTC, millisecond precision, in router.TimeLayout. Years outside
// 0000–9999 fall back to router.FormatTime.
func formatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return router.FormatTime(t)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	var b [24]byte
	put := func(i, v, n int) {
		for j := i + n - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, ms, 3)
	b[23] = 'Z'
	return string(b[:])
}
