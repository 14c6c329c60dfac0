package dispatch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
	"github.com/prometheus/client_golang/prometheus"
)

func TestBalanceObserve(t *testing.T) {
	tests := []struct {
		name     string
		parts    int
		owned    []int
		readings []int // member counts read in a row
		want     []int // partitions asked for after the last reading
	}{
		{"alone keeps all", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{1, 1}, nil},
		{"one reading is not enough", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{2}, nil},
		{"second reading gives the highest up", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{2, 2}, []int{7, 6, 5, 4}},
		{"a blip resets the count", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{2, 1, 2}, nil},
		{"third member", 8, []int{0, 1, 2, 5}, []int{3, 3}, []int{5}},
		{"at share gives nothing", 8, []int{1, 4, 6}, []int{3, 3, 3}, nil},
		{"below share gives nothing", 8, []int{1}, []int{3, 3}, nil},
		{"more members than partitions", 2, []int{0, 1}, []int{5, 5}, []int{1}},
		{"asked once only", 8, []int{0, 1, 2, 3, 4, 5, 6, 7}, []int{2, 2, 2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBalance(tt.parts, prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"}), quiet())
			b.observe(1, time.Minute)
			for _, p := range tt.owned {
				if !b.reserve(p) {
					t.Fatalf("reserve(%d) refused", p)
				}
				b.took(p)
			}
			var got []int
			for _, n := range tt.readings {
				got, _ = b.observe(n, time.Minute)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("asked for %v, want %v", got, tt.want)
			}
			for _, p := range got {
				select {
				case <-b.yield[p]:
				default:
					t.Errorf("partition %d asked for but its yield channel is open", p)
				}
			}
		})
	}
}

func TestBalanceReserve(t *testing.T) {
	b := newBalance(4, prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"}), quiet())
	if b.reserve(0) {
		t.Fatal("reserved before the member count was known")
	}
	b.observe(2, time.Hour) // share 2
	if !b.reserve(0) || !b.reserve(1) {
		t.Fatal("could not reserve the share")
	}
	if b.reserve(2) {
		t.Fatal("reserved past the share")
	}
	b.cancel() // partition 1 was held elsewhere
	b.took(0)
	if !b.reserve(3) {
		t.Fatal("a cancelled reservation was not freed")
	}
	b.took(3)
	b.observe(4, time.Hour) // share 1: over once
	asked, _ := b.observe(4, time.Hour)
	if !slices.Equal(asked, []int{3}) {
		t.Fatalf("asked for %v, want [3]", asked)
	}
	b.gave(3)
	b.observe(1, time.Hour) // share 4 again
	if b.reserve(3) {
		t.Error("a partition given up was taken back before its cooldown")
	}
	if !b.reserve(2) {
		t.Error("another partition could not be taken")
	}
}

// flaky is a member of shared that fails while failing holds for its
// process's messages of user.
type flaky struct {
	member
	user    string
	failing *atomic.Bool
	calls   *atomic.Int64
}

func (f flaky) Send(ctx context.Context, batch []router.Message) error {
	f.calls.Add(1)
	if f.failing.Load() && slices.ContainsFunc(batch, func(m router.Message) bool { return m.UserID == f.user }) {
		return errors.New("503 service unavailable")
	}
	return f.member.Send(ctx, batch)
}

// producer appends one message per user every tick until stopped.
type producer struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	n    int // rounds stored
	err  error
}

func produce(l *eventlog.Log, users []string, tick time.Duration) *producer {
	p := &producer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(tick):
			}
			msgs := make([]router.Message, len(users))
			for j, u := range users {
				msgs[j] = message(u, i)
			}
			if _, err := l.Append(context.Background(), msgs); err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
				return
			}
			p.mu.Lock()
			p.n = i + 1
			p.mu.Unlock()
		}
	}()
	return p
}

// end stops the producer and returns how many rounds it stored.
func (p *producer) end(t *testing.T) int {
	t.Helper()
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("Append: %v", p.err)
	}
	return p.n
}

func (p *producer) rounds() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// owned reads each dispatcher's partitions_owned gauge for hook.
func owned(t *testing.T, rs ...*running) []int {
	t.Helper()
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = int(r.counter(t, "eventrouter_dispatch_partitions_owned", "hook"))
	}
	return out
}

func waitOwned(t *testing.T, what string, want []int, rs ...*running) {
	t.Helper()
	var got []int
	deadline := time.Now().Add(40 * time.Second)
	for {
		got = owned(t, rs...)
		sorted := slices.Sorted(slices.Values(got))
		if slices.Equal(sorted, want) {
			t.Logf("%s: owned %v", what, got)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: partitions owned %v, want %v in some order", what, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPartitionsSpreadOverInstances(t *testing.T) {
	const parts = 8
	// Leases of 2 s rather than the other tests' 500 ms: with four
	// processes and -race on two busy cores, a 500 ms lease can lapse
	// while its holder is starved, and the partitions then keep moving
	// (that is correct, but the counts this test waits for never settle).
	const ttl = 2 * time.Second
	a := openLog(t, eventlog.Config{Listen: "127.0.0.1:0", Partitions: parts, LeaseTTL: ttl})
	b := openLog(t, eventlog.Config{URL: a.ClientURL(), Partitions: parts, LeaseTTL: ttl})
	c := openLog(t, eventlog.Config{URL: a.ClientURL(), Partitions: parts, LeaseTTL: ttl})
	s := &shared{by: map[string]int{}, busy: map[int]string{}, partitions: parts}
	s.hold = func(string, []router.Message) { time.Sleep(time.Millisecond) }
	opts := fast(Options{BatchSize: 10})
	var us []string
	for i := range 16 {
		us = append(us, fmt.Sprintf("u%02d", i))
	}

	ra := start(t, a, Route{Name: "hook", Destination: member{s, "A"}, Options: opts})
	// The destination's cursors exist from here on (New made them).
	prod := produce(a, us, 10*time.Millisecond)
	delivered := func(process string, n int) func() bool {
		return func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.by[process] >= n
		}
	}
	waitOwned(t, "A alone", []int{parts}, ra)
	rb := start(t, b, Route{Name: "hook", Destination: member{s, "B"}, Options: opts})
	waitOwned(t, "B joined", []int{4, 4}, ra, rb)
	waitFor(t, 10*time.Second, "B delivering", delivered("B", 50))
	rc := start(t, c, Route{Name: "hook", Destination: member{s, "C"}, Options: opts})
	waitOwned(t, "C joined", []int{2, 3, 3}, ra, rb, rc)
	waitFor(t, 10*time.Second, "C delivering", delivered("C", 50))
	rc.stop(t)
	if got := owned(t, rc); got[0] != 0 {
		t.Errorf("C still owns %d partitions after it stopped", got[0])
	}
	waitOwned(t, "C left", []int{4, 4}, ra, rb)

	// D joins, then its process dies: its membership and leases lapse and
	// A and B take its partitions over.
	d := openLog(t, eventlog.Config{URL: a.ClientURL(), Partitions: parts, LeaseTTL: ttl})
	rd := start(t, d, Route{Name: "hook", Destination: member{s, "D"}, Options: opts})
	waitOwned(t, "D joined", []int{2, 3, 3}, ra, rb, rd)
	waitFor(t, 10*time.Second, "D delivering", delivered("D", 50))
	_ = d.Close()
	waitOwned(t, "D died", []int{4, 4}, ra, rb)
	// Rebalancing went on while messages flowed.
	if before := prod.rounds(); before < 10 {
		t.Errorf("only %d rounds stored during the rebalancing", before)
	}
	n := prod.end(t)

	want := n * len(us)
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := map[string]bool{}
		for _, m := range s.messages() {
			seen[m.ID] = true
		}
		if len(seen) >= want {
			break
		}
		if time.Now().After(deadline) {
			missing := map[int][]string{}
			for i := range n {
				for _, u := range us {
					if id := fmt.Sprintf("%s-%04d", u, i); !seen[id] {
						p := router.Partition(u, parts)
						missing[p] = append(missing[p], id)
					}
				}
			}
			for p, ids := range missing {
				t.Logf("partition %d: %d missing, first %s", p, len(ids), ids[0])
			}
			t.Logf("owned %v", owned(t, ra, rb))
			t.Fatalf("%d of %d messages delivered", len(seen), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := s.messages()
	checkOrder(t, got, us, n, false)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.overlap) > 0 {
		t.Errorf("a partition was sent by two processes at once: %v", s.overlap)
	}
	t.Logf("%d messages (%d deliveries with repeats), by A %d, B %d, C %d, D %d", want, len(got), s.by["A"], s.by["B"], s.by["C"], s.by["D"])
}

// userIn returns a user whose messages go to partition p of parts.
func userIn(p, parts int) string {
	for i := 0; ; i++ {
		if u := fmt.Sprintf("user%d", i); router.Partition(u, parts) == p {
			return u
		}
	}
}

// A partition given up while its batch is being retried keeps its place:
// the next holder delivers the unfinished messages before anything newer.
func TestRebalanceInTheMiddleOfRetries(t *testing.T) {
	const parts = 2
	a := openLog(t, eventlog.Config{Listen: "127.0.0.1:0", Partitions: parts})
	b := openLog(t, eventlog.Config{URL: a.ClientURL(), Partitions: parts})
	s := &shared{by: map[string]int{}, busy: map[int]string{}, partitions: parts}
	// The highest partition is the one A gives up.
	slow := userIn(parts-1, parts)
	us := []string{userIn(0, parts), slow}
	var failing atomic.Bool
	var callsA, callsB atomic.Int64
	failing.Store(true)
	opts := fast(Options{BatchSize: 5, MaxAttempts: 1000})

	ra := start(t, a, Route{Name: "hook", Destination: flaky{member{s, "A"}, slow, &failing, &callsA}, Options: opts})
	waitOwned(t, "A alone", []int{parts}, ra)
	appendUsers(t, a, us, 0, 10)
	waitFor(t, 10*time.Second, "A retrying", func() bool { return callsA.Load() >= 3 })

	rb := start(t, b, Route{Name: "hook", Destination: flaky{member{s, "B"}, slow, &failing, &callsB}, Options: opts})
	waitOwned(t, "B joined", []int{1, 1}, ra, rb)
	appendUsers(t, a, us, 10, 10)
	waitFor(t, 10*time.Second, "B retrying", func() bool { return callsB.Load() >= 2 })
	failing.Store(false)
	waitFor(t, 20*time.Second, "every message", func() bool {
		seen := map[string]bool{}
		for _, m := range s.messages() {
			seen[m.ID] = true
		}
		return len(seen) >= 40
	})
	got := s.messages()
	checkOrder(t, got, us, 20, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by["A"] != 20 || s.by["B"] != 20 {
		t.Errorf("delivered by A %d, by B %d; want 20 each (B delivers all of %s's, which A never could)", s.by["A"], s.by["B"], slow)
	}
	if len(s.overlap) > 0 {
		t.Errorf("a partition was sent by two processes at once: %v", s.overlap)
	}
}
