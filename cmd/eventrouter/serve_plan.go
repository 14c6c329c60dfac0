package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/ingest"
	"github.com/eventrouter/eventrouter/router/queue"
	"github.com/eventrouter/eventrouter/schemas"
)

// loadPlanAtStart loads the config's tracking plan, or returns nil when it
// sets none. A plan that does not load is an error listing every problem,
// and the server does not start.
func loadPlanAtStart(cfg *config.Config) (*schemas.Plan, error) {
	if cfg.TrackingPlan.Path == "" {
		return nil, nil
	}
	p, err := schemas.Load(cfg.TrackingPlan.Path)
	if err != nil {
		var le *schemas.LoadError
		if errors.As(err, &le) {
			msg := fmt.Sprintf("tracking_plan.path: the plan in %s does not load (%d problem(s)):", cfg.TrackingPlan.Path, len(le.Problems))
			for _, f := range le.Problems {
				msg += "\n  " + f.String()
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("tracking_plan.path: %w", err)
	}
	return p, nil
}

// checkPlan is `eventrouter check`'s look at the tracking plan: a plan
// directory that exists (relative to the working directory, as serve reads
// it) must load; one that does not exist from here is only mentioned, since
// check may run elsewhere than the server.
func checkPlan(cfg *config.Config, stdout io.Writer) error {
	p := cfg.TrackingPlan.Path
	if p == "" {
		return nil
	}
	if _, err := os.Stat(p); err != nil {
		fmt.Fprintf(stdout, "note: tracking_plan.path %s is not found from the working directory; not checked (serve refuses to start without it)\n", p)
		return nil
	}
	_, err := loadPlanAtStart(cfg)
	return err
}

// enforcementOf maps a source's enforcement block of the config to the
// overrides ingest applies over plan.yaml's settings.
func enforcementOf(e config.Enforcement) schemas.Enforcement {
	return schemas.Enforcement{
		Track: schemas.TrackEnforcement{
			UnplannedEvents:     schemas.Mode(e.Track.UnplannedEvents),
			UnplannedProperties: schemas.Mode(e.Track.UnplannedProperties),
			Violations:          schemas.Mode(e.Track.Violations),
		},
		Identify: schemas.TraitEnforcement{
			UnplannedTraits: schemas.Mode(e.Identify.UnplannedTraits),
			Violations:      schemas.Mode(e.Identify.Violations),
		},
		Group: schemas.TraitEnforcement{
			UnplannedTraits: schemas.Mode(e.Group.UnplannedTraits),
			Violations:      schemas.Mode(e.Group.Violations),
		},
		CommonViolations:    schemas.Mode(e.CommonViolations),
		ForwardBlockedTo:    e.ForwardBlockedTo,
		ForwardViolationsTo: e.ForwardViolationsTo,
	}
}

// planManager holds the tracking plan's lifecycle while serving: reloads
// (SIGHUP, POST /admin/plan/reload), the optional replay after each, and
// the plan's metrics. It implements admin.PlanReloader.
type planManager struct {
	path       string
	autoReplay bool
	in         *ingest.Handler
	store      admin.QuarantineStore
	re         admin.Reingester
	logger     *slog.Logger

	mu       sync.Mutex // serialises reloads
	loadedAt time.Time  // of the plan in force; guarded by mu

	// ctx is the server's: it ends the background replays at shutdown.
	ctx context.Context
	// replayMu serialises the background replays (two quick reloads run
	// theirs one after the other).
	replayMu sync.Mutex
	stateMu  sync.Mutex
	last     *admin.AutoReplay // the latest auto replay; guarded by stateMu

	reloads  *prometheus.CounterVec
	info     *prometheus.GaugeVec
	replayed *prometheus.CounterVec
}

// reingester adapts ingest's Reingest to admin's error sentinel.
type reingester struct{ in *ingest.Handler }

func (r reingester) Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (bool, []router.Violation, error) {
	ok, vs, err := r.in.Reingest(ctx, q, dryRun)
	if errors.Is(err, ingest.ErrUnknownSource) {
		err = fmt.Errorf("%w: %w", admin.ErrUnknownSource, err)
	}
	return ok, vs, err
}

// startPlan wires the tracking plan into a running server: the admin
// routes of the plan and the quarantine, the plan metrics and the SIGHUP
// reload, which stops with ctx. It is called once ingest, the log and the
// admin server exist; plan is what loadPlanAtStart returned.
func startPlan(ctx context.Context, cfg *config.Config, plan *schemas.Plan, in *ingest.Handler, log *queue.Log, adm *admin.Server, logger *slog.Logger, reg prometheus.Registerer) {
	pm := &planManager{
		path: cfg.TrackingPlan.Path, autoReplay: cfg.TrackingPlan.AutoReplay,
		in: in, store: log, re: reingester{in}, logger: logger.With("component", "tracking_plan"),
		loadedAt: time.Now(), ctx: ctx,
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
	reg.MustRegister(pm.reloads, pm.info, pm.replayed)
	if plan != nil {
		pm.info.WithLabelValues(plan.ID, plan.Hash).Set(1)
		pm.logger.Info("tracking plan loaded", "id", plan.ID, "version", plan.Hash, "path", pm.path, "events", len(plan.Tracks))
	}
	adm.MountPlan(pm)
	adm.MountQuarantine(log, pm.re, pm.countReplay)
	go pm.watchSIGHUP(ctx)
}

func (pm *planManager) countReplay(r admin.ReplayResult) {
	if r.DryRun {
		return
	}
	pm.replayed.WithLabelValues("replayed").Add(float64(r.Replayed))
	pm.replayed.WithLabelValues("still_invalid").Add(float64(r.StillInvalid))
}

// watchSIGHUP reloads the plan on every SIGHUP until ctx ends. Without a
// plan, SIGHUP is logged and otherwise ignored (it does not stop the
// server).
func (pm *planManager) watchSIGHUP(ctx context.Context) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	defer signal.Stop(ch)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			// Returns once the plan is swapped; with auto_replay the
			// replay goes on in the background, so a second SIGHUP is
			// handled at once.
			_, _, err := pm.ReloadPlan(ctx)
			if errors.Is(err, admin.ErrNoPlan) {
				pm.logger.Info("SIGHUP: no tracking plan configured, nothing to reload")
			}
		}
	}
}

// PlanInfo implements admin.PlanReloader.
func (pm *planManager) PlanInfo() (admin.PlanInfo, bool) {
	p := pm.in.Plan()
	if p == nil {
		return admin.PlanInfo{}, false
	}
	pm.mu.Lock()
	at := pm.loadedAt
	pm.mu.Unlock()
	info := admin.PlanInfoOf(p, pm.path, at)
	info.LastAutoReplay = pm.lastAutoReplay()
	return info, true
}

// lastAutoReplay returns a copy of the latest auto replay's state.
func (pm *planManager) lastAutoReplay() *admin.AutoReplay {
	pm.stateMu.Lock()
	defer pm.stateMu.Unlock()
	if pm.last == nil {
		return nil
	}
	c := *pm.last
	return &c
}

// ReloadPlan implements admin.PlanReloader: the plan directory is loaded
// again, whole; a plan that loads replaces the one in force at once (one
// atomic swap in ingest), one that does not is logged with every problem
// and the old one stays. With auto_replay a quarantine replay is started
// in the background after a successful reload (see autoReplay) and its
// starting state returned; ReloadPlan does not wait for it.
func (pm *planManager) ReloadPlan(ctx context.Context) (admin.PlanInfo, *admin.AutoReplay, error) {
	if pm.path == "" {
		return admin.PlanInfo{}, nil, admin.ErrNoPlan
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	p, err := schemas.Load(pm.path)
	if err != nil {
		pm.reloads.WithLabelValues("failed").Inc()
		attrs := []any{"path", pm.path, "error", err.Error()}
		if old := pm.in.Plan(); old != nil {
			attrs = append(attrs, "kept_version", old.Hash)
		}
		pm.logger.Error("tracking plan reload failed; the plan in force is kept", attrs...)
		return admin.PlanInfo{}, nil, err
	}
	old := pm.in.Plan()
	pm.in.SetPlan(p)
	pm.loadedAt = time.Now()
	pm.reloads.WithLabelValues("ok").Inc()
	if old != nil {
		pm.info.DeleteLabelValues(old.ID, old.Hash)
	}
	pm.info.WithLabelValues(p.ID, p.Hash).Set(1)
	pm.logger.Info("tracking plan reloaded", "id", p.ID, "version", p.Hash, "events", len(p.Tracks))
	info := admin.PlanInfoOf(p, pm.path, pm.loadedAt)
	if !pm.autoReplay {
		info.LastAutoReplay = pm.lastAutoReplay()
		return info, nil, nil
	}
	started := pm.startAutoReplay()
	info.LastAutoReplay = started
	return info, started, nil
}

// startAutoReplay records a new auto replay as started and runs it in the
// background; it returns a copy of its starting state. The replay waits
// for one still running from an earlier reload, validates the whole
// quarantine against the plan in force, is logged, and its outcome is
// kept for GET /admin/plan (last_auto_replay). It stops between entries
// when the server shuts down.
func (pm *planManager) startAutoReplay() *admin.AutoReplay {
	ar := &admin.AutoReplay{StartedAt: time.Now().UTC()}
	pm.stateMu.Lock()
	pm.last = ar
	started := *ar
	pm.stateMu.Unlock()
	go func() {
		pm.replayMu.Lock()
		defer pm.replayMu.Unlock()
		res, err := admin.ReplayQuarantine(pm.ctx, pm.store, pm.re, admin.ReplaySelection{}, nil)
		if err != nil {
			res.Error = err.Error()
			pm.logger.Warn("quarantine replay after reload stopped", "error", err.Error(), "replayed", res.Replayed)
		} else {
			pm.logger.Info("quarantine replayed after reload", "replayed", res.Replayed, "still_invalid", res.StillInvalid, "skipped", res.Skipped)
		}
		pm.countReplay(res)
		finished := time.Now().UTC()
		pm.stateMu.Lock()
		ar.FinishedAt = &finished
		ar.Replayed, ar.StillInvalid, ar.Skipped, ar.Error = res.Replayed, res.StillInvalid, res.Skipped, res.Error
		pm.stateMu.Unlock()
	}()
	return &started
}
