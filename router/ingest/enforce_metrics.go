package ingest

import (
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/schemas"
)

// maxLabelValues caps the distinct values of each client-controlled label
// of the violation counter (event and field: anyone with a write key can
// send any event name and any property); past the cap, new values are
// counted under otherLabel. Sources are bounded by the config, violation
// types by the JSON Schema keywords.
const (
	maxLabelValues = 200
	otherLabel     = "_other"
)

// labelCap remembers the first maxLabelValues values of one label.
type labelCap struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (c *labelCap) value(v string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[v] {
		return v
	}
	if len(c.seen) >= maxLabelValues {
		return otherLabel
	}
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	c.seen[v] = true
	return v
}

// planMetrics are the tracking-plan metrics; a nil *planMetrics records
// nothing.
type planMetrics struct {
	violationsC *prometheus.CounterVec
	messages    *prometheus.CounterVec
	omitted     *prometheus.CounterVec
	forwardedC  *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	events      labelCap
	fields      labelCap
	types       labelCap
}

func newPlanMetrics(reg prometheus.Registerer) (*planMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &planMetrics{
		violationsC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_violations_total",
			Help: "Tracking-plan violations found at ingest, by source, event (track event or page/screen name; empty for other types), violation type and field. Event and field keep their first 200 distinct values each; later ones are counted as \"_other\".",
		}, []string{"source", "event", "type", "field"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_messages_total",
			Help: "Messages validated against the tracking plan, by source and outcome: valid, violations (stored with context.protocols) or blocked (quarantined).",
		}, []string{"source", "outcome"}),
		omitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_omitted_total",
			Help: "Properties and traits removed by omit settings (kept in context.protocols.omitted), by source.",
		}, []string{"source"}),
		forwardedC: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_forwarded_total",
			Help: "Messages stored in a forwarding source, by the source they came from and kind: blocked (a copy of a blocked message) or violation (a Violation Generated event).",
		}, []string{"source", "kind"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_forwards_dropped_total",
			Help: "Violation Generated events not forwarded because they did not fit their request's storage budget (the message they derive from was stored with its annotations), by the source they came from.",
		}, []string{"source"}),
	}
	for _, c := range []prometheus.Collector{m.violationsC, m.messages, m.omitted, m.forwardedC, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *planMetrics) violations(source string, vs []schemas.Violation) {
	if m == nil {
		return
	}
	for _, v := range vs {
		m.violationsC.WithLabelValues(source, m.events.value(v.EventName), m.types.value(string(v.Type)), m.fields.value(v.Field)).Inc()
	}
}

func (m *planMetrics) validN(source string, n int) {
	if m != nil && n > 0 {
		m.messages.WithLabelValues(source, "valid").Add(float64(n))
	}
}

func (m *planMetrics) omittedN(source string, n int) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(source, "violations").Inc()
	if n > 0 {
		m.omitted.WithLabelValues(source).Add(float64(n))
	}
}

func (m *planMetrics) blockedN(source string, n int) {
	if m != nil && n > 0 {
		m.messages.WithLabelValues(source, "blocked").Add(float64(n))
	}
}

func (m *planMetrics) forwarded(source string, violation bool) {
	if m == nil {
		return
	}
	kind := "blocked"
	if violation {
		kind = "violation"
	}
	m.forwardedC.WithLabelValues(source, kind).Inc()
}

func (m *planMetrics) forwardsDroppedN(source string, n int) {
	if m != nil && n > 0 {
		m.dropped.WithLabelValues(source).Add(float64(n))
	}
}
