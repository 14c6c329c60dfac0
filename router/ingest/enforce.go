package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/schemas"
)

// Quarantine stores the messages that the tracking plan blocks, durably,
// with their violations (a blocked message is answered 200 and never
// dropped). *eventlog.Log implements it. The handler calls it from its
// request goroutines, after Log.Append and before answering; an error
// answers 503.
type Quarantine interface {
	Quarantine(ctx context.Context, qs []router.Quarantined) error
}

// activePlan is the tracking plan in force, swapped whole by SetPlan.
type activePlan struct {
	plan *schemas.Plan
	// connected are the sources plan.yaml lists; nil: every source.
	connected map[string]bool
}

// applies reports whether the plan validates the messages of source.
func (a *activePlan) applies(source string) bool {
	return a != nil && (a.connected == nil || a.connected[source])
}

// SetPlan makes p the tracking plan that ingest enforces from the next
// message on; nil turns validation off. It is safe to call while requests
// are served: a request uses the plan that was in force when it started,
// whole (the plan is swapped with one atomic pointer store, and the hot
// path takes no lock).
func (h *Handler) SetPlan(p *schemas.Plan) {
	if p == nil {
		h.plan.Store(nil)
		return
	}
	a := &activePlan{plan: p}
	if len(p.Sources) > 0 {
		a.connected = make(map[string]bool, len(p.Sources))
		for _, s := range p.Sources {
			a.connected[s] = true
		}
	}
	h.plan.Store(a)
}

// Plan returns the tracking plan in force, nil when there is none.
func (h *Handler) Plan() *schemas.Plan {
	if a := h.plan.Load(); a != nil {
		return a.plan
	}
	return nil
}

// effective merges a source's enforcement overrides with the plan's
// settings: a setting the source leaves empty takes the plan's (which
// schemas.Load defaults to allow).
func effective(src, plan schemas.Enforcement) schemas.Enforcement {
	pick := func(s, p schemas.Mode) schemas.Mode {
		if s != "" {
			return s
		}
		if p != "" {
			return p
		}
		return schemas.Allow
	}
	str := func(s, p string) string {
		if s != "" {
			return s
		}
		return p
	}
	return schemas.Enforcement{
		Track: schemas.TrackEnforcement{
			UnplannedEvents:     pick(src.Track.UnplannedEvents, plan.Track.UnplannedEvents),
			UnplannedProperties: pick(src.Track.UnplannedProperties, plan.Track.UnplannedProperties),
			Violations:          pick(src.Track.Violations, plan.Track.Violations),
		},
		Identify: schemas.TraitEnforcement{
			UnplannedTraits: pick(src.Identify.UnplannedTraits, plan.Identify.UnplannedTraits),
			Violations:      pick(src.Identify.Violations, plan.Identify.Violations),
		},
		Group: schemas.TraitEnforcement{
			UnplannedTraits: pick(src.Group.UnplannedTraits, plan.Group.UnplannedTraits),
			Violations:      pick(src.Group.Violations, plan.Group.Violations),
		},
		CommonViolations:    pick(src.CommonViolations, plan.CommonViolations),
		ForwardBlockedTo:    str(src.ForwardBlockedTo, plan.ForwardBlockedTo),
		ForwardViolationsTo: str(src.ForwardViolationsTo, plan.ForwardViolationsTo),
	}
}

// outcome is what enforcement decided for one message.
type outcome struct {
	violations []schemas.Violation
	// blocked names the setting that blocked the message, "" when it
	// passes.
	blocked string
	// omitted counts the properties and traits removed.
	omitted int
	// settings are the effective settings (zero when the message is clean).
	settings schemas.Enforcement
}

// enforce validates the normalised message m of source src against a and
// applies the effective settings: it returns the outcome,
// and when the message passes with violations it has removed what the
// settings omit and written context.protocols. A blocked message is left as
// it was. A clean message costs one Validate and nothing else.
func enforce(a *activePlan, src string, override *schemas.Enforcement, m map[string]any) outcome {
	vs := a.plan.Validate(m)
	if len(vs) == 0 {
		return outcome{}
	}
	e := effective(*override, a.plan.Enforcement)
	out := outcome{violations: vs, settings: e}
	typ, _ := m["type"].(string)
	unplanned, viol, kind := e.Track.UnplannedProperties, e.Track.Violations, "track"
	switch typ {
	case router.TypeIdentify:
		unplanned, viol, kind = e.Identify.UnplannedTraits, e.Identify.Violations, "identify"
	case router.TypeGroup:
		unplanned, viol, kind = e.Group.UnplannedTraits, e.Group.Violations, "group"
	}
	// Standard controls first, then the common schema.
	var ruleViolation, commonViolation bool
	for i := range vs {
		switch t := vs[i].Type; {
		case t == schemas.Unplanned:
			if e.Track.UnplannedEvents == schemas.Block && out.blocked == "" {
				out.blocked = "track.unplanned_events: block"
			}
		case t.IsCommon():
			commonViolation = true
		case t == schemas.UnplannedProperty || t == schemas.UnplannedTrait:
		default:
			ruleViolation = true
		}
	}
	if out.blocked == "" && ruleViolation && viol == schemas.Block {
		out.blocked = kind + ".violations: block"
	}
	if out.blocked == "" && commonViolation && e.CommonViolations == schemas.Block {
		out.blocked = "common_violations: block"
	}
	if out.blocked != "" {
		return out
	}
	var omitted map[string]any // section -> {name: value}
	for i := range vs {
		var mode schemas.Mode
		switch t := vs[i].Type; {
		case t == schemas.Unplanned:
			continue
		case t.IsCommon():
			mode = e.CommonViolations
		case t == schemas.UnplannedProperty || t == schemas.UnplannedTrait:
			mode = unplanned
		default:
			mode = viol
		}
		if mode != schemas.Omit {
			continue
		}
		sec, name, ok := topLevel(vs[i].Field)
		if !ok {
			continue
		}
		vals, _ := m[sec].(map[string]any)
		v, present := vals[name]
		if !present {
			continue // a missing required property: nothing to omit
		}
		delete(vals, name)
		if omitted == nil {
			omitted = make(map[string]any, 2)
		}
		o, _ := omitted[sec].(map[string]any)
		if o == nil {
			o = make(map[string]any, 2)
			omitted[sec] = o
		}
		o[name] = v
		out.omitted++
	}
	annotate(m, a.plan, vs, omitted)
	return out
}

// topLevel splits a violation field such as properties.products.1.sku into
// its section (properties or traits) and the top-level name (products).
func topLevel(field string) (sec, name string, ok bool) {
	sec, rest, ok := strings.Cut(field, ".")
	if !ok || (sec != "properties" && sec != "traits") || rest == "" {
		return "", "", false
	}
	name, _, _ = strings.Cut(rest, ".")
	return sec, name, true
}

// annotate writes context.protocols, as Segment Protocols does:
// {"tracking_plan_id","tracking_plan_version","violations":[...],
// "omitted":{"properties":{...},"traits":{...}}}.
func annotate(m map[string]any, p *schemas.Plan, vs []schemas.Violation, omitted map[string]any) {
	ctx, _ := m["context"].(map[string]any)
	if ctx == nil {
		ctx = make(map[string]any, 1)
		m["context"] = ctx
	}
	list := make([]any, len(vs))
	for i, v := range vs {
		list[i] = violationMap(v)
	}
	prot := map[string]any{
		"tracking_plan_id":      p.ID,
		"tracking_plan_version": p.Hash,
		"violations":            list,
	}
	if omitted != nil {
		prot["omitted"] = omitted
	}
	ctx["protocols"] = prot
}

func violationMap(v schemas.Violation) map[string]any {
	m := map[string]any{
		"violationType":        string(v.Type),
		"violationField":       v.Field,
		"violationDescription": v.Description,
		"eventType":            v.EventType,
	}
	if v.EventName != "" {
		m["eventName"] = v.EventName
	}
	if v.RuleVersion != 0 {
		m["ruleVersion"] = v.RuleVersion
	}
	return m
}

// routerViolations converts violations to the router's type.
func routerViolations(vs []schemas.Violation) []router.Violation {
	out := make([]router.Violation, len(vs))
	for i, v := range vs {
		out[i] = router.Violation{Type: string(v.Type), Field: v.Field, Description: v.Description,
			EventName: v.EventName, EventType: v.EventType, RuleVersion: v.RuleVersion}
	}
	return out
}

// forwardedBlocked returns the copy of a blocked message for the source
// forward_blocked_to names: the message as normalised, marked
// with context.protocols.forwarded_from. m is modified.
func forwardedBlocked(m map[string]any, msg router.Message, from, to string) router.Message {
	ctx, _ := m["context"].(map[string]any)
	if ctx == nil {
		ctx = make(map[string]any, 1)
		m["context"] = ctx
	}
	ctx["protocols"] = map[string]any{"forwarded_from": from}
	msg.Source = to
	msg.Body = appendJSON(nil, m)
	msg.Violations = 0
	return msg
}

// violationMessages returns one track "Violation Generated" per violation
// for the source forward_violations_to names, each with a
// messageId derived from the original's, the field and the type, so that
// processing the message again does not duplicate it.
func violationMessages(m map[string]any, msg router.Message, p *schemas.Plan, vs []schemas.Violation, to, receivedAt string) []router.Message {
	out := make([]router.Message, 0, len(vs))
	var ctx map[string]any
	if c, ok := m["context"].(map[string]any); ok {
		for _, k := range []string{"library", "app"} {
			if v, ok := c[k]; ok {
				if ctx == nil {
					ctx = make(map[string]any, 2)
				}
				ctx[k] = v
			}
		}
	}
	appVersion := ""
	if app, ok := ctx["app"].(map[string]any); ok {
		appVersion, _ = app["version"].(string)
	}
	for _, v := range vs {
		sum := sha256.Sum256([]byte(msg.ID + v.Field + string(v.Type)))
		id := "viol-" + hex.EncodeToString(sum[:])[:32]
		props := map[string]any{
			"eventMessageID":       msg.ID,
			"eventName":            v.EventName,
			"eventType":            msg.Type,
			"eventSentAt":          m["sentAt"],
			"eventTimestamp":       m["timestamp"],
			"sourceID":             msg.Source,
			"sourceName":           msg.Source,
			"sourceSlug":           msg.Source,
			"trackingPlanID":       p.ID,
			"trackingPlanName":     p.Name,
			"violationType":        string(v.Type),
			"violationField":       v.Field,
			"violationDescription": v.Description,
			"appVersion":           appVersion,
		}
		vm := map[string]any{
			"type": router.TypeTrack, "event": "Violation Generated", "userId": "schema-violations",
			"messageId": id, "properties": props, "channel": channelServer, "version": version2,
			"receivedAt": receivedAt, "timestamp": receivedAt, "originalTimestamp": receivedAt,
		}
		if ctx != nil {
			vm["context"] = ctx
		}
		out = append(out, router.Message{
			ID: id, Source: to, Type: router.TypeTrack, UserID: "schema-violations",
			Event: "Violation Generated", ReceivedAt: msg.ReceivedAt, Body: appendJSON(nil, vm),
		})
	}
	return out
}

// planCheck is what a request accumulates from enforcement.
type planCheck struct {
	quarantined []router.Quarantined
	forwarded   []router.Message
	valid       int // messages validated clean
	// violationsFrom is where in forwarded the last check's Violation
	// Generated events start; forwardsDropped counts those that did not
	// fit the request's forward pool (see request.chargeForwards).
	violationsFrom  int
	forwardsDropped int
}

// planMark is how far a request's plan outcomes reached before one
// message's check, so that a message rejected after its check can take
// its outcomes back.
type planMark struct{ quarantined, forwarded, valid int }

// mark returns where pc's outcomes stand now, and starts the next
// check's Violation Generated events there (violationsFrom).
func (pc *planCheck) mark() planMark {
	pc.violationsFrom = len(pc.forwarded)
	return planMark{len(pc.quarantined), len(pc.forwarded), pc.valid}
}

// undo takes back every outcome recorded since k.
func (pc *planCheck) undo(k planMark) {
	pc.quarantined, pc.forwarded, pc.valid = pc.quarantined[:k.quarantined], pc.forwarded[:k.forwarded], k.valid
}

// check validates the normalised message m of source src (msg holds its
// routing fields, Body not yet set) and returns whether it is to be stored
// (false: blocked, quarantined in pc) and its violation count. receivedAt is
// the request's receivedAt formatted.
func (h *Handler) check(a *activePlan, src *source, m map[string]any, msg *router.Message, pc *planCheck, receivedAt string) (store bool) {
	out := enforce(a, src.name, &src.enforce, m)
	if len(out.violations) == 0 {
		pc.valid++
		return true
	}
	h.pm.violations(src.name, out.violations)
	e := out.settings
	if out.blocked != "" {
		body := appendJSON(nil, m)
		qm := *msg
		qm.Body = body
		pc.quarantined = append(pc.quarantined, router.Quarantined{
			Message: qm, Reason: router.ReasonBlocked, Detail: out.blocked,
			Violations: routerViolations(out.violations), PlanID: a.plan.ID, PlanVersion: a.plan.Hash,
		})
		if e.ForwardBlockedTo != "" {
			pc.forwarded = append(pc.forwarded, forwardedBlocked(m, qm, src.name, e.ForwardBlockedTo))
		}
	} else {
		msg.Violations = len(out.violations)
		h.pm.omittedN(src.name, out.omitted)
	}
	pc.violationsFrom = len(pc.forwarded)
	if e.ForwardViolationsTo != "" {
		pc.forwarded = append(pc.forwarded, violationMessages(m, *msg, a.plan, out.violations, e.ForwardViolationsTo, receivedAt)...)
	}
	return out.blocked == ""
}

// store hands what enforcement produced to the log: forwarded messages to
// Append, blocked ones to the quarantine (or, without one, to Reject with
// reason blocked_by_tracking_plan, so that nothing is dropped).
func (h *Handler) storeChecked(ctx context.Context, source string, pc *planCheck) error {
	h.pm.validN(source, pc.valid)
	h.pm.forwardsDroppedN(source, pc.forwardsDropped)
	if len(pc.forwarded) > 0 {
		if _, err := h.log.Append(ctx, pc.forwarded); err != nil {
			return fmt.Errorf("storing forwarded messages: %w", err)
		}
		for _, f := range pc.forwarded {
			h.pm.forwarded(source, f.Event == "Violation Generated")
		}
	}
	if len(pc.quarantined) == 0 {
		return nil
	}
	if h.quarantine != nil {
		if err := h.quarantine.Quarantine(ctx, pc.quarantined); err != nil {
			return fmt.Errorf("quarantining blocked messages: %w", err)
		}
	} else {
		rej := make([]router.Rejected, len(pc.quarantined))
		for i, q := range pc.quarantined {
			detail, _ := json.Marshal(q.Violations)
			rej[i] = router.Rejected{Source: q.Message.Source, Reason: q.Reason, Detail: q.Detail + " " + string(detail),
				MessageID: q.Message.ID, ReceivedAt: q.Message.ReceivedAt, Body: q.Message.Body}
		}
		if err := h.log.Reject(ctx, rej); err != nil {
			return fmt.Errorf("storing blocked messages: %w", err)
		}
	}
	h.pm.blockedN(source, len(pc.quarantined))
	return nil
}

// ErrUnknownSource is matched by errors.Is when [Handler.Reingest] is given
// a message of a source that is not configured (any more); it is
// [router.ErrUnknownSource], which the admin API's replay knows.
var ErrUnknownSource = router.ErrUnknownSource

// Reingest validates a quarantined message again against the plan now in
// force, with its source's settings, and when it passes stores it in the
// log (Log.Append) with its messageId, annotated and with what the settings
// omit removed, as if it had just arrived; violations are forwarded as
// configured. It returns whether the message passed (stored, unless
// dryRun) and the violations found. A message whose messageId the log
// already holds counts as stored: the log's dedupe keeps it once. A message
// of a source that is no longer configured yields an error matching
// ErrUnknownSource; one that the plan no longer applies to passes
// unchecked.
func (h *Handler) Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (passed bool, violations []router.Violation, err error) {
	src := h.byName[q.Message.Source]
	if src == nil {
		return false, nil, fmt.Errorf("reingesting message %s: %w %q", q.Message.ID, ErrUnknownSource, q.Message.Source)
	}
	msg := q.Message
	msg.Violations = 0
	a := h.plan.Load()
	var pc planCheck
	if a.applies(src.name) {
		v, _, err := parseTop(msg.Body, false)
		if err != nil {
			return false, nil, fmt.Errorf("reingesting message %s: decoding: %w", msg.ID, err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return false, nil, fmt.Errorf("reingesting message %s: the body is not an object", msg.ID)
		}
		out := enforce(a, src.name, &src.enforce, m)
		violations = routerViolations(out.violations)
		if out.blocked != "" {
			return false, violations, nil
		}
		if len(out.violations) > 0 {
			msg.Violations = len(out.violations)
			msg.Body = appendJSON(nil, m)
			if to := out.settings.ForwardViolationsTo; to != "" {
				pc.forwarded = violationMessages(m, msg, a.plan, out.violations, to, formatTime(time.Now()))
			}
		}
	}
	if dryRun {
		return true, violations, nil
	}
	if _, err := h.log.Append(ctx, append([]router.Message{msg}, pc.forwarded...)); err != nil {
		return false, violations, fmt.Errorf("reingesting message %s: %w", msg.ID, err)
	}
	h.m.addAccepted(src.name, 1, 0)
	return true, violations, nil
}

// checkMessages applies the plan to messages built by a webhook source
// (their bodies are decoded for it) and returns the ones to store;
// receivedAt is when the delivery arrived.
func (h *Handler) checkMessages(a *activePlan, src *source, msgs []router.Message, pc *planCheck, receivedAt time.Time) []router.Message {
	out := make([]router.Message, 0, len(msgs))
	at := formatTime(receivedAt)
	for _, msg := range msgs {
		v, _, err := parseTop(msg.Body, false)
		m, ok := v.(map[string]any)
		if err != nil || !ok {
			out = append(out, msg) // not ours to judge: the converter built it
			continue
		}
		if !h.check(a, src, m, &msg, pc, at) {
			continue
		}
		if msg.Violations > 0 {
			msg.Body = appendJSON(nil, m)
		}
		out = append(out, msg)
	}
	return out
}
