package eventlog

import (
	"fmt"
	"time"

	"github.com/eventrouter/eventrouter/router/eventlog/dedupe"
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the log's Prometheus metrics; a nil *metrics records nothing.
type metrics struct {
	storeSeconds prometheus.Histogram
	appended     prometheus.Counter
	duplicates   prometheus.Counter
	failed       prometheus.Counter
	rewinds      *prometheus.CounterVec
	rewindTime   prometheus.Histogram
	stale        prometheus.Counter
	records      prometheus.Histogram
}

// newMetrics registers the log's metrics on reg; nil registers nothing and
// returns a nil *metrics.
func newMetrics(reg prometheus.Registerer, ix *dedupe.Index) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	if err := reg.Register(indexCollector{ix}); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	m := &metrics{
		storeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "eventrouter_log_store_seconds",
			Help:    "Time to store one Append call's messages in the log, until JetStream acknowledged all of them.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_log_appended_total",
			Help: "Messages stored in the log (duplicates excluded).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_log_duplicates_total",
			Help: "Messages not stored because their (source, messageId) was stored within the dedupe window.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_log_append_failures_total",
			Help: "Messages of Append calls that failed (answered 503).",
		}),
		rewinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_log_reader_rewinds_total",
			Help: "Readers reset to their oldest unacknowledged message, by reason: start, takeover (a partition taken), reconnect, gap (deliveries went astray), fetch or ack (a failed fetch or acknowledgement).",
		}, []string{"reason"}),
		rewindTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "eventrouter_log_reader_rewind_seconds",
			Help:    "Time to reset a reader to its oldest unacknowledged message (one replicated consumer update).",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5},
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "eventrouter_log_reader_stale_redeliveries_total",
			Help: "Records delivered again after a reader had acknowledged them (the acknowledgement was lost), acknowledged again instead of being handed out behind newer ones.",
		}),
	}
	m.records = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "eventrouter_log_record_messages",
		Help:    "Messages per record published to the events stream (the writers pack concurrent requests' messages of one partition into one record).",
		Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2048},
	})
	for _, c := range []prometheus.Collector{m.storeSeconds, m.appended, m.duplicates, m.failed, m.rewinds, m.rewindTime, m.stale, m.records} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeAppend(d time.Duration, n, duplicates int, err error) {
	if m == nil {
		return
	}
	m.storeSeconds.Observe(d.Seconds())
	if err != nil {
		m.failed.Add(float64(n))
		return
	}
	m.appended.Add(float64(n - duplicates))
	m.duplicates.Add(float64(duplicates))
}

// indexCollector exports the dedupe index's figures, read once per scrape.
type indexCollector struct{ ix *dedupe.Index }

var (
	indexDiskDesc = prometheus.NewDesc("eventrouter_dedupe_index_disk_bytes",
		"Disk used by the dedupe index (DataDir/dedupe).", nil, nil)
	indexMemoryDesc = prometheus.NewDesc("eventrouter_dedupe_index_memory_bytes",
		"Memory held by the dedupe index: the newest ids, kept in memory until written as a table, and its store's memtable and block cache (capped by queue.dedupe_memory).", nil, nil)
	indexPendingDesc = prometheus.NewDesc("eventrouter_dedupe_index_pending",
		"Message ids stored in the log (or being stored) and not yet read back into the dedupe index.", nil, nil)
	indexLookupsDesc = prometheus.NewDesc("eventrouter_dedupe_index_lookups_total",
		"Lookups in the dedupe index's store, by result (hit: stored within the window).", []string{"result"}, nil)
)

func (c indexCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- indexDiskDesc
	ch <- indexMemoryDesc
	ch <- indexPendingDesc
	ch <- indexLookupsDesc
}

func (c indexCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.ix.Stats()
	ch <- prometheus.MustNewConstMetric(indexDiskDesc, prometheus.GaugeValue, float64(s.DiskBytes))
	ch <- prometheus.MustNewConstMetric(indexMemoryDesc, prometheus.GaugeValue, float64(s.MemoryBytes))
	ch <- prometheus.MustNewConstMetric(indexPendingDesc, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(indexLookupsDesc, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(indexLookupsDesc, prometheus.CounterValue, float64(s.Misses), "miss")
}

// observeRecord counts a record of n messages published (or tried).
func (m *metrics) observeRecord(n int) {
	if m == nil {
		return
	}
	m.records.Observe(float64(n))
}

func (m *metrics) observeRewind(reason string, d time.Duration) {
	if m == nil {
		return
	}
	m.rewinds.WithLabelValues(reason).Inc()
	m.rewindTime.Observe(d.Seconds())
}

func (m *metrics) observeStale(records int) {
	if m == nil {
		return
	}
	m.stale.Add(float64(records))
}
