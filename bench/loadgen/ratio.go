package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// The goals of the ratio benchmark.
const (
	goalBatchRatio  = 0.75
	goalSingleRatio = 0.9
	goalSingleP99   = 20 * time.Millisecond
	goalPeakRSS     = 300_000_000 // bytes
)

type phaseSpec struct {
	id      string
	title   string
	path    string
	clients int
	perReq  int  // events per request
	deliver bool // eventrouter's destination enabled
}

// runResult is one server's run of one phase.
type runResult struct {
	result
	eventsPerSec float64
	peak         int64
	// cpuPerEvent is the server's CPU time (user and system) from the
	// start of the load to its end (eventrouter delivering: until the sink
	// received everything) over the events accepted.
	cpuPerEvent time.Duration
	// Delivery (eventrouter with its destination enabled only).
	accepted, delivered int64
	waited              time.Duration
}

func runRatio(o options) error {
	phases, err := ratioPhases(o)
	if err != nil {
		return err
	}
	if o.rounds < 1 {
		o.rounds = 1
	}
	ceilingBin := o.ceilingBin
	if ceilingBin == "" {
		tmp, err := os.MkdirTemp(o.dir, "ceiling-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if ceilingBin, err = buildCeiling(o, tmp); err != nil {
			return err
		}
	}
	snk, err := startSink()
	if err != nil {
		return err
	}
	defer snk.close()

	fmt.Printf("eventrouter vs ceiling: %d cores, phase length %s, %d round(s); eventrouter: %s, %d partitions, sync_always=%t; ceiling: %s (auth, encoding/json decode, NDJSON append, group-commit fdatasync before the 200)\n",
		runtime.NumCPU(), o.duration, o.rounds, o.bin, o.partitions, o.syncAlways, ceilingBin)
	var outcomes []phaseOutcome
	for _, ph := range phases {
		out, err := runPhase(o, ph, ceilingBin, snk)
		if err != nil {
			return err
		}
		outcomes = append(outcomes, out)
	}
	goalsMet := printRatioSummary(o, outcomes)
	for _, out := range outcomes {
		if !out.delivered {
			return fmt.Errorf("phase (%s): the sink did not receive every accepted event", out.spec.id)
		}
	}
	if o.strict && !goalsMet {
		return errGoals
	}
	return nil
}

// ratioPhases returns the phases -phases lists.
func ratioPhases(o options) ([]phaseSpec, error) {
	all := map[string]phaseSpec{
		"a": {"a", fmt.Sprintf("/v1/batch, %d events/request, %d clients, destination disabled", o.batchSize, o.batchClients), "/v1/batch", o.batchClients, o.batchSize, false},
		"b": {"b", fmt.Sprintf("/v1/batch, %d events/request, %d clients, delivering to the webhook sink", o.batchSize, o.batchClients), "/v1/batch", o.batchClients, o.batchSize, true},
		"c": {"c", fmt.Sprintf("single /v1/track, %d clients, destination disabled", o.singleClients), "/v1/track", o.singleClients, 1, false},
	}
	var phases []phaseSpec
	for _, id := range splitList(o.phases) {
		p, ok := all[id]
		if !ok {
			return nil, fmt.Errorf("unknown phase %q in -phases (a, b, c)", id)
		}
		phases = append(phases, p)
	}
	return phases, nil
}

// buildCeiling builds bench/ceiling into dir and returns its path.
func buildCeiling(o options, dir string) (string, error) {
	bin := filepath.Join(dir, "ceiling")
	cmd := exec.Command(o.goCmd, "build", "-o", bin, "github.com/eventrouter/eventrouter/bench/ceiling")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building bench/ceiling (run from the repository, or pass -ceiling-bin): %w", err)
	}
	return bin, nil
}

// phaseOutcome is what the rounds of one phase measured.
type phaseOutcome struct {
	spec      phaseSpec
	ceil, er  []runResult
	ratios    []float64
	delivered bool
}

// runPhase runs the rounds of phase ph, each the ceiling and eventrouter
// once, and prints each run and its ratio.
func runPhase(o options, ph phaseSpec, ceilingBin string, snk *sink) (phaseOutcome, error) {
	fmt.Printf("\n(%s) %s\n", ph.id, ph.title)
	out := phaseOutcome{spec: ph, delivered: true}
	for r := 0; r < o.rounds; r++ {
		// The ceiling first, then eventrouter; the other way round
		// in every second round, so that a drift in the machine's
		// other load does not favour one of them.
		var c, e runResult
		for _, er := range []bool{r%2 == 1, r%2 == 0} {
			res, err := ratioRun(o, ph, er, ceilingBin, snk)
			if err != nil {
				return out, err
			}
			if er {
				e = res
				printRun("eventrouter", ph, e)
			} else {
				c = res
				printRun("ceiling", ph, c)
			}
		}
		ratio := 0.0
		if c.eventsPerSec > 0 {
			ratio = e.eventsPerSec / c.eventsPerSec
		}
		fmt.Printf("    ratio        %.3f\n", ratio)
		if ph.deliver {
			ok := e.delivered >= e.accepted
			if !ok {
				out.delivered = false
			}
			extra := ""
			if e.delivered > e.accepted {
				extra = fmt.Sprintf(" (%d more: redeliveries)", e.delivered-e.accepted)
			}
			fmt.Printf("    delivery     sink received %d of %d accepted events%s, %.1f s after the load ended: %s\n",
				e.delivered, e.accepted, extra, e.waited.Seconds(), metStr(ok))
		}
		out.ceil = append(out.ceil, c)
		out.er = append(out.er, e)
		out.ratios = append(out.ratios, ratio)
	}
	return out, nil
}

// printRatioSummary prints the medians of each phase and the goals, and
// reports whether every goal was met.
func printRatioSummary(o options, outcomes []phaseOutcome) bool {
	fmt.Printf("\nsummary (median of %d round(s); rates in events/s, latencies eventrouter's)\n", o.rounds)
	fmt.Printf("  %-5s %12s %12s %6s %10s %10s %7s %12s %14s\n", "phase", "ceiling", "eventrouter", "ratio", "p50", "p99", "errors", "peak RSS", "CPU µs/event")
	goalsMet := true
	var goals []string
	var peakBatch []string
	batchPeakOK := true
	for _, out := range outcomes {
		ceil := median(collect(out.ceil, func(r runResult) float64 { return r.eventsPerSec }))
		er := median(collect(out.er, func(r runResult) float64 { return r.eventsPerSec }))
		p50 := time.Duration(median(collect(out.er, func(r runResult) float64 { return float64(r.p50) })))
		p99 := time.Duration(median(collect(out.er, func(r runResult) float64 { return float64(r.p99) })))
		ratio := median(out.ratios)
		var errs, peak int64
		for _, r := range out.er {
			errs += r.errors
			peak = max(peak, r.peak)
		}
		cpuC := median(collect(out.ceil, func(r runResult) float64 { return float64(r.cpuPerEvent.Nanoseconds()) / 1000 }))
		cpuE := median(collect(out.er, func(r runResult) float64 { return float64(r.cpuPerEvent.Nanoseconds()) / 1000 }))
		fmt.Printf("  (%s)   %12.0f %12.0f %6.3f %10s %10s %7d %12s %6.1f / %5.1f\n", out.spec.id, ceil, er, ratio, ms(p50), ms(p99), errs, mb(peak), cpuC, cpuE)
		switch out.spec.id {
		case "a":
			goals = append(goals, fmt.Sprintf("(a) /v1/batch, destination disabled: %.3f x ceiling (no goal of its own)", ratio))
		case "b":
			ok := ratio >= goalBatchRatio
			goalsMet = goalsMet && ok && out.delivered
			goals = append(goals, fmt.Sprintf("(b) /v1/batch delivering >= %.2f x ceiling: %.3f, %s", goalBatchRatio, ratio, metStr(ok)))
			goals = append(goals, fmt.Sprintf("(b) the sink received every accepted event: %s", metStr(out.delivered)))
		case "c":
			ok := ratio >= goalSingleRatio
			okP99 := p99 <= goalSingleP99
			goalsMet = goalsMet && ok && okP99
			goals = append(goals, fmt.Sprintf("(c) single /v1/track >= %.2f x ceiling: %.3f, %s", goalSingleRatio, ratio, metStr(ok)))
			goals = append(goals, fmt.Sprintf("(c) single /v1/track p99 <= %s: %s, %s", ms(goalSingleP99), ms(p99), metStr(okP99)))
		}
		if out.spec.perReq > 1 {
			peakBatch = append(peakBatch, fmt.Sprintf("(%s) %s", out.spec.id, mb(peak)))
			batchPeakOK = batchPeakOK && peak <= goalPeakRSS
		}
	}
	if len(peakBatch) > 0 {
		goalsMet = goalsMet && batchPeakOK
		goals = append(goals, fmt.Sprintf("eventrouter peak RSS at full batch ingest <= %s: %s, %s", mb(goalPeakRSS), strings.Join(peakBatch, ", "), metStr(batchPeakOK)))
	}
	fmt.Println("goals:")
	for _, g := range goals {
		fmt.Println("  " + g)
	}
	return goalsMet
}

// ratioRun runs one phase against a fresh server: eventrouter when er is
// set, else the ceiling.
func ratioRun(o options, ph phaseSpec, er bool, ceilingBin string, snk *sink) (runResult, error) {
	var p *proc
	var err error
	if er {
		snk.events.Store(0)
		c := erConfig{partitions: o.partitions, syncAlways: o.syncAlways, sinkAddr: snk.addr, destEnabled: ph.deliver, tuned: true}
		if o.profile != "" {
			c.adminToken = profileToken
		}
		p, err = startEventrouter(o.bin, o.dir, c, o.keep)
	} else {
		p, err = startCeiling(ceilingBin, o.dir, o.keep)
	}
	if err != nil {
		return runResult{}, err
	}
	defer p.stop()
	client := newClient()
	defer client.CloseIdleConnections()
	perReq := ph.perReq
	body := func(seq int64) []byte { return trackEvent(seq, true) }
	if ph.path == "/v1/batch" {
		body = func(seq int64) []byte { return batchBody(seq, perReq) }
	}
	var r runResult
	var profiled chan error
	if er && o.profile != "" {
		profiled = make(chan error, 1)
		go func() { profiled <- takeProfiles(p.base, o.profile, ph.id, o.duration) }()
	}
	cpu0, err := procCPU(p.pid())
	if err != nil {
		return runResult{}, err
	}
	r.result = load(client, p.base+ph.path, ph.clients, o.duration, 0, body)
	if profiled != nil {
		if err := <-profiled; err != nil {
			return r, err
		}
	}
	r.eventsPerSec = r.rps * float64(perReq)
	if er && ph.deliver {
		r.accepted = r.ok * int64(perReq)
		r.waited = snk.waitDelivered(r.accepted, 5*time.Minute)
		r.delivered = snk.events.Load()
	}
	cpu1, err := procCPU(p.pid())
	if err != nil {
		return r, err
	}
	if events := r.ok * int64(perReq); events > 0 {
		r.cpuPerEvent = (cpu1 - cpu0) / time.Duration(events)
	}
	if r.peak, err = peakRSS(p.pid()); err != nil {
		return r, err
	}
	return r, nil
}

func printRun(name string, ph phaseSpec, r runResult) {
	rate := fmt.Sprintf("%8.0f events/s (%.0f requests/s)", r.eventsPerSec, r.rps)
	if ph.perReq == 1 {
		rate = fmt.Sprintf("%8.0f requests/s", r.rps)
	}
	fmt.Printf("    %-12s %s, p50 %s, p99 %s, errors %d, peak RSS %s, CPU %.1f µs/event\n", name, rate, ms(r.p50), ms(r.p99), r.errors, mb(r.peak), float64(r.cpuPerEvent.Nanoseconds())/1000)
}

func collect(rs []runResult, f func(runResult) float64) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// profileToken is the admin token of an eventrouter run with -profile.
const profileToken = "loadgen-profile-token"

// takeProfiles saves a CPU profile of the middle half of a phase of length
// d and, at its end, a heap profile, as <dir>/<phase>.{cpu,heap}.pprof.
func takeProfiles(base, dir, phase string, d time.Duration) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	time.Sleep(d / 4)
	secs := int(d / 2 / time.Second)
	if secs < 1 {
		secs = 1
	}
	if err := saveProfile(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), filepath.Join(dir, phase+".cpu.pprof")); err != nil {
		return err
	}
	time.Sleep(d/4 - 500*time.Millisecond)
	return saveProfile(base+"/debug/pprof/heap", filepath.Join(dir, phase+".heap.pprof"))
}

func saveProfile(url, path string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+profileToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
