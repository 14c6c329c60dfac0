package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/router"
)

// clusterLeaseTTL is queue.lease_ttl in TestClusterFaults: short, to keep
// the test short; `go test -run TestClusterFaults -args
// -cluster.lease-ttl=10s` measures the default.
var clusterLeaseTTL = flag.Duration("cluster.lease-ttl", 4*time.Second, "queue.lease_ttl of the eventrouter instances in TestClusterFaults")

// TestClusterFaults runs what an operator runs past one machine: three
// nats-server processes in a JetStream cluster (built from the
// nats-server module eventrouter already depends on), two `eventrouter
// serve` processes with queue.replicas 3 and 16 partitions, a webhook sink,
// and four clients, each sending 50-event batches one after another,
// alternately to both instances (to the other one again when an answer is
// not 200). Scenarios, one after the other on the same cluster:
//
//   - cold start: the two instances start at the same moment as the
//     cluster itself, which has no stream yet;
//   - stream leader killed: kill -9 of the events stream's leader, restarted
//     later;
//   - connected follower killed: kill -9 of a server that is not the stream
//     leader and that an instance is connected to;
//   - instance killed, early restart: kill -9 of an instance, restarted
//     before its leases expire;
//   - instance killed, late restart: kill -9 of an instance, restarted once
//     the other one has taken all its partitions.
//
// Each asserts that every acknowledged message reaches the sink and that
// no user's messages arrive out of the order their client sent them in,
// neither by first arrival nor by last arrival (a duplicate of an older
// message after a newer one counts as an inversion). It logs the
// duplicates, the longest time no request got a 200 (ingest gap), the
// longest time the sink received nothing (delivery gap) and, for the
// instance kills, the takeover time: from the kill to the last of the dead
// instance's partitions delivering again.
func TestClusterFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test skipped in -short mode")
	}
	start := time.Now()
	ttl := *clusterLeaseTTL
	natsBin := buildNATSServer(t)
	cl := newNATSCluster(t, natsBin, 3)
	snk := newOrderSink(t)

	// Cold start: the cluster's servers and both instances at once.
	cl.startAll(t)
	insts := []*instance{
		newInstance(t, "a", cl, snk, ttl),
		newInstance(t, "b", cl, snk, ttl),
	}
	for _, in := range insts {
		in.launch(t)
	}
	for _, in := range insts {
		in.waitReady(t, 2*time.Minute)
	}
	t.Logf("cluster and both instances up in %.1fs (lease_ttl %s); set-up steps retried: a %d, b %d", time.Since(start).Seconds(), ttl,
		strings.Count(insts[0].logs.String(), "log set-up step failed; retrying"), strings.Count(insts[1].logs.String(), "log set-up step failed; retrying"))
	if testing.Verbose() {
		t.Logf("instance a's set-up:\n%s", grepLines(insts[0].logs.String(), "set-up step"))
	}
	probe := newProber(insts)
	defer probe.stop()

	t.Run("cold start", func(t *testing.T) {
		ld := startLoad(t, "cold", insts, snk)
		time.Sleep(4 * time.Second)
		ld.stop(t)
		ld.check(t, nil)
	})

	t.Run("stream leader killed", func(t *testing.T) {
		cl.waitHealthy(t)
		ld := startLoad(t, "leader", insts, snk)
		time.Sleep(3 * time.Second)
		leader := cl.streamLeader(t)
		t.Logf("killing the events stream's leader %s", leader.name)
		leader.kill()
		time.Sleep(6 * time.Second)
		leader.start(t)
		cl.waitHealthy(t)
		time.Sleep(3 * time.Second)
		ld.stop(t)
		ld.check(t, nil)
		probe.checkLogged(t)
		for _, in := range insts {
			t.Logf("instance %s so far: %s", in.name, rewindFigures(in))
		}
	})

	t.Run("connected follower killed", func(t *testing.T) {
		cl.waitHealthy(t)
		target := cl.byURL(t, insts[0].connectedURL(t))
		for i := 0; cl.streamLeader(t) == target; i++ {
			if i == 10 {
				t.Fatalf("%s stays the stream leader after 10 step-downs", target.name)
			}
			cl.stepDown(t)
		}
		ld := startLoad(t, "follower", insts, snk)
		time.Sleep(3 * time.Second)
		t.Logf("killing %s, a follower instance a is connected to", target.name)
		target.kill()
		time.Sleep(6 * time.Second)
		target.start(t)
		cl.waitHealthy(t)
		time.Sleep(3 * time.Second)
		ld.stop(t)
		ld.check(t, nil)
		probe.checkLogged(t)
		for _, in := range insts {
			t.Logf("instance %s so far: %s", in.name, rewindFigures(in))
		}
	})

	instanceKill := func(t *testing.T, victim *instance, prefix string, restartAfter time.Duration) {
		cl.waitHealthy(t)
		ld := startLoad(t, prefix, insts, snk)
		time.Sleep(3 * time.Second)
		k := kill{inst: victim.name, at: time.Now()}
		victim.kill()
		time.Sleep(restartAfter)
		k.restarted = time.Now()
		victim.launch(t)
		victim.waitReady(t, time.Minute)
		time.Sleep(max(2*ttl-restartAfter, 0) + 3*time.Second)
		ld.stop(t)
		ld.check(t, &k)
	}
	t.Run("instance killed, early restart", func(t *testing.T) {
		// Back before its leases expire (3/4 of lease_ttl).
		instanceKill(t, insts[0], "early", ttl/4)
	})
	t.Run("instance killed, late restart", func(t *testing.T) {
		// Back once the other one works every partition.
		instanceKill(t, insts[1], "late", 2*ttl)
	})
	for _, in := range insts {
		t.Logf("instance %s (since its last start): %s", in.name, rewindFigures(in))
	}
	t.Logf("cluster test took %.0fs", time.Since(start).Seconds())
}

// rewindFigures reads an instance's rewinds by reason, their mean time and
// the stale redeliveries from its /metrics.
func rewindFigures(in *instance) string {
	resp, err := http.Get(in.base + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	var reasons []string
	var sum, count float64
	stale := "0"
	for _, l := range strings.Split(b.String(), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		switch {
		case strings.HasPrefix(l, "eventrouter_log_reader_rewinds_total{"):
			reasons = append(reasons, strings.TrimSuffix(strings.TrimPrefix(f[0], `eventrouter_log_reader_rewinds_total{reason="`), `"}`)+" "+f[1])
		case f[0] == "eventrouter_log_reader_rewind_seconds_sum":
			sum, _ = strconv.ParseFloat(f[1], 64)
		case f[0] == "eventrouter_log_reader_rewind_seconds_count":
			count, _ = strconv.ParseFloat(f[1], 64)
		case f[0] == "eventrouter_log_reader_stale_redeliveries_total":
			stale = f[1]
		}
	}
	mean := 0.0
	if count > 0 {
		mean = 1000 * sum / count
	}
	return fmt.Sprintf("rewinds %s (mean %.1f ms each); stale redeliveries acknowledged again: %s", strings.Join(reasons, ", "), mean, stale)
}

// buildNATSServer builds nats-server from the module in go.mod (from the
// module cache: nothing is downloaded) into a temporary directory.
func buildNATSServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nats-server from the module cache: %v\n%s", err, out)
	}
	return bin
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// natsNode is one nats-server process of the cluster.
type natsNode struct {
	name                   string
	bin, conf, store       string
	port, cport, mport     int
	cmd                    *exec.Cmd
	done                   chan struct{}
	logs                   *syncBuffer
	clientURL, monitorBase string
}

type natsCluster struct {
	nodes []*natsNode
}

// freePorts returns n distinct free ports: every listener is held open
// until all are chosen, so no two of them can be the same port (closing
// each one at once lets the kernel hand the same port out again, and a
// server whose route port is taken never joins the cluster).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// newNATSCluster makes n clustered servers with JetStream, stores in
// temporary directories; startAll chooses their ports.
func newNATSCluster(t *testing.T, bin string, n int) *natsCluster {
	cl := &natsCluster{}
	for i := range n {
		dir := t.TempDir()
		nd := &natsNode{name: fmt.Sprintf("n%d", i+1), bin: bin, conf: filepath.Join(dir, "nats.conf"), store: filepath.Join(dir, "js")}
		cl.nodes = append(cl.nodes, nd)
		t.Cleanup(func() {
			nd.kill()
			if t.Failed() && nd.logs != nil {
				t.Logf("nats-server %s log (last 60 lines):\n%s", nd.name, lastLines(nd.logs.String(), 60))
			}
		})
	}
	return cl
}

// configure chooses the servers' ports and writes their configurations.
func (cl *natsCluster) configure(t *testing.T) {
	ports := freePorts(t, 3*len(cl.nodes))
	var routes []string
	for i, nd := range cl.nodes {
		nd.port, nd.cport, nd.mport = ports[3*i], ports[3*i+1], ports[3*i+2]
		nd.clientURL = fmt.Sprintf("nats://127.0.0.1:%d", nd.port)
		nd.monitorBase = fmt.Sprintf("http://127.0.0.1:%d", nd.mport)
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", nd.cport))
	}
	for _, nd := range cl.nodes {
		conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
http: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster {
  name: eventrouter-test
  listen: 127.0.0.1:%d
  routes: [%s]
}
`, nd.name, nd.port, nd.mport, nd.store, nd.cport, strings.Join(routes, ", "))
		if err := os.WriteFile(nd.conf, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startAll starts every server and waits until each has routes to all the
// others, without waiting for JetStream (no stream exists yet). A new
// cluster elects its first JetStream meta leader only once every server
// named in routes is up, so a server that could not bind one of its ports
// (taken by another process between choosing and binding) would leave
// the cluster without one for ever: then the cluster is started again on
// new ports, at most three times.
func (cl *natsCluster) startAll(t *testing.T) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		cl.configure(t)
		err := cl.tryStart()
		if err == nil {
			return
		}
		for _, nd := range cl.nodes {
			nd.kill()
			_ = os.RemoveAll(nd.store)
		}
		if attempt == 3 {
			t.Fatalf("starting the NATS cluster: %v", err)
		}
		t.Logf("starting the NATS cluster (attempt %d): %v; again on new ports", attempt, err)
	}
}

func (cl *natsCluster) tryStart() error {
	for _, nd := range cl.nodes {
		if err := nd.launchErr(); err != nil {
			return err
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, nd := range cl.nodes {
		for {
			var rz struct {
				Routes []struct {
					RemoteName string `json:"remote_name"`
				} `json:"routes"`
			}
			resp, err := http.Get(nd.monitorBase + "/routez")
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&rz)
				resp.Body.Close()
			}
			peers := map[string]bool{}
			for _, r := range rz.Routes {
				peers[r.RemoteName] = true
			}
			if err == nil && len(peers) >= len(cl.nodes)-1 {
				break
			}
			select {
			case <-nd.done:
				return fmt.Errorf("nats-server %s exited:\n%s", nd.name, lastLines(nd.logs.String(), 20))
			default:
			}
			for _, o := range cl.nodes {
				select {
				case <-o.done:
					return fmt.Errorf("nats-server %s exited:\n%s", o.name, lastLines(o.logs.String(), 20))
				default:
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nats-server %s has routes to %d of the %d other servers after 60s:\n%s", nd.name, len(peers), len(cl.nodes)-1, lastLines(nd.logs.String(), 20))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (nd *natsNode) launch(t *testing.T) {
	if err := nd.launchErr(); err != nil {
		t.Fatal(err)
	}
}

func (nd *natsNode) launchErr() error {
	nd.logs = &syncBuffer{}
	nd.cmd = exec.Command(nd.bin, "-c", nd.conf)
	nd.cmd.Stdout, nd.cmd.Stderr = nd.logs, nd.logs
	if err := nd.cmd.Start(); err != nil {
		return err
	}
	nd.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(nd.cmd, nd.done)
	return nil
}

func (nd *natsNode) waitListening(t *testing.T) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(nd.monitorBase + "/varz")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-nd.done:
			t.Fatalf("nats-server %s exited:\n%s", nd.name, nd.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server %s not listening after 30s", nd.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start restarts a killed server on its store.
func (nd *natsNode) start(t *testing.T) {
	nd.launch(t)
	nd.waitListening(t)
}

// kill sends SIGKILL and waits for the process to be gone.
func (nd *natsNode) kill() {
	if nd.cmd == nil || nd.cmd.Process == nil {
		return
	}
	select {
	case <-nd.done:
		return
	default:
	}
	_ = nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.done
}

func (cl *natsCluster) urls() string {
	var u []string
	for _, nd := range cl.nodes {
		u = append(u, nd.clientURL)
	}
	return strings.Join(u, ",")
}

// waitHealthy waits until every server's /healthz says its JetStream
// assets are current.
func (cl *natsCluster) waitHealthy(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for _, nd := range cl.nodes {
		for {
			resp, err := http.Get(nd.monitorBase + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("nats-server %s not healthy after 90s", nd.name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// js connects the test itself to the cluster.
func (cl *natsCluster) js(t *testing.T) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(cl.urls(), nats.Name("cluster-test"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// streamLeader returns the server leading the events stream.
func (cl *natsCluster) streamLeader(t *testing.T) *natsNode {
	t.Helper()
	nc, js := cl.js(t)
	defer nc.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, "EVENTROUTER_EVENTS")
		cancel()
		if err == nil && s.CachedInfo().Cluster != nil {
			for _, nd := range cl.nodes {
				if nd.name == s.CachedInfo().Cluster.Leader {
					return nd
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no events stream leader after 30s (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stepDown asks the events stream's leader to step down, and waits for
// the next one.
func (cl *natsCluster) stepDown(t *testing.T) {
	t.Helper()
	nc, _ := cl.js(t)
	defer nc.Close()
	if _, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.EVENTROUTER_EVENTS", nil, 10*time.Second); err != nil {
		t.Fatalf("stepping the stream leader down: %v", err)
	}
	time.Sleep(time.Second)
	cl.streamLeader(t)
}

// byURL returns the server whose client URL is url.
func (cl *natsCluster) byURL(t *testing.T, url string) *natsNode {
	t.Helper()
	for _, nd := range cl.nodes {
		if nd.clientURL == url {
			return nd
		}
	}
	t.Fatalf("no server at %q", url)
	return nil
}

// instance is one `eventrouter serve` process of the cluster test.
type instance struct {
	name    string
	cfgPath string
	base    string
	cmd     *exec.Cmd
	done    chan struct{}
	logs    *syncBuffer
	past    strings.Builder // logs of earlier runs
}

func newInstance(t *testing.T, name string, cl *natsCluster, snk *orderSink, ttl time.Duration) *instance {
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: info}
queue: {url: %q, partitions: 16, replicas: 3, lease_ttl: %s}
sources:
  app: {type: segment, write_keys: ["cluster-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 100, batch_timeout: 200ms, headers: {X-Instance: %q}}
`, addr, t.TempDir(), cl.urls(), ttl, snk.URL+"/in", name)
	in := &instance{name: name, cfgPath: filepath.Join(t.TempDir(), "eventrouter.yaml"), base: "http://" + addr}
	if err := os.WriteFile(in.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.stop()
		if t.Failed() && in.logs != nil {
			t.Logf("instance %s logs:\n%s%s", name, in.past.String(), grepLines(in.logs.String(), `"level":"WARN"`))
		}
	})
	return in
}

func (in *instance) launch(t *testing.T) {
	if in.logs != nil {
		in.past.WriteString(grepLines(in.logs.String(), `"level":"WARN"`) + "\n--- restarted ---\n")
	}
	in.logs = &syncBuffer{}
	in.cmd = exec.Command(binPath, "serve", "--config", in.cfgPath)
	in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(in.cmd, in.done)
}

func (in *instance) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		resp, err := http.Get(in.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-in.done:
			t.Fatalf("instance %s exited before it was ready:\n%s", in.name, in.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s not ready after %s:\n%s", in.name, within, in.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (in *instance) kill() {
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	<-in.done
}

func (in *instance) stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(30 * time.Second):
		in.kill()
	}
}

var urlInLog = regexp.MustCompile(`"msg":"(?:log open|nats reconnected)".*?"url":"(nats://[^"]+)"`)

// connectedURL returns the NATS server the instance is connected to now,
// from its log.
func (in *instance) connectedURL(t *testing.T) string {
	t.Helper()
	m := urlInLog.FindAllStringSubmatch(in.logs.String(), -1)
	if len(m) == 0 {
		t.Fatalf("instance %s logged no connection", in.name)
	}
	return m[len(m)-1][1]
}

// prober asks both instances' /readyz every 250ms, as a load balancer
// would, and remembers whether each saw a 503.
type prober struct {
	insts []*instance
	saw   []atomic.Bool
	quit  chan struct{}
	wg    sync.WaitGroup
}

func newProber(insts []*instance) *prober {
	p := &prober{insts: insts, saw: make([]atomic.Bool, len(insts)), quit: make(chan struct{})}
	client := &http.Client{Timeout: 3 * time.Second}
	for i, in := range insts {
		p.wg.Go(func() {
			for {
				select {
				case <-p.quit:
					return
				case <-time.After(250 * time.Millisecond):
				}
				resp, err := client.Get(in.base + "/readyz")
				if err != nil {
					continue // the instance is down
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusServiceUnavailable {
					p.saw[i].Store(true)
				}
			}
		})
	}
	return p
}

func (p *prober) stop() { close(p.quit); p.wg.Wait() }

// checkLogged checks that an instance whose /readyz answered 503 logged
// why at WARN, and logged again when it was ready, and forgets the 503s.
func (p *prober) checkLogged(t *testing.T) {
	t.Helper()
	for i, in := range p.insts {
		if !p.saw[i].Swap(false) {
			t.Logf("instance %s: /readyz stayed 200", in.name)
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			logs := in.logs.String()
			down := strings.Contains(logs, `"level":"WARN","msg":"not ready: /readyz answers 503","reason":`)
			up := strings.Contains(logs, `"level":"WARN","msg":"ready again: /readyz answers 200"`)
			if down && up {
				t.Logf("instance %s: /readyz answered 503 for a while; logged why and when it was ready again", in.name)
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("instance %s answered 503 on /readyz but did not log it at WARN (why: %v, ready again: %v)", in.name, down, up)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// orderSink is the webhook the instances deliver to: it keeps every
// message it receives, in the order received, with when and from which
// instance.
type orderSink struct {
	*httptest.Server
	mu  sync.Mutex
	got []receipt
}

type receipt struct {
	at   time.Time
	inst string
	id   string
	user string
}

func newOrderSink(t *testing.T) *orderSink {
	s := &orderSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Batch []struct {
				MessageID string `json:"messageId"`
				UserID    string `json:"userId"`
			} `json:"batch"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		now, inst := time.Now(), r.Header.Get("X-Instance")
		s.mu.Lock()
		for _, m := range body.Batch {
			s.got = append(s.got, receipt{at: now, inst: inst, id: m.MessageID, user: m.UserID})
		}
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

// receipts returns what was received for messages whose id starts with
// prefix, in order of arrival.
func (s *orderSink) receipts(prefix string) []receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []receipt
	for _, r := range s.got {
		if strings.HasPrefix(r.id, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// load is four clients sending 50-event batches one after another, each
// to the two instances in turn; a batch not answered 200 is sent again to
// the other instance until it is.
type load struct {
	prefix  string
	snk     *orderSink
	started time.Time
	quit    chan struct{}
	wg      sync.WaitGroup

	mu          sync.Mutex
	acked       map[string]bool
	oks         []time.Time // when each batch was answered 200
	failed      int         // answers other than 200, and errors
	failedBatch error
}

const (
	loadClients        = 4
	loadUsersPerClient = 25
	loadBatch          = 50
	loadEvery          = 200 * time.Millisecond // per client: 1,000 events/s in all
)

func startLoad(t *testing.T, prefix string, insts []*instance, snk *orderSink) *load {
	ld := &load{prefix: prefix + "-", snk: snk, started: time.Now(), quit: make(chan struct{}), acked: map[string]bool{}}
	client := &http.Client{Timeout: 10 * time.Second}
	for c := range loadClients {
		ld.wg.Go(func() {
			seq := make([]int, loadUsersPerClient)
			for n := 0; ; n++ {
				select {
				case <-ld.quit:
					return
				default:
				}
				tick := time.Now()
				var body bytes.Buffer
				var ids []string
				body.WriteString(`{"batch":[`)
				for k := range loadBatch {
					u := (n*loadBatch + k) % loadUsersPerClient
					user := fmt.Sprintf("%sc%d-u%02d", ld.prefix, c, u)
					id := fmt.Sprintf("%s-%06d", user, seq[u])
					seq[u]++
					if k > 0 {
						body.WriteByte(',')
					}
					fmt.Fprintf(&body, `{"type":"track","messageId":%q,"userId":%q,"event":"Step"}`, id, user)
					ids = append(ids, id)
				}
				body.WriteString(`]}`)
				// Until answered 200, alternating between the instances;
				// the next batch is sent only then.
				deadline := time.Now().Add(90 * time.Second)
				for try := 0; ; try++ {
					target := insts[(n+c+try)%len(insts)]
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					status, _, err := post(ctx, client, target.base+"/v1/batch", "cluster-key", body.Bytes())
					cancel()
					if err == nil && status == http.StatusOK {
						ld.mu.Lock()
						for _, id := range ids {
							ld.acked[id] = true
						}
						ld.oks = append(ld.oks, time.Now())
						ld.mu.Unlock()
						break
					}
					ld.mu.Lock()
					ld.failed++
					if time.Now().After(deadline) {
						ld.failedBatch = fmt.Errorf("client %d: batch %d not accepted within 90s (last: %d %v)", c, n, status, err)
						ld.mu.Unlock()
						return
					}
					ld.mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
				if d := loadEvery - time.Since(tick); d > 0 {
					time.Sleep(d)
				}
			}
		})
	}
	return ld
}

// stop lets every client finish its batch in flight and stop.
func (ld *load) stop(t *testing.T) {
	t.Helper()
	close(ld.quit)
	ld.wg.Wait()
	if ld.failedBatch != nil {
		t.Fatal(ld.failedBatch)
	}
}

// kill is an instance killed during a load, for the takeover time.
type kill struct {
	inst          string
	at, restarted time.Time
}

// seqOf is the client's sequence number of a message of the load, from
// its id.
func seqOf(id string) int {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	return n
}

// check waits until every acknowledged message reached the sink (or fails
// with how many did not), checks per-user order and logs the figures.
func (ld *load) check(t *testing.T, k *kill) {
	t.Helper()
	ld.mu.Lock()
	acked, oks, failed := ld.acked, ld.oks, ld.failed
	ld.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	var rs []receipt
	var missing []string
	for {
		rs = ld.snk.receipts(ld.prefix)
		got := make(map[string]bool, len(rs))
		for _, r := range rs {
			got[r.id] = true
		}
		missing = missing[:0]
		for id := range acked {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d of %d acknowledged messages never reached the sink (first: %v)", len(missing), len(acked), missing[:min(5, len(missing))])
	}

	// Per user: the first arrival of each message, and the last, must
	// both follow the order the client sent them in.
	type pos struct{ first, last int }
	byUser := map[string]map[string]*pos{}
	for i, r := range rs {
		m := byUser[r.user]
		if m == nil {
			m = map[string]*pos{}
			byUser[r.user] = m
		}
		if p := m[r.id]; p != nil {
			p.last = i
		} else {
			m[r.id] = &pos{first: i, last: i}
		}
	}
	firstInv, lastInv := 0, 0
	var examples []string
	for user, m := range byUser {
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return seqOf(ids[i]) < seqOf(ids[j]) })
		for i := 1; i < len(ids); i++ {
			a, b := m[ids[i-1]], m[ids[i]]
			if b.first < a.first {
				firstInv++
				if len(examples) < 3 {
					examples = append(examples, fmt.Sprintf("%s: %s first arrived before %s", user, ids[i], ids[i-1]))
				}
			}
			if b.last < a.last {
				lastInv++
				if len(examples) < 3 {
					examples = append(examples, fmt.Sprintf("%s: %s arrived again after %s's last arrival", user, ids[i-1], ids[i]))
				}
			}
		}
	}
	if firstInv > 0 || lastInv > 0 {
		t.Errorf("per-user order broken: %d inversions by first arrival, %d by last arrival (e.g. %v)", firstInv, lastInv, examples)
	}

	// Figures.
	ingestGap := time.Duration(0)
	for i := 1; i < len(oks); i++ {
		ingestGap = max(ingestGap, oks[i].Sub(oks[i-1]))
	}
	deliveryGap := time.Duration(0)
	for i := 1; i < len(rs); i++ {
		if rs[i].at.After(oks[len(oks)-1]) {
			break
		}
		deliveryGap = max(deliveryGap, rs[i].at.Sub(rs[i-1].at))
	}
	unique := 0
	for _, m := range byUser {
		unique += len(m)
	}
	line := fmt.Sprintf("%d acknowledged in %.0fs (%d answers not 200, retried), 0 lost of them: %v; inversions: %d/%d; duplicates %d; longest ingest gap %.2fs; longest delivery gap %.2fs",
		len(acked), oks[len(oks)-1].Sub(ld.started).Seconds(), failed, len(missing) == 0, firstInv, lastInv, len(rs)-unique, ingestGap.Seconds(), deliveryGap.Seconds())
	if k != nil {
		line += "; " + takeover(rs, k)
	}
	t.Log(line)
}

// takeover measures, for each partition the killed instance was the last
// to deliver before it died, the time from the kill to that partition's
// next delivery (by the other instance, or by the killed one after its
// restart), and returns the longest.
func takeover(rs []receipt, k *kill) string {
	last := map[int]string{} // partition -> instance of its last delivery before the kill
	for _, r := range rs {
		if !r.at.After(k.at) {
			last[router.Partition(r.user, 16)] = r.inst
		}
	}
	owned := map[int]bool{}
	for p, inst := range last {
		if inst == k.inst {
			owned[p] = true
		}
	}
	next := map[int]time.Duration{}
	byInst := map[string]int{}
	for _, r := range rs {
		p := router.Partition(r.user, 16)
		if !owned[p] || !r.at.After(k.at) || (r.inst == k.inst && r.at.Before(k.restarted)) {
			continue
		}
		if _, ok := next[p]; !ok {
			next[p] = r.at.Sub(k.at)
			byInst[r.inst]++
		}
	}
	longest, by := time.Duration(0), 0
	for p := range owned {
		d, ok := next[p]
		if !ok {
			return fmt.Sprintf("partition %d of the %d the dead instance worked never delivered again", p, len(owned))
		}
		if d > longest {
			longest, by = d, p
		}
	}
	var took []string
	for inst, n := range byInst {
		took = append(took, fmt.Sprintf("%d by %s", n, inst))
	}
	sort.Strings(took)
	return fmt.Sprintf("takeover of the dead instance's %d partitions (%s) within %.2fs of the kill (last: partition %d)",
		len(owned), strings.Join(took, ", "), longest.Seconds(), by)
}

// waitForLog waits until the server's output holds want, or fails.
func waitForLog(t *testing.T, p *serverProc, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(p.logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %s within %s; it logged:\n%s", want, within, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
