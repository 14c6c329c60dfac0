package ingest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/schemas"
)

// Hosted is one source built by its factory (router.SourceFactory), as
// ingest hosts it: the webhook routes it mounts, and, when it is a
// router.TrackingAPISource, the Tracking API for its write keys. Ingest does
// not know source types: it serves what the source offers.
type Hosted struct {
	// Name is the source's name; it becomes router.Message.Source and
	// must differ from every other source's name.
	Name string
	// Type is the source's type, for metrics: deliveries on its routes are
	// counted in eventrouter_<type>_webhooks_total.
	Type string
	// Disabled answers every request 403 source_disabled, storing nothing
	// (a webhook's sender retries it later); on webhook routes the
	// signature is checked first.
	Disabled bool
	// Enforcement overrides the tracking plan's enforcement settings for
	// this source, like [Source.Enforcement].
	Enforcement schemas.Enforcement
	// Source is the built source.
	Source router.Source
}

// The answers specific to webhooks; %s is the route's signature header.
const (
	msgMissingSignature = "No %s header; this webhook requires signed requests."
	msgInvalidSignature = "The %s header does not match the body and the webhook's secret."
	msgStaleSignature   = "The %s timestamp is outside the accepted tolerance."
)

var errWebhookDisabled = &apiError{http.StatusForbidden, "source_disabled", "This webhook's source is disabled."}

// The outcome label values of eventrouter_<type>_webhooks_total besides
// the error codes of the answers.
const (
	outcomeAccepted  = "accepted"
	outcomeDuplicate = "duplicate"
	outcomeUnmapped  = "unmapped"
)

// webhookRoute is a mounted route of a hosted source as the handler serves
// it.
type webhookRoute struct {
	name     string
	typ      string
	disabled bool
	hook     router.Webhook
	// errMissing, errInvalid and errStale are the 401 answers, naming the
	// route's signature header.
	errMissing, errInvalid, errStale *apiError
	route                            *route // metrics label: the canonical path
	// src is the source as enforcement sees it (name and overrides).
	src *source
}

// newWebhookRoutes checks the routes of the hosted sources and returns
// them by lower-cased path: each path starts with "/", is no route of the
// Segment API and is served once.
func newWebhookRoutes(hosted []Hosted, srcs map[string]*source) (map[string]*webhookRoute, []error) {
	var errs []error
	out := make(map[string]*webhookRoute)
	owner := make(map[string]string) // lower-cased path -> where
	for _, hs := range hosted {
		src := srcs[hs.Name]
		if src == nil || hs.Source == nil {
			continue // reported by New
		}
		for i, sr := range hs.Source.Routes() {
			where := fmt.Sprintf("sources.%s: routes[%d]", hs.Name, i)
			path := sr.Path
			switch {
			case !strings.HasPrefix(path, "/") || len(path) < 2:
				errs = append(errs, fmt.Errorf("%s: %q must be \"/\" followed by a name", where, path))
				continue
			case lookupRoute(path) != nil:
				errs = append(errs, fmt.Errorf("%s: %q is a route of the Segment API", where, path))
				continue
			case sr.Webhook == nil:
				errs = append(errs, fmt.Errorf("%s: %q has no webhook", where, path))
				continue
			}
			key := hookKey(path)
			if prev, dup := owner[key]; dup {
				errs = append(errs, fmt.Errorf("%s: %q is already served by %s", where, path, prev))
				continue
			}
			owner[key] = where
			limit := sr.MaxBody
			if limit <= 0 {
				limit = router.DefaultWebhookMaxBody
			}
			header := sr.SignatureHeader
			if header == "" {
				header = "signature"
			}
			out[key] = &webhookRoute{
				name:       hs.Name,
				typ:        hs.Type,
				disabled:   hs.Disabled,
				hook:       sr.Webhook,
				errMissing: &apiError{http.StatusUnauthorized, "missing_signature", fmt.Sprintf(msgMissingSignature, header)},
				errInvalid: &apiError{http.StatusUnauthorized, "invalid_signature", fmt.Sprintf(msgInvalidSignature, header)},
				errStale:   &apiError{http.StatusUnauthorized, "stale_signature", fmt.Sprintf(msgStaleSignature, header)},
				route:      &route{name: path, post: true, limit: limit, allow: http.MethodPost},
				src:        src,
			}
		}
	}
	return out, errs
}

// hookKey is the lookup key of a webhook path: lower-cased, without one
// trailing slash.
func hookKey(path string) string {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	return strings.ToLower(path)
}

// lookupHook finds the webhook route served on a request path.
func (h *Handler) lookupHook(path string) *webhookRoute {
	if len(h.hooks) == 0 {
		return nil
	}
	return h.hooks[hookKey(path)]
}

// serveWebhook handles one delivery on a source's webhook route: POST
// only, body within the route's limit, signature checked on the raw body
// before anything else, then conversion and storage:
//
//   - a body the source cannot read: 400 invalid_json, nothing stored;
//   - a delivery that maps to no message: 200, the body kept with
//     Log.Reject under the source's reason, so that it can be replayed;
//   - a delivery already stored (Log.Seen): 200, nothing stored;
//   - else Log.Append of the messages, then Log.Remember of the delivery
//     key, then 200 {"success":true}.
//
// Any storage error answers 503, so that the sender retries.
func (h *Handler) serveWebhook(w http.ResponseWriter, r *http.Request, hk *webhookRoute, receivedAt time.Time) {
	rt := hk.route
	event := ""
	fail := func(aerr *apiError) {
		h.m.webhook(hk.typ, hk.name, event, aerr.code)
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
	if err := hk.hook.Verify(r.Header, body, receivedAt); err != nil {
		switch {
		case errors.Is(err, router.ErrMissingSignature):
			fail(hk.errMissing)
		case errors.Is(err, router.ErrStaleSignature):
			fail(hk.errStale)
		default:
			fail(hk.errInvalid)
		}
		return
	}
	if hk.disabled {
		fail(errWebhookDisabled)
		return
	}
	res, err := hk.hook.Convert(r.Header, body, receivedAt)
	if err != nil {
		if errors.Is(err, router.ErrMalformedBody) {
			fail(errInvalidJSON)
			return
		}
		// Not the sender's fault: keep the delivery rather than lose it.
		h.warn("webhook convert failed", "converting webhook delivery failed; kept as rejected", "source", hk.name, "error", err)
		res = router.WebhookResult{Event: "other", Unmapped: "conversion_failed", Detail: "converting the delivery failed"}
	}
	event = res.Event
	if res.Unmapped != "" || len(res.Messages) == 0 {
		h.storeUnmapped(w, r, hk, res, body, receivedAt)
		return
	}
	if res.Key != "" {
		seen, err := h.log.Seen(r.Context(), hk.name, res.Key)
		if err != nil {
			h.warn("store failed", "looking up webhook delivery failed", "source", hk.name, "error", err)
			fail(errUnavailable)
			return
		}
		if seen {
			h.m.webhook(hk.typ, hk.name, event, outcomeDuplicate)
			h.m.addAccepted(hk.name, 0, len(res.Messages))
			h.writeOK(w, rt)
			return
		}
	}
	h.storeDelivery(w, r, hk, res, body, receivedAt)
}

// storeUnmapped keeps a delivery that maps to no message in the rejected
// stream, raw, with the source's reason.
func (h *Handler) storeUnmapped(w http.ResponseWriter, r *http.Request, hk *webhookRoute, res router.WebhookResult, body []byte, receivedAt time.Time) {
	reason := res.Unmapped
	if reason == "" {
		reason = "no_messages"
	}
	detail := res.Detail
	if detail == "" {
		detail = "the delivery produces no messages"
	}
	raw, note := capBody(rawBody(body))
	rej := []router.Rejected{{
		Source:     hk.name,
		Reason:     reason,
		Detail:     detail + note,
		Route:      hk.route.name,
		ReceivedAt: receivedAt,
		Body:       raw,
	}}
	if err := h.log.Reject(r.Context(), rej); err != nil {
		h.warn("store failed", "storing unmapped webhook delivery failed", "source", hk.name, "error", err)
		h.m.webhook(hk.typ, hk.name, res.Event, errUnavailable.code)
		h.writeError(w, hk.route, errUnavailable)
		return
	}
	h.m.rejectedReason(reason)
	h.observeWebhook(body, receivedAt, nil, rej, nil)
	h.m.webhook(hk.typ, hk.name, res.Event, outcomeUnmapped)
	h.writeOK(w, hk.route)
}

// storeDelivery stores the messages of a new delivery: the tracking plan
// first, then Log.Append, the messages the shape check or the plan kept
// back, and last Log.Remember of the delivery key.
func (h *Handler) storeDelivery(w http.ResponseWriter, r *http.Request, hk *webhookRoute, res router.WebhookResult, body []byte, receivedAt time.Time) {
	ctx, rt := r.Context(), hk.route
	fail := func(msg string, err error) {
		h.warn("store failed", msg, "source", hk.name, "error", err)
		h.m.webhook(hk.typ, hk.name, res.Event, errUnavailable.code)
		h.writeError(w, rt, errUnavailable)
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
		fail("storing webhook messages failed", err)
		return
	}
	h.m.addAccepted(hk.name, len(msgs)-dups, dups)
	if len(shapeRejected) > 0 {
		if err := h.log.Reject(ctx, shapeRejected); err != nil {
			fail("storing rejected webhook messages failed", err)
			return
		}
		for i := range shapeRejected {
			h.m.rejectedReason(shapeRejected[i].Reason)
		}
	}
	if err := h.storeChecked(ctx, hk.name, &pc); err != nil {
		fail("storing tracking-plan outcomes of a webhook delivery failed", err)
		return
	}
	if res.Key != "" {
		// After Append: a crash in between only means that a redelivery is
		// stored again, and the events stream drops its messages by
		// messageId within its dedupe window.
		if err := h.log.Remember(ctx, hk.name, res.Key); err != nil {
			fail("remembering webhook delivery failed", err)
			return
		}
	}
	h.observeWebhook(body, receivedAt, msgs, shapeRejected, &pc)
	outcome := outcomeAccepted
	if len(msgs) > 0 && dups == len(msgs) {
		outcome = outcomeDuplicate
	}
	h.m.webhook(hk.typ, hk.name, res.Event, outcome)
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
