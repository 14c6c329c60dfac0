package webhook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
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
	root, err := decodeBody(body)
	if err != nil {
		return Result{}, err
	}
	e := &env{Body: root, ReceivedAt: receivedAt.UTC()}
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
	c := conv{s: s, e: e, body: body, receivedAt: receivedAt, received: router.FormatTime(receivedAt)}
	return c.convert(), nil
}

// conv holds one Convert call's state.
type conv struct {
	s          *Source
	e          *env
	body       []byte
	receivedAt time.Time
	received   string
	res        Result
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
		x, err := v.prog.run(c.e)
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
	for i := range c.s.rules {
		ok, err := c.cond(c.s.rules[i].when, c.s.rules[i].name+".when")
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
			v, err := r.detail.run(c.e)
			if err != nil {
				return c.fail(ReasonExpressionFailed, r.name+".detail: "+err.Error())
			}
			if t, ok := textOf(v).(string); ok {
				detail = t
			}
		}
		return c.fail(r.reject, detail)
	}
	seen := make(map[string]int, len(r.emits))
	for j := range r.emits {
		em := &r.emits[j]
		ok, err := c.cond(em.when, em.path+".when")
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
		if prev, dup := seen[msg.ID]; dup {
			return c.fail(ReasonInvalidMessage, fmt.Sprintf("%s.messageId: %q is also the messageId of %s.emit[%d]; one would be dropped as a duplicate", em.path, msg.ID, r.name, prev))
		}
		seen[msg.ID] = j
		c.res.Messages = append(c.res.Messages, msg)
	}
	if len(c.res.Messages) == 0 {
		return c.fail(ReasonNoMessages, "rule "+r.name+" emitted no message (every emit's when was false)")
	}
	return c.res
}

// deliveryKey evaluates a delivery_id expression; null or blank means the
// body's hash.
func (c *conv) deliveryKey(p *program, path string) (string, string) {
	if p != nil {
		v, err := p.run(c.e)
		if err != nil {
			return c.bodyKey(), path + ": " + err.Error()
		}
		if t, ok := idOf(v).(string); ok {
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
// boolean an error.
func (c *conv) cond(p *program, path string) (bool, string) {
	if p == nil {
		return true, ""
	}
	v, err := p.run(c.e)
	if err != nil {
		return false, path + ": " + err.Error()
	}
	switch v := v.(type) {
	case bool:
		return v, ""
	case nil:
		return false, ""
	}
	return false, fmt.Sprintf("%s: must be true or false, not %s", path, kindOf(v))
}

// build makes the message of one emit, or says why it cannot.
func (c *conv) build(r *rule, j int, em *emit) (router.Message, string, string) {
	m := make(map[string]any, 12)
	m["type"] = em.typ
	for _, f := range em.fields {
		v, err := f.prog.run(c.e)
		path := em.path + "." + f.key
		if err != nil {
			return router.Message{}, ReasonExpressionFailed, path + ": " + err.Error()
		}
		switch f.key {
		case "event", "name", "category":
			if v == nil {
				continue
			}
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return router.Message{}, ReasonInvalidMessage, fmt.Sprintf("%s: must be a non-empty string, not %s", path, describe(v))
			}
			m[f.key] = s
		default: // ids
			if v == nil {
				continue
			}
			s, ok := idOf(v).(string)
			if !ok {
				if str, isStr := v.(string); isStr && strings.TrimSpace(str) == "" {
					continue
				}
				return router.Message{}, ReasonInvalidMessage, fmt.Sprintf("%s: must be a string or a number, not %s", path, kindOf(v))
			}
			m[f.key] = s
		}
	}
	id, _ := m["messageId"].(string)
	if id == "" {
		id = c.res.DeliveryKey + ":" + r.name + ":" + strconv.Itoa(j)
	}
	if len(id) > maxIDLength {
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:16])
	}
	m["messageId"] = id
	uid, _ := m["userId"].(string)
	aid, _ := m["anonymousId"].(string)
	switch em.typ {
	case router.TypeAlias:
		if uid == "" {
			return router.Message{}, ReasonInvalidMessage, em.path + ".userId: an alias needs a userId (the expression gave none)"
		}
		if m["previousId"] == nil {
			return router.Message{}, ReasonInvalidMessage, em.path + ".previousId: an alias needs a previousId (the expression gave none)"
		}
	default:
		if uid == "" && aid == "" {
			return router.Message{}, ReasonInvalidMessage, em.path + ": the message has neither userId nor anonymousId (the expressions gave none)"
		}
	}
	switch em.typ {
	case router.TypeTrack:
		if m["event"] == nil {
			return router.Message{}, ReasonInvalidMessage, em.path + ".event: a track needs an event (the expression gave none)"
		}
	case router.TypeGroup:
		if m["groupId"] == nil {
			return router.Message{}, ReasonInvalidMessage, em.path + ".groupId: a group needs a groupId (the expression gave none)"
		}
	}
	for _, o := range em.objs {
		v, err := o.t.eval(c.e)
		if err != nil {
			return router.Message{}, ReasonExpressionFailed, err.Error()
		}
		if v == nil {
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return router.Message{}, ReasonInvalidMessage, fmt.Sprintf("%s.%s: must be an object, not %s", em.path, o.key, kindOf(v))
		}
		m[o.key] = obj
	}
	switch em.typ {
	case router.TypeIdentify, router.TypeGroup:
		if m["traits"] == nil {
			m["traits"] = map[string]any{}
		}
	case router.TypeTrack, router.TypePage, router.TypeScreen:
		if m["properties"] == nil {
			m["properties"] = map[string]any{}
		}
	}
	ctx, _ := m["context"].(map[string]any)
	if ctx == nil {
		ctx = make(map[string]any, 1)
	}
	if _, set := ctx["integration"]; !set {
		ctx["integration"] = map[string]any{"name": c.s.integration}
	}
	m["context"] = ctx

	ts := c.receivedAt
	if em.ts != nil {
		v, err := em.ts.run(c.e)
		if err != nil {
			return router.Message{}, ReasonExpressionFailed, em.path + ".timestamp: " + err.Error()
		}
		switch t := v.(type) {
		case nil:
		case time.Time:
			ts = t
		case string:
			p, ok := parseTime(t).(time.Time)
			if !ok {
				return router.Message{}, ReasonInvalidMessage, fmt.Sprintf("%s.timestamp: %q is not an RFC 3339 time between 1970 and 9999", em.path, t)
			}
			ts = p
		default:
			return router.Message{}, ReasonInvalidMessage, fmt.Sprintf("%s.timestamp: must be a time or an RFC 3339 string, not %s (use unix() or unix_ms() for numbers)", em.path, kindOf(v))
		}
	}
	tss := router.FormatTime(ts)
	m["timestamp"] = tss
	m["originalTimestamp"] = tss
	m["receivedAt"] = c.received
	m["channel"] = "server"
	m["version"] = 2

	body, err := encode(m)
	if err != nil {
		return router.Message{}, ReasonInvalidMessage, em.path + ": " + err.Error()
	}
	event, _ := m["event"].(string)
	if em.typ != router.TypeTrack {
		event = ""
	}
	return router.Message{
		ID:          id,
		Source:      c.s.name,
		Type:        em.typ,
		UserID:      uid,
		AnonymousID: aid,
		Event:       event,
		ReceivedAt:  c.receivedAt,
		Body:        body,
	}, "", ""
}

// eval evaluates a template; object keys whose value is null are left out.
func (t *tmpl) eval(e *env) (any, error) {
	switch t.kind {
	case 'c':
		return t.konst, nil
	case 'e':
		v, err := t.prog.run(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.path, err)
		}
		return v, nil
	case 'o':
		m := make(map[string]any, len(t.obj))
		for _, p := range t.obj {
			v, err := p.t.eval(e)
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
			v, err := x.eval(e)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
}

// encode writes a message as JSON with sorted keys and no HTML escaping;
// times become [router.TimeLayout] strings. NaN and infinities are errors.
func encode(m map[string]any) (json.RawMessage, error) {
	if err := prepare(m, 0); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encoding the message: %w", err)
	}
	return json.RawMessage(bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})), nil
}

// maxDepth bounds the nesting of what expressions return (a body nested
// deeper than ingest stores is rejected later anyway).
const maxDepth = 64

// prepare replaces times with strings in place and checks numbers and
// types, so that encoding cannot fail half-way.
func prepare(v any, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("a value nests deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			switch x := x.(type) {
			case time.Time:
				v[k] = router.FormatTime(x)
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return fmt.Errorf("%s: %v is not a JSON number", k, x)
				}
			default:
				if err := prepare(x, depth+1); err != nil {
					return err
				}
			}
		}
	case []any:
		for i, x := range v {
			switch x := x.(type) {
			case time.Time:
				v[i] = router.FormatTime(x)
			case float64:
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return fmt.Errorf("%v is not a JSON number", x)
				}
			default:
				if err := prepare(x, depth+1); err != nil {
					return err
				}
			}
		}
	case nil, string, bool, int, float64, json.Number:
	default:
		return fmt.Errorf("cannot write a value of type %T", v)
	}
	return nil
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return kindOf(v)
}

// decodeBody reads one JSON value: integers that fit become int, other
// numbers float64, so that expressions do arithmetic on them.
func decodeBody(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("decoding webhook body: %w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decoding webhook body: %w: data after the JSON value", ErrMalformed)
	}
	return numbers(root), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil { // out of float64's range
			return string(v)
		}
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = numbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = numbers(x)
		}
	}
	return v
}
