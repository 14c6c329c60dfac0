package main

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// soakFlat is the flatness goal: the last third's mean RSS within this
// fraction of the first third's; soakSame bounds the difference between the
// dedupe windows.
const (
	soakFlat = 0.10
	soakSame = 0.10
)

type rssSample struct {
	at   time.Duration // since the load started
	rss  int64
	anon int64 // RssAnon: RSS less the pages of mapped files (the executable's, 128 MB with DuckDB)
}

type soakResult struct {
	window              string
	accepted, errors    int64
	delivered           int64
	waited              time.Duration
	rate                float64 // accepted events/s
	p50, p99            time.Duration
	maxLag              time.Duration
	first, last, drift  float64 // mean RSS of the thirds (bytes), drift in %
	anonFirst, anonLast float64 // the same of RssAnon
	haveThirds          bool
	maxRSS, peak        int64
	flatOK, capOK, deli bool
}

func runSoak(o options) error {
	windows := splitList(o.dedupe)
	if len(windows) == 0 {
		return fmt.Errorf("-dedupe lists no window")
	}
	if o.soakRate < o.batchSize || o.batchSize < 1 {
		return fmt.Errorf("-rate %d is below one request of -batch-size %d a second", o.soakRate, o.batchSize)
	}
	snk, err := startSink()
	if err != nil {
		return err
	}
	defer snk.close()
	fmt.Printf("soak: %d cores, eventrouter %s with the shipped defaults (embedded NATS; no key set but queue.dedupe_window) and one webhook destination with default dispatch settings to loadgen's sink (answers 200 at once); %d events/s as %.0f /v1/batch requests of %d a second, paced, %d senders; %s per dedupe_window (%v); RSS (VmRSS) every %s, warm-up %s\n",
		runtime.NumCPU(), o.bin, o.soakRate, float64(o.soakRate)/float64(o.batchSize), o.batchSize, o.soakClients, o.duration, windows, o.report, o.warmup)
	var results []soakResult
	for _, w := range windows {
		r, err := soakOnce(o, w, snk)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	goalsMet := true
	fmt.Println("\nsoak goals:")
	for _, r := range results {
		if r.haveThirds {
			fmt.Printf("  dedupe_window %-4s RSS flat (last third within ±%.0f %% of the first after the warm-up): %+.1f %%, %s\n", r.window, soakFlat*100, r.drift, metStr(r.flatOK))
		} else {
			fmt.Printf("  dedupe_window %-4s RSS flat: run too short for a figure after the %s warm-up\n", r.window, o.warmup)
		}
		fmt.Printf("  dedupe_window %-4s RSS <= %s: peak %s (largest sample %s), %s\n", r.window, mb(goalPeakRSS), mb(r.peak), mb(r.maxRSS), metStr(r.capOK))
		fmt.Printf("  dedupe_window %-4s delivered every accepted event: %d of %d, %s\n", r.window, r.delivered, r.accepted, metStr(r.deli))
		goalsMet = goalsMet && r.flatOK && r.capOK && r.deli
	}
	// Each window after the first against the first (24h against 2m by
	// default: the reference is the last listed, normally the short one).
	if len(results) >= 2 {
		ref := results[len(results)-1]
		for _, r := range results[:len(results)-1] {
			if !r.haveThirds || !ref.haveThirds {
				continue
			}
			diff := (r.last - ref.last) / ref.last * 100
			ok := math.Abs(diff) <= soakSame*100
			goalsMet = goalsMet && ok
			fmt.Printf("  dedupe_window %s vs %s within %.0f %% (last third's mean RSS %s vs %s): %+.1f %%, %s\n",
				r.window, ref.window, soakSame*100, mb(int64(r.last)), mb(int64(ref.last)), diff, metStr(ok))
			pk := (float64(r.peak) - float64(ref.peak)) / float64(ref.peak) * 100
			fmt.Printf("  dedupe_window %s vs %s peak RSS: %s vs %s, %+.1f %%\n", r.window, ref.window, mb(r.peak), mb(ref.peak), pk)
		}
	}
	for _, r := range results {
		if !r.deli {
			return fmt.Errorf("dedupe_window %s: the sink received %d of %d accepted events", r.window, r.delivered, r.accepted)
		}
	}
	if o.strict && !goalsMet {
		return errGoals
	}
	return nil
}

func soakOnce(o options, window string, snk *sink) (soakResult, error) {
	res := soakResult{window: window}
	snk.events.Store(0)
	cfg := erConfig{dedupe: window, sinkAddr: snk.addr, destEnabled: true}
	if o.profile != "" {
		cfg.adminToken = profileToken
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return res, err
		}
	}
	p, err := startEventrouter(o.bin, o.dir, cfg, o.keep)
	if err != nil {
		return res, err
	}
	defer p.stop()
	pid := p.pid()
	fmt.Printf("\nsoak with queue.dedupe_window %s (pid %d, RSS at start %s)\n", window, pid, rssNow(pid))
	fmt.Printf("  %8s %10s %10s %10s %10s %10s %12s %12s %7s %9s %9s\n", "elapsed", "RSS", "max RSS", "RssAnon", "Go heap", "dedupe", "accepted", "delivered", "errors", "p99", "max lag")

	client := newClient()
	defer client.CloseIdleConnections()
	load := &soakLoad{
		client: client, url: p.base + "/v1/batch", batchSize: o.batchSize,
		interval: time.Duration(float64(time.Second) * float64(o.batchSize) / float64(o.soakRate)),
		start:    time.Now(),
	}
	load.total = int64(o.duration / load.interval)
	done := load.run(o.soakClients)

	var samples []rssSample
	var allLat []time.Duration
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	nextReport := o.report
	nextHeap := o.warmup
	report := func(at time.Duration) {
		l, lag := load.take()
		allLat = append(allLat, l...)
		_, p99 := percentiles(append([]time.Duration(nil), l...))
		var cur, anon int64
		if len(samples) > 0 {
			cur, anon = samples[len(samples)-1].rss, samples[len(samples)-1].anon
		}
		// Where the RSS is: the Go heap in use and the dedupe index's
		// memory (its block cache, outside the heap in a cgo build, fills
		// towards its cap as the index grows), from /metrics.
		m := scrapeMetrics(p.base+"/metrics", "go_memstats_heap_inuse_bytes", "eventrouter_dedupe_index_memory_bytes")
		fmt.Printf("  %8s %10s %10s %10s %10s %10s %12d %12d %7d %9s %9s\n", clock(at), mb(cur), mb(res.maxRSS), mb(anon),
			mb(int64(m["go_memstats_heap_inuse_bytes"])), mb(int64(m["eventrouter_dedupe_index_memory_bytes"])),
			load.ok.Load()*int64(o.batchSize), snk.events.Load(), load.errs.Load(), ms(p99), ms(lag))
	}
loop:
	for {
		select {
		case <-done:
			break loop
		case <-tick.C:
			at := time.Since(load.start)
			if rss, err := procStatus(pid, "VmRSS"); err == nil {
				anon, _ := procStatus(pid, "RssAnon")
				samples = append(samples, rssSample{at, rss, anon})
				res.maxRSS = max(res.maxRSS, rss)
			}
			if at >= nextReport {
				report(at)
				nextReport += o.report
			}
			// Heap profiles at the end of the warm-up and every third
			// after it: `go tool pprof -diff_base` of two shows what grew.
			if o.profile != "" && at >= nextHeap && nextHeap <= o.duration {
				path := filepath.Join(o.profile, fmt.Sprintf("soak-%s-%s.heap.pprof", window, strings.ReplaceAll(clock(nextHeap), ":", "m")))
				if err := saveProfile(p.base+"/debug/pprof/heap", path); err != nil {
					fmt.Printf("  heap profile: %v\n", err)
				}
				nextHeap += max((o.duration-o.warmup)/3, time.Second)
			}
		}
	}
	elapsed := time.Since(load.start)
	report(elapsed)
	res.accepted = load.ok.Load() * int64(o.batchSize)
	res.errors = load.errs.Load()
	res.rate = float64(res.accepted) / elapsed.Seconds()
	res.p50, res.p99 = percentiles(allLat)
	res.waited = snk.waitDelivered(res.accepted, 2*time.Minute)
	res.delivered = snk.events.Load()
	res.deli = res.delivered >= res.accepted
	if res.peak, err = peakRSS(pid); err != nil {
		return res, err
	}
	res.capOK = res.peak <= goalPeakRSS
	if res.first, res.last, res.haveThirds = rssThirds(samples, o.warmup, elapsed, func(s rssSample) int64 { return s.rss }); res.haveThirds {
		res.drift = (res.last - res.first) / res.first * 100
		res.flatOK = math.Abs(res.drift) <= soakFlat*100
		if fa, la, ok := rssThirds(samples, o.warmup, elapsed, func(s rssSample) int64 { return s.anon }); ok && fa > 0 {
			res.anonFirst, res.anonLast = fa, la
		}
	}
	printSoak(o, res, elapsed)
	return res, nil
}

// soakLoad is the soak's load: total batch requests of batchSize events,
// each due interval after the one before from start, sent by a number of
// clients; it counts the answers and keeps the latencies and the largest
// lag behind schedule until taken.
type soakLoad struct {
	client    *http.Client
	url       string
	batchSize int
	interval  time.Duration
	total     int64
	start     time.Time

	next, ok, errs atomic.Int64

	mu     sync.Mutex
	lat    []time.Duration
	maxLag time.Duration
}

// run starts clients senders and returns a channel closed when every
// request has been sent.
func (l *soakLoad) run(clients int) <-chan struct{} {
	var wg sync.WaitGroup
	for range clients {
		wg.Go(l.send)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return done
}

// send sends the requests that are due, one at a time, until none is
// left.
func (l *soakLoad) send() {
	for {
		i := l.next.Add(1) - 1
		if i >= l.total {
			return
		}
		due := l.start.Add(time.Duration(i) * l.interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		lag := time.Since(due)
		t0 := time.Now()
		code, err := post(l.client, l.url, batchBody(i, l.batchSize))
		d := time.Since(t0)
		if err == nil && code == http.StatusOK {
			l.ok.Add(1)
		} else {
			l.errs.Add(1)
		}
		l.mu.Lock()
		l.lat = append(l.lat, d)
		l.maxLag = max(l.maxLag, lag)
		l.mu.Unlock()
	}
}

// take returns the latencies and the largest lag since the last take.
func (l *soakLoad) take() ([]time.Duration, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lat, lag := l.lat, l.maxLag
	l.lat, l.maxLag = nil, 0
	return lat, lag
}

// rssThirds returns the mean RSS of the first and the last third of the
// time after the warm-up (of a run of elapsed), and false when either
// third has no sample.
func rssThirds(samples []rssSample, warmup, elapsed time.Duration, of func(rssSample) int64) (first, last float64, ok bool) {
	span := elapsed - warmup
	if span <= 0 {
		return 0, 0, false
	}
	third := span / 3
	var fs, ls []int64
	for _, s := range samples {
		switch {
		case s.at < warmup:
		case s.at < warmup+third:
			fs = append(fs, of(s))
		case s.at >= elapsed-third:
			ls = append(ls, of(s))
		}
	}
	if len(fs) == 0 || len(ls) == 0 {
		return 0, 0, false
	}
	return mean(fs), mean(ls), true
}

// printSoak prints the summary of one soak.
func printSoak(o options, res soakResult, elapsed time.Duration) {
	fmt.Printf("  load: %s, %d events accepted (%.0f/s of %d/s), %d failed requests, p50 %s, p99 %s\n",
		elapsed.Round(time.Second), res.accepted, res.rate, o.soakRate, res.errors, ms(res.p50), ms(res.p99))
	fmt.Printf("  delivery: the sink received %d of %d accepted events, %.1f s after the load ended\n", res.delivered, res.accepted, res.waited.Seconds())
	if res.haveThirds {
		fmt.Printf("  RSS after the %s warm-up: first third mean %s, last third mean %s, drift %+.1f %%; largest sample %s, peak (VmHWM) %s\n",
			o.warmup, mb(int64(res.first)), mb(int64(res.last)), res.drift, mb(res.maxRSS), mb(res.peak))
		if res.anonFirst > 0 {
			fmt.Printf("  RssAnon (RSS less mapped files' pages, the executable's included): first third mean %s, last third mean %s, drift %+.1f %%\n",
				mb(int64(res.anonFirst)), mb(int64(res.anonLast)), (res.anonLast-res.anonFirst)/res.anonFirst*100)
		}
	} else {
		fmt.Printf("  RSS: largest sample %s, peak (VmHWM) %s (the run is too short for thirds after the %s warm-up)\n", mb(res.maxRSS), mb(res.peak), o.warmup)
	}
}

func mean(xs []int64) float64 {
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(len(xs))
}

// clock formats d as m:ss.
func clock(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// scrapeMetrics returns the values of the named unlabelled metrics in the
// Prometheus text at url (missing ones are 0).
func scrapeMetrics(url string, names ...string) map[string]float64 {
	out := make(map[string]float64, len(names))
	resp, err := http.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !slices.Contains(names, name) {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out
}
