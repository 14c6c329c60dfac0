package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

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

// startPlan wires the tracking plan into a running server: the admin
// routes of the plan and the quarantine, the plan metrics and the SIGHUP
// reload (router/admin/planreload), which stops with ctx. It is called
// once ingest, the log and the admin server exist; the plan in force is
// the one planreload.LoadAtStart returned. It panics, as prometheus.MustRegister
// does, when the plan's metrics are already registered: a wiring error.
func startPlan(ctx context.Context, cfg *config.Config, in *ingest.Handler, log *eventlog.Log, adm *admin.Server, logger *slog.Logger, reg prometheus.Registerer) {
	pm, err := planreload.New(ctx, planreload.Config{
		Path: cfg.TrackingPlan.Path, AutoReplay: cfg.TrackingPlan.AutoReplay,
		Plans: in, Quarantine: log, Reingester: in,
		Logger: logger.With("component", "tracking_plan"), Registerer: reg,
	})
	if err != nil {
		panic(err)
	}
	adm.MountPlan(pm)
	adm.MountQuarantine(log, in, pm.CountReplay)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		pm.ReloadOn(ctx, hup)
	}()
}
