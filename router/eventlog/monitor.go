package eventlog

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
)

// MonitorConfig configures [Log.Monitor].
type MonitorConfig struct {
	// Destinations are the names of the destinations whose backlog is
	// watched.
	Destinations []string
	// WarnAt is the fraction of the retention (for a destination's oldest
	// pending message) and of MaxBytes (for the events stream's size) at
	// which a warning is logged and the warning gauges are set. Default
	// 0.8.
	WarnAt float64
	// Every is how often the log is read. Default: a twentieth of the
	// retention, between 500ms and 15s.
	Every time.Duration
	// RepeatEvery is how often a warning that still holds is logged again.
	// Default 5m.
	RepeatEvery time.Duration
	// Registerer, when not nil, receives the gauges.
	Registerer prometheus.Registerer
}

// Monitor watches the log's size and each destination's backlog against
// the retention and the size cap until ctx is done, so that operators hear
// of a backlog before anything can expire undelivered, or of a log about
// to refuse writes. It sets the gauges eventrouter_log_bytes,
// eventrouter_log_messages, eventrouter_log_max_bytes,
// eventrouter_log_retention_seconds, eventrouter_log_full_warning (1 when
// the events stream holds WarnAt of MaxBytes or more),
// eventrouter_destination_oldest_pending_age_seconds and
// eventrouter_destination_backlog_warning (1 when the oldest pending
// message is older than WarnAt of the retention), by destination; and it
// logs a warning when a condition starts to hold, again every RepeatEvery
// while it holds, and a notice when it ends. It returns an error only when
// the gauges cannot be registered.
func (l *Log) Monitor(ctx context.Context, cfg MonitorConfig) error {
	m := newMonitor(l, cfg)
	if m.cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{m.bytes, m.msgs, m.maxBytes, m.retentionG, m.full, m.age, m.warn} {
			if err := m.cfg.Registerer.Register(c); err != nil {
				return fmt.Errorf("registering log monitor metrics: %w", err)
			}
		}
	}
	m.maxBytes.Set(float64(l.cfg.MaxBytes))
	m.retentionG.Set(m.retention.Seconds())
	t := time.NewTicker(m.cfg.Every)
	defer t.Stop()
	for {
		m.check(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// monitor is a running [Log.Monitor]: its settings, its gauges, and the
// warnings that hold.
type monitor struct {
	l         *Log
	cfg       MonitorConfig
	retention time.Duration // the log's; 0: no age limit

	bytes, msgs, maxBytes, retentionG, full prometheus.Gauge
	age, warn                               *prometheus.GaugeVec

	// lastWarn is when each warning that holds was last logged, by
	// destination; "" is the size cap's.
	lastWarn map[string]time.Time
}

// newMonitor returns the monitor of l with cfg's defaults filled in:
// WarnAt 0.8, RepeatEvery 5m, and Every a twentieth of the retention
// (between 500ms and 15s; 15s without one).
func newMonitor(l *Log, cfg MonitorConfig) *monitor {
	if cfg.WarnAt <= 0 {
		cfg.WarnAt = 0.8
	}
	ret := max(l.cfg.Retention, 0)
	if cfg.Every <= 0 {
		cfg.Every = 15 * time.Second
		if ret > 0 {
			cfg.Every = min(max(ret/20, 500*time.Millisecond), 15*time.Second)
		}
	}
	if cfg.RepeatEvery <= 0 {
		cfg.RepeatEvery = 5 * time.Minute
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	return &monitor{
		l: l, cfg: cfg, retention: ret, lastWarn: map[string]time.Time{},
		bytes:      g("eventrouter_log_bytes", "Bytes stored in the log's events stream."),
		msgs:       g("eventrouter_log_messages", "Messages stored in the log's events stream."),
		maxBytes:   g("eventrouter_log_max_bytes", "The log's size cap per stream (queue.max_bytes); 0 means none."),
		retentionG: g("eventrouter_log_retention_seconds", "How long the log keeps messages (queue.retention); 0 means no age limit."),
		full:       g("eventrouter_log_full_warning", "1 when the events stream holds queue.backlog_warning of queue.max_bytes or more: ingest answers 503 once it is full."),
		age: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventrouter_destination_oldest_pending_age_seconds",
			Help: "Age of the oldest message the destination has not yet acknowledged; 0 when nothing is pending.",
		}, []string{"destination"}),
		warn: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventrouter_destination_backlog_warning",
			Help: "1 when the destination's oldest pending message is older than queue.backlog_warning of queue.retention: it expires undelivered at the retention.",
		}, []string{"destination"}),
	}
}

// warnNow reports whether the warning key is to be logged now: when it
// starts to hold, and again every RepeatEvery while it holds.
func (m *monitor) warnNow(key string, now time.Time) bool {
	t, on := m.lastWarn[key]
	if on && now.Sub(t) < m.cfg.RepeatEvery {
		return false
	}
	m.lastWarn[key] = now
	return true
}

// clear logs msg when the warning key held and ends it.
func (m *monitor) clear(key string, msg string, args ...any) {
	if _, on := m.lastWarn[key]; on {
		delete(m.lastWarn, key)
		m.l.log.Info(msg, args...)
	}
}

// check reads the log's size and every destination's backlog once, sets
// the gauges and logs what starts or stops to hold.
func (m *monitor) check(ctx context.Context) {
	now := time.Now()
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := m.l.Info(rctx)
	if err != nil {
		m.l.log.Debug("log monitor: reading the log", "err", err)
		return
	}
	m.checkSize(info, now)
	for _, d := range m.cfg.Destinations {
		b, err := m.l.Backlog(rctx, d)
		if err != nil {
			m.l.log.Debug("log monitor: reading backlog", "destination", d, "err", err)
			continue
		}
		m.checkBacklog(d, b, now)
	}
}

// checkSize compares the events stream's size with the size cap: nearly
// full from WarnAt of it.
func (m *monitor) checkSize(info router.LogInfo, now time.Time) {
	l := m.l
	m.bytes.Set(float64(info.Bytes))
	m.msgs.Set(float64(info.Messages))
	if l.cfg.MaxBytes > 0 && float64(info.Bytes) >= m.cfg.WarnAt*float64(l.cfg.MaxBytes) {
		m.full.Set(1)
		if m.warnNow("", now) {
			l.log.Warn("the log is nearly full: ingest answers 503 once it reaches queue.max_bytes; raise max_bytes, free disk or fix the destinations that hold messages",
				"bytes", info.Bytes, "max_bytes", l.cfg.MaxBytes, "used", fmt.Sprintf("%.0f%%", 100*float64(info.Bytes)/float64(l.cfg.MaxBytes)))
		}
	} else {
		m.full.Set(0)
		m.clear("", "the log is no longer nearly full", "bytes", info.Bytes, "max_bytes", l.cfg.MaxBytes)
	}
}

// checkBacklog compares the age of destination d's oldest pending message
// (b) with the retention: near it from WarnAt of it.
func (m *monitor) checkBacklog(d string, b router.Backlog, now time.Time) {
	var a time.Duration
	if b.Pending > 0 && !b.Oldest.IsZero() {
		a = max(now.Sub(b.Oldest), 0)
	}
	ret := m.retention
	m.age.WithLabelValues(d).Set(a.Seconds())
	if ret > 0 && a >= time.Duration(m.cfg.WarnAt*float64(ret)) {
		m.warn.WithLabelValues(d).Set(1)
		if m.warnNow(d, now) {
			m.l.log.Warn("destination backlog nears the log's retention: its oldest pending messages expire undelivered when they reach it",
				"destination", d, "pending", b.Pending, "oldest_pending_age", a.Round(time.Millisecond).String(),
				"retention", ret.String(), "retention_left", max(ret-a, 0).Round(time.Millisecond).String())
		}
	} else {
		m.warn.WithLabelValues(d).Set(0)
		m.clear(d, "destination backlog no longer near the retention", "destination", d, "pending", b.Pending)
	}
}
