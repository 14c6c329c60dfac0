package main

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const writeKey = "bench-key"

// sink is the webhook destination's receiver: it counts delivered events.
type sink struct {
	events atomic.Int64
	addr   string
	srv    *http.Server
}

func startSink() (*sink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &sink{addr: l.Addr().String()}
	s.srv = &http.Server{Handler: s}
	go s.srv.Serve(l)
	return s, nil
}

func (s *sink) close() { s.srv.Close() }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The sink stands in for a remote service that answers 200 at once; it
	// only counts messages, by their top-level "messageId" key (loadgen's
	// events have no other), so that its CPU use competes as little as
	// possible with the server's.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.events.Add(int64(bytes.Count(body, messageIDKey)))
	w.WriteHeader(http.StatusOK)
}

var messageIDKey = []byte(`"messageId":`)

// waitDelivered waits until the sink has received want events or timeout
// passes, and returns how long it waited.
func (s *sink) waitDelivered(want int64, timeout time.Duration) time.Duration {
	start := time.Now()
	for s.events.Load() < want && time.Since(start) < timeout {
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is a server under test running as a subprocess.
type proc struct {
	name string
	cmd  *exec.Cmd
	base string // http://host:port
	dir  string // its temporary directory
	keep bool
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// startProc runs bin with args (which must make it listen on addr) and
// waits until addr answers GET /readyz with 200.
func startProc(name, bin string, args []string, addr, dir string, keep bool) (*proc, error) {
	return startProcWithin(name, bin, args, addr, dir, keep, 60*time.Second)
}

// startProcWithin is startProc waiting up to timeout for /readyz.
func startProcWithin(name, bin string, args []string, addr, dir string, keep bool, timeout time.Duration) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &proc{name: name, cmd: cmd, base: "http://" + addr, dir: dir, keep: keep}
	if err := waitReady(p.base, timeout); err != nil {
		p.stop()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

// stop interrupts the process, waits up to 30 s for it to exit (then kills
// it) and removes its directory unless kept.
func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	if !p.keep {
		_ = os.RemoveAll(p.dir)
	}
}

// erConfig is what loadgen varies in eventrouter's configuration; anything
// else is left to eventrouter's defaults.
type erConfig struct {
	partitions  int    // queue.partitions; 0 leaves the default
	syncAlways  bool   // queue.sync_always
	dedupe      string // queue.dedupe_window; "" leaves the default
	sinkAddr    string // the webhook destination's receiver
	destEnabled bool   // the destination's enabled
	// tuned sets the webhook destination's batch_size 500 and batch_timeout
	// 200ms, as loadgen always has; false leaves the defaults (100, 1s).
	tuned bool
	// adminToken, when set, enables the admin API (and /debug/pprof/).
	adminToken string
}

// startEventrouter writes a configuration into a fresh temporary directory
// and starts `bin serve` on it.
func startEventrouter(bin, parent string, c erConfig, keep bool) (*proc, error) {
	dir, err := os.MkdirTemp(parent, "eventrouter-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	var queue []string
	if c.partitions > 0 {
		queue = append(queue, fmt.Sprintf("partitions: %d", c.partitions))
	}
	if c.syncAlways {
		queue = append(queue, "sync_always: true")
	}
	if c.dedupe != "" {
		queue = append(queue, "dedupe_window: "+c.dedupe)
	}
	dest := fmt.Sprintf(`type: webhook, url: "http://%s/in", enabled: %t`, c.sinkAddr, c.destEnabled)
	if c.tuned {
		dest += ", batch_size: 500, batch_timeout: 200ms"
	}
	httpCfg := fmt.Sprintf("listen: %q", addr)
	if c.adminToken != "" {
		httpCfg += fmt.Sprintf(", admin_token: %q", c.adminToken)
	}
	cfg := fmt.Sprintf(`http: {%s}
data_dir: %q
log: {level: warn}
queue: {%s}
sources:
  bench: {type: segment, write_keys: [%q]}
destinations:
  sink: {%s}
`, httpCfg, filepath.Join(dir, "data"), strings.Join(queue, ", "), writeKey, dest)
	cfgPath := filepath.Join(dir, "eventrouter.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	p, err := startProc("eventrouter", bin, []string{"serve", "--config", cfgPath}, addr, dir, keep)
	if err != nil && !keep {
		_ = os.RemoveAll(dir)
	}
	return p, err
}

// startCeiling starts bench/ceiling on a fresh temporary directory.
func startCeiling(bin, parent string, keep bool) (*proc, error) {
	dir, err := os.MkdirTemp(parent, "ceiling-bench-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	p, err := startProc("ceiling", bin, []string{"-listen", addr, "-dir", dir, "-write-key", writeKey}, addr, dir, keep)
	if err != nil && !keep {
		_ = os.RemoveAll(dir)
	}
	return p, err
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
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server at %s not ready after %s", base, timeout)
}

func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
}

type result struct {
	ok, errors int64
	rps        float64
	p50, p99   time.Duration
}

// load runs clients concurrent clients posting body(seq) to url for
// duration, each waiting for its answer before sending the next; with rate
// > 0 they share a schedule of rate requests/s.
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
				t0 := time.Now()
				code, err := post(client, url, body(seq.Add(1)))
				if err != nil {
					errs.Add(1)
					continue
				}
				lat[c] = append(lat[c], time.Since(t0))
				if code == http.StatusOK {
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
	r := result{ok: ok.Load(), errors: errs.Load(), rps: float64(ok.Load()) / elapsed.Seconds()}
	r.p50, r.p99 = percentiles(all)
	return r
}

func post(client *http.Client, url string, b []byte) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(writeKey, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// percentiles sorts lat and returns its p50 and p99.
func percentiles(lat []time.Duration) (p50, p99 time.Duration) {
	if len(lat) == 0 {
		return 0, 0
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return lat[len(lat)*50/100].Round(10 * time.Microsecond), lat[len(lat)*99/100].Round(10 * time.Microsecond)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// note is an event's 120-character free-text property: hex digits that
// differ from event to event, so that nothing compresses them better than
// real data (a run of one letter would flatter eventrouter's compressed
// records).
func note(seq int64) string {
	h := sha512.Sum512([]byte(strconv.FormatInt(seq, 10)))
	return hex.EncodeToString(h[:])[:120]
}

// trackEvent returns one track event of about 430 bytes of JSON.
func trackEvent(seq int64, standalone bool) []byte {
	user := "user-" + strconv.FormatInt(seq%5000, 10)
	typ, kind := `"type":"track",`, "b"
	if standalone {
		typ, kind = "", "s"
	}
	return []byte(fmt.Sprintf(`{%s"userId":%q,"event":"Order Completed","messageId":"bench-%s-%d-%d","timestamp":%q,"properties":{"order_id":"o-%d","revenue":19.99,"currency":"USD","coupon":"WINTER","note":%q},"context":{"ip":"203.0.113.7","locale":"en-US"}}`,
		typ, user, kind, os.Getpid(), seq, time.Now().UTC().Format(time.RFC3339Nano), seq, note(seq)))
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
	return mb(b)
}

// peakRSS reads the process's peak resident set size (VmHWM) in bytes.
func peakRSS(pid int) (int64, error) {
	b, err := procStatus(pid, "VmHWM")
	if err != nil {
		return 0, fmt.Errorf("reading peak RSS: %w", err)
	}
	return b, nil
}

// procCPU reads the CPU time (user and system, in clock ticks of 1/100 s)
// the process has used, from /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	// The command name, in parentheses, may hold spaces: the fields
	// counted from 3 (state) start after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("reading CPU time: unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("reading CPU time: %w", err)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
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
