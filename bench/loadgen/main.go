// Command loadgen is eventrouter's benchmark: it starts `eventrouter serve`
// as a subprocess with a webhook destination pointing at a local sink, drives
// it with concurrent clients and prints throughput, latency and the server's
// peak memory.
//
// The phases run one after the other:
//
//   - batch:  N clients POST /v1/batch with 100 track events of ~400 bytes;
//   - single: N clients POST /v1/track with one event each, first paced at
//     -single-rate requests/s (the latency at a target rate), then as fast as
//     they go (the ceiling).
//
// After the load, loadgen waits until the sink has received every accepted
// event (so delivery keeps up, not only ingest) and reports how long that
// took. Usage:
//
//	go run ./bench/loadgen -bin ./bin/eventrouter -duration 20s
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("bin", "./bin/eventrouter", "path of the eventrouter binary")
	duration := flag.Duration("duration", 20*time.Second, "length of each load phase")
	batchClients := flag.Int("batch-clients", 8, "concurrent clients in the /v1/batch phase")
	singleClients := flag.Int("single-clients", 16, "concurrent clients in the /v1/track phase")
	singleRate := flag.Int("single-rate", 3000, "target requests/s of the paced /v1/track phase")
	batchSize := flag.Int("batch-size", 100, "events per /v1/batch request")
	syncAlways := flag.Bool("sync-always", false, "run the log with queue.sync_always: true (fsync every write)")
	keep := flag.Bool("keep", false, "keep the temporary data directory")
	partitions := flag.Int("partitions", 16, "queue.partitions of the server")
	flag.Parse()
	if err := run(*bin, *duration, *batchClients, *singleClients, *singleRate, *batchSize, *partitions, *syncAlways, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// sink is the webhook destination's receiver: it counts delivered events.
type sink struct {
	events atomic.Int64
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The sink stands in for a remote service; it only counts messages, by
	// their top-level "messageId" key (loadgen's events have no other), so
	// that its CPU use competes as little as possible with the server's.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.events.Add(int64(bytes.Count(body, messageIDKey)))
	w.WriteHeader(http.StatusOK)
}

var messageIDKey = []byte(`"messageId":`)

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func run(bin string, duration time.Duration, batchClients, singleClients, singleRate, batchSize, partitions int, syncAlways, keep bool) error {
	dir, err := os.MkdirTemp("", "eventrouter-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	snk := &sink{}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sinkSrv := &http.Server{Handler: snk}
	go sinkSrv.Serve(sl)
	defer sinkSrv.Close()

	addr, err := freePort()
	if err != nil {
		return err
	}
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {partitions: %d, sync_always: %t}
sources:
  bench: {type: segment, write_keys: ["bench-key"]}
destinations:
  sink: {type: webhook, url: "http://%s/in", batch_size: 500, batch_timeout: 200ms}
`, addr, filepath.Join(dir, "data"), partitions, syncAlways, sl.Addr())
	cfgPath := filepath.Join(dir, "eventrouter.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	}()
	base := "http://" + addr
	if err := waitReady(base, 30*time.Second); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	fmt.Printf("eventrouter benchmark: %d cores, server pid %d, %d partitions, log sync_always=%t, phase length %s\n", runtime.NumCPU(), pid, partitions, syncAlways, duration)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

	// Phase 1: /v1/batch.
	batchRes := load(client, base+"/v1/batch", batchClients, duration, 0, func(seq int64) []byte {
		return batchBody(seq, batchSize)
	})
	fmt.Printf("batch:  %d clients, %d events/request: %.0f events/s (%.0f requests/s), p50 %s, p99 %s, errors %d\n",
		batchClients, batchSize, batchRes.rps*float64(batchSize), batchRes.rps, batchRes.p50, batchRes.p99, batchRes.errors)

	fmt.Printf("        server RSS now %s\n", rssNow(pid))

	// Phase 2: single /v1/track at the target rate, for its latency.
	singleRes := load(client, base+"/v1/track", singleClients, duration, singleRate, func(seq int64) []byte {
		return trackEvent(seq, true)
	})
	fmt.Printf("single: %d clients paced at %d requests/s: %.0f requests/s, p50 %s, p99 %s, errors %d\n",
		singleClients, singleRate, singleRes.rps, singleRes.p50, singleRes.p99, singleRes.errors)
	fmt.Printf("        server RSS now %s\n", rssNow(pid))

	// Phase 3: single /v1/track as fast as the clients go.
	maxRes := load(client, base+"/v1/track", singleClients, duration, 0, func(seq int64) []byte {
		return trackEvent(seq+1<<40, true)
	})
	fmt.Printf("single: %d clients unpaced: %.0f requests/s, p50 %s, p99 %s, errors %d\n",
		singleClients, maxRes.rps, maxRes.p50, maxRes.p99, maxRes.errors)

	accepted := batchRes.ok*int64(batchSize) + singleRes.ok + maxRes.ok
	start := time.Now()
	deadline := start.Add(5 * time.Minute)
	for snk.events.Load() < accepted && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("delivery: sink received %d of %d accepted events (%.1fs after the load ended)\n",
		snk.events.Load(), accepted, time.Since(start).Seconds())
	rss, err := peakRSS(pid)
	if err != nil {
		return err
	}
	fmt.Printf("memory: server peak RSS %.1f MB\n", float64(rss)/1e6)
	if snk.events.Load() < accepted {
		return fmt.Errorf("sink received %d of %d accepted events", snk.events.Load(), accepted)
	}
	return nil
}

func waitReady(base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("server at %s not ready after %s", base, timeout)
}

type result struct {
	ok, errors int64
	rps        float64
	p50, p99   time.Duration
}

func load(client *http.Client, url string, clients int, duration time.Duration, rate int, body func(seq int64) []byte) result {
	var seq, ok, errs atomic.Int64
	lat := make([][]time.Duration, clients)
	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	// With a target rate, each client sends on its own schedule of
	// clients/rate seconds per request (a ticker cannot tick fast enough).
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(clients) / float64(rate))
	}
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			next := time.Now().Add(time.Duration(c) * interval / time.Duration(clients))
			for ctx.Err() == nil {
				if interval > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				b := body(seq.Add(1))
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
				req.SetBasicAuth("bench-key", "")
				req.Header.Set("Content-Type", "application/json")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[c] = append(lat[c], time.Since(t0))
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					errs.Add(1)
				}
			}
		}(c)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	r := result{ok: ok.Load(), errors: errs.Load(), rps: float64(ok.Load()) / elapsed.Seconds()}
	if len(all) > 0 {
		r.p50 = all[len(all)*50/100].Round(10 * time.Microsecond)
		r.p99 = all[len(all)*99/100].Round(10 * time.Microsecond)
	}
	return r
}

var padding = strings.Repeat("x", 120)

// trackEvent returns one track event of about 400 bytes of JSON.
func trackEvent(seq int64, standalone bool) []byte {
	user := "user-" + strconv.FormatInt(seq%5000, 10)
	typ, kind := `"type":"track",`, "b"
	if standalone {
		typ, kind = "", "s"
	}
	return []byte(fmt.Sprintf(`{%s"userId":%q,"event":"Order Completed","messageId":"bench-%s-%d-%d","timestamp":%q,"properties":{"order_id":"o-%d","revenue":19.99,"currency":"USD","coupon":"WINTER","note":%q},"context":{"ip":"203.0.113.7","locale":"en-US"}}`,
		typ, user, kind, os.Getpid(), seq, time.Now().UTC().Format(time.RFC3339Nano), seq, padding))
}

func batchBody(seq int64, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"batch":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(trackEvent(seq*int64(n)+int64(i), false))
	}
	fmt.Fprintf(&b, `],"sentAt":%q,"context":{"library":{"name":"loadgen","version":"1"}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	return b.Bytes()
}

// rssNow formats the process's current resident set size (VmRSS).
func rssNow(pid int) string {
	b, err := procStatus(pid, "VmRSS")
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.1f MB", float64(b)/1e6)
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := procStatus(pid, "VmHWM")
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	return b, nil
}

// procStatus reads a size field ("VmRSS", "VmHWM", given in kB) of
// /proc/<pid>/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(rest); len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024, err
			}
		}
	}
	return 0, fmt.Errorf("no %s in %s", field, path)
}
