package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eventrouter/eventrouter/destinations"
	"github.com/eventrouter/eventrouter/internal/health"
	"github.com/eventrouter/eventrouter/internal/httpserve"
	"github.com/eventrouter/eventrouter/internal/memlimit"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/debugger"
	"github.com/eventrouter/eventrouter/router/admin/planreload"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/dispatch"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/router/ingest"
	"github.com/eventrouter/eventrouter/router/sources"
	"github.com/eventrouter/eventrouter/schemas"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, cfgPath := newFlagSet("serve", "Run the server: the Segment Tracking API in, the durable log, the destinations out.\nSIGTERM or SIGINT drains what is in flight and exits.", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter: %v\n", err)
		return 1
	}
	logger := cfg.Log.NewLogger(stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, logger); err != nil {
		logger.Error("eventrouter stopped with an error", "error", err.Error())
		return 1
	}
	return 0
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs, cfgPath := newFlagSet("check", "Validate a config file: every problem is listed with its key path, and the exit code is 1 if there is any.", stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if err := checkPlan(cfg, stdout); err != nil { // serve_plan.go
		fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: valid (%d source(s), %d destination(s))\n", *cfgPath, len(cfg.Sources), len(cfg.Destinations))
	if dev := cfg.DevelopmentValuesInUse(); len(dev) > 0 {
		fmt.Fprintf(stdout, "note: %s hold(s) development values, accepted only because everything listens on loopback addresses; set your own before listening anywhere else\n", strings.Join(dev, ", "))
	}
	return 0
}

func loadConfig(path string) (*config.Config, error) {
	reg, err := registry()
	if err != nil {
		return nil, err
	}
	return config.Load(path, reg)
}

// registry returns the factories of every built-in destination and source
// type: the components the config may name.
func registry() (*router.Registry, error) {
	reg, err := destinations.Registry()
	if err != nil {
		return nil, err
	}
	if err := reg.AddSources(sources.Builtin()...); err != nil {
		return nil, err
	}
	return reg, nil
}

// serve runs every part until ctx is cancelled, then shuts them down in
// order: stop taking requests, drain dispatch, close destinations, close the
// log.
func serve(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	// config.MemoryLimitAuto is 0 and config.MemoryLimitOff is
	// math.MaxInt64, as memlimit.Setup wants them.
	memlimit.Setup(int64(cfg.MemoryLimit), cfg.Queue.MemoryOutsideHeap(), logger)
	go memlimit.KeepCHeapTrimmed(ctx, memlimit.TrimCHeapEvery)
	plan, err := planreload.LoadAtStart(cfg.TrackingPlan.Path) // a bad plan stops here
	if err != nil {
		return err
	}
	reg := newRegistry()
	log, err := openLog(ctx, cfg, logger, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := log.Close(); err != nil {
			logger.Warn("closing the log", "error", err.Error())
		}
	}()
	p, err := startPipeline(ctx, cfg, plan, log, logger, reg)
	if err != nil {
		return err
	}
	public, adminMux, err := newMuxes(ctx, cfg, p, log, logger, reg)
	if err != nil {
		p.closeDestinations()
		return err
	}
	srv, err := listen(cfg, public, adminMux, logger)
	if err != nil {
		p.closeDestinations()
		return err
	}
	return runUntilStopped(ctx, cfg, p, srv, log, logger)
}

// newRegistry returns the Prometheus registry every part registers its
// metrics in, holding the Go runtime's and the process's already.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(memlimit.Gauge(), readBuildInfo().Gauge()) // version.go
	return reg
}

// openLog opens the durable log with the config's queue block.
func openLog(ctx context.Context, cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*eventlog.Log, error) {
	qc := cfg.Queue
	qc.DataDir, qc.Logger, qc.Registerer = cfg.DataDir, logger.With("component", "queue"), reg
	return eventlog.Open(ctx, qc) // errors say "opening log: ..."
}

// pipeline is the path of a message through the server: ingest in front of
// the log, dispatch and the destinations behind it.
type pipeline struct {
	in   *ingest.Handler
	disp *dispatch.Dispatcher
	// destinations counts the routes dispatch feeds.
	destinations int
	// closeDestinations closes them while dispatch has not run (its Run
	// closes them when it returns).
	closeDestinations func()
}

// startPipeline builds the destinations, dispatch, the sources and ingest.
// On an error nothing of them is left open.
func startPipeline(ctx context.Context, cfg *config.Config, plan *schemas.Plan, log *eventlog.Log, logger *slog.Logger, reg prometheus.Registerer) (*pipeline, error) {
	routes, closeDestinations, err := buildDestinations(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	// From here on dispatch owns the destinations: Run closes them when it
	// returns. Until Run starts, a failure closes them here.
	disp, err := dispatch.New(log, routes, logger.With("component", "dispatch"), reg)
	if err != nil {
		closeDestinations()
		return nil, fmt.Errorf("starting dispatch: %w", err)
	}
	hosted, err := buildSources(cfg, logger)
	if err != nil {
		closeDestinations()
		return nil, err
	}
	in, err := ingest.New(ingest.Config{
		Hosted:              hosted,
		UnknownKey:          cfg.Auth.UnknownKey,
		TrustedProxies:      cfg.HTTP.TrustedProxies,
		StrictBatchItemSize: cfg.Ingest.StrictBatchItemSize,
		SampleRate:          cfg.Ingest.SampleRate,
		SampleBurst:         cfg.Ingest.SampleBurst,
		Logger:              logger.With("component", "ingest"),
		Registerer:          reg,
		Plan:                plan,
	}, log)
	if err != nil {
		closeDestinations()
		return nil, fmt.Errorf("starting ingest: %w", err)
	}
	return &pipeline{in: in, disp: disp, destinations: len(routes), closeDestinations: closeDestinations}, nil
}

// newMuxes returns the routes of the public listener (the Tracking API and
// the sources' webhooks, ingest answering 404 for any other path, health
// checks, analytics.js's CDN routes) and of the operator's (the admin API,
// the debugger, metrics, profiles, health checks): the same mux unless
// http.admin_listen gives the operator's routes an address of their own.
// It starts the plan's reloads and the operations' monitors with them.
func newMuxes(ctx context.Context, cfg *config.Config, p *pipeline, log *eventlog.Log, logger *slog.Logger, reg *prometheus.Registry) (public, adminMux *http.ServeMux, err error) {
	// One readiness for both listeners, so that a change is logged once.
	ready := health.NewReadiness(log.Ready, logger)
	adm := admin.New(cfg.HTTP.AdminToken, logger.With("component", "admin"))
	debugger.Register(adm)
	adm.MountProfiling()
	startPlan(ctx, cfg, p.in, log, adm, logger, reg)               // serve_plan.go
	startOperations(ctx, cfg, log, p.in, p.disp, adm, logger, reg) // serve_admin.go

	public = http.NewServeMux()
	ready.Mount(public)
	adminMux = public
	if cfg.HTTP.AdminListen != "" {
		adminMux = http.NewServeMux()
		ready.Mount(adminMux)
	}
	adminMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	adminMux.Handle("/admin/", adm)
	adminMux.Handle("/debugger", adm)
	adminMux.Handle("/debugger/", adm)
	adminMux.Handle("/debug/pprof/", adm)
	// analytics.js's CDN routes are for browsers: on the public listener.
	if err := mountCDN(public, cfg, p.in.TrackingAPISources(), p.in, reg); err != nil { // serve_cdn.go
		return nil, nil, err
	}
	public.Handle("/", p.in)
	return public, adminMux, nil
}

// listen opens the listeners of http.listen and http.admin_listen.
func listen(cfg *config.Config, public, adminMux *http.ServeMux, logger *slog.Logger) (*httpserve.Servers, error) {
	return httpserve.Listen(httpserve.Options{
		Listen: cfg.HTTP.Listen, AdminListen: cfg.HTTP.AdminListen,
		ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout,
		MaxHeaderBytes: int(cfg.HTTP.MaxHeaderBytes), Logger: logger,
	}, public, adminMux)
}

// runUntilStopped starts dispatch and the HTTP servers, waits for ctx to be cancelled
// (or HTTP serving to fail), and shuts them down.
func runUntilStopped(ctx context.Context, cfg *config.Config, p *pipeline, s *httpserve.Servers, log *eventlog.Log, logger *slog.Logger) error {
	dispCtx, stopDispatch := context.WithCancel(context.Background())
	defer stopDispatch()
	dispDone := make(chan error, 1)
	go func() { dispDone <- p.disp.Run(dispCtx) }()

	srvDone := s.Serve()
	logger.Info("eventrouter serving",
		"listen", s.Addr(), "admin_listen", s.AdminAddr(), "version", versionString(),
		"log", log.Where(), "sources", len(cfg.Sources), "destinations", p.destinations)

	// Dispatch's Run returns only once its context is cancelled, so the
	// server stops on a signal or when HTTP serving fails.
	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing requests in flight, then draining dispatch")
	case err := <-srvDone:
		runErr = fmt.Errorf("serving http: %w", err)
	}
	s.Shutdown(cfg.HTTP.ShutdownTimeout)
	stopDispatch()
	if err := drainDispatch(dispDone, cfg.HTTP.ShutdownTimeout, logger); err != nil && runErr == nil {
		runErr = err
	}
	logger.Info("eventrouter stopped")
	return runErr
}

// drainDispatch waits up to timeout for dispatch's Run, whose context is
// cancelled, to finish the batches in flight and return.
func drainDispatch(done <-chan error, timeout time.Duration, logger *slog.Logger) error {
	drain := time.NewTimer(timeout)
	defer drain.Stop()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("draining dispatch: %w", err)
		}
	case <-drain.C:
		logger.Warn("dispatch did not drain within shutdown_timeout; unacknowledged messages will be redelivered on the next start")
	}
	return nil
}

// buildSources builds every source with its type's factory, for ingest to
// host.
func buildSources(cfg *config.Config, logger *slog.Logger) ([]ingest.Hosted, error) {
	hosted := make([]ingest.Hosted, 0, len(cfg.Sources))
	for _, name := range cfg.SourceNames() {
		s := cfg.Sources[name]
		src, err := s.Factory.New(s.Settings, router.SourceSettings{Name: name, Logger: logger.With("source", name, "type", s.Type)})
		if err != nil {
			return nil, fmt.Errorf("starting source %s: %w", name, err)
		}
		hosted = append(hosted, ingest.Hosted{Name: name, Type: s.Type, Disabled: s.Disabled, Enforcement: s.Enforcement, Source: src})
	}
	return hosted, nil
}

// buildDestinations builds every enabled destination; the returned function
// closes them, for the paths where dispatch never ran.
func buildDestinations(ctx context.Context, cfg *config.Config, logger *slog.Logger) ([]dispatch.Route, func(), error) {
	var routes []dispatch.Route
	closeAll := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, r := range routes {
			if r.Destination == nil {
				continue
			}
			if err := r.Destination.Close(cctx); err != nil {
				logger.Warn("closing destination", "destination", r.Name, "error", err.Error())
			}
		}
	}
	disableDoubleDelivery(cfg)
	for _, name := range cfg.DestinationNames() {
		d := cfg.Destinations[name]
		opts := d.Dispatch
		if opts.Disabled {
			// Its cursors exist and keep their place: the messages wait in
			// the log until the destination is enabled again.
			logger.Info("destination disabled in the config; its messages wait in the log", "destination", name)
			routes = append(routes, dispatch.Route{Name: name, Options: opts})
			continue
		}
		dest, err := d.Factory.New(ctx, d.Settings, router.Settings{
			Name:    name,
			DataDir: cfg.DataDir,
			Logger:  logger.With("destination", name, "type", d.Type),
		})
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("starting destination %s: %w", name, err)
		}
		routes = append(routes, dispatch.Route{Name: name, Destination: dest, Options: opts})
	}
	return routes, closeAll, nil
}

// disableDoubleDelivery applies destinations.AvoidDoubleDelivery to the
// config's destinations.
func disableDoubleDelivery(cfg *config.Config) {
	dests := make([]destinations.Configured, 0, len(cfg.Destinations))
	for _, d := range cfg.Destinations {
		dests = append(dests, destinations.Configured{Settings: d.Settings, Disabled: d.Dispatch.Disabled})
	}
	destinations.AvoidDoubleDelivery(dests)
}
