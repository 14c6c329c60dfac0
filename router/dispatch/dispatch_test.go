package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/eventrouter/eventrouter/router/routertest"
	"github.com/prometheus/client_golang/prometheus"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// openLog opens a real log on an embedded NATS server in a temporary
// directory.
func openLog(t *testing.T, cfg eventlog.Config) *eventlog.Log {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 4
	}
	if cfg.LeaseTTL == 0 {
		cfg.LeaseTTL = 500 * time.Millisecond
	}
	cfg.Logger = quiet()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("eventlog.Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// fast are options that keep tests quick.
func fast(o Options) Options {
	if o.BatchSize == 0 {
		o.BatchSize = 20
	}
	o.BatchTimeout = 50 * time.Millisecond
	if o.InitialBackoff == 0 {
		o.InitialBackoff = 10 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 50 * time.Millisecond
	}
	o.AckWait = time.Second
	o.DrainTimeout = 2 * time.Second
	return o
}

// running is a dispatcher running in the background.
type running struct {
	d      *Dispatcher
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, l router.Log, routes ...Route) *running {
	t.Helper()
	return startWithClock(t, l, nil, routes...)
}

// startWithClock starts a dispatcher whose retry waits and failure times
// follow clk (nil: the real clock).
func startWithClock(t *testing.T, l router.Log, clk *routertest.Clock, routes ...Route) *running {
	t.Helper()
	reg := prometheus.NewRegistry()
	d, err := New(l, routes, quiet(), reg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if clk != nil {
		d.clock = clk
	}
	d.acquireEvery = 100 * time.Millisecond
	d.pendingEvery = 100 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{d: d, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func (r *running) counter(t *testing.T, name, dest string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "destination" && lp.GetValue() == dest {
					if m.GetCounter() != nil {
						return m.GetCounter().GetValue()
					}
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return -1
}

// sink is a fake destination recording what it accepted. fail, when set,
// decides the outcome of each call (numbered from 1).
type sink struct {
	mu     sync.Mutex
	got    []router.Message
	calls  int
	closed int
	fail   func(call int, batch []router.Message) error
}

func (s *sink) Send(ctx context.Context, batch []router.Message) error {
	s.mu.Lock()
	s.calls++
	n := s.calls
	fail := s.fail
	s.mu.Unlock()
	var err error
	if fail != nil {
		err = fail(n, batch)
	}
	var be *router.BatchError
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		s.got = append(s.got, batch...)
	case errors.As(err, &be):
		for i, m := range batch {
			if _, failed := be.Failed[i]; !failed {
				s.got = append(s.got, m)
			}
		}
	}
	return err
}

func (s *sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed++
	return nil
}

func (s *sink) messages() []router.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]router.Message(nil), s.got...)
}

func (s *sink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func message(user string, i int) router.Message {
	id := fmt.Sprintf("%s-%04d", user, i)
	return router.Message{
		ID: id, Source: "web", Type: router.TypeTrack, UserID: user, Event: "e",
		ReceivedAt: time.Now(),
		Body:       json.RawMessage(fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":"e"}`, id, user)),
	}
}

// appendUsers stores n messages for each user, interleaved, numbered from
// first.
func appendUsers(t *testing.T, l *eventlog.Log, users []string, first, n int) []router.Message {
	t.Helper()
	var msgs []router.Message
	for i := first; i < first+n; i++ {
		for _, u := range users {
			msgs = append(msgs, message(u, i))
		}
	}
	for len(msgs) > 0 {
		k := min(len(msgs), 50)
		if _, err := l.Append(context.Background(), msgs[:k]); err != nil {
			t.Fatalf("Append: %v", err)
		}
		msgs = msgs[k:]
	}
	return msgs
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkOrder fails unless every user's messages appear in increasing order
// and, when exact, each exactly once from 0 to n-1.
func checkOrder(t *testing.T, got []router.Message, users []string, n int, exact bool) {
	t.Helper()
	next := map[string]int{}
	seen := map[string]bool{}
	for _, m := range got {
		var i int
		var u string
		if _, err := fmt.Sscanf(m.ID[len(m.UserID)+1:], "%d", &i); err != nil {
			t.Fatalf("bad id %q", m.ID)
		}
		u = m.UserID
		if seen[m.ID] {
			if exact {
				t.Errorf("%s delivered twice", m.ID)
			}
			continue
		}
		seen[m.ID] = true
		if i != next[u] {
			t.Errorf("user %s: got message %d, want %d (order broken)", u, i, next[u])
		}
		next[u] = i + 1
	}
	for _, u := range users {
		if next[u] != n {
			t.Errorf("user %s: %d messages delivered, want %d", u, next[u], n)
		}
	}
}

var users = []string{"alice", "bob", "carol", "dave", "erin", "frank"}

func TestDeliversEverythingInOrder(t *testing.T) {
	l := openLog(t, eventlog.Config{})
	s := &sink{}
	r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{})})
	appendUsers(t, l, users, 0, 50)
	waitFor(t, 20*time.Second, "all messages", func() bool { return len(s.messages()) >= 300 })
	checkOrder(t, s.messages(), users, 50, true)
	if got := r.counter(t, "eventrouter_dispatch_delivered_total", "hook"); got != 300 {
		t.Errorf("delivered_total = %v, want 300", got)
	}
	waitFor(t, 5*time.Second, "pending gauge 0", func() bool { return r.counter(t, "eventrouter_dispatch_pending", "hook") == 0 })
	r.stop(t)
	if s.closed != 1 {
		t.Errorf("destination closed %d times, want 1", s.closed)
	}
}

func TestOrderUnderRetries(t *testing.T) {
	l := openLog(t, eventlog.Config{})
	s := &sink{fail: func(call int, _ []router.Message) error {
		switch call % 4 {
		case 1:
			return errors.New("503 service unavailable")
		case 2:
			return router.RetryAfter(errors.New("429"), 20*time.Millisecond)
		}
		return nil
	}}
	r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{MaxAttempts: 100})})
	appendUsers(t, l, users, 0, 40)
	waitFor(t, 30*time.Second, "all messages", func() bool { return len(s.messages()) >= 240 })
	checkOrder(t, s.messages(), users, 40, true)
	if got := r.counter(t, "eventrouter_dispatch_retried_total", "hook"); got <= 0 {
		t.Errorf("retried_total = %v, want > 0", got)
	}
}

// TestRetryAfterIsHonoured checks that a batch answered with a Retry-After
// delay is sent again after exactly that delay (the backoff being shorter),
// on a controllable clock: no test time passes while dispatch waits.
func TestRetryAfterIsHonoured(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	const delay = 10 * time.Minute
	clk := routertest.NewClock(time.Now())
	s := routertest.NewScripted(router.RetryAfter(errors.New("429 too many requests"), delay))
	startWithClock(t, l, clk, Route{Name: "hook", Destination: s, Options: fast(Options{})})
	appendUsers(t, l, []string{"alice"}, 0, 5)
	waitFor(t, 10*time.Second, "dispatch waiting to retry", func() bool { return s.Calls() == 1 && clk.Waiters() == 1 })

	clk.Advance(delay - time.Millisecond)
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("the retry wait ended %s after the failure, before the Retry-After delay of %s", delay-time.Millisecond, delay)
	}
	if n := s.Calls(); n != 1 {
		t.Fatalf("%d calls before the Retry-After delay passed, want 1", n)
	}
	clk.Advance(time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Delivered.WaitFor(ctx, 5); err != nil {
		t.Fatalf("after the Retry-After delay: %v", err)
	}
	if n := s.Calls(); n != 2 {
		t.Errorf("%d calls, want 2 (one failure, one retry)", n)
	}
	if got, want := s.Delivered.IDs(), ids(s.Attempts()[0]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("retry delivered %v, want the failed batch %v", got, want)
	}
}

// TestMaxAgeIsMeasuredOnTheClock checks that a message failing retryably is
// dead-lettered at its next failure once it is older than max_age, the age
// counted on dispatch's clock while it waited to retry.
func TestMaxAgeIsMeasuredOnTheClock(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	clk := routertest.NewClock(time.Now())
	s := routertest.NewFailing(errors.New("503 service unavailable"))
	opts := fast(Options{MaxAttempts: 100, MaxAge: time.Hour, InitialBackoff: 40 * time.Minute, MaxBackoff: 40 * time.Minute})
	r := startWithClock(t, l, clk, Route{Name: "hook", Destination: s, Options: opts})
	appendUsers(t, l, []string{"alice"}, 0, 1)
	backingOff := func(calls int) func() bool {
		return func() bool { return s.Calls() == calls && clk.Waiters() == 1 }
	}
	waitFor(t, 10*time.Second, "first retry wait", backingOff(1))
	first := clk.Now()
	// Each backoff is 20 to 40 minutes: advancing 40 ends it. The second
	// failure comes at 40 minutes (retried), the third at 80 minutes,
	// older than max_age (dead-lettered).
	clk.Advance(40 * time.Minute)
	waitFor(t, 10*time.Second, "second retry wait", backingOff(2))
	clk.Advance(40 * time.Minute)
	waitFor(t, 10*time.Second, "third attempt", func() bool { return s.Calls() == 3 })
	var dls []router.DeadLetter
	waitFor(t, 10*time.Second, "dead letter", func() bool {
		var err error
		dls, err = l.DeadLetters(context.Background(), "hook", 0)
		return err == nil && len(dls) == 1
	})
	if dl := dls[0]; dl.Attempts != 3 || !dl.FirstFailure.Equal(first) {
		t.Errorf("dead letter after %d attempts, first failure %s; want 3 attempts, first failure %s (the clock's)", dl.Attempts, dl.FirstFailure, first)
	}
	if got := r.counter(t, "eventrouter_dispatch_retried_total", "hook"); got != 2 {
		t.Errorf("retried_total = %v, want 2", got)
	}
}

func TestDeadLetters(t *testing.T) {
	old := message("old", 0)
	old.ReceivedAt = time.Now().Add(-48 * time.Hour)
	tests := []struct {
		name         string
		msgs         []router.Message
		fail         func(call int, batch []router.Message) error
		wantDead     []string
		wantAttempts int
		wantErr      string
		wantGot      int
	}{
		{
			name: "permanent failure of one message",
			msgs: []router.Message{message("alice", 0), message("alice", 1), message("alice", 2)},
			fail: func(_ int, batch []router.Message) error {
				for i, m := range batch {
					if m.ID == "alice-0001" {
						return &router.BatchError{Failed: map[int]error{i: router.Permanent(errors.New("400 invalid event"))}}
					}
				}
				return nil
			},
			wantDead: []string{"alice-0001"}, wantAttempts: 1, wantErr: "400 invalid event", wantGot: 2,
		},
		{
			name:     "max attempts",
			msgs:     []router.Message{message("bob", 0), message("bob", 1)},
			fail:     func(int, []router.Message) error { return errors.New("503 down") },
			wantDead: []string{"bob-0000", "bob-0001"}, wantAttempts: 3, wantErr: "503 down", wantGot: 0,
		},
		{
			name:     "max age",
			msgs:     []router.Message{old},
			fail:     func(int, []router.Message) error { return errors.New("timeout") },
			wantDead: []string{"old-0000"}, wantAttempts: 1, wantErr: "timeout", wantGot: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, eventlog.Config{Partitions: 1})
			s := &sink{fail: tt.fail}
			r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{MaxAttempts: 3})})
			if _, err := l.Append(context.Background(), tt.msgs); err != nil {
				t.Fatal(err)
			}
			var dls []router.DeadLetter
			waitFor(t, 10*time.Second, "dead letters", func() bool {
				var err error
				dls, err = l.DeadLetters(context.Background(), "hook", 0)
				return err == nil && len(dls) == len(tt.wantDead)
			})
			for i, dl := range dls {
				if dl.Message.ID != tt.wantDead[i] || dl.Attempts != tt.wantAttempts || dl.LastError != tt.wantErr ||
					dl.FirstFailure.IsZero() || string(dl.Message.Body) == "" {
					t.Errorf("dead letter %d = %+v, want id %s, %d attempts, error %q", i, dl, tt.wantDead[i], tt.wantAttempts, tt.wantErr)
				}
			}
			waitFor(t, 5*time.Second, "counter", func() bool {
				return r.counter(t, "eventrouter_dispatch_dead_lettered_total", "hook") == float64(len(tt.wantDead))
			})
			if got := len(s.messages()); got != tt.wantGot {
				t.Errorf("destination got %d messages, want %d", got, tt.wantGot)
			}
			// Dead-lettered messages are acknowledged: nothing is pending.
			waitFor(t, 5*time.Second, "pending 0", func() bool { return r.counter(t, "eventrouter_dispatch_pending", "hook") == 0 })
		})
	}
}

func TestBrokenDestinationDoesNotHoldBackHealthy(t *testing.T) {
	l := openLog(t, eventlog.Config{})
	broken := &sink{fail: func(int, []router.Message) error { return errors.New("connection refused") }}
	healthy := &sink{}
	r := start(t, l,
		Route{Name: "broken", Destination: broken, Options: fast(Options{MaxAttempts: 1000, InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second})},
		Route{Name: "healthy", Destination: healthy, Options: fast(Options{})},
	)
	appendUsers(t, l, users, 0, 20)
	waitFor(t, 20*time.Second, "healthy delivery", func() bool { return len(healthy.messages()) == 120 })
	checkOrder(t, healthy.messages(), users, 20, true)
	// The broken destination takes its partitions on its own schedule: it
	// may not have been tried yet when the healthy one is done.
	waitFor(t, 10*time.Second, "broken destination tried", func() bool { return broken.callCount() > 0 })
	// The gauge is refreshed periodically: wait for a refresh that saw the
	// broken destination's backlog.
	waitFor(t, 10*time.Second, "broken destination's pending > 0", func() bool {
		return r.counter(t, "eventrouter_dispatch_pending", "broken") > 0
	})
}

func TestIntegrationsFilter(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	s := &sink{}
	r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{Integration: "Webhooks"})})
	off := message("alice", 0)
	off.Body = json.RawMessage(`{"type":"track","integrations":{"All":false,"Customer.io":true}}`)
	on := message("alice", 1)
	on.Body = json.RawMessage(`{"type":"track","integrations":{"All":false,"Webhooks":true}}`)
	plain := message("alice", 2)
	if _, err := l.Append(context.Background(), []router.Message{off, on, plain}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 2 })
	if got := s.messages(); got[0].ID != on.ID || got[1].ID != plain.ID {
		t.Errorf("delivered %s, %s", got[0].ID, got[1].ID)
	}
	if got := r.filtered(t, "hook", ReasonIntegrations); got != 1 {
		t.Errorf("filtered_total = %v, want 1", got)
	}
}

func TestDrainOnCancel(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	inSend := make(chan struct{})
	var once sync.Once
	s := &sink{fail: func(int, []router.Message) error {
		once.Do(func() { close(inSend) })
		time.Sleep(300 * time.Millisecond) // a slow destination
		return nil
	}}
	r := start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{BatchSize: 10})})
	appendUsers(t, l, []string{"alice"}, 0, 10)
	<-inSend
	r.stop(t)
	if got := len(s.messages()); got != 10 {
		t.Fatalf("batch in flight: %d messages delivered, want 10", got)
	}
	calls := s.callCount()
	if s.closed != 1 {
		t.Errorf("destination closed %d times, want 1", s.closed)
	}
	// The drained batch was acknowledged: a new run does not send it again.
	appendUsers(t, l, []string{"alice"}, 10, 1)
	s2 := &sink{}
	start(t, l, Route{Name: "hook", Destination: s2, Options: fast(Options{})})
	waitFor(t, 10*time.Second, "next message", func() bool { return len(s2.messages()) >= 1 })
	time.Sleep(200 * time.Millisecond)
	if got := s2.messages(); len(got) != 1 || got[0].ID != "alice-0010" {
		t.Errorf("after restart got %v, want only alice-0010", ids(got))
	}
	if s.callCount() != calls {
		t.Error("Send called after Run returned")
	}
}

func TestCancelStopsRetries(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	// On a clock that does not move, the backoff never ends by itself.
	clk := routertest.NewClock(time.Now())
	s := routertest.NewFailing(errors.New("503"))
	r := startWithClock(t, l, clk, Route{Name: "hook", Destination: s, Options: fast(Options{InitialBackoff: time.Minute, MaxBackoff: time.Minute})})
	appendUsers(t, l, []string{"alice"}, 0, 3)
	waitFor(t, 10*time.Second, "backing off after the first attempt", func() bool { return s.Calls() == 1 && clk.Waiters() == 1 })
	began := time.Now()
	r.stop(t)
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("Run took %s to return while backing off", d)
	}
	// The failed batch stays in the log for the next run, in order.
	s2 := &sink{}
	start(t, l, Route{Name: "hook", Destination: s2, Options: fast(Options{})})
	waitFor(t, 10*time.Second, "redelivery", func() bool { return len(s2.messages()) == 3 })
	checkOrder(t, s2.messages(), []string{"alice"}, 3, true)
}

func ids(ms []router.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func TestNewRejectsBadRoutes(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	tests := []struct {
		name   string
		routes []Route
	}{
		{"duplicate names", []Route{{Name: "a", Destination: &sink{}}, {Name: "a", Destination: &sink{}}}},
		{"no destination", []Route{{Name: "a"}}},
		{"negative rate", []Route{{Name: "a", Destination: &sink{}, Options: Options{RateLimit: -1}}}},
		{"backoff inverted", []Route{{Name: "a", Destination: &sink{}, Options: Options{InitialBackoff: time.Minute, MaxBackoff: time.Second}}}},
		{"unknown type", []Route{{Name: "a", Destination: &sink{}, Options: Options{Types: []string{"track", "Track"}}}}},
		{"bad events glob", []Route{{Name: "a", Destination: &sink{}, Options: Options{Events: []string{"referral_["}}}}},
		{"bad exclude_events glob", []Route{{Name: "a", Destination: &sink{}, Options: Options{ExcludeEvents: []string{`x\`}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(l, tt.routes, quiet(), nil); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 2})
	s := &sink{}
	start(t, l, Route{Name: "hook", Destination: s, Options: fast(Options{BatchSize: 10, RateLimit: 40})})
	appendUsers(t, l, []string{"alice", "bob"}, 0, 20)
	began := time.Now()
	waitFor(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 40 })
	// A burst of 40 (the limiter's bucket) then nothing faster than 40/s:
	// 40 messages need no wait, so check a second round.
	appendUsers(t, l, []string{"alice", "bob"}, 20, 20)
	waitFor(t, 10*time.Second, "delivery", func() bool { return len(s.messages()) == 80 })
	if d := time.Since(began); d < 800*time.Millisecond {
		t.Errorf("80 messages at 40/s took %s, want at least ~1s", d)
	}
}

// TestBatchesAboveTheDefaultInFlightLimit checks that a batch_size above
// 1000 (a warehouse loads thousands of rows at once) gets whole batches: the
// cursor lets that many messages be in flight.
func TestBatchesAboveTheDefaultInFlightLimit(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	var mu sync.Mutex
	largest := 0
	s := &sink{fail: func(_ int, batch []router.Message) error {
		mu.Lock()
		defer mu.Unlock()
		largest = max(largest, len(batch))
		return nil
	}}
	appendUsers(t, l, []string{"u"}, 0, 3000)
	opts := fast(Options{BatchSize: 2500, FromStart: true})
	opts.BatchTimeout = 2 * time.Second
	opts.AckWait = 5 * time.Second
	start(t, l, Route{Name: "bulk", Destination: s, Options: opts})
	waitFor(t, 30*time.Second, "all messages", func() bool { return len(s.messages()) >= 3000 })
	checkOrder(t, s.messages(), []string{"u"}, 3000, true)
	mu.Lock()
	defer mu.Unlock()
	if largest != 2500 {
		t.Errorf("largest batch %d, want 2500", largest)
	}
}

// pacedSink is a destination that makes one "request" per message, waiting
// for the context's Pacer before each, like the Customer.io destination.
type pacedSink struct {
	mu       sync.Mutex
	times    []time.Time
	unpaced  int
	messages int
}

func (p *pacedSink) PacesRequests() bool { return true }

func (p *pacedSink) Send(ctx context.Context, batch []router.Message) error {
	pacer := router.PacerFrom(ctx)
	for range batch {
		if pacer == nil {
			p.mu.Lock()
			p.unpaced++
			p.mu.Unlock()
		} else if err := pacer.Wait(ctx); err != nil {
			return err
		}
		p.mu.Lock()
		p.times = append(p.times, time.Now())
		p.messages++
		p.mu.Unlock()
	}
	return nil
}

func (p *pacedSink) Close(context.Context) error { return nil }

// TestRateLimitPacesRequests checks that a destination making one request
// per message gets its requests spaced out: after an idle spell a batch does
// not go out in one burst, and no second carries much more than the limit.
func TestRateLimitPacesRequests(t *testing.T) {
	l := openLog(t, eventlog.Config{Partitions: 1})
	p := &pacedSink{}
	const limit = 40
	start(t, l, Route{Name: "cio", Destination: p, Options: fast(Options{BatchSize: 40, RateLimit: limit})})
	time.Sleep(300 * time.Millisecond) // idle: a bucket-per-batch limiter would fill up
	appendUsers(t, l, []string{"alice", "bob"}, 0, 40)
	waitFor(t, 10*time.Second, "delivery", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.messages == 80
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unpaced > 0 {
		t.Fatalf("%d requests were sent without a pacer in the context", p.unpaced)
	}
	// Any window of one second holds at most the limit plus the pacer's
	// burst (limit/20 = 2), with a little room for timer slack.
	for i := range p.times {
		n := 0
		for j := i; j < len(p.times) && p.times[j].Sub(p.times[i]) < time.Second; j++ {
			n++
		}
		if n > limit+4 {
			t.Fatalf("%d requests within one second from request %d, limit %d/s", n, i, limit)
		}
	}
	if span := p.times[len(p.times)-1].Sub(p.times[0]); span < 1800*time.Millisecond {
		t.Errorf("80 requests at %d/s took %s, want about 2s", limit, span)
	}
}
