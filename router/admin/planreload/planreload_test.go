package planreload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/schemas"
)

// writePlan writes a plan directory that blocks unplanned track events
// and plans events, replacing what dir held.
func writePlan(t *testing.T, dir string, events ...string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("plan.yaml", "id: test-plan\nenforcement: {track: {unplanned_events: block}}\n")
	for _, e := range events {
		write(filepath.Join("events", strings.ReplaceAll(strings.ToLower(e), " ", "_")+".schema.json"), fmt.Sprintf(`{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "x-segment-type": "TRACK", "x-segment-key": %q, "x-segment-version": 1,
  "type": "object"
}`, e))
	}
}

// plans holds a plan as ingest does: one atomic pointer.
type plans struct{ p atomic.Pointer[schemas.Plan] }

func (h *plans) Plan() *schemas.Plan     { return h.p.Load() }
func (h *plans) SetPlan(p *schemas.Plan) { h.p.Store(p) }

// clock is a controllable clock: each reading is one second after the
// previous one.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// reingester passes a quarantined track message when the plan in force
// plans its event, as ingest's validation does for a plan that blocks
// unplanned events; it records how many calls ran at once.
type reingester struct {
	plans   *plans
	gate    chan struct{} // when not nil, each call waits for a value
	running atomic.Int32
	maxRun  atomic.Int32
	calls   atomic.Int32
}

func (r *reingester) Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (bool, []router.Violation, error) {
	n := r.running.Add(1)
	defer r.running.Add(-1)
	for {
		m := r.maxRun.Load()
		if n <= m || r.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	r.calls.Add(1)
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
	}
	if _, ok := r.plans.Plan().Tracks[q.Message.Event]; ok {
		return true, nil, nil
	}
	return false, []router.Violation{{Type: "Unplanned", Field: "event"}}, nil
}

// fixture is a Manager over a real log (the quarantine) with its parts.
type fixture struct {
	dir   string
	plans *plans
	re    *reingester
	log   *eventlog.Log
	reg   *prometheus.Registry
	clock *clock
	m     *Manager
}

func newFixture(t *testing.T, autoReplay bool, events ...string) *fixture {
	t.Helper()
	f := &fixture{dir: filepath.Join(t.TempDir(), "plan"), plans: &plans{}, reg: prometheus.NewRegistry(),
		clock: &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	f.re = &reingester{plans: f.plans}
	writePlan(t, f.dir, events...)
	p, err := schemas.Load(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	f.plans.SetPlan(p)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if autoReplay {
		l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Partitions: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("opening the log: %v", err)
		}
		t.Cleanup(func() { _ = l.Close() })
		f.log = l
	}
	cfg := Config{Path: f.dir, AutoReplay: autoReplay, Plans: f.plans, Reingester: f.re, Registerer: f.reg, Now: f.clock.Now}
	if f.log != nil {
		cfg.Quarantine = f.log
	}
	f.m, err = New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.m.Wait)
	return f
}

// quarantine stores track messages of the given events in the quarantine.
func (f *fixture) quarantine(t *testing.T, events ...string) {
	t.Helper()
	var qs []router.Quarantined
	for i, e := range events {
		m := router.Message{ID: fmt.Sprintf("m-%d", i), Source: "app", Type: "track", Event: e, UserID: "u", ReceivedAt: time.Now(),
			Body: []byte(fmt.Sprintf(`{"type":"track","messageId":"m-%d","event":%q}`, i, e))}
		qs = append(qs, router.Quarantined{Message: m, Reason: router.ReasonBlocked, Detail: "track.unplanned_events: block"})
	}
	if err := f.log.Quarantine(context.Background(), qs); err != nil {
		t.Fatal(err)
	}
}

// quarantined lists the events still in the quarantine, sorted.
func (f *fixture) quarantined(t *testing.T) []string {
	t.Helper()
	var out []string
	err := f.log.ScanQuarantined(context.Background(), "", "", time.Time{}, func(q router.Quarantined) bool {
		out = append(out, q.Message.Event)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// metrics returns the Manager's metric values by name and labels, e.g.
// `eventrouter_tracking_plan_reloads_total{outcome="ok"}`.
func (f *fixture) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = v
		}
	}
	return out
}

func TestReloadGoodPlan(t *testing.T) {
	f := newFixture(t, false, "Order Completed")
	before, ok := f.m.PlanInfo()
	if !ok || before.Events != 1 || !before.LoadedAt.Equal(time.Date(2030, 1, 2, 3, 4, 6, 0, time.UTC)) {
		t.Fatalf("PlanInfo at start = %+v, %v; want 1 event loaded at the clock's first reading", before, ok)
	}
	writePlan(t, f.dir, "Order Completed", "Order Shipped")
	info, auto, err := f.m.ReloadPlan(context.Background())
	if err != nil {
		t.Fatalf("ReloadPlan: %v", err)
	}
	if auto != nil || info.LastAutoReplay != nil {
		t.Errorf("auto replay %+v / %+v without auto_replay", auto, info.LastAutoReplay)
	}
	if info.Events != 2 || info.Version == before.Version || info.Path != f.dir || info.ID != "test-plan" ||
		!info.LoadedAt.Equal(time.Date(2030, 1, 2, 3, 4, 7, 0, time.UTC)) {
		t.Errorf("reloaded PlanInfo = %+v; want 2 events, a new version, loaded at the clock's second reading", info)
	}
	if p := f.plans.Plan(); p.Hash != info.Version || len(p.Tracks) != 2 {
		t.Errorf("the plan in force is %s with %d events, want the reloaded one", p.Hash, len(p.Tracks))
	}
	if now, _ := f.m.PlanInfo(); now != info {
		t.Errorf("PlanInfo after reload = %+v, want %+v", now, info)
	}
	m := f.metrics(t)
	if m[`eventrouter_tracking_plan_reloads_total{outcome="ok"}`] != 1 {
		t.Errorf("reloads: %v", m)
	}
	if m[fmt.Sprintf(`eventrouter_tracking_plan_info{id="test-plan",version=%q}`, info.Version)] != 1 {
		t.Errorf("plan info of the new version missing: %v", m)
	}
	if _, ok := m[fmt.Sprintf(`eventrouter_tracking_plan_info{id="test-plan",version=%q}`, before.Version)]; ok {
		t.Errorf("plan info of the old version still exported: %v", m)
	}
}

func TestReloadBadPlanKeepsOld(t *testing.T) {
	f := newFixture(t, true, "Order Completed")
	before, _ := f.m.PlanInfo()
	old := f.plans.Plan()
	t.Run("invalid", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(f.dir, "events", "broken.schema.json"), []byte(`{"x-segment-type": "TRACK",`), 0o644); err != nil {
			t.Fatal(err)
		}
		_, auto, err := f.m.ReloadPlan(context.Background())
		var le *schemas.LoadError
		if !errors.As(err, &le) || len(le.Problems) == 0 {
			t.Fatalf("ReloadPlan of a broken plan: %v, want a *schemas.LoadError with problems", err)
		}
		if auto != nil {
			t.Errorf("an auto replay started after a failed reload: %+v", auto)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if err := os.RemoveAll(f.dir); err != nil {
			t.Fatal(err)
		}
		_, _, err := f.m.ReloadPlan(context.Background())
		var le *schemas.LoadError
		if err == nil || errors.As(err, &le) {
			t.Fatalf("ReloadPlan of a missing directory: %v, want an error that is not a LoadError", err)
		}
	})
	if f.plans.Plan() != old {
		t.Error("the plan in force changed after failed reloads")
	}
	if after, _ := f.m.PlanInfo(); after != before {
		t.Errorf("PlanInfo after failed reloads = %+v, want %+v", after, before)
	}
	m := f.metrics(t)
	if m[`eventrouter_tracking_plan_reloads_total{outcome="failed"}`] != 2 || m[`eventrouter_tracking_plan_reloads_total{outcome="ok"}`] != 0 {
		t.Errorf("reloads: %v", m)
	}
	if m[fmt.Sprintf(`eventrouter_tracking_plan_info{id="test-plan",version=%q}`, old.Hash)] != 1 {
		t.Errorf("the kept plan is not exported: %v", m)
	}
}

func TestNoPlanConfigured(t *testing.T) {
	var sink strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return sink.Write(b)
	}), nil))
	m, err := New(context.Background(), Config{Plans: &plans{}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.PlanInfo(); ok {
		t.Error("PlanInfo reports a plan when none is configured")
	}
	if _, _, err := m.ReloadPlan(context.Background()); !errors.Is(err, admin.ErrNoPlan) {
		t.Errorf("ReloadPlan without a plan: %v, want ErrNoPlan", err)
	}
	// A signal without a plan is logged, and ReloadOn returns when the
	// channel closes.
	ch := make(chan os.Signal, 1)
	ch <- os.Interrupt
	close(ch)
	m.ReloadOn(context.Background(), ch)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(sink.String(), "SIGHUP: no tracking plan configured") {
		t.Errorf("log: %s", sink.String())
	}
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(b []byte) (int, error) { return w(b) }

func TestNewChecksItsParts(t *testing.T) {
	_, err := New(context.Background(), Config{Path: "x", AutoReplay: true})
	if err == nil || !strings.Contains(err.Error(), "Plans is required") || !strings.Contains(err.Error(), "AutoReplay needs Quarantine and Reingester") {
		t.Errorf("New without parts: %v, want both problems", err)
	}
	reg := prometheus.NewRegistry()
	if _, err := New(context.Background(), Config{Plans: &plans{}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), Config{Plans: &plans{}, Registerer: reg}); err == nil {
		t.Error("a second Manager registered the same metrics without an error")
	}
}

// TestAutoReplay reloads a plan that now plans a blocked event: the
// quarantine is replayed in the background against the new plan, the
// passing entry leaves the quarantine, the other stays, and PlanInfo and
// the metrics show the outcome with the injected clock's times.
func TestAutoReplay(t *testing.T) {
	f := newFixture(t, true, "Order Completed")
	f.quarantine(t, "Order Shipped", "Order Lost")
	f.re.gate = make(chan struct{})
	writePlan(t, f.dir, "Order Completed", "Order Shipped")
	info, auto, err := f.m.ReloadPlan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// ReloadPlan answered while the replay waits at the gate: it does not
	// wait for the replay.
	wantStart := time.Date(2030, 1, 2, 3, 4, 8, 0, time.UTC)
	if auto == nil || !auto.StartedAt.Equal(wantStart) || auto.FinishedAt != nil || info.LastAutoReplay == nil || *info.LastAutoReplay != *auto {
		t.Fatalf("auto replay at reload = %+v (info %+v), want started at %v and running", auto, info.LastAutoReplay, wantStart)
	}
	if running, _ := f.m.PlanInfo(); running.LastAutoReplay == nil || running.LastAutoReplay.FinishedAt != nil {
		t.Errorf("PlanInfo while replaying: %+v", running.LastAutoReplay)
	}
	close(f.re.gate)
	f.m.Wait()
	got, _ := f.m.PlanInfo()
	ar := got.LastAutoReplay
	wantEnd := time.Date(2030, 1, 2, 3, 4, 9, 0, time.UTC)
	if ar == nil || ar.FinishedAt == nil || !ar.FinishedAt.Equal(wantEnd) || !ar.StartedAt.Equal(wantStart) ||
		ar.Replayed != 1 || ar.StillInvalid != 1 || ar.Skipped != 0 || ar.Error != "" {
		t.Fatalf("last auto replay = %+v, want 1 replayed, 1 still invalid, finished at %v", ar, wantEnd)
	}
	if q := f.quarantined(t); len(q) != 1 || q[0] != "Order Lost" {
		t.Errorf("quarantine after the replay: %v, want [Order Lost]", q)
	}
	m := f.metrics(t)
	if m[`eventrouter_quarantine_replayed_total{outcome="replayed"}`] != 1 || m[`eventrouter_quarantine_replayed_total{outcome="still_invalid"}`] != 1 {
		t.Errorf("replay metrics: %v", m)
	}
	// A replay through the admin route is counted too; a dry run is not.
	f.m.CountReplay(admin.ReplayResult{Replayed: 2})
	f.m.CountReplay(admin.ReplayResult{Replayed: 5, DryRun: true})
	if m := f.metrics(t); m[`eventrouter_quarantine_replayed_total{outcome="replayed"}`] != 3 {
		t.Errorf("replay metrics after CountReplay: %v", m)
	}
}

// TestAutoReplayStopsWithTheServer cancels the server's context while an
// auto replay runs: it ends, and its error is kept.
func TestAutoReplayStopsWithTheServer(t *testing.T) {
	f := newFixture(t, false, "Order Completed")
	ctx, cancel := context.WithCancel(context.Background())
	lg, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Partitions: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	f.log = lg
	f.quarantine(t, "Order Shipped")
	f.re.gate = make(chan struct{}) // never opened
	m, err := New(ctx, Config{Path: f.dir, AutoReplay: true, Plans: f.plans, Quarantine: lg, Reingester: f.re, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.ReloadPlan(context.Background()); err != nil {
		t.Fatal(err)
	}
	for f.re.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	m.Wait()
	info, _ := m.PlanInfo()
	if ar := info.LastAutoReplay; ar == nil || ar.FinishedAt == nil || ar.Error == "" {
		t.Errorf("auto replay after shutdown: %+v, want finished with an error", ar)
	}
}

// TestConcurrentReloads reloads from many goroutines at once, with auto
// replay: every reload succeeds, the replays run one at a time, and the
// last auto replay is one of those the reloads returned (run with -race).
func TestConcurrentReloads(t *testing.T) {
	f := newFixture(t, true, "Order Completed")
	f.quarantine(t, "Order Shipped", "Order Lost", "Order Gone")
	const n = 8
	var wg sync.WaitGroup
	starts := make(chan time.Time, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, auto, err := f.m.ReloadPlan(context.Background())
			if err != nil || auto == nil {
				t.Errorf("ReloadPlan: %v, %+v", err, auto)
				return
			}
			starts <- auto.StartedAt
		}()
		go f.m.PlanInfo()
	}
	wg.Wait()
	close(starts)
	f.m.Wait()
	if got := f.re.maxRun.Load(); got != 1 {
		t.Errorf("%d replays ran at once, want 1", got)
	}
	if got := f.re.calls.Load(); got != n*3 {
		t.Errorf("%d entries validated, want %d (each replay saw the 3 entries)", got, n*3)
	}
	seen := map[time.Time]bool{}
	for s := range starts {
		if seen[s] {
			t.Errorf("two reloads got the same start time %v from the clock", s)
		}
		seen[s] = true
	}
	info, _ := f.m.PlanInfo()
	if ar := info.LastAutoReplay; ar == nil || !seen[ar.StartedAt] || ar.FinishedAt == nil || ar.StillInvalid != 3 {
		t.Errorf("last auto replay %+v is not a finished one of the reloads", ar)
	}
	if m := f.metrics(t); m[`eventrouter_tracking_plan_reloads_total{outcome="ok"}`] != n || m[`eventrouter_quarantine_replayed_total{outcome="still_invalid"}`] != n*3 {
		t.Errorf("metrics: %v", m)
	}
}

// TestReloadOnSignal reloads once per value on the channel and stops when
// the context ends.
func TestReloadOnSignal(t *testing.T) {
	f := newFixture(t, false, "Order Completed")
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal)
	done := make(chan struct{})
	go func() { defer close(done); f.m.ReloadOn(ctx, ch) }()
	writePlan(t, f.dir, "Order Completed", "Order Shipped")
	ch <- os.Interrupt
	ch <- os.Interrupt // sent once the first reload is done
	cancel()
	<-done
	if got := f.metrics(t)[`eventrouter_tracking_plan_reloads_total{outcome="ok"}`]; got < 1 {
		t.Errorf("reloads after two signals: %v", got)
	}
	if len(f.plans.Plan().Tracks) != 2 {
		t.Error("the signal did not reload the plan")
	}
}
