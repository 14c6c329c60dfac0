package main

import (
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// goalStartup is the start-up goal: ready within this with the window full.
const goalStartup = 5 * time.Second

// runStartup fills eventrouter's log with -messages events within the
// dedupe window (24h, the default; the destination disabled so nothing is
// consumed), then times three starts on that data until GET /readyz
// answers 200: after a clean stop, after kill -9 under load (the dedupe
// index repaired from the log's tail) and with the dedupe index deleted (rebuilt
// from the whole log).
func runStartup(o options) error {
	parent, err := os.MkdirTemp(o.dir, "eventrouter-startup-")
	if err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(parent)
	}
	fmt.Printf("startup: %d cores, eventrouter %s with the shipped defaults (embedded NATS, dedupe_window 24h, %d partitions), destination disabled; the log filled with %d events (/v1/batch of %d, %d clients), then three starts timed to GET /readyz 200\n",
		runtime.NumCPU(), o.bin, o.partitions, o.messages, o.batchSize, o.batchClients)
	p, err := startEventrouter(o.bin, parent, erConfig{partitions: o.partitions, sinkAddr: "127.0.0.1:9", destEnabled: false}, true)
	if err != nil {
		return err
	}
	dir, addr := p.dir, p.base[len("http://"):]
	cfgPath := filepath.Join(dir, "eventrouter.yaml")
	dataDir := filepath.Join(dir, "data")

	client := newClient()
	requests := (o.messages + int64(o.batchSize) - 1) / int64(o.batchSize)
	start := time.Now()
	r := loadN(client, p.base+"/v1/batch", o.batchClients, requests, func(seq int64) []byte { return batchBody(seq, o.batchSize) })
	client.CloseIdleConnections()
	fill := time.Since(start)
	if r.errors > 0 {
		p.cmd.Process.Kill()
		return fmt.Errorf("filling the log: %d requests failed", r.errors)
	}
	stored := r.ok * int64(o.batchSize)
	// The fill is full batch ingest for about a minute: long enough for
	// the dedupe index's cache to fill, which the ratio phases' 20 s are
	// not, so its peak RSS is checked against the same goal.
	fillPeak, err := peakRSS(p.pid())
	if err != nil {
		p.cmd.Process.Kill()
		return err
	}
	fmt.Printf("filled: %d events in %s (%.0f events/s), RSS %s, peak RSS %s, data %s\n", stored, fill.Round(time.Second), float64(stored)/fill.Seconds(), rssNow(p.pid()), mb(fillPeak), mb(dirSize(dataDir)))
	p.keep = true
	p.stop()

	// A rebuild reads the whole log: give it time.
	restart := func(name string) (time.Duration, *proc, error) {
		t0 := time.Now()
		q, err := startProcWithin("eventrouter", o.bin, []string{"serve", "--config", cfgPath}, addr, dir, true, 15*time.Minute)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: %w", name, err)
		}
		d := time.Since(t0)
		fmt.Printf("  %-44s ready in %6.2f s, RSS %s\n", name, d.Seconds(), rssNow(q.pid()))
		return d, q, nil
	}
	type timing struct {
		name string
		d    time.Duration
		goal bool
	}
	var ts []timing

	d, q, err := restart("after a clean stop")
	if err != nil {
		return err
	}
	ts = append(ts, timing{"after a clean stop", d, true})
	// kill -9 under load, so that the index has fallen behind the log.
	loaded := make(chan result, 1)
	kc := newClient()
	go func() {
		loaded <- loadN(kc, q.base+"/v1/batch", o.batchClients, requests, func(seq int64) []byte { return batchBody(requests+seq, o.batchSize) })
	}()
	time.Sleep(3 * time.Second)
	_ = q.cmd.Process.Signal(syscall.SIGKILL)
	_ = q.cmd.Wait()
	lr := <-loaded
	kc.CloseIdleConnections()
	fmt.Printf("  killed with -9 under load after %d more requests were answered 200\n", lr.ok)
	stored += lr.ok * int64(o.batchSize)

	d, q, err = restart("after kill -9 (index repaired from the tail)")
	if err != nil {
		return err
	}
	ts = append(ts, timing{"after kill -9", d, true})
	q.stop()

	if err := os.RemoveAll(filepath.Join(dataDir, "dedupe")); err != nil {
		return err
	}
	d, q, err = restart("dedupe index deleted (rebuilt from the log)")
	if err != nil {
		return err
	}
	ts = append(ts, timing{"index rebuilt", d, false})
	q.stop()

	fmt.Println("goals:")
	met := fillPeak <= goalPeakRSS
	fmt.Printf("  peak RSS <= %s at full batch ingest while filling (%s): %s, %s\n", mb(goalPeakRSS), fill.Round(time.Second), mb(fillPeak), metStr(met))
	for _, t := range ts {
		if t.goal {
			ok := t.d <= goalStartup
			met = met && ok
			fmt.Printf("  ready <= %s with %d events in the window, %s: %.2f s, %s\n", goalStartup, stored, t.name, t.d.Seconds(), metStr(ok))
		} else {
			fmt.Printf("  (no goal) %s: %.2f s for %d events (%.0f events/s)\n", t.name, t.d.Seconds(), stored, float64(stored)/t.d.Seconds())
		}
	}
	if o.strict && !met {
		return errGoals
	}
	return nil
}

// loadN sends n requests from clients concurrent clients, unpaced; a
// failed request counts as an error and is not sent again.
func loadN(client *http.Client, url string, clients int, n int64, body func(seq int64) []byte) result {
	var seq, ok, errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := seq.Add(1)
				if i > n {
					return
				}
				code, err := post(client, url, body(i))
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return result{ok: ok.Load(), errors: errs.Load(), rps: float64(ok.Load()) / time.Since(start).Seconds()}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
