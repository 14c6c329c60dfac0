package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/router"
)

// The end-to-end tests of issue 12: what an attacker with nothing but a
// public write key (or nothing at all) tried, through the running binary.

// rssBytes reads the resident set size of process pid.
func rssBytes(t testing.TB, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("reading the server's RSS: %v", err)
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/<pid>/status")
	return 0
}

// rssWatch samples a process's RSS every 20ms until stopped and returns the
// peak.
func rssWatch(t testing.TB, pid int) (stop func() int64) {
	var peak atomic.Int64
	peak.Store(rssBytes(t, pid))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
				if err != nil {
					return
				}
				for line := range strings.Lines(string(data)) {
					if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
						if kb<<10 > peak.Load() {
							peak.Store(kb << 10)
						}
					}
				}
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// logStreams connects to the embedded NATS server of a server started with
// queue.listen at natsAddr and returns its JetStream context.
func logStreams(t *testing.T, natsAddr string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect("nats://" + natsAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// streamState returns the messages and bytes of a stream of the log.
func streamState(t *testing.T, js jetstream.JetStream, name string) (msgs, bytes uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "EVENTROUTER_"+name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs, info.State.Bytes
}

// streamEntries decodes every entry of a stream of router.Rejected (the
// rejected and sample streams).
func streamEntries(t *testing.T, js jetstream.JetStream, name string) []router.Rejected {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "EVENTROUTER_"+name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []router.Rejected
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // dropped by the stream's cap meanwhile
		}
		var r router.Rejected
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatalf("%s entry %d does not decode: %v", name, seq, err)
		}
		out = append(out, r)
	}
	return out
}

// dirSize is the disk use of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// amplifying returns a batch of n tiny tracks with an envelope context of
// ctxBytes: when keys, made of many small keys (expensive to copy per
// item), else one string.
func amplifying(n, ctxBytes int, keys bool, tag string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"context":{`)
	if keys {
		for i := 0; b.Len() < ctxBytes; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%07d":"vvvvvvv"`, i)
		}
	} else {
		b.WriteString(`"pad":"` + strings.Repeat("c", ctxBytes) + `"`)
	}
	b.WriteString(`},"batch":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"E","messageId":"%s-%d"}`, i%50, tag, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestAmplifyingBatchesBounded sends the batches of issue 12 — 1,000 tiny
// events with a 100 KB context (180 KB; it used to store 100 MB and take
// RSS to 1.3 GB), 2,000 with a 300 KB context of small keys (462 KB; RSS
// went to 5 GB) — and batches made to fit the per-message limit (2,500
// items with 28 KB of context), four rounds of each, one after the other,
// while the server delivers to a webhook: every answer is 200, the server's
// RSS stays under 300 MB, the log holds a small multiple of what was sent,
// and every message delivered is within the limits.
func TestAmplifyingBatchesBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	snk := newSink(t)
	srv := startServer(t, fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {partitions: 4, listen: %q}
sources:
  app: {type: segment, write_keys: ["public-browser-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 50}
`, addr, t.TempDir(), natsAddr, snk.URL), addr)
	js := logStreams(t, natsAddr)
	kinds := []struct {
		n, ctx int
		keys   bool
	}{{1000, 100_000, false}, {2000, 300_000, true}, {2500, 28_000, false}, {2500, 28_000, true}}
	const clients, rounds = 1, 4
	before := rssBytes(t, srv.cmd.Process.Pid)
	stop := rssWatch(t, srv.cmd.Process.Pid)
	var sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients*rounds*len(kinds))
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: time.Minute}
			for r := range rounds {
				for k, kind := range kinds {
					body := amplifying(kind.n, kind.ctx, kind.keys, fmt.Sprintf("c%d-r%d-k%d", c, r, k))
					sent.Add(int64(len(body)))
					status, resp, err := post(context.Background(), client, srv.base+"/v1/batch", "public-browser-key", body)
					if err != nil || status != http.StatusOK {
						errs <- fmt.Errorf("batch of %d items with %d bytes of context: %d %s %v", kind.n, kind.ctx, status, resp, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	// Delivery of what was accepted, under the same watch.
	accepted := metricSum(t, srv.base, "eventrouter_events_accepted_total")
	deadline := time.Now().Add(2 * time.Minute)
	for float64(len(snk.messages())) < accepted && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	peak := stop()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(snk.messages()); float64(got) < accepted || accepted == 0 {
		t.Fatalf("sink received %d of %v accepted messages", got, accepted)
	}
	for _, m := range snk.messages() {
		b, _ := json.Marshal(m.Body)
		if len(b) > 36<<10 {
			t.Fatalf("delivered a message of %d bytes", len(b))
		}
	}
	_, evBytes := streamState(t, js, "EVENTS")
	rjMsgs, rjBytes := streamState(t, js, "REJECTED")
	stored := int64(evBytes + rjBytes)
	t.Logf("%d requests, %.1f MB sent in %s: %v accepted, %d rejected, log %.1f MB (%.1f× what was sent); server RSS %.0f MB before, peak %.0f MB",
		clients*rounds*len(kinds), float64(sent.Load())/1e6, took.Round(time.Millisecond), accepted, rjMsgs,
		float64(stored)/1e6, float64(stored)/float64(sent.Load()), float64(before)/1e6, float64(peak)/1e6)
	if peak >= 300<<20 {
		t.Errorf("peak RSS %.0f MB, want under 300 MB", float64(peak)/1e6)
	}
	// The stated bound: 4 × sent + 512 bytes per item of bodies, plus the
	// items kept as sent and the log's own framing.
	items := int64(clients * rounds * (1000 + 2000 + 2500 + 2500))
	if limit := 5*sent.Load() + 1024*items; stored > limit {
		t.Errorf("the log holds %d bytes for %d sent, over %d", stored, sent.Load(), limit)
	}
}

// TestPixelFloodStoresOnlyTheSample fills a log capped at 2 MiB to about
// 85 % with legitimate events, then floods the pixel route without a write
// key (8 clients, 15 KB of data each, for 3 s): the events and rejected
// streams do not change by a byte, the sample stays within its own cap,
// the server logs a handful of lines, and a legitimate batch — one invalid
// item included, for the rejected stream — still gets 200.
func TestPixelFloodStoresOnlyTheSample(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	dataDir := t.TempDir()
	srv := startServer(t, fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: info}
queue: {partitions: 2, listen: %q, max_bytes: 2MiB, sample_max_bytes: 256KiB}
sources:
  app: {type: segment, write_keys: ["pixel-key"]}
`, addr, dataDir, natsAddr), addr)
	js := logStreams(t, natsAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	for i := 0; ; i++ {
		_, b := streamState(t, js, "EVENTS")
		if b > 1700<<10 {
			break
		}
		// Incompressible, so that the log's record compression does not
		// make filling it slow.
		raw := make([]byte, 15000)
		_, _ = rand.Read(raw)
		body := fmt.Sprintf(`{"userId":"u1","event":"Fill","messageId":"fill-%d","properties":{"pad":%q}}`, i, base64.StdEncoding.EncodeToString(raw))
		if status, resp, err := post(ctx, client, srv.base+"/v1/track", "pixel-key", []byte(body)); err != nil || status != 200 {
			t.Fatalf("filling: %d %s %v", status, resp, err)
		}
	}
	evMsgs, evBytes := streamState(t, js, "EVENTS")
	rjMsgs, rjBytes := streamState(t, js, "REJECTED")
	diskBefore := dirSize(t, dataDir)
	logBefore := strings.Count(srv.logs.String(), "\n")

	data := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("A"), 15000))
	wrongKey := base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"guessed","userId":"u","event":"E"}`))
	var sent atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(3 * time.Second)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(end); i++ {
				path := "/v1/pixel/track?data=" + data
				if (c+i)%5 == 0 {
					path = "/v1/pixel/page?data=" + wrongKey
				}
				resp, err := client.Get(srv.base + path)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/gif" || len(b) != 43 {
					t.Errorf("pixel answered %d %q %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()

	evMsgs2, evBytes2 := streamState(t, js, "EVENTS")
	rjMsgs2, rjBytes2 := streamState(t, js, "REJECTED")
	smMsgs, smBytes := streamState(t, js, "SAMPLE")
	diskAfter := dirSize(t, dataDir)
	lines := strings.Count(srv.logs.String(), "\n") - logBefore
	t.Logf("%d pixels without a valid key in 3 s: events %d→%d bytes, rejected %d→%d bytes, sample %d entries, %d bytes; data dir %+.1f KiB; %d log lines",
		sent.Load(), evBytes, evBytes2, rjBytes, rjBytes2, smMsgs, smBytes, float64(diskAfter-diskBefore)/1024, lines)
	if sent.Load() < 100 {
		t.Fatalf("only %d pixels sent", sent.Load())
	}
	if evMsgs2 != evMsgs || evBytes2 != evBytes || rjMsgs2 != rjMsgs || rjBytes2 != rjBytes {
		t.Fatalf("the flood changed the log: events %d/%d → %d/%d, rejected %d/%d → %d/%d", evMsgs, evBytes, evMsgs2, evBytes2, rjMsgs, rjBytes, rjMsgs2, rjBytes2)
	}
	if smBytes > 256<<10 || smMsgs == 0 {
		t.Fatalf("sample holds %d entries, %d bytes; want some, within 256 KiB", smMsgs, smBytes)
	}
	// The data directory grows by the sample (its block files) at most,
	// with room for the embedded server's own bookkeeping.
	if grew := diskAfter - diskBefore; grew > 2*256<<10 {
		t.Errorf("data directory grew by %d bytes during the flood", grew)
	}
	for _, e := range streamEntries(t, js, "SAMPLE") {
		if e.Source != "" || (e.Reason != "invalid_json" && e.Reason != "invalid_write_key") || len(e.Body) > 6*4096+2 {
			t.Fatalf("sample entry %+v (%d bytes of body)", e.Reason, len(e.Body))
		}
	}
	if got := metricSum(t, srv.base, "eventrouter_ingest_unauthenticated_total"); got != float64(sent.Load()) {
		t.Errorf("eventrouter_ingest_unauthenticated_total = %v, want %d", got, sent.Load())
	}
	if lines > 4 {
		t.Errorf("%d log lines for %d refused pixels, want a sampled few:\n%s", lines, sent.Load(), srv.logs.String())
	}
	// Legitimate traffic is unaffected by the flood.
	batch := `{"batch":[{"type":"track","userId":"u2","event":"After the flood","messageId":"after-1"},{"type":"track","userId":"u2"}]}`
	status, resp, err := post(ctx, client, srv.base+"/v1/batch", "pixel-key", []byte(batch))
	if err != nil || status != 200 {
		t.Fatalf("legitimate batch after the flood: %d %s %v", status, resp, err)
	}
	if m, _ := streamState(t, js, "REJECTED"); m != rjMsgs+1 {
		t.Fatalf("rejected stream holds %d, want %d", m, rjMsgs+1)
	}
}

// TestShapesEndToEnd posts a batch with two items nested 9,000 levels deep
// (18 KB each), one with 1e400 and one plain: 200, the plain one reaches
// the webhook (whose receiver decodes the batch with encoding/json, which
// two such items used to break), the others are in the rejected stream
// with their reasons.
func TestShapesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	snk := newSink(t)
	srv := startServer(t, fmt.Sprintf(`http: {listen: %q}
data_dir: %q
queue: {partitions: 1, listen: %q}
sources:
  app: {type: segment, write_keys: ["shape-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 100ms}
`, addr, t.TempDir(), natsAddr, snk.URL), addr)
	js := logStreams(t, natsAddr)
	deep := func(id string) string {
		return `{"type":"track","userId":"u","event":"Deep","messageId":"` + id + `","properties":{"x":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}}`
	}
	body := `{"batch":[` + deep("deep-1") + `,{"type":"identify","userId":"u","messageId":"inf","traits":{"n":1e400}},` +
		`{"type":"track","userId":"u","event":"Plain","messageId":"plain","properties":{"n":1e308}},` + deep("deep-2") + `]}`
	status, resp, err := post(context.Background(), &http.Client{Timeout: 10 * time.Second}, srv.base+"/v1/batch", "shape-key", []byte(body))
	if err != nil || status != 200 {
		t.Fatalf("%d %s %v", status, resp, err)
	}
	snk.waitForIDs(t, map[string]bool{"plain": true}, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := snk.messages(); len(got) != 1 {
		t.Fatalf("sink received %d messages, want only \"plain\"", len(got))
	}
	want := map[string]string{"deep-1": "nesting_too_deep", "deep-2": "nesting_too_deep", "inf": "number_not_finite"}
	got := map[string]string{}
	for _, r := range streamEntries(t, js, "REJECTED") {
		got[r.MessageID] = r.Reason
		var s string
		if err := json.Unmarshal(r.Body, &s); err != nil {
			t.Errorf("rejected %s: body is not the item as a JSON string: %v", r.MessageID, err)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rejected %v, want %v", got, want)
	}
}

// runBinary runs the eventrouter binary with env added and returns its exit
// code and combined output; it fails the test when the process runs longer
// than timeout.
func runBinary(t *testing.T, timeout time.Duration, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("eventrouter %v still running after %s:\n%s", args, timeout, out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestFailClosed: a GrowSurf secret from an unset variable, and the shipped
// development values on a public address, are refused by `check` and by
// `serve` (which exits before listening), with the key paths and what to
// do; the explicit opt-out and loopback addresses are accepted.
func TestFailClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	write := func(cfg string) string {
		p := filepath.Join(t.TempDir(), "eventrouter.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	addr := freeAddr(t)
	unsigned := write(fmt.Sprintf(`http: {listen: %q}
data_dir: %q
sources:
  app: {type: segment, write_keys: ["k-1"]}
  referrals: {type: growsurf, secret: "${GROWSURF_SECRET_NOT_SET_IN_THIS_TEST}"}
`, addr, t.TempDir()))
	for _, cmd := range []string{"check", "serve"} {
		code, out := runBinary(t, 30*time.Second, nil, cmd, "--config", unsigned)
		if code != 1 || !strings.Contains(out, "sources.referrals.secret: required (environment variable GROWSURF_SECRET_NOT_SET_IN_THIS_TEST is unset or empty)") ||
			!strings.Contains(out, "allow_unsigned: true") {
			t.Fatalf("%s with an unset secret: exit %d\n%s", cmd, code, out)
		}
	}
	optOut := write(strings.Replace(mustRead(t, unsigned), `secret: "${GROWSURF_SECRET_NOT_SET_IN_THIS_TEST}"`, `allow_unsigned: true`, 1))
	if code, out := runBinary(t, 30*time.Second, nil, "check", "--config", optOut); code != 0 {
		t.Fatalf("check with allow_unsigned: exit %d\n%s", code, out)
	}

	// The shipped development config, told to listen on every interface.
	shipped, err := filepath.Abs(filepath.Join("..", "..", "configs", "eventrouter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	port := addr[strings.LastIndexByte(addr, ':'):]
	dir := t.TempDir()
	public := []string{"EVENTROUTER_LISTEN=0.0.0.0" + port, "EVENTROUTER_WRITE_KEY=", "EVENTROUTER_ADMIN_TOKEN=", "GROWSURF_WEBHOOK_SECRET="}
	for _, cmd := range []string{"check", "serve"} {
		c := exec.Command(binPath, cmd, "--config", shipped)
		c.Dir = dir // its data_dir is ./data
		c.Env = append(os.Environ(), public...)
		done := make(chan struct{})
		var out []byte
		var runErr error
		go func() { out, runErr = c.CombinedOutput(); close(done) }()
		// serve must not be listening meanwhile.
		deadline := time.After(30 * time.Second)
	wait:
		for {
			select {
			case <-done:
				break wait
			case <-deadline:
				_ = c.Process.Kill()
				t.Fatalf("%s with development values on 0.0.0.0 did not exit", cmd)
			case <-time.After(20 * time.Millisecond):
				if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
					resp.Body.Close()
					t.Fatalf("%s with development values answers on %s", cmd, addr)
				}
			}
		}
		ee, _ := runErr.(*exec.ExitError)
		if ee == nil || ee.ExitCode() != 1 {
			t.Fatalf("%s with development values on 0.0.0.0: %v\n%s", cmd, runErr, out)
		}
		for _, want := range []string{
			"sources.default.write_keys[0]: is the shipped development write key",
			"http.admin_token: is the shipped development admin token",
			"sources.referrals.secret: is the shipped development signing secret",
			"EVENTROUTER_WRITE_KEY", "EVENTROUTER_ADMIN_TOKEN", "GROWSURF_WEBHOOK_SECRET",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s output lacks %q:\n%s", cmd, want, out)
			}
		}
	}
	// Own values on the public address pass; the development ones on
	// loopback pass with a note.
	code, out := runBinary(t, 30*time.Second, append(public, "EVENTROUTER_WRITE_KEY=wk-7a1", "EVENTROUTER_ADMIN_TOKEN=at-93f", "GROWSURF_WEBHOOK_SECRET=gs-0c2"), "check", "--config", shipped)
	if code != 0 || strings.Contains(out, "development values") {
		t.Fatalf("check with own values on 0.0.0.0: exit %d\n%s", code, out)
	}
	code, out = runBinary(t, 30*time.Second, []string{"EVENTROUTER_LISTEN=", "EVENTROUTER_WRITE_KEY=", "EVENTROUTER_ADMIN_TOKEN=", "GROWSURF_WEBHOOK_SECRET="}, "check", "--config", shipped)
	if code != 0 || !strings.Contains(out, "note: http.admin_token, sources.default.write_keys[0], sources.referrals.secret hold(s) development values") {
		t.Fatalf("check of the shipped config on 127.0.0.1: exit %d\n%s", code, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAdminListenerSplit: with http.admin_listen, the admin API, the
// debugger, /metrics and the profiles answer on that address only; the
// public listener answers 404 for them and serves the Tracking API, which
// the admin listener does not.
func TestAdminListenerSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr, adminAddr := freeAddr(t), freeAddr(t)
	snk := newSink(t)
	srv := startServer(t, fmt.Sprintf(`http: {listen: %q, admin_listen: %q, admin_token: %q}
data_dir: %q
sources:
  app: {type: segment, write_keys: ["split-key"]}
destinations:
  hook: {type: webhook, url: %q}
`, addr, adminAddr, opsAdminToken, t.TempDir(), snk.URL), addr)
	public, adm := srv.base, "http://"+adminAddr
	bearer := "Bearer " + opsAdminToken
	// Every operator route the binary mounts (router/admin, its debugger,
	// the profiles, the metrics): 404 on the public listener, even with the
	// token; on the admin listener, there (401 without the token, or 200
	// for the public ones), so that the list stays in step with what is
	// mounted.
	for _, rt := range []struct {
		method, path string
		open         bool // answered without the token
	}{
		{"GET", "/admin/stream", false}, {"GET", "/admin/messages", false},
		{"GET", "/admin/messages/app/m1", false}, {"GET", "/admin/destinations", false},
		{"GET", "/admin/log", false}, {"GET", "/admin/dlq", false}, {"GET", "/admin/dlq/1", false},
		{"POST", "/admin/dlq/redrive", false}, {"POST", "/admin/replay", false},
		{"GET", "/admin/quarantine", false}, {"GET", "/admin/quarantine/1", false},
		{"POST", "/admin/quarantine/replay", false}, {"GET", "/admin/plan", false},
		{"POST", "/admin/plan/reload", false},
		{"GET", "/debugger", true}, {"GET", "/debugger/", true}, {"GET", "/metrics", true},
		{"GET", "/debug/pprof/", false}, {"GET", "/debug/pprof/heap", false},
		{"GET", "/debug/pprof/cmdline", false}, {"GET", "/debug/pprof/symbol", false},
		{"GET", "/debug/pprof/profile?seconds=1", false}, {"GET", "/debug/pprof/trace?seconds=1", false},
	} {
		if status, body := adminRequest(t, public, rt.method, rt.path, bearer, ""); status != http.StatusNotFound {
			t.Errorf("public %s %s with the token: %d %.100s, want 404", rt.method, rt.path, status, body)
		}
		want := http.StatusUnauthorized
		if rt.open {
			want = http.StatusOK
		}
		if status, body := adminRequest(t, adm, rt.method, rt.path, "", ""); status != want {
			t.Errorf("admin listener %s %s without the token: %d %.100s, want %d", rt.method, rt.path, status, body, want)
		}
	}
	for _, tc := range []struct {
		path, auth string
		want       int
	}{
		{"/admin/log", bearer, 200}, {"/admin/log", "", 401}, {"/debugger", "", 200},
		{"/metrics", "", 200}, {"/debug/pprof/", bearer, 200}, {"/debug/pprof/", "", 401},
		{"/healthz", "", 200}, {"/readyz", "", 200},
	} {
		if status, body := adminRequest(t, adm, "GET", tc.path, tc.auth, ""); status != tc.want {
			t.Errorf("admin listener %s (auth %t): %d %.100s, want %d", tc.path, tc.auth != "", status, body, tc.want)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	ev := []byte(`{"userId":"u","event":"E"}`)
	if status, body, err := post(context.Background(), client, public+"/v1/track", "split-key", ev); err != nil || status != 200 {
		t.Fatalf("public /v1/track: %d %s %v", status, body, err)
	}
	if status, _, err := post(context.Background(), client, adm+"/v1/track", "split-key", ev); err != nil || status != 404 {
		t.Fatalf("admin listener /v1/track: %d %v, want 404", status, err)
	}
	if status, _ := adminRequest(t, public, "GET", "/healthz", "", ""); status != 200 {
		t.Fatalf("public /healthz: %d", status)
	}
	// The CLI reaches the admin API on its address.
	if code, out, errOut := runAdminCLI(t, "dlq", "list", "--destination", "hook", "--server", adm); code != 0 {
		t.Fatalf("dlq list --server admin: exit %d\n%s%s", code, out, errOut)
	}
}

// TestCDNRoutesStoreNothing: analytics.js's CDN routes are public
// (package cdn): the settings for any write key, the loader, the bundles,
// the plan middleware and POST /v1/m, which accepts analytics.js's own
// counters and discards them (64 KiB at most: 413 over it). A flood of
// them, with valid keys, guessed keys and no key, leaves every stream of
// the log unchanged by a byte and writes no log line.
func TestCDNRoutesStoreNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	dataDir := t.TempDir()
	srv := startServer(t, fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: info}
queue: {partitions: 2, listen: %q}
sources:
  web: {type: segment, write_keys: ["cdn-key"]}
`, addr, dataDir, natsAddr), addr)
	js := logStreams(t, natsAddr)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	// Something in the events stream, so that "unchanged" means something.
	if status, resp, err := post(ctx, client, srv.base+"/v1/track", "cdn-key", []byte(`{"userId":"u","event":"Before"}`)); err != nil || status != 200 {
		t.Fatalf("track: %d %s %v", status, resp, err)
	}
	streams := func() map[string][2]uint64 {
		out := map[string][2]uint64{}
		for _, name := range []string{"EVENTS", "REJECTED", "SAMPLE", "QUARANTINE", "DLQ"} {
			m, b := streamState(t, js, name)
			out[name] = [2]uint64{m, b}
		}
		return out
	}
	before := streams()
	if before["EVENTS"][0] == 0 {
		t.Fatal("the events stream is empty")
	}
	logBefore := strings.Count(srv.logs.String(), "\n")
	diskBefore := dirSize(t, dataDir)

	chunks, err := filepath.Glob("../../router/cdn/analyticsjs/*.bundle.*.js")
	if err != nil || len(chunks) == 0 {
		t.Fatalf("no analytics.js chunks: %v", err)
	}
	metricsBody := []byte(`{"series":[{"type":"Counter","metric":"analytics_js.invoke","value":1,"tags":{"method":"track"}}]}`)
	big := bytes.Repeat([]byte("m"), 64<<10+1)
	type call struct {
		method, path string
		body         []byte
		want         int
	}
	calls := []call{
		{"GET", "/v1/projects/cdn-key/settings", nil, 200},
		{"GET", "/v1/projects/guessed-key/settings", nil, 404},
		{"GET", "/v1/projects/" + strings.Repeat("k", 4000) + "/settings", nil, 404},
		{"OPTIONS", "/v1/projects/guessed-key/settings", nil, 204},
		{"GET", "/analytics.js/v1/cdn-key/analytics.min.js", nil, 200},
		{"GET", "/analytics.js/v1/guessed-key/analytics.min.js", nil, 404},
		{"GET", "/analytics-next/bundles/" + filepath.Base(chunks[0]), nil, 200},
		{"GET", "/analytics-next/bundles/nope.js", nil, 404},
		{"GET", "/next-integrations/middleware/x/latest/x.js.gz", nil, 404},
		{"POST", "/v1/m", metricsBody, 200},
		{"POST", "/v1/m", big[:64<<10], 200},
		{"POST", "/v1/m", big, 413},
		{"GET", "/v1/m", nil, 405},
	}
	var sent, bytesSent atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(2 * time.Second)
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(end); i++ {
				cl := calls[i%len(calls)]
				req, err := http.NewRequest(cl.method, srv.base+cl.path, bytes.NewReader(cl.body))
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Origin", "https://attacker.example")
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != cl.want {
					t.Errorf("%s %.80s: %d, want %d", cl.method, cl.path, resp.StatusCode, cl.want)
					return
				}
				sent.Add(1)
				bytesSent.Add(int64(len(cl.body)))
			}
		}()
	}
	wg.Wait()

	after := streams()
	lines := strings.Count(srv.logs.String(), "\n") - logBefore
	grew := dirSize(t, dataDir) - diskBefore
	t.Logf("%d requests to the CDN routes (%.1f MB of bodies): streams %v → %v; data dir %+d bytes; %d log lines",
		sent.Load(), float64(bytesSent.Load())/1e6, before, after, grew, lines)
	if sent.Load() < 100 {
		t.Fatalf("only %d requests sent", sent.Load())
	}
	for name, b := range before {
		if after[name] != b {
			t.Errorf("stream %s changed: %v → %v", name, b, after[name])
		}
	}
	if lines > 0 {
		t.Errorf("%d log lines:\n%s", lines, srv.logs.String())
	}
	// The leases' renewals write a little meanwhile; nothing of what was
	// sent does.
	if grew > 64<<10 {
		t.Errorf("data directory grew by %d bytes", grew)
	}
}
