package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// The fan-out benchmark's settings (issue 5, "What it must reach").
const (
	// fanUsers is how many people the mixed messages are spread over.
	fanUsers = 500
	// fanIdentifyShare is the share of identify calls; the rest are track.
	fanIdentifyShare = 0.6

	// Phase A: the latency goal, 1,000 events/s for 10 s, for Segment.
	fanRateA     = 1000
	fanDurationA = 10 * time.Second
	fanClientsA  = 20

	// Phase B: Customer.io at its configured limit, 100 events/s for 20 s.
	fanRateB     = 100
	fanDurationB = 20 * time.Second
	fanClientsB  = 4

	// Phase C: a backlog of 600 messages for Customer.io only, sent as
	// fast as 8 clients go, to see that its rate_limit, not the fake,
	// sets the pace.
	fanBacklogC = 600
	fanClientsC = 8

	// cioLimit is the customerio destination's rate_limit: Customer.io's
	// documented 100 requests/s. The fake answers 429 only above
	// cioFakeLimit, so that the fake is not what holds delivery back and
	// any 429 is a fault of eventrouter's pacing.
	cioLimit     = 100
	cioFakeLimit = 150
	// segLimit is the segment destination's rate_limit.
	segLimit = 1000

	// fanDrain bounds the wait for the destinations to receive every
	// message a phase had accepted.
	fanDrain = 30 * time.Second
)

// BenchmarkFanOut is issue 5's benchmark: one `eventrouter serve` with a
// segment source fans mixed identify/track messages out to a customerio
// destination (the ciotest fake, rate_limit 100) and a segment destination
// (a Segment-compatible sink: eventrouter's own ingest handler). It reports
// delivered/s per destination and the end-to-end latency from the 200 the
// client got at ingest to the destination's receipt, joined by messageId.
//
// The issue asks for 20,000 messages to Customer.io at its rate limit and
// p99 ≤ 500 ms at 1,000 events/s. Customer.io's limit is 100 messages/s, so
// at 1,000 events/s its backlog (and latency) grows without bound by
// design, and 20,000 messages at 100/s take 200 s, too long for `make
// bench`. The benchmark therefore runs two phases on the same server:
//
//   - Phase A: 10,000 messages at 1,000/s carrying integrations
//     {"Customer.io": false}, so only Segment gets them: Segment's
//     delivered/s and end-to-end p50/p99 at 1,000 events/s (the latency
//     goal).
//   - Phase B: 2,000 messages at 100/s with no integrations object, so both
//     destinations get them: Customer.io's delivered/s (≈ its configured
//     100/s) and its end-to-end p50/p99 at its limit, the 429s the fake
//     answered, and the busiest second the fake saw.
//   - Phase C: 600 messages for Customer.io only ({"Segment": false}) sent
//     at once: with a backlog, delivery runs at the configured limit (the
//     steady rate after the first second) and the fake, which throttles
//     only above 150/s, is not the bottleneck; 429s here would mean the
//     limiter's burst overshoots Customer.io's limit.
//
// It runs the load once whatever b.N is (-benchtime 1x); it takes about 40 s.
func BenchmarkFanOut(b *testing.B) {
	if testing.Short() {
		b.Skip("end-to-end benchmark skipped in -short mode")
	}
	fake := ciotest.New(b, ciotest.WithRateLimit(cioFakeLimit))
	seg := newTimedSegmentSink(b)

	addr := freeAddr(b)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  app: {type: segment, write_keys: ["app-key"]}
destinations:
  cio: {type: customerio, url: %q, site_id: %q, api_key: %q, identifier: id, rate_limit: %d, batch_size: 20, concurrency: 4, batch_timeout: 50ms, initial_backoff: 100ms, max_backoff: 2s}
  seg: {type: segment, endpoint: %q, write_key: wk, rate_limit: %d, batch_size: 100, batch_timeout: 50ms}
`, addr, b.TempDir(), fake.URL(), fake.SiteID(), fake.APIKey(), cioLimit, seg.URL, segLimit)
	srv := startServer(b, cfg, addr)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}}
	b.ResetTimer()

	// Phase A: Segment only, at 1,000 events/s.
	a := fanLoad(client, srv.base, "A", fanClientsA, fanRateA, fanDurationA, `,"integrations":{"Customer.io":false}`)
	segA := seg.await(a, fanDrain)

	// Phase B: both destinations, at Customer.io's 100 events/s.
	before429 := count429(fake)
	bRes := fanLoad(client, srv.base, "B", fanClientsB, fanRateB, fanDurationB, "")
	segB := seg.await(bRes, fanDrain)
	cioB := awaitFake(fake, bRes, fanDrain)
	cio429 := count429(fake) - before429
	peak := slices.Max(append(fake.RequestsPerSecond(), 0))

	// Phase C: a backlog for Customer.io only.
	before429 = count429(fake)
	beforeReqs := len(fake.AllRequests())
	cRate := fanClientsC * 100 // requests/s: the whole backlog in 100 ms
	c := fanLoad(client, srv.base, "C", fanClientsC, cRate, time.Duration(fanBacklogC)*time.Second/time.Duration(cRate), `,"integrations":{"Segment":false}`)
	cioC := awaitFake(fake, c, fanDrain)
	b.StopTimer()
	c429 := count429(fake) - before429
	all := fake.AllRequests()[beforeReqs:]
	var accepted []ciotest.Request
	for _, q := range all {
		if q.Status == http.StatusOK {
			accepted = append(accepted, q)
		}
	}
	steady, _ := steadyRate(accepted)
	_, peakC := steadyRate(all)

	var out strings.Builder
	fmt.Fprintf(&out, "fan-out benchmark: %d cores; one eventrouter, segment source -> customerio (fake, rate_limit %d/s, fake throttles above %d/s, batch_size 20, concurrency 4) + segment (ingest-backed sink, rate_limit %d/s, batch_size 100); batch_timeout 50ms\n",
		runtime.NumCPU(), cioLimit, cioFakeLimit, segLimit)
	fmt.Fprintf(&out, "mixed messages: %.0f%% identify / %.0f%% track over %d users, single /v1/identify and /v1/track calls, per-client paced schedules\n",
		fanIdentifyShare*100, (1-fanIdentifyShare)*100, fanUsers)
	fmt.Fprintf(&out, "why two phases: Customer.io is limited to %d msg/s, so at 1,000 events/s its backlog grows without bound, and the issue's 20,000 messages at %d/s would take 200 s;\n", cioLimit, cioLimit)
	fmt.Fprintf(&out, "  phase A measures the 1,000 events/s latency goal on Segment (Customer.io switched off per message by integrations), phase B measures Customer.io at its limit (both destinations).\n")
	fmt.Fprintf(&out, "phase A: %d clients paced at %d events/s for %s: sent %d, acked %d (%.0f/s), ingest errors %d\n",
		fanClientsA, fanRateA, fanDurationA, a.sent, len(a.acked), a.ackRate, a.errors)
	fmt.Fprintf(&out, "  segment:     %s\n", segA)
	fmt.Fprintf(&out, "phase B: %d clients paced at %d events/s for %s: sent %d, acked %d (%.0f/s), ingest errors %d\n",
		fanClientsB, fanRateB, fanDurationB, bRes.sent, len(bRes.acked), bRes.ackRate, bRes.errors)
	fmt.Fprintf(&out, "  customer.io: %s, 429s %d, busiest second at the fake %d requests\n", cioB, cio429, peak)
	fmt.Fprintf(&out, "  segment:     %s\n", segB)
	fmt.Fprintf(&out, "phase C: backlog of %d messages for customer.io only, sent by %d unpaced clients: acked %d, ingest errors %d\n",
		c.sent, fanClientsC, len(c.acked), c.errors)
	fmt.Fprintf(&out, "  customer.io: %s (latency here is queueing behind the backlog);\n               accepted after the first second %.0f req/s, busiest second %d requests (any answer), 429s %d (retried)\n",
		cioC, steady, peakC, c429)
	fmt.Fprintf(&out, "goal: segment p99 <= 500ms at 1,000 events/s: %s; customer.io at its %d/s limit with no 429: %s\n",
		verdict(segA.missing == 0 && segA.p99 <= 500*time.Millisecond), cioLimit,
		verdict(cioB.missing == 0 && cioC.missing == 0 && cio429+c429 == 0 && cioB.rate >= 0.9*cioLimit && steady >= 0.9*cioLimit))
	b.Log("\n" + out.String())
	fmt.Print(out.String())

	b.ReportMetric(segA.rate, "seg-msg/s")
	b.ReportMetric(ms(segA.p50), "seg-p50-ms")
	b.ReportMetric(ms(segA.p99), "seg-p99-ms")
	b.ReportMetric(cioB.rate, "cio-msg/s")
	b.ReportMetric(ms(cioB.p50), "cio-p50-ms")
	b.ReportMetric(ms(cioB.p99), "cio-p99-ms")
	b.ReportMetric(steady, "cio-backlog-msg/s")
	b.ReportMetric(float64(cio429+c429), "cio-429s")

	for name, r := range map[string]delivery{"segment (phase A)": segA, "segment (phase B)": segB, "customer.io (phase B)": cioB, "customer.io (phase C)": cioC} {
		if r.missing > 0 {
			b.Errorf("%s: %d acknowledged messages never arrived within %s", name, r.missing, fanDrain)
		}
	}
	if n := a.errors + bRes.errors + c.errors; n > 0 {
		b.Errorf("ingest answered %d requests with an error", n)
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadResult is one paced phase: the time each accepted message's 200
// came back, by messageId.
type loadResult struct {
	start   time.Time
	sent    int
	errors  int
	ackRate float64
	acked   map[string]time.Time
}

// fanLoad sends mixed single identify and track calls for duration at rate
// requests/s from clients goroutines, each on its own schedule of
// clients/rate seconds per request (as bench/loadgen paces), and records
// when each 200 came back. extra is appended inside every message body.
func fanLoad(client *http.Client, base, phase string, clients, rate int, duration time.Duration, extra string) loadResult {
	interval := time.Duration(float64(time.Second) * float64(clients) / float64(rate))
	perClient := int(duration / interval)
	type ack struct {
		id string
		at time.Time
	}
	acks := make([][]ack, clients)
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			next := start.Add(time.Duration(c) * interval / time.Duration(clients))
			for i := range perClient {
				if d := time.Until(next); d > 0 {
					time.Sleep(d)
				}
				next = next.Add(interval)
				seq := i*clients + c
				id := fmt.Sprintf("fan-%s-%d", phase, seq)
				path, body := fanMessage(seq, id, extra)
				status, _, err := post(context.Background(), client, base+path, "app-key", body)
				at := time.Now()
				if err != nil || status != http.StatusOK {
					errs.Add(1)
					continue
				}
				acks[c] = append(acks[c], ack{id, at})
			}
		}(c)
	}
	wg.Wait()
	r := loadResult{start: start, sent: perClient * clients, errors: int(errs.Load()), acked: map[string]time.Time{}}
	for _, l := range acks {
		for _, a := range l {
			r.acked[a.id] = a.at
		}
	}
	r.ackRate = float64(len(r.acked)) / time.Since(start).Seconds()
	return r
}

// fanMessage returns the path and body of message seq: identify for 60% of
// the sequence numbers, track for the rest, over fanUsers people.
func fanMessage(seq int, id, extra string) (string, []byte) {
	user := fmt.Sprintf("fan-user-%d", seq%fanUsers)
	if float64(seq%10) < fanIdentifyShare*10 {
		return "/v1/identify", fmt.Appendf(nil, `{"userId":%q,"messageId":%q,"traits":{"email":"%s@example.com","plan":"pro","logins":%d}%s}`,
			user, id, user, seq, extra)
	}
	return "/v1/track", fmt.Appendf(nil, `{"userId":%q,"messageId":%q,"event":"Order Completed","properties":{"order_id":"o-%d","revenue":19.99,"currency":"USD"}%s}`,
		user, id, seq, extra)
}

// delivery is what one destination received of one phase.
type delivery struct {
	delivered, missing int
	rate               float64 // delivered / (last receipt - phase start)
	p50, p99           time.Duration
}

func (d delivery) String() string {
	return fmt.Sprintf("delivered %d, %.0f msg/s, end-to-end p50 %s, p99 %s, missing %d",
		d.delivered, d.rate, d.p50.Round(100*time.Microsecond), d.p99.Round(100*time.Microsecond), d.missing)
}

// measure joins the acks of a phase with the receipt times of one
// destination (first receipt per messageId).
func measure(start time.Time, acked, received map[string]time.Time) delivery {
	var d delivery
	var lat []time.Duration
	var last time.Time
	for id, at := range acked {
		got, ok := received[id]
		if !ok {
			d.missing++
			continue
		}
		d.delivered++
		lat = append(lat, got.Sub(at))
		if got.After(last) {
			last = got
		}
	}
	if len(lat) == 0 {
		return d
	}
	slices.Sort(lat)
	d.p50 = lat[len(lat)*50/100]
	d.p99 = lat[len(lat)*99/100]
	d.rate = float64(d.delivered) / last.Sub(start).Seconds()
	return d
}

// awaitFake waits until the Customer.io fake has accepted a request for
// every message of r (or timeout passes) and measures the delivery.
func awaitFake(fake *ciotest.Server, r loadResult, timeout time.Duration) delivery {
	return awaitReceipts(r, timeout, func() map[string]time.Time {
		got := map[string]time.Time{}
		for _, q := range fake.Requests() {
			if _, ok := got[q.MessageID]; !ok && q.MessageID != "" {
				got[q.MessageID] = q.Time
			}
		}
		return got
	})
}

func awaitReceipts(r loadResult, timeout time.Duration, received func() map[string]time.Time) delivery {
	deadline := time.Now().Add(timeout)
	for {
		got := received()
		all := true
		for id := range r.acked {
			if _, ok := got[id]; !ok {
				all = false
				break
			}
		}
		if all || time.Now().After(deadline) {
			return measure(r.start, r.acked, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// steadyRate returns the rate of reqs after the first second (once the
// dispatch limiter's burst is spent) and the most of reqs in any one second
// counted from the first.
func steadyRate(reqs []ciotest.Request) (float64, int) {
	if len(reqs) == 0 {
		return 0, 0
	}
	first, last := reqs[0].Time, reqs[len(reqs)-1].Time
	var perSecond []int
	n := 0
	for _, q := range reqs {
		i := int(q.Time.Sub(first) / time.Second)
		for len(perSecond) <= i {
			perSecond = append(perSecond, 0)
		}
		perSecond[i]++
		if q.Time.Sub(first) >= time.Second {
			n++
		}
	}
	steady := 0.0
	if d := last.Sub(first) - time.Second; d > 0 {
		steady = float64(n) / d.Seconds()
	}
	return steady, slices.Max(perSecond)
}

func count429(fake *ciotest.Server) int {
	n := 0
	for _, q := range fake.AllRequests() {
		if q.Status == http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// timedSegmentSink is a Segment-compatible server (eventrouter's ingest
// handler, write key "wk") whose log records when each message arrived.
type timedSegmentSink struct {
	*httptest.Server
	mu       sync.Mutex
	received map[string]time.Time
}

func newTimedSegmentSink(b *testing.B) *timedSegmentSink {
	s := &timedSegmentSink{received: map[string]time.Time{}}
	h, err := ingest.New(ingest.Config{
		Sources: []ingest.Source{{Name: "seg", WriteKeys: []string{"wk"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, s)
	if err != nil {
		b.Fatal(err)
	}
	s.Server = httptest.NewServer(h)
	b.Cleanup(s.Close)
	return s
}

// Append records the arrival time of each message not seen before.
func (s *timedSegmentSink) Append(_ context.Context, msgs []router.Message) (int, error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	dups := 0
	for _, m := range msgs {
		if _, ok := s.received[m.ID]; ok {
			dups++
			continue
		}
		s.received[m.ID] = now
	}
	return dups, nil
}

func (s *timedSegmentSink) Reject(context.Context, []router.Rejected) error    { return nil }
func (s *timedSegmentSink) Seen(context.Context, string, string) (bool, error) { return false, nil }
func (s *timedSegmentSink) Remember(context.Context, string, string) error     { return nil }

// await waits until the sink has every message of r (or timeout passes)
// and measures the delivery.
func (s *timedSegmentSink) await(r loadResult, timeout time.Duration) delivery {
	return awaitReceipts(r, timeout, func() map[string]time.Time {
		s.mu.Lock()
		defer s.mu.Unlock()
		got := make(map[string]time.Time, len(r.acked))
		for id := range r.acked {
			if at, ok := s.received[id]; ok {
				got[id] = at
			}
		}
		return got
	})
}
