package planreload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/schemas"
)

// Plans holds the tracking plan in force; *ingest.Handler implements it.
// Plan returns nil when no plan is in force; SetPlan swaps the plan
// atomically. Both are called from any goroutine.
type Plans interface {
	Plan() *schemas.Plan
	SetPlan(*schemas.Plan)
}

// Config is what a [Manager] needs. Plans is required; the others have
// defaults.
type Config struct {
	// Path is the plan directory (tracking_plan.path); "" means no plan
	// is configured: reloads answer [admin.ErrNoPlan].
	Path string
	// AutoReplay replays the quarantine in the background after every
	// successful reload (tracking_plan.auto_replay). Default false.
	AutoReplay bool
	// Plans is where the plan in force lives (ingest).
	Plans Plans
	// Quarantine and Reingester are what auto replays read and validate
	// through (the log and ingest); required when AutoReplay is set.
	Quarantine admin.QuarantineStore
	Reingester admin.Reingester
	// Logger receives the reloads and replays; nil discards them.
	Logger *slog.Logger
	// Registerer, when not nil, receives the metrics
	// eventrouter_tracking_plan_reloads_total,
	// eventrouter_tracking_plan_info and
	// eventrouter_quarantine_replayed_total.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Manager is the tracking plan's lifecycle while serving. Its methods are
// safe for concurrent use.
type Manager struct {
	path       string
	autoReplay bool
	plans      Plans
	store      admin.QuarantineStore
	re         admin.Reingester
	logger     *slog.Logger
	now        func() time.Time

	// ctx is the server's: it ends the background replays at shutdown.
	ctx context.Context

	mu       sync.Mutex // serialises reloads
	loadedAt time.Time  // of the plan in force; guarded by mu

	// replayMu serialises the background replays (two quick reloads run
	// theirs one after the other); replays counts those not yet ended.
	replayMu sync.Mutex
	replays  sync.WaitGroup
	stateMu  sync.Mutex
	last     *admin.AutoReplay // the latest auto replay; guarded by stateMu

	reloads  *prometheus.CounterVec
	info     *prometheus.GaugeVec
	replayed *prometheus.CounterVec
}

// New returns a Manager of the plan in cfg.Plans, which was loaded now
// (the server loads it before it starts serving). ctx is the server's
// lifetime: background replays stop between entries when it ends. It
// returns an error when a required part is missing or the metrics cannot
// be registered.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	var errs []error
	if cfg.Plans == nil {
		errs = append(errs, errors.New("planreload: Plans is required"))
	}
	if cfg.AutoReplay && (cfg.Quarantine == nil || cfg.Reingester == nil) {
		errs = append(errs, errors.New("planreload: AutoReplay needs Quarantine and Reingester"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &Manager{
		path: cfg.Path, autoReplay: cfg.AutoReplay, plans: cfg.Plans,
		store: cfg.Quarantine, re: cfg.Reingester, logger: cfg.Logger, now: cfg.Now, ctx: ctx,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_tracking_plan_reloads_total",
			Help: "Tracking-plan reloads (SIGHUP or POST /admin/plan/reload) by outcome: ok or failed (the plan in force was kept).",
		}, []string{"outcome"}),
		info: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eventrouter_tracking_plan_info",
			Help: "1 for the tracking plan in force, labelled with its id and version (content hash).",
		}, []string{"id", "version"}),
		replayed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_quarantine_replayed_total",
			Help: "Quarantined messages handled by replays, by outcome: replayed (stored and removed from the quarantine) or still_invalid.",
		}, []string{"outcome"}),
	}
	if m.logger == nil {
		m.logger = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{m.reloads, m.info, m.replayed} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("registering the tracking plan's metrics: %w", err)
			}
		}
	}
	m.loadedAt = m.now()
	if p := m.plans.Plan(); p != nil {
		m.info.WithLabelValues(p.ID, p.Hash).Set(1)
		m.logger.Info("tracking plan loaded", "id", p.ID, "version", p.Hash, "path", m.path, "events", len(p.Tracks))
	}
	return m, nil
}

// CountReplay adds a replay's outcome to
// eventrouter_quarantine_replayed_total; a dry run counts nothing. The
// admin API's replay route calls it after each replay (it is the after
// argument of [admin.Server.MountQuarantine]), auto replays call it
// themselves.
func (m *Manager) CountReplay(r admin.ReplayResult) {
	if r.DryRun {
		return
	}
	m.replayed.WithLabelValues("replayed").Add(float64(r.Replayed))
	m.replayed.WithLabelValues("still_invalid").Add(float64(r.StillInvalid))
}

// ReloadOn reloads the plan on every value received from signals (the
// server passes the channel it gave signal.Notify for SIGHUP, and the log
// names SIGHUP) until ctx
// ends or signals is closed. Without a plan, a signal is logged and
// otherwise ignored. Each reload returns once the plan is swapped; with
// auto replay the replay goes on in the background, so the next signal is
// handled at once.
func (m *Manager) ReloadOn(ctx context.Context, signals <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-signals:
			if !ok {
				return
			}
			_, _, err := m.ReloadPlan(ctx)
			if errors.Is(err, admin.ErrNoPlan) {
				m.logger.Info("SIGHUP: no tracking plan configured, nothing to reload")
			}
		}
	}
}

// PlanInfo implements [admin.PlanReloader].
func (m *Manager) PlanInfo() (admin.PlanInfo, bool) {
	p := m.plans.Plan()
	if p == nil {
		return admin.PlanInfo{}, false
	}
	m.mu.Lock()
	at := m.loadedAt
	m.mu.Unlock()
	info := admin.PlanInfoOf(p, m.path, at)
	info.LastAutoReplay = m.lastAutoReplay()
	return info, true
}

// lastAutoReplay returns a copy of the latest auto replay's state.
func (m *Manager) lastAutoReplay() *admin.AutoReplay {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.last == nil {
		return nil
	}
	c := *m.last
	return &c
}

// ReloadPlan implements [admin.PlanReloader]: the plan directory is loaded
// again, whole; a plan that loads replaces the one in force at once (one
// atomic swap in Plans), one that does not is logged with every problem
// and the old one stays. With auto replay a quarantine replay is started
// in the background after a successful reload and its starting state
// returned; ReloadPlan does not wait for it.
func (m *Manager) ReloadPlan(ctx context.Context) (admin.PlanInfo, *admin.AutoReplay, error) {
	if m.path == "" {
		return admin.PlanInfo{}, nil, admin.ErrNoPlan
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := schemas.Load(m.path)
	if err != nil {
		m.reloads.WithLabelValues("failed").Inc()
		attrs := []any{"path", m.path, "error", err.Error()}
		if old := m.plans.Plan(); old != nil {
			attrs = append(attrs, "kept_version", old.Hash)
		}
		m.logger.Error("tracking plan reload failed; the plan in force is kept", attrs...)
		return admin.PlanInfo{}, nil, err
	}
	old := m.plans.Plan()
	m.plans.SetPlan(p)
	m.loadedAt = m.now()
	m.reloads.WithLabelValues("ok").Inc()
	if old != nil {
		m.info.DeleteLabelValues(old.ID, old.Hash)
	}
	m.info.WithLabelValues(p.ID, p.Hash).Set(1)
	m.logger.Info("tracking plan reloaded", "id", p.ID, "version", p.Hash, "events", len(p.Tracks))
	info := admin.PlanInfoOf(p, m.path, m.loadedAt)
	if !m.autoReplay {
		info.LastAutoReplay = m.lastAutoReplay()
		return info, nil, nil
	}
	started := m.startAutoReplay()
	info.LastAutoReplay = started
	return info, started, nil
}

// Wait blocks until every auto replay started so far has ended (they end
// early when the server's context does).
func (m *Manager) Wait() { m.replays.Wait() }

// startAutoReplay records a new auto replay as started and runs it in the
// background; it returns a copy of its starting state. The replay waits
// for one still running from an earlier reload, validates the whole
// quarantine against the plan in force, is logged, and its outcome is
// kept for PlanInfo (last_auto_replay). It stops between entries when the
// server's context ends.
func (m *Manager) startAutoReplay() *admin.AutoReplay {
	ar := &admin.AutoReplay{StartedAt: m.now().UTC()}
	m.stateMu.Lock()
	m.last = ar
	started := *ar
	m.stateMu.Unlock()
	m.replays.Add(1)
	go func() {
		defer m.replays.Done()
		m.replayMu.Lock()
		defer m.replayMu.Unlock()
		res, err := admin.ReplayQuarantine(m.ctx, m.store, m.re, admin.ReplaySelection{}, nil)
		if err != nil {
			res.Error = err.Error()
			m.logger.Warn("quarantine replay after reload stopped", "error", err.Error(), "replayed", res.Replayed)
		} else {
			m.logger.Info("quarantine replayed after reload", "replayed", res.Replayed, "still_invalid", res.StillInvalid, "skipped", res.Skipped)
		}
		m.CountReplay(res)
		finished := m.now().UTC()
		m.stateMu.Lock()
		ar.FinishedAt = &finished
		ar.Replayed, ar.StillInvalid, ar.Skipped, ar.Error = res.Replayed, res.StillInvalid, res.Skipped, res.Error
		m.stateMu.Unlock()
	}()
	return &started
}
