package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/expr-lang/expr/vm"
)

// ErrMalformed means a delivery's body is not one JSON value; ingest
// answers 400.
var ErrMalformed = errors.New("malformed webhook body")

// The reason codes of [Result.Unmapped] the source itself gives; a rule's
// reject gives its own.
const (
	// ReasonNoRuleMatched: no rule's when was true.
	ReasonNoRuleMatched = "no_rule_matched"
	// ReasonNoMessages: the matching rule's emits were all skipped by their
	// when.
	ReasonNoMessages = "no_messages"
	// ReasonExpressionFailed: an expression failed at run time (a string
	// where a number was needed, an index out of range, the memory
	// budget); Detail names the key path and the error.
	ReasonExpressionFailed = "expression_failed"
	// ReasonInvalidMessage: a message the rule built is not a valid
	// Segment message (no identity, a track without event, two messages
	// with one messageId, ...); Detail says which and why.
	ReasonInvalidMessage = "invalid_message"
)

// maxIDLength is Segment's limit on messageId; longer ids are hashed.
const maxIDLength = 100

// Result is what one delivery becomes: messages, or a reason why none.
// Nothing is half-converted: when Unmapped is set, Messages is empty.
type Result struct {
	// DeliveryKey identifies the delivery for ingest's dedupe memory: the
	// delivery_id expression's value (the rule's, else the source's), else
	// "sha256:<32 hex of SHA-256(body)>".
	DeliveryKey string
	// Rule is the name of the rule that matched ("rules[<i>]" when
	// unnamed); empty when none did.
	Rule string
	// Messages are the Segment messages in the order the rule emits them,
	// each a complete normalised router.Message.
	Messages []router.Message
	// Unmapped is non-empty when the delivery maps to no message: one of
	// the Reason* codes or the reject code of the matching rule. Ingest
	// keeps the raw body in the rejected stream with this reason.
	Unmapped string
	// Detail explains Unmapped for people, e.g.
	// "rules[0].emit[1].userId: required ... (is null)".
	Detail string
}

// Convert turns one delivery (its request headers, raw body and the time
// it was received) into Segment messages. A body that is not one JSON
// value is an error wrapping [ErrMalformed]; every other body yields a
// Result, with Unmapped set when nothing maps. The signature is not
// checked here: call [Source.Verify] first.
func (s *Source) Convert(headers http.Header, body []byte, receivedAt time.Time) (Result, error) {
	sc := scratches.Get().(*scratch)
	root, err := decodeInto(body, s.keys, &sc.maps)
	if err != nil {
		sc.maps.recycle()
		scratches.Put(sc)
		return Result{}, err
	}
	e := &sc.env
	*e = env{Body: root, ReceivedAt: receivedAt.UTC()}
	if s.usesHeaders {
		e.Headers = make(map[string]any, len(headers))
		for k, v := range headers {
			if len(v) > 0 {
				e.Headers[strings.ToLower(k)] = v[0]
			}
		}
	}
	if len(s.vars) > 0 {
		e.Vars = make(map[string]any, len(s.vars))
	}
	c := conv{s: s, e: e, body: body, receivedAt: receivedAt, scratch: sc}
	c.buf = sc.buf[:0]
	c.bodies = sc.bodies[:0]
	c.buf = append(c.buf, `{"name":`...)
	c.buf = appendString(c.buf, s.integration)
	c.buf = append(c.buf, '}')
	c.integrationJSON = c.buf[:len(c.buf):len(c.buf)]
	start := len(c.buf)
	c.buf = append(c.buf, '"')
	c.buf = appendTime(c.buf, receivedAt)
	c.buf = append(c.buf, '"')
	c.receivedSpan = [2]int{start, len(c.buf)}
	res := c.convert()
	if cap(c.buf) <= maxScratch {
		sc.buf = c.buf[:0]
	}
	sc.vm = c.vm
	sc.bodies = c.bodies[:0]
	*c.e = env{} // keeps nothing of the delivery alive
	sc.maps.recycle()
	scratches.Put(sc)
	return res, nil
}

// scratch is what one conversion reuses from the last: the buffer the
// messages' objects are written to, the VM, the body's objects and the
// env expressions see.
type scratch struct {
	buf []byte
	// bodies are the spans of buf holding the bodies of the messages.
	bodies [][2]int
	vm     *vm.VM
	maps   mapPool
	env    env
}

// maxScratch is the largest buffer kept for the next conversion.
const maxScratch = 64 << 10

var scratches = sync.Pool{New: func() any { return &scratch{} }}

// conv holds one Convert call's state.
type conv struct {
	s          *Source
	e          *env
	body       []byte
	receivedAt time.Time
	// receivedSpan is where c.buf holds receivedAt as a JSON string.
	receivedSpan [2]int
	res          Result
	*scratch
	// integrationJSON is {"name":<the source's integration>}, the default
	// context.integration.
	integrationJSON []byte
	// arg is the argument of a function run without the VM.
	arg [1]any
	// encErr is the first value of the message being built that cannot
	// be written as JSON.
	encErr error
}

func (c *conv) fail(reason, detail string) Result {
	if c.res.DeliveryKey == "" {
		c.res.DeliveryKey = c.bodyKey()
	}
	c.res.Messages = nil
	c.res.Unmapped, c.res.Detail = reason, detail
	return c.res
}

func (c *conv) convert() Result {
	for i, v := range c.s.vars {
		x, err := c.run(v.prog)
		if err != nil {
			return c.fail(ReasonExpressionFailed, fmt.Sprintf("vars[%d] (%s): %v", i, v.key, err))
		}
		c.e.Vars[v.key] = x
	}
	key, err := c.deliveryKey(c.s.deliveryID, "delivery_id")
	c.res.DeliveryKey = key
	if err != "" {
		return c.fail(ReasonExpressionFailed, err)
	}
	var r *rule
	for i := 0; i < len(c.s.rules); i++ {
		if c.s.groups != nil && c.s.groups[i] != nil { // see ruleGroup
			g := c.s.groups[i]
			if j := g.match(c.e); j >= 0 {
				r = &c.s.rules[j]
				break
			}
			i = g.end - 1
			continue
		}
		ok, err := c.cond(c.s.rules[i].when, c.s.rules[i].name, ".when")
		if err != "" {
			return c.fail(ReasonExpressionFailed, err)
		}
		if ok {
			r = &c.s.rules[i]
			break
		}
	}
	if r == nil {
		return c.fail(ReasonNoRuleMatched, "no rule matches this delivery")
	}
	c.res.Rule = r.name
	if r.deliveryID != nil {
		key, err := c.deliveryKey(r.deliveryID, r.name+".delivery_id")
		if err != "" {
			return c.fail(ReasonExpressionFailed, err)
		}
		c.res.DeliveryKey = key
	}
	if r.reject != "" {
		detail := "rule " + r.name + " rejects this delivery"
		if r.detail != nil {
			v, err := c.run(r.detail)
			if err != nil {
				return c.fail(ReasonExpressionFailed, r.name+".detail: "+err.Error())
			}
			if t, ok := textOf(v).(string); ok {
				detail = t
			}
		}
		return c.fail(r.reject, detail)
	}
	var seenArr [8]seenID
	seen := seenArr[:0]
	for j := range r.emits {
		em := &r.emits[j]
		ok, err := c.cond(em.when, em.path, ".when")
		if err != "" {
			return c.fail(ReasonExpressionFailed, err)
		}
		if !ok {
			continue
		}
		msg, reason, detail := c.build(r, j, em)
		if reason != "" {
			return c.fail(reason, detail)
		}
		for _, prev := range seen {
			if prev.id == msg.ID {
				return c.fail(ReasonInvalidMessage, fmt.Sprintf("%s.messageId: %q is also the messageId of %s.emit[%d]; one would be dropped as a duplicate", em.path, msg.ID, r.name, prev.emit))
			}
		}
		seen = append(seen, seenID{msg.ID, j})
		if c.res.Messages == nil {
			c.res.Messages = make([]router.Message, 0, len(r.emits))
		}
		c.res.Messages = append(c.res.Messages, msg)
	}
	if len(c.res.Messages) == 0 {
		return c.fail(ReasonNoMessages, "rule "+r.name+" emitted no message (every emit's when was false)")
	}
	// The messages' bodies, in one allocation: they are stored together.
	size := 0
	for _, b := range c.bodies {
		size += b[1] - b[0]
	}
	slab := make([]byte, 0, size)
	for i, b := range c.bodies {
		start := len(slab)
		slab = append(slab, c.buf[b[0]:b[1]]...)
		c.res.Messages[i].Body = json.RawMessage(slab[start:len(slab):len(slab)])
	}
	return c.res
}

// seenID is a messageId a delivery's message has, and its emit.
type seenID struct {
	id   string
	emit int
}

// deliveryKey evaluates a delivery_id expression; null or blank means the
// body's hash.
func (c *conv) deliveryKey(p *program, path string) (string, string) {
	if p != nil {
		v, err := c.run(p)
		if err != nil {
			return c.bodyKey(), path + ": " + err.Error()
		}
		if t, ok := idString(v); ok {
			return t, ""
		}
		if v != nil {
			return c.bodyKey(), fmt.Sprintf("%s: must be a string or a number, not %s", path, kindOf(v))
		}
	}
	return c.bodyKey(), ""
}

func (c *conv) bodyKey() string {
	sum := sha256.Sum256(c.body)
	return "sha256:" + hex.EncodeToString(sum[:16])
}

// cond evaluates a when: absent is true, null false, anything but a
// boolean an error. Its key path is path+suffix.
func (c *conv) cond(p *program, path, suffix string) (bool, string) {
	if p == nil {
		return true, ""
	}
	v, err := c.run(p)
	if err != nil {
		return false, path + suffix + ": " + err.Error()
	}
	switch v := v.(type) {
	case bool:
		return v, ""
	case nil:
		return false, ""
	}
	return false, fmt.Sprintf("%s%s: must be true or false, not %s", path, suffix, kindOf(v))
}

// The top-level keys of a message body, in the order they are written
// (sorted, as encoding/json writes a map).
const (
	kAnonymousID = iota
	kCategory
	kChannel
	kContext
	kEvent
	kGroupID
	kIntegrations
	kMessageID
	kName
	kOriginalTimestamp
	kPreviousID
	kProperties
	kReceivedAt
	kTimestamp
	kTraits
	kType
	kUserID
	kVersion
	nKeys
)

// keyNames are the keys' JSON names, each with its quotes and colon.
var keyNames = [nKeys]string{
	`"anonymousId":`, `"category":`, `"channel":`, `"context":`, `"event":`, `"groupId":`, `"integrations":`,
	`"messageId":`, `"name":`, `"originalTimestamp":`, `"previousId":`, `"properties":`, `"receivedAt":`,
	`"timestamp":`, `"traits":`, `"type":`, `"userId":`, `"version":`,
}

// keyIndex maps a field or object key of an emit to its key.
var keyIndex = map[string]int{
	"anonymousId": kAnonymousID, "category": kCategory, "context": kContext, "event": kEvent, "groupId": kGroupID,
	"integrations": kIntegrations, "messageId": kMessageID, "name": kName, "previousId": kPreviousID,
	"properties": kProperties, "traits": kTraits, "userId": kUserID,
}

// msgParts collects one message's fields before it is written: scalar
// strings, and the JSON of the objects (spans of the conversion's scratch
// buffer).
type msgParts struct {
	str    [nKeys]string
	hasStr [nKeys]bool
	span   [nKeys][2]int
	hasObj [nKeys]bool
}

// set sets the scalar field k to s.
func (p *msgParts) set(k int, s string) { p.str[k], p.hasStr[k] = s, true }

// setObj sets the object field k to the JSON at span of the scratch buffer.
func (p *msgParts) setObj(k int, span [2]int) { p.span[k], p.hasObj[k] = span, true }

// build makes the message of one emit (em, the j-th message of rule r), or
// says why it cannot. Its steps, in order: the scalar fields, the
// messageId, the fields the type requires, the objects, the timestamp,
// what Segment sets when the rule does not, and the body.
func (c *conv) build(r *rule, j int, em *emit) (router.Message, string, string) {
	var p msgParts
	if reason, detail := c.evalFields(em, &p); reason != "" {
		return router.Message{}, reason, detail
	}
	id := c.messageID(r, j, &p)
	if reason, detail := checkRequired(em, &p); reason != "" {
		return router.Message{}, reason, detail
	}
	// The objects are written as they are evaluated; a value that cannot
	// be written (a NaN, a function, too deep) is reported after every
	// expression has run, as before anything is written.
	c.encErr = nil
	if reason, detail := c.writeObjects(em, &p); reason != "" {
		return router.Message{}, reason, detail
	}
	ts, reason, detail := c.timestamp(em)
	if reason != "" {
		return router.Message{}, reason, detail
	}
	if c.encErr != nil {
		return router.Message{}, ReasonInvalidMessage, em.path + ": " + c.encErr.Error()
	}
	c.setDefaults(em, &p, ts)
	c.appendBody(&p)
	event := p.str[kEvent]
	if em.typ != router.TypeTrack {
		event = ""
	}
	return router.Message{
		ID:          id,
		Source:      c.s.name,
		Type:        em.typ,
		UserID:      p.str[kUserID],
		AnonymousID: p.str[kAnonymousID],
		Event:       event,
		ReceivedAt:  c.receivedAt,
	}, "", ""
}

// evalFields runs the emit's scalar expressions into p: event, name and
// category must give non-empty strings, the ids strings or numbers (an
// empty string is taken as no id); nil leaves the field unset.
func (c *conv) evalFields(em *emit, p *msgParts) (reason, detail string) {
	for _, f := range em.fields {
		v, err := c.run(f.prog)
		if err != nil {
			return ReasonExpressionFailed, em.path + "." + f.key + ": " + err.Error()
		}
		if v == nil {
			continue
		}
		switch f.key {
		case "event", "name", "category":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return ReasonInvalidMessage, fmt.Sprintf("%s.%s: must be a non-empty string, not %s", em.path, f.key, describe(v))
			}
			p.set(keyIndex[f.key], s)
		default: // ids
			s, ok := idString(v)
			if !ok {
				if str, isStr := v.(string); isStr && strings.TrimSpace(str) == "" {
					continue
				}
				return ReasonInvalidMessage, fmt.Sprintf("%s.%s: must be a string or a number, not %s", em.path, f.key, kindOf(v))
			}
			p.set(keyIndex[f.key], s)
		}
	}
	return "", ""
}

// messageID sets and returns the message's id: the rule's, else one made
// of the delivery key, the rule's name and the emit's index j; one longer
// than maxIDLength is replaced by a hash of it.
func (c *conv) messageID(r *rule, j int, p *msgParts) string {
	id := p.str[kMessageID]
	if id == "" {
		id = c.res.DeliveryKey + ":" + r.name + ":" + strconv.Itoa(j)
	}
	if len(id) > maxIDLength {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:16])
	}
	p.set(kMessageID, id)
	return id
}

// checkRequired says what the message lacks of the fields its type
// requires: an alias its userId and previousId, any other type a userId
// or an anonymousId, a track its event, a group its groupId.
func checkRequired(em *emit, p *msgParts) (reason, detail string) {
	uid, aid := p.str[kUserID], p.str[kAnonymousID]
	switch em.typ {
	case router.TypeAlias:
		if uid == "" {
			return ReasonInvalidMessage, em.path + ".userId: an alias needs a userId (the expression gave none)"
		}
		if !p.hasStr[kPreviousID] {
			return ReasonInvalidMessage, em.path + ".previousId: an alias needs a previousId (the expression gave none)"
		}
	default:
		if uid == "" && aid == "" {
			return ReasonInvalidMessage, em.path + ": the message has neither userId nor anonymousId (the expressions gave none)"
		}
	}
	switch em.typ {
	case router.TypeTrack:
		if !p.hasStr[kEvent] {
			return ReasonInvalidMessage, em.path + ".event: a track needs an event (the expression gave none)"
		}
	case router.TypeGroup:
		if !p.hasStr[kGroupID] {
			return ReasonInvalidMessage, em.path + ".groupId: a group needs a groupId (the expression gave none)"
		}
	}
	return "", ""
}

// writeObjects evaluates the emit's objects into the scratch buffer, their
// spans into p; an object that gives null is left out. Values that cannot
// be written are left in c.encErr.
func (c *conv) writeObjects(em *emit, p *msgParts) (reason, detail string) {
	for _, o := range em.objs {
		k := keyIndex[o.key]
		extra := ""
		if k == kContext {
			extra = "integration"
		}
		start := len(c.buf)
		written, err := c.writeTop(o.t, extra)
		if err != nil {
			return ReasonExpressionFailed, err.Error()
		}
		if written.notObject != nil {
			return ReasonInvalidMessage, fmt.Sprintf("%s.%s: must be an object, not %s", em.path, o.key, kindOf(written.notObject))
		}
		if written.null {
			c.buf = c.buf[:start]
			continue
		}
		p.setObj(k, [2]int{start, len(c.buf)})
	}
	return "", ""
}

// timestamp evaluates the emit's timestamp: a time, an RFC 3339 string,
// or nil (or no expression) for the delivery's receivedAt.
func (c *conv) timestamp(em *emit) (ts time.Time, reason, detail string) {
	if em.ts == nil {
		return c.receivedAt, "", ""
	}
	v, err := c.run(em.ts)
	if err != nil {
		return time.Time{}, ReasonExpressionFailed, em.path + ".timestamp: " + err.Error()
	}
	switch t := v.(type) {
	case nil:
		return c.receivedAt, "", ""
	case time.Time:
		return t, "", ""
	case string:
		pt, ok := parseTime(t).(time.Time)
		if !ok {
			return time.Time{}, ReasonInvalidMessage, fmt.Sprintf("%s.timestamp: %q is not an RFC 3339 time between 1970 and 9999", em.path, t)
		}
		return pt, "", ""
	default:
		return time.Time{}, ReasonInvalidMessage, fmt.Sprintf("%s.timestamp: must be a time or an RFC 3339 string, not %s (use unix() or unix_ms() for numbers)", em.path, kindOf(v))
	}
}

// setDefaults sets what Segment sets when the rule does not: empty traits
// (identify, group) or properties (track, page, screen), a context with
// the source's integration, and the timestamps (ts), channel and type.
func (c *conv) setDefaults(em *emit, p *msgParts, ts time.Time) {
	switch em.typ {
	case router.TypeIdentify, router.TypeGroup:
		if !p.hasObj[kTraits] {
			p.setObj(kTraits, c.appendRaw("{}"))
		}
	case router.TypeTrack, router.TypePage, router.TypeScreen:
		if !p.hasObj[kProperties] {
			p.setObj(kProperties, c.appendRaw("{}"))
		}
	}
	if !p.hasObj[kContext] {
		start := len(c.buf)
		c.buf = append(c.buf, `{"integration":`...)
		c.buf = append(c.buf, c.integrationJSON...)
		c.buf = append(c.buf, '}')
		p.setObj(kContext, [2]int{start, len(c.buf)})
	}
	tsSpan := c.receivedSpan
	if !ts.Equal(c.receivedAt) {
		start := len(c.buf)
		c.buf = append(c.buf, '"')
		c.buf = appendTime(c.buf, ts)
		c.buf = append(c.buf, '"')
		tsSpan = [2]int{start, len(c.buf)}
	}
	p.setObj(kTimestamp, tsSpan)
	p.setObj(kOriginalTimestamp, tsSpan)
	p.setObj(kReceivedAt, c.receivedSpan)
	p.set(kChannel, "server")
	p.set(kType, em.typ)
}

// appendBody writes the message's body: every key in order, objects copied
// from where they were written, at the end of the scratch buffer; convert
// copies the bodies of a delivery's messages out together (see bodies).
func (c *conv) appendBody(p *msgParts) {
	bodyStart := len(c.buf)
	c.buf = append(c.buf, '{')
	for k := range nKeys {
		switch {
		case p.hasStr[k]:
			c.buf = append(c.buf, keyNames[k]...)
			c.buf = appendString(c.buf, p.str[k])
			c.buf = append(c.buf, ',')
		case p.hasObj[k]:
			c.buf = append(c.buf, keyNames[k]...)
			c.buf = append(c.buf, c.buf[p.span[k][0]:p.span[k][1]]...)
			c.buf = append(c.buf, ',')
		}
	}
	c.buf = append(c.buf, keyNames[kVersion]...)
	c.buf = append(c.buf, "2}"...)
	c.bodies = append(c.bodies, [2]int{bodyStart, len(c.buf)})
}

// appendRaw appends s to the scratch buffer and returns its span.
func (c *conv) appendRaw(s string) [2]int {
	start := len(c.buf)
	c.buf = append(c.buf, s...)
	return [2]int{start, len(c.buf)}
}

// topResult says what a top-level object template gave besides its JSON:
// null (the field is left out) or a value that is not an object.
type topResult struct {
	null      bool
	notObject any
}

// writeTop evaluates a traits/properties/context/integrations template and
// appends its JSON to the scratch buffer. extra, when not empty, is a key
// the object gets when it has none (context's "integration", the source's
// integration name). A template that is an object is written as it is
// evaluated, without building a map. Errors are those of expressions; a
// value that cannot be written is kept in c.encErr.
func (c *conv) writeTop(t *tmpl, extra string) (topResult, error) {
	if t.kind != 'o' {
		v, err := t.eval(c)
		if err != nil {
			return topResult{}, err
		}
		if v == nil {
			return topResult{null: true}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return topResult{notObject: v}, nil
		}
		if m == nil { // a typed nil map is written as null
			c.buf = append(c.buf, "null"...)
			return topResult{}, nil
		}
		var extraVal any
		if extra != "" {
			extraVal = rawJSON(c.integrationJSON)
		}
		var werr error
		if c.buf, werr = appendObject(c.buf, m, extra, extraVal, 1); werr != nil && c.encErr == nil {
			c.encErr = werr
		}
		return topResult{}, nil
	}
	return topResult{}, c.writeObj(t, extra, 1)
}

// writeObj writes an object template at nesting depth, leaving out keys
// whose value is null, with extra as in writeTop.
func (c *conv) writeObj(t *tmpl, extra string, depth int) error {
	if depth > maxDepth && c.encErr == nil {
		c.encErr = fmt.Errorf("a value nests deeper than %d levels", maxDepth)
	}
	c.buf = append(c.buf, '{')
	first := true
	comma := func() {
		if !first {
			c.buf = append(c.buf, ',')
		}
		first = false
	}
	writeExtra := func() {
		comma()
		c.buf = appendString(c.buf, extra)
		c.buf = append(c.buf, ':')
		c.buf = append(c.buf, c.integrationJSON...)
		extra = ""
	}
	for _, p := range t.obj {
		if extra != "" && p.key > extra {
			writeExtra()
		}
		if p.t.kind == 'o' || p.t.kind == 'l' {
			comma()
			c.buf = appendString(c.buf, p.key)
			c.buf = append(c.buf, ':')
			if err := c.writeTmpl(p.t, depth); err != nil {
				return err
			}
			if p.key == extra {
				extra = ""
			}
			continue
		}
		v, err := p.t.eval(c)
		if err != nil {
			return err
		}
		if v == nil {
			continue
		}
		if p.key == extra {
			extra = ""
		}
		comma()
		c.buf = appendString(c.buf, p.key)
		c.buf = append(c.buf, ':')
		c.writeValue(v, p.key, depth)
	}
	if extra != "" {
		writeExtra()
	}
	c.buf = append(c.buf, '}')
	return nil
}

// writeTmpl writes any template as a value inside a container at depth.
func (c *conv) writeTmpl(t *tmpl, depth int) error {
	switch t.kind {
	case 'o':
		return c.writeObj(t, "", depth+1)
	case 'l':
		if depth+1 > maxDepth && c.encErr == nil {
			c.encErr = fmt.Errorf("a value nests deeper than %d levels", maxDepth)
		}
		c.buf = append(c.buf, '[')
		for i, x := range t.list {
			if i > 0 {
				c.buf = append(c.buf, ',')
			}
			if err := c.writeTmpl(x, depth+1); err != nil {
				return err
			}
		}
		c.buf = append(c.buf, ']')
		return nil
	}
	v, err := t.eval(c)
	if err != nil {
		return err
	}
	c.writeValue(v, "", depth)
	return nil
}

// writeValue writes an expression's value inside a container at depth (an
// object's when key is not empty); what cannot be written goes to
// c.encErr.
func (c *conv) writeValue(v any, key string, depth int) {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		if c.encErr == nil {
			if key != "" {
				c.encErr = fmt.Errorf("%s: %v is not a JSON number", key, f)
			} else {
				c.encErr = fmt.Errorf("%v is not a JSON number", f)
			}
		}
		c.buf = append(c.buf, "null"...)
		return
	}
	var err error
	if c.buf, err = appendValue(c.buf, v, depth); err != nil && c.encErr == nil {
		c.encErr = err
	}
}

// eval evaluates a template as a value; object keys whose value is null
// are left out.
func (t *tmpl) eval(c *conv) (any, error) {
	switch t.kind {
	case 'c':
		return t.konst, nil
	case 'e':
		v, err := c.run(t.prog)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.path, err)
		}
		return v, nil
	case 'o':
		m := make(map[string]any, len(t.obj))
		for _, p := range t.obj {
			v, err := p.t.eval(c)
			if err != nil {
				return nil, err
			}
			if v != nil {
				m[p.key] = v
			}
		}
		return m, nil
	default:
		l := make([]any, 0, len(t.list))
		for _, x := range t.list {
			v, err := x.eval(c)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return kindOf(v)
}
