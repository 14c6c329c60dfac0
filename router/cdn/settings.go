package cdn

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/eventrouter/eventrouter/schemas"
)

// planEvent is one entry of the settings' plan (analytics.js's PlanEvent):
// whether the event may be sent, and per-destination switches, which
// eventrouter's tracking plan does not have (always empty).
type planEvent struct {
	Enabled      bool            `json:"enabled"`
	Integrations map[string]bool `json:"integrations"`
}

// defaultOnly is the plan of identify and group calls: analytics.js has
// no way to check traits against a schema, so they are always enabled and
// the server enforces the rules.
type defaultOnly struct {
	Default struct {
		Enabled bool `json:"enabled"`
	} `json:"__default"`
}

// settingsPlan is the settings' plan block (analytics.js's Plan).
type settingsPlan struct {
	Track    map[string]planEvent `json:"track"`
	Identify defaultOnly          `json:"identify"`
	Group    defaultOnly          `json:"group"`
}

// middlewarePrefix starts the name of every plan middleware.
const middlewarePrefix = "eventrouter-tracking-plan-"

// sourceView is what the settings of one source say that does not depend
// on the request: the plan block and the middleware, if any.
type sourceView struct {
	plan json.RawMessage
	// middleware is the name of the source middleware that drops the
	// blocked events in the browser; empty when there is none.
	middleware string
}

// snapshot is everything derived from one tracking plan: each source's
// view and the middleware scripts by name. It is immutable.
type snapshot struct {
	plan       *schemas.Plan
	bySource   map[string]*sourceView
	middleware map[string]*asset
}

// view returns the snapshot of the plan in force, deriving it when the
// plan changed since the last request.
func (h *Handler) view() *snapshot {
	var p *schemas.Plan
	if h.plan != nil {
		p = h.plan()
	}
	if s := h.snap.Load(); s != nil && s.plan == p {
		return s
	}
	s := h.derive(p)
	h.snap.Store(s)
	return s
}

// derive computes the snapshot of plan p (nil: no plan).
func (h *Handler) derive(p *schemas.Plan) *snapshot {
	s := &snapshot{plan: p, bySource: map[string]*sourceView{}, middleware: map[string]*asset{}}
	for _, src := range h.sources {
		track, drop := trackPlan(p, src, h.dropBlocked)
		sp := settingsPlan{Track: track}
		sp.Identify.Default.Enabled = true
		sp.Group.Default.Enabled = true
		v := &sourceView{}
		v.plan, _ = json.Marshal(sp)
		if drop {
			body, _ := json.Marshal(track)
			sum := sha256.Sum256(body)
			v.middleware = middlewarePrefix + hex.EncodeToString(sum[:8])
			if _, ok := s.middleware[v.middleware]; !ok {
				s.middleware[v.middleware] = newAsset(planMiddleware(v.middleware, p.ID, body), jsType, cacheImmutable)
			}
		}
		s.bySource[src.name] = v
	}
	return s
}

// trackPlan derives the track part of a source's settings plan from the
// tracking plan p: every event the plan defines is enabled, and __default
// (every other event) is disabled when the source's effective
// track.unplanned_events is block, since ingest blocks those events
// whatever they carry. Violations depend on a message's content, which
// only the server checks, so no planned event is disabled. drop reports
// whether the browser should drop the disabled events itself: it is false
// when dropBlocked is off or when blocked messages are forwarded to
// another source (forward_blocked_to), which must receive them.
func trackPlan(p *schemas.Plan, src *source, dropBlocked bool) (track map[string]planEvent, drop bool) {
	track = map[string]planEvent{"__default": {Enabled: true, Integrations: map[string]bool{}}}
	if p == nil || (len(p.Sources) > 0 && !slices.Contains(p.Sources, src.name)) {
		return track, false
	}
	for name := range p.Tracks {
		track[name] = planEvent{Enabled: true, Integrations: map[string]bool{}}
	}
	mode := src.enforce.Track.UnplannedEvents
	if mode == "" {
		mode = p.Enforcement.Track.UnplannedEvents
	}
	if mode != schemas.Block {
		return track, false
	}
	track["__default"] = planEvent{Enabled: false, Integrations: map[string]bool{}}
	forward := src.enforce.ForwardBlockedTo
	if forward == "" {
		forward = p.Enforcement.ForwardBlockedTo
	}
	return track, dropBlocked && forward == ""
}

// planMiddleware is the source middleware that analytics.js loads when
// the settings' enabledMiddleware names it: it drops every track call
// that plan (the settings' plan.track) disables, exactly as analytics.js
// decides it (the event's own enabled, else __default's), before any
// destination, Segment.io included, sees the event. analytics.js then
// resolves the call with the event marked as not delivered.
func planMiddleware(name, planID string, plan []byte) []byte {
	global, _ := json.Marshal(name + "Middleware")
	id, _ := json.Marshal(planID)
	// JSON.parse, unlike an object literal, makes "__proto__" an event
	// like any other, as analytics.js's own parse of the settings does.
	planJSON, _ := json.Marshal(string(plan))
	return []byte(fmt.Sprintf(`/* eventrouter: the tracking plan %s drops, in the browser, the track calls
   that it blocks (the settings' plan.track; enabled false) before analytics.js
   sends them. eventrouter quarantines any that still arrive. */
(function () {
  var plan = JSON.parse(%s);
  var has = Object.prototype.hasOwnProperty;
  window[%s] = function (m) {
    var e = m.payload && m.payload.obj;
    if (e && e.type === "track") {
      var p = has.call(plan, e.event) ? plan[e.event] : undefined;
      var enabled = p && typeof p.enabled === "boolean" ? p.enabled : !(plan.__default && plan.__default.enabled === false);
      if (!enabled) {
        if (window.console && console.warn) {
          console.warn("[eventrouter] not sent: track " + JSON.stringify(e.event) + " is blocked by the tracking plan " + %s);
        }
        return;
      }
    }
    m.next(m.payload);
  };
})();
`, id, planJSON, global, id))
}
