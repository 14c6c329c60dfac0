package ingest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the handler's Prometheus metrics; a nil *metrics records
// nothing.
type metrics struct {
	requests   *prometheus.CounterVec
	accepted   *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	empty      prometheus.Counter
	future     prometheus.Counter
	store      prometheus.Histogram
	limited    *prometheus.CounterVec
	// webhooks are the delivery counters of the hosted sources' webhook
	// routes, one per source type.
	webhooks  map[string]*prometheus.CounterVec
	unauth    *prometheus.CounterVec
	sample    *prometheus.CounterVec
	okByRoute map[*route]prometheus.Counter
}

// newMetrics registers the handler's metrics, with a delivery counter for
// each of webhookTypes (the types of the sources that mount webhook routes).
func newMetrics(reg prometheus.Registerer, webhookTypes []string) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_http_requests_total",
			Help: "HTTP requests to the Segment API by route and status code.",
		}, []string{"route", "code"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_events_accepted_total",
			Help: "Messages stored in the log, by source (duplicates not included).",
		}, []string{"source"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_events_duplicate_total",
			Help: "Messages answered 200 but dropped because the log already had their messageId, by source.",
		}, []string{"source"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_events_rejected_total",
			Help: "Messages answered 200 but stored as rejected, by reason code.",
		}, []string{"reason"}),
		empty: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_empty_batches_total",
			Help: "Batch requests with an empty batch array.",
		}),
		future: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_events_timestamp_in_future_total",
			Help: "Accepted messages whose corrected timestamp is more than a minute after receivedAt.",
		}),
		store: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "eventrouter_ingest_store_duration_seconds",
			Help:    "Time the log took to store the messages of one request.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_ingest_rate_limited_total",
			Help: "Requests answered 429 rate_limited because their source's rate limit was reached, by source.",
		}, []string{"source"}),
		unauth: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_ingest_unauthenticated_total",
			Help: "Items of requests without a valid write key (pixels, unknown keys under unknown_key: accept) that were answered but not stored, by route and reason; a sample of them is kept (eventrouter_ingest_sample_total).",
		}, []string{"route", "reason"}),
		sample: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_ingest_sample_total",
			Help: "Unauthenticated items by what happened to them in the sample: stored, dropped (over the sample's rate), failed (the store failed) or off (no sample).",
		}, []string{"outcome"}),
		okByRoute: make(map[*route]prometheus.Counter, len(routes)),
		webhooks:  make(map[string]*prometheus.CounterVec, len(webhookTypes)),
	}
	cs := []prometheus.Collector{m.requests, m.accepted, m.duplicates, m.rejected, m.empty, m.future, m.store, m.limited, m.unauth, m.sample}
	for _, typ := range webhookTypes {
		if _, dup := m.webhooks[typ]; dup {
			continue
		}
		m.webhooks[typ] = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_" + typ + "_webhooks_total",
			Help: "Webhook deliveries to the sources of type " + typ + ", by source, event (the kind of delivery, \"other\" for unknown ones, empty when not read) and outcome (accepted, duplicate, unmapped, or the error code of the answer).",
		}, []string{"source", "event", "outcome"})
		cs = append(cs, m.webhooks[typ])
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	for _, rt := range routes {
		m.okByRoute[rt] = m.requests.WithLabelValues(rt.name, "200")
	}
	return m, nil
}

func (m *metrics) request(rt *route, code int) {
	if m == nil {
		return
	}
	if code == 200 && rt != nil {
		if c, ok := m.okByRoute[rt]; ok {
			c.Inc()
			return
		}
	}
	name := "unknown"
	if rt != nil {
		name = rt.name
	}
	m.requests.WithLabelValues(name, strconv.Itoa(code)).Inc()
}

func (m *metrics) addAccepted(source string, n, dups int) {
	if m == nil {
		return
	}
	m.accepted.WithLabelValues(source).Add(float64(n))
	if dups > 0 {
		m.duplicates.WithLabelValues(source).Add(float64(dups))
	}
}

func (m *metrics) rejectedReason(reason string) {
	if m != nil {
		m.rejected.WithLabelValues(reason).Inc()
	}
}

// rejectedN counts n rejected items of reason.
func (m *metrics) rejectedN(reason string, n int) {
	if m != nil && n > 0 {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
}

func (m *metrics) emptyBatch() {
	if m != nil {
		m.empty.Inc()
	}
}

func (m *metrics) timestampInFuture(n int) {
	if m != nil {
		m.future.Add(float64(n))
	}
}

func (m *metrics) storeDuration(d time.Duration) {
	if m != nil {
		m.store.Observe(d.Seconds())
	}
}

func (m *metrics) rateLimitedRequest(source string) {
	if m != nil {
		m.limited.WithLabelValues(source).Inc()
	}
}

// webhook counts one delivery to a source of type typ.
func (m *metrics) webhook(typ, source, event, outcome string) {
	if m != nil {
		if c := m.webhooks[typ]; c != nil {
			c.WithLabelValues(source, event, outcome).Inc()
		}
	}
}

// unauthenticated counts one unauthenticated item of a request on rt.
func (m *metrics) unauthenticated(rt *route, reason string) {
	if m != nil {
		m.unauth.WithLabelValues(rt.name, reason).Inc()
	}
}

// sampled counts n unauthenticated items with a sample outcome.
func (m *metrics) sampled(outcome string, n int) {
	if m != nil && n > 0 {
		m.sample.WithLabelValues(outcome).Add(float64(n))
	}
}
