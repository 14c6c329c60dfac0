package dispatch

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the dispatcher's Prometheus metrics, labelled by destination.
type metrics struct {
	delivered    *prometheus.CounterVec
	retried      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	filtered     *prometheus.CounterVec
	pending      *prometheus.GaugeVec
	owned        *prometheus.GaugeVec
	sendSeconds  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_dispatch_delivered_total",
			Help: "Messages a destination accepted.",
		}, []string{"destination"}),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_dispatch_retried_total",
			Help: "Messages scheduled for another attempt after a retryable failure.",
		}, []string{"destination"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_dispatch_dead_lettered_total",
			Help: "Messages moved to the destination's dead-letter stream.",
		}, []string{"destination"}),
		filtered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_dispatch_filtered_total",
			Help: "Messages acknowledged without being sent because the destination's filters exclude them, by reason: type, event, excluded (exclude_events), integrations, violations (accept: valid), suppressed (suppress) or a transform drop rule's reason.",
		}, []string{"destination", "reason"}),
		pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventrouter_dispatch_pending",
			Help: "Consumer lag: messages in the log not yet delivered to the destination (waiting plus in flight), over all partitions.",
		}, []string{"destination"}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventrouter_dispatch_partitions_owned",
			Help: "Partitions of the destination whose lease this process holds.",
		}, []string{"destination"}),
		sendSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eventrouter_dispatch_send_seconds",
			Help:    "Duration of one Send call to a destination.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"destination"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.delivered, m.retried, m.deadLettered, m.filtered, m.pending, m.owned, m.sendSeconds} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// routeMetrics are the metrics of one destination.
type routeMetrics struct {
	delivered, retried, deadLettered prometheus.Counter
	filtered                         map[string]prometheus.Counter // by reason
	pending, owned                   prometheus.Gauge
	sendSeconds                      prometheus.Observer
}

// route returns the metrics of the destination name, whose filters also
// give the reasons in more (its drop rules' and "suppressed").
func (m *metrics) route(name string, more ...string) routeMetrics {
	filtered := make(map[string]prometheus.Counter, len(reasons)+len(more))
	for _, why := range append(reasons[:len(reasons):len(reasons)], more...) {
		filtered[why] = m.filtered.WithLabelValues(name, why)
	}
	return routeMetrics{
		delivered:    m.delivered.WithLabelValues(name),
		retried:      m.retried.WithLabelValues(name),
		deadLettered: m.deadLettered.WithLabelValues(name),
		filtered:     filtered,
		pending:      m.pending.WithLabelValues(name),
		owned:        m.owned.WithLabelValues(name),
		sendSeconds:  m.sendSeconds.WithLabelValues(name),
	}
}
