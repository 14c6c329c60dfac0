// Command loadgen is eventrouter's end-to-end benchmark. It starts the
// servers it measures as subprocesses, drives them over HTTP from the same
// machine and prints throughput, latency, delivery and the servers' memory.
// It has three modes (-mode):
//
// ratio (the default) measures eventrouter against bench/ceiling, a minimal
// durable ingest server (auth, full JSON decode, append + group-commit
// fsync before the 200; see its package comment), in the same invocation
// and with identical load. Each phase runs against a fresh ceiling, then
// against a fresh eventrouter (so VmHWM is that phase's peak); -rounds N
// repeats that N times, every second round eventrouter first, and the
// summary takes the medians:
//
//   - (a) /v1/batch, 100 track events of ~430 bytes per request, 16
//     clients, eventrouter's webhook destination disabled;
//   - (b) the same, eventrouter delivering to a webhook sink in loadgen
//     (the ceiling only appends: it is the ceiling); loadgen then waits until
//     the sink has every accepted event;
//   - (c) single /v1/track, 64 clients, destination disabled.
//
// It prints per phase each server's rate, p50/p99 and errors, the ratio
// eventrouter/ceiling and eventrouter's peak RSS, then the goals with
// met/NOT met: (b) >= 0.75 x ceiling, (c) >= 0.9 x ceiling with p99 <= 20 ms,
// peak RSS at full batch ingest (a, b) <= 300 MB.
//
// soak (-soak) runs eventrouter with the shipped defaults (embedded NATS; no
// queue key set but dedupe_window) and one webhook destination (default
// dispatch settings) to the sink, for -duration at a steady, paced 4,000
// events/s (40 /v1/batch requests of 100 a second). It prints VmRSS every
// 30 s and at the end the mean RSS of the first and the last third after a
// 1-minute warm-up, the drift, the peak (VmHWM) and delivered vs accepted,
// with the goals (flat within ±10 %, <= 300 MB); once per
// queue.dedupe_window of -dedupe (24h, then 2m by default), comparing the
// last-third means of the windows at the end (goal: within 10 %).
//
// startup (-mode startup) fills eventrouter's log with -messages events
// (default 5 million) within the default 24 h dedupe window, destination
// disabled, then times three starts to GET /readyz 200: after a clean stop
// and after kill -9 (goal: <= 5 s each), and with the dedupe index deleted
// (rebuilt from the whole log; no goal, its rate is printed).
//
// classic (-mode classic) is the earlier benchmark: one eventrouter, 8
// clients posting /v1/batch, then 16 clients posting single /v1/track paced
// at -single-rate and unpaced, delivery to the sink, peak RSS.
//
// Usage (from the repository root; ratio mode builds bench/ceiling itself
// unless -ceiling-bin is given):
//
//	go run ./bench/loadgen -bin ./bin/eventrouter -duration 20s
//	go run ./bench/loadgen -soak -bin ./bin/eventrouter -duration 10m -dedupe 24h,2m
//	go run ./bench/loadgen -mode startup -bin ./bin/eventrouter -messages 5000000
//	go run ./bench/loadgen -mode classic -bin ./bin/eventrouter -duration 20s
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

type options struct {
	mode          string
	bin           string
	ceilingBin    string
	goCmd         string
	duration      time.Duration
	batchClients  int
	singleClients int
	singleRate    int
	batchSize     int
	partitions    int
	syncAlways    bool
	keep          bool
	phases        string
	rounds        int
	strict        bool
	dedupe        string
	soakRate      int
	soakClients   int
	report        time.Duration
	warmup        time.Duration
	dir           string
	profile       string
	messages      int64
}

func main() {
	var o options
	flag.StringVar(&o.mode, "mode", "ratio", "ratio (eventrouter against bench/ceiling), soak, startup or classic")
	soak := flag.Bool("soak", false, "shorthand for -mode soak")
	flag.StringVar(&o.bin, "bin", "./bin/eventrouter", "path of the eventrouter binary")
	flag.StringVar(&o.ceilingBin, "ceiling-bin", "", "ratio: path of a built bench/ceiling (default: build it with -go into a temporary directory)")
	flag.StringVar(&o.goCmd, "go", "go", "ratio: the go command used to build bench/ceiling")
	flag.DurationVar(&o.duration, "duration", 0, "length of each load phase (default 20s; soak: of each soak, default 10m)")
	flag.IntVar(&o.batchClients, "batch-clients", 0, "concurrent clients posting /v1/batch (default 16; classic 8)")
	flag.IntVar(&o.singleClients, "single-clients", 0, "concurrent clients posting /v1/track (default 64; classic 16)")
	flag.IntVar(&o.singleRate, "single-rate", 3000, "classic: target requests/s of the paced /v1/track phase")
	flag.IntVar(&o.batchSize, "batch-size", 100, "events per /v1/batch request")
	flag.IntVar(&o.partitions, "partitions", 8, "ratio, classic: queue.partitions of eventrouter (8 is its default; soak keeps the default)")
	flag.BoolVar(&o.syncAlways, "sync-always", false, "ratio, classic: run eventrouter with queue.sync_always: true (fsync every write)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary data directories")
	flag.StringVar(&o.phases, "phases", "a,b,c", "ratio: the phases to run")
	flag.IntVar(&o.rounds, "rounds", 1, "ratio: runs of each phase (ceiling, then eventrouter, each round); the summary takes medians")
	flag.BoolVar(&o.strict, "strict", false, "exit with status 1 when a goal is not met")
	flag.StringVar(&o.dedupe, "dedupe", "24h,2m", "soak: the queue.dedupe_window values to soak with, one run each, in order")
	flag.IntVar(&o.soakRate, "rate", 4000, "soak: events/s (sent as -batch-size events per request, paced)")
	flag.IntVar(&o.soakClients, "soak-clients", 16, "soak: concurrent senders sharing the paced schedule")
	flag.DurationVar(&o.report, "report", 30*time.Second, "soak: how often to print RSS")
	flag.DurationVar(&o.warmup, "warmup", time.Minute, "soak: RSS before this is left out of the flatness figures")
	flag.StringVar(&o.dir, "dir", "", "parent of the temporary data directories (default the system's)")
	flag.StringVar(&o.profile, "profile", "", "ratio: write eventrouter's CPU profile (the middle half of each phase) and heap profile (at its end) into this directory; soak: heap profiles at the end of the warm-up and of each third after it")
	flag.Int64Var(&o.messages, "messages", 5_000_000, "startup: events stored before the timed starts")
	flag.Parse()
	if *soak {
		o.mode = "soak"
	}
	var err error
	switch o.mode {
	case "ratio":
		o.defaults(20*time.Second, 16, 64)
		err = runRatio(o)
	case "soak":
		o.defaults(10*time.Minute, 0, 0)
		err = runSoak(o)
	case "startup":
		o.defaults(0, 16, 0)
		err = runStartup(o)
	case "classic":
		o.defaults(20*time.Second, 8, 16)
		err = runClassic(o)
	default:
		err = fmt.Errorf("unknown -mode %q (ratio, soak, startup or classic)", o.mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func (o *options) defaults(d time.Duration, batchClients, singleClients int) {
	if o.duration == 0 {
		o.duration = d
	}
	if o.batchClients == 0 {
		o.batchClients = batchClients
	}
	if o.singleClients == 0 {
		o.singleClients = singleClients
	}
}

// errGoals is returned under -strict when a goal is not met.
var errGoals = fmt.Errorf("goals not met")

func metStr(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
