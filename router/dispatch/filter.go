package dispatch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path"

	"github.com/eventrouter/eventrouter/router"
)

// The reasons a message is not sent to a destination: the "reason" label of
// eventrouter_dispatch_filtered_total.
const (
	// ReasonType means the message's type is not in Options.Types.
	ReasonType = "type"
	// ReasonEvent means a track message's event matches no pattern of
	// Options.Events.
	ReasonEvent = "event"
	// ReasonExcluded means a track message's event matches a pattern of
	// Options.ExcludeEvents.
	ReasonExcluded = "excluded"
	// ReasonIntegrations means the message's integrations object disables
	// the destination.
	ReasonIntegrations = "integrations"
	// ReasonViolations means the message carries tracking-plan violations
	// and the destination accepts only valid messages (Options.Accept).
	ReasonViolations = "violations"
)

// The values of Options.Accept.
const (
	// AcceptAll delivers messages with tracking-plan violations too (they
	// carry them in context.protocols).
	AcceptAll = "all"
	// AcceptValid skips messages with tracking-plan violations.
	AcceptValid = "valid"
)

// reasons lists every reason, for the metrics.
var reasons = []string{ReasonType, ReasonEvent, ReasonExcluded, ReasonIntegrations, ReasonViolations}

// filter decides which messages a route sends. It reads only the routing
// fields of router.Message; the body is decoded only when it mentions
// integrations.
type filter struct {
	types       map[string]bool // nil: every type
	events      []string        // empty: every event
	exclude     []string
	integration string
	warehouse   string // the warehouse id, when integration is Warehouses
	validOnly   bool   // Accept is AcceptValid
}

// newFilter returns the filter of the route called name with checked
// options o.
func newFilter(name string, o Options) *filter {
	f := &filter{events: o.Events, exclude: o.ExcludeEvents, integration: o.Integration, validOnly: o.Accept == AcceptValid}
	if len(o.Types) > 0 {
		f.types = make(map[string]bool, len(o.Types))
		for _, t := range o.Types {
			f.types[t] = true
		}
	}
	if o.Integration == router.IntegrationWarehouses {
		f.warehouse = name
	}
	return f
}

// reason returns why m is not sent, or "" when it is sent. The checks run in
// the order type, event, excluded, integrations, violations, and the first
// that fails is the reason.
func (f *filter) reason(m *router.Message) string {
	if f.types != nil && !f.types[m.Type] {
		return ReasonType
	}
	if m.Type == router.TypeTrack {
		if len(f.events) > 0 && !matchAny(f.events, m.Event) {
			return ReasonEvent
		}
		if matchAny(f.exclude, m.Event) {
			return ReasonExcluded
		}
	}
	if !f.integrationEnabled(m) {
		return ReasonIntegrations
	}
	if f.validOnly && m.Violations > 0 {
		return ReasonViolations
	}
	return ""
}

// matchAny reports whether name matches one of the checked patterns.
func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// checkGlob checks the syntax of a pattern of Events or ExcludeEvents.
func checkGlob(p string) error {
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("bad glob pattern %q: %w", p, err)
	}
	return nil
}

var (
	integrationsKey   = []byte(`"integrations"`)
	emptyIntegrations = []byte(`"integrations":{}`)
)

// integrationEnabled applies Segment's integrations rule to m. Only
// bodies that mention integrations are decoded; a body that cannot be
// decoded enables (it was valid JSON when ingest stored it).
//
// Libraries such as analytics.js send "integrations":{} with every message,
// and ingest stores compact JSON: when the only mention is that empty
// object, the answer is "enabled" whether or not it is the top-level key,
// so the body is not decoded.
func (f *filter) integrationEnabled(m *router.Message) bool {
	n := bytes.Count(m.Body, integrationsKey)
	if n == 0 || n == 1 && bytes.Contains(m.Body, emptyIntegrations) {
		return true
	}
	var v struct {
		Integrations map[string]any `json:"integrations"`
	}
	if err := json.Unmarshal(m.Body, &v); err != nil {
		return true
	}
	if f.warehouse != "" {
		return router.WarehouseEnabled(v.Integrations, f.warehouse)
	}
	return router.IntegrationEnabled(v.Integrations, f.integration)
}
