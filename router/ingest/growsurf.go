package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
	"github.com/eventrouter/eventrouter/schemas"
)

// GrowSurfSource is one source of GrowSurf referral-program webhooks
// served on its own path and turned
// into Segment messages by package growsurf.
type GrowSurfSource struct {
	// Name is the source's name; it becomes router.Message.Source and
	// must differ from every other source's name.
	Name string
	// Path is the URL path the webhook is served on, such as
	// "/webhooks/growsurf": it starts with "/", matches case-insensitively
	// and ignoring one trailing slash, and must be no other route's.
	Path string
	// Secret is the webhook's signing secret: a request whose
	// GrowSurf-Signature header is missing, malformed, wrong or outside
	// Tolerance is answered 401 and nothing of it is stored. It is
	// required unless AllowUnsigned is set.
	Secret []byte
	// AllowUnsigned accepts unsigned requests when Secret is empty: anyone
	// who knows the path can then store messages through it. Without it,
	// an empty Secret is a configuration error (fail closed).
	AllowUnsigned bool
	// Tolerance is how old a signature's timestamp may be; 0 means
	// growsurf.DefaultTolerance.
	Tolerance time.Duration
	// LegacyPath also serves the webhook on [GrowSurfLegacyPath]; at most
	// one source may set it.
	LegacyPath bool
	// Disabled answers every request 403 source_disabled, storing nothing
	// (GrowSurf retries it later).
	Disabled bool
	// Settings configure the conversion (identifier, event and trait
	// names); they must be valid (growsurf.Settings.Validate).
	Settings growsurf.Settings
	// Enforcement overrides the tracking plan's enforcement settings for
	// this source, like [Source.Enforcement].
	Enforcement schemas.Enforcement
}

// GrowSurfLegacyPath is the path of the widely copied integration guide's
// handler, served by a [GrowSurfSource] with LegacyPath set.
const GrowSurfLegacyPath = "/api/growsurf-to-customerio"

// growSurfLimit is the largest GrowSurf webhook body, decoded: a
// CAMPAIGN_ENDED delivery carries up to 1,000 winners.
const growSurfLimit = 1 << 20

// The answers specific to webhooks.
var (
	errMissingSignature = &apiError{http.StatusUnauthorized, "missing_signature", "No GrowSurf-Signature header; this webhook requires signed requests."}
	errInvalidSignature = &apiError{http.StatusUnauthorized, "invalid_signature", "The GrowSurf-Signature header does not match the body and the webhook's secret."}
	errStaleSignature   = &apiError{http.StatusUnauthorized, "stale_signature", "The GrowSurf-Signature timestamp is outside the accepted tolerance."}
	errWebhookDisabled  = &apiError{http.StatusForbidden, "source_disabled", "This webhook's source is disabled."}
)

// The outcome label values of eventrouter_growsurf_webhooks_total besides
// the error codes of the answers.
const (
	outcomeAccepted  = "accepted"
	outcomeDuplicate = "duplicate"
	outcomeUnmapped  = "unmapped"
)

// growSurfEvents are the event names used as metric labels; any other
// value (GrowSurf adds events over time, and an unsigned webhook takes
// anything) is counted as "other", so that the label stays bounded.
var growSurfEvents = map[string]bool{
	"NEW_PARTICIPANT_ADDED":            true,
	"PARTICIPANT_REACHED_A_GOAL":       true,
	"PARTICIPANT_FRAUD_STATUS_UPDATED": true,
	"CAMPAIGN_ENDED":                   true,
	"NEW_COMMISSION_ADDED":             true,
	"COMMISSION_ADJUSTED":              true,
	"NEW_PAYOUT_ISSUED":                true,
	// The legacy names of GrowSurf's integration guide.
	"PARTICIPANT_CREATED":         true,
	"PARTICIPANT_REFERRED":        true,
	"CAMPAIGN_REFERRAL_CONVERTED": true,
	"PARTICIPANT_REACHED_REWARD":  true,
}

func eventLabel(e string) string {
	if growSurfEvents[e] {
		return e
	}
	return "other"
}

// growSurfHook is a configured GrowSurf source as the handler serves it.
type growSurfHook struct {
	name      string
	secret    []byte
	tolerance time.Duration
	disabled  bool
	settings  growsurf.Settings
	route     *route // metrics label: the canonical path
	// src is the source as enforcement sees it (name and overrides).
	src *source
}

// newGrowSurfHooks validates the GrowSurf sources and returns them by
// lower-cased path. names holds the names of the Segment sources.
func newGrowSurfHooks(srcs []GrowSurfSource, names map[string]bool) (map[string]*growSurfHook, []error) {
	var errs []error
	hooks := make(map[string]*growSurfHook)
	owner := make(map[string]string) // lower-cased path -> where
	claim := func(path, where string, hk *growSurfHook) {
		if !strings.HasPrefix(path, "/") || len(path) < 2 {
			errs = append(errs, fmt.Errorf("%s: %q must be \"/\" followed by a name", where, path))
			return
		}
		if lookupRoute(path) != nil {
			errs = append(errs, fmt.Errorf("%s: %q is a route of the Segment API", where, path))
			return
		}
		key := hookKey(path)
		if prev, dup := owner[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %q is already served by %s", where, path, prev))
			return
		}
		owner[key] = where
		rt := &route{name: path, post: true, limit: growSurfLimit, allow: http.MethodPost}
		cp := *hk
		cp.route = rt
		hooks[key] = &cp
	}
	for i, s := range srcs {
		where := fmt.Sprintf("growsurf[%d]", i)
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name: required", where))
		} else {
			where = "sources." + s.Name
			if names[s.Name] {
				errs = append(errs, fmt.Errorf("%s: defined twice", where))
			}
			names[s.Name] = true
		}
		if s.Tolerance < 0 {
			errs = append(errs, fmt.Errorf("%s: tolerance: %s is negative", where, s.Tolerance))
		}
		if err := s.Settings.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
		}
		if len(s.Secret) == 0 && !s.AllowUnsigned {
			errs = append(errs, fmt.Errorf("%s: secret: required (set AllowUnsigned to accept unsigned requests)", where))
		}
		hk := &growSurfHook{
			name:      s.Name,
			secret:    append([]byte(nil), s.Secret...),
			tolerance: s.Tolerance,
			disabled:  s.Disabled,
			settings:  s.Settings,
			src:       &source{name: s.Name, enforce: s.Enforcement},
		}
		if hk.tolerance == 0 {
			hk.tolerance = growsurf.DefaultTolerance
		}
		claim(s.Path, where+": path", hk)
		if s.LegacyPath {
			claim(GrowSurfLegacyPath, where+": legacy_path", hk)
		}
	}
	return hooks, errs
}

// hookKey is the lookup key of a webhook path: lower-cased, without one
// trailing slash.
func hookKey(path string) string {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return strings.ToLower(path)
}

// lookupHook finds the GrowSurf source served on a request path.
func (h *Handler) lookupHook(path string) *growSurfHook {
	if len(h.hooks) == 0 {
		return nil
	}
	return h.hooks[hookKey(path)]
}

// serveGrowSurf handles one GrowSurf delivery: POST only, body at most
// 1 MiB decoded, signature (when the source has a secret) checked on the
// raw body before anything else, then conversion and storage:
//
//   - malformed JSON: 400 invalid_json, nothing stored;
//   - an event with no mapping: 200, the body kept with Log.Reject under
//     the reason growsurf.Convert gives, so that it can be replayed;
//   - a delivery already stored (Log.Seen): 200, nothing stored;
//   - else Log.Append of the messages, then Log.Remember of the delivery
//     key, then 200 {"success":true}.
//
// Any storage error answers 503, so that GrowSurf retries.
func (h *Handler) serveGrowSurf(w http.ResponseWriter, r *http.Request, hk *growSurfHook, receivedAt time.Time) {
	rt := hk.route
	event := ""
	fail := func(aerr *apiError) {
		h.m.growSurf(hk.name, event, aerr.code)
		h.writeError(w, rt, aerr)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", rt.allow)
		fail(errMethodNotAllowed)
		return
	}
	req := h.newRequest(r, rt, receivedAt)
	defer req.release()
	body, aerr := req.readBody()
	if aerr != nil {
		fail(aerr)
		return
	}
	if len(hk.secret) > 0 {
		err := growsurf.VerifySignature(r.Header.Get(growsurf.SignatureHeader), body, hk.secret, receivedAt, hk.tolerance)
		switch {
		case err == nil:
		case errors.Is(err, growsurf.ErrMissingSignature):
			fail(errMissingSignature)
			return
		case errors.Is(err, growsurf.ErrStaleSignature):
			fail(errStaleSignature)
			return
		default:
			fail(errInvalidSignature)
			return
		}
	}
	if hk.disabled {
		fail(errWebhookDisabled)
		return
	}
	res, err := growsurf.Convert(body, hk.name, hk.settings, receivedAt)
	if err != nil {
		if errors.Is(err, growsurf.ErrMalformed) {
			fail(errInvalidJSON)
			return
		}
		// Not the sender's fault: keep the delivery rather than lose it.
		h.warn("growsurf convert failed", "converting growsurf delivery failed; kept as rejected", "source", hk.name, "error", err)
		res = growsurf.Result{Unmapped: "conversion_failed"}
	}
	event = eventLabel(res.Event)
	ctx := r.Context()
	if res.Unmapped != "" || len(res.Messages) == 0 {
		reason := res.Unmapped
		if reason == "" {
			reason = "no_messages"
		}
		detail := res.Detail
		if detail == "" {
			detail = "growsurf event " + res.Event + " produces no messages"
		}
		raw, note := capBody(rawBody(body))
		detail += note
		rej := []router.Rejected{{
			Source:     hk.name,
			Reason:     reason,
			Detail:     detail,
			Route:      rt.name,
			ReceivedAt: receivedAt,
			Body:       raw,
		}}
		if err := h.log.Reject(ctx, rej); err != nil {
			h.warn("store failed", "storing unmapped growsurf delivery failed", "source", hk.name, "error", err)
			fail(errUnavailable)
			return
		}
		h.m.rejectedReason(reason)
		h.observeWebhook(body, receivedAt, nil, rej, nil)
		h.m.growSurf(hk.name, event, outcomeUnmapped)
		h.writeOK(w, rt)
		return
	}
	if res.DeliveryKey != "" {
		seen, err := h.log.Seen(ctx, hk.name, res.DeliveryKey)
		if err != nil {
			h.warn("store failed", "looking up growsurf delivery failed", "source", hk.name, "error", err)
			fail(errUnavailable)
			return
		}
		if seen {
			h.m.growSurf(hk.name, event, outcomeDuplicate)
			h.m.addAccepted(hk.name, 0, len(res.Messages))
			h.writeOK(w, rt)
			return
		}
	}
	msgs, shapeRejected := shapeCheck(res.Messages, hk.name, rt.name, receivedAt)
	var pc planCheck
	if a := h.plan.Load(); a.applies(hk.name) {
		msgs = h.checkMessages(a, hk.src, msgs, &pc, receivedAt)
	}
	start := time.Now()
	dups, err := h.log.Append(ctx, msgs)
	h.m.storeDuration(time.Since(start))
	if err != nil {
		h.warn("store failed", "storing growsurf messages failed", "source", hk.name, "messages", len(msgs), "error", err)
		fail(errUnavailable)
		return
	}
	h.m.addAccepted(hk.name, len(msgs)-dups, dups)
	if len(shapeRejected) > 0 {
		if err := h.log.Reject(ctx, shapeRejected); err != nil {
			h.warn("store failed", "storing rejected growsurf messages failed", "source", hk.name, "error", err)
			fail(errUnavailable)
			return
		}
		for i := range shapeRejected {
			h.m.rejectedReason(shapeRejected[i].Reason)
		}
	}
	if err := h.storeChecked(ctx, hk.name, &pc); err != nil {
		h.warn("store failed", "storing tracking-plan outcomes of a growsurf delivery failed", "source", hk.name, "error", err)
		fail(errUnavailable)
		return
	}
	if res.DeliveryKey != "" {
		// After Append: a crash in between only means that a redelivery is
		// stored again, and the events stream drops its messages by
		// messageId within its dedupe window.
		if err := h.log.Remember(ctx, hk.name, res.DeliveryKey); err != nil {
			h.warn("store failed", "remembering growsurf delivery failed", "source", hk.name, "error", err)
			fail(errUnavailable)
			return
		}
	}
	h.observeWebhook(body, receivedAt, msgs, shapeRejected, &pc)
	outcome := outcomeAccepted
	if len(msgs) > 0 && dups == len(msgs) {
		outcome = outcomeDuplicate
	}
	h.m.growSurf(hk.name, event, outcome)
	h.writeOK(w, rt)
}

// shapeCheck splits the messages a webhook produced into those within the
// nesting and number limits (see limits.go) and the others, rejected with
// their reason and kept as a JSON string of their body.
func shapeCheck(msgs []router.Message, source, route string, receivedAt time.Time) (ok []router.Message, rejected []router.Rejected) {
	ok = msgs[:0:0]
	for _, m := range msgs {
		_, _, sh, err := parseShape(m.Body, false)
		reason, detail := shapeReason(sh)
		if err != nil {
			reason, detail = "invalid_json", "the converted message is not valid JSON"
		}
		if reason == "" && len(m.Body) > storedLimit {
			reason, detail = reasonTooLarge, fmt.Sprintf("the converted message (%d bytes) exceeds %d KiB", len(m.Body), storedLimit>>10)
		}
		if reason == "" {
			ok = append(ok, m)
			continue
		}
		body, note := capBody(appendString(nil, string(m.Body)))
		rejected = append(rejected, router.Rejected{Source: source, Reason: reason, Detail: detail + note, MessageID: m.ID,
			Route: route, ReceivedAt: receivedAt, Body: body})
	}
	return ok, rejected
}
