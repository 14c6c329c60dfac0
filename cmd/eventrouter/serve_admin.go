package main

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/dispatch"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// startOperations wires what operators see: the log monitor (retention and
// size warnings, in the log and in metrics; always on) and, when the admin
// API is on, the debugger's recorder (fed by ingest and dispatch) and the
// operating routes (stream, messages, destinations, log, dead letters,
// replay). Without an admin token nothing is recorded, so ingest and
// dispatch do no work for it. The monitor runs until ctx is done.
func startOperations(ctx context.Context, cfg *config.Config, log *eventlog.Log, in *ingest.Handler, disp *dispatch.Dispatcher, adm *admin.Server, logger *slog.Logger, reg prometheus.Registerer) {
	names := cfg.DestinationNames()
	go func() {
		err := log.Monitor(ctx, eventlog.MonitorConfig{Destinations: names, WarnAt: cfg.Queue.BacklogWarning, Registerer: reg})
		if err != nil {
			logger.Warn("log monitor not started", "error", err.Error())
		}
	}()
	if !adm.Enabled() {
		return
	}
	rec := admin.NewRecorder(admin.RecorderConfig{})
	in.Observe(rec)
	disp.Observe(rec)
	dests := make([]admin.DestinationInfo, len(names))
	for i, n := range names {
		dests[i] = admin.DestinationInfo{Name: n, Type: cfg.Destinations[n].Type}
	}
	admin.Operations{
		Log: log, Recorder: rec, Destinations: dests,
		BacklogWarning: cfg.Queue.BacklogWarning,
		Logger:         logger.With("component", "admin"),
	}.Mount(adm)
}
