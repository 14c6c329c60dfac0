package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/planreload"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// checkPlan is `eventrouter check`'s look at the tracking plan
// (planreload.Check).
func checkPlan(cfg *config.Config, stdout io.Writer) error {
	return planreload.Check(cfg.TrackingPlan.Path, stdout)
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
// reload (router/admin/planreload), which stops with ctx. It is called
// once ingest, the log and the admin server exist; the plan in force is
// the one planreload.LoadAtStart returned. It panics, as prometheus.MustRegister
// does, when the plan's metrics are already registered: a wiring error.
func startPlan(ctx context.Context, cfg *config.Config, in *ingest.Handler, log *eventlog.Log, adm *admin.Server, logger *slog.Logger, reg prometheus.Registerer) {
	re := reingester{in}
	pm, err := planreload.New(ctx, planreload.Config{
		Path: cfg.TrackingPlan.Path, AutoReplay: cfg.TrackingPlan.AutoReplay,
		Plans: in, Quarantine: log, Reingester: re,
		Logger: logger.With("component", "tracking_plan"), Registerer: reg,
	})
	if err != nil {
		panic(err)
	}
	adm.MountPlan(pm)
	adm.MountQuarantine(log, re, pm.CountReplay)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		pm.ReloadOn(ctx, hup)
	}()
}
