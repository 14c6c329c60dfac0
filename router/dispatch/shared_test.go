package dispatch

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// shared records the deliveries of several processes' destinations into
// one sequence, and checks that no partition is sent by two at once.
type shared struct {
	mu         sync.Mutex
	got        []router.Message
	by         map[string]int // messages delivered per process
	busy       map[int]string // partition -> process in Send
	overlap    []string
	partitions int
	hold       func(process string, batch []router.Message) // called inside Send
}

type member struct {
	s    *shared
	name string
}

func (m member) Send(ctx context.Context, batch []router.Message) error {
	s := m.s
	p := router.Partition(batch[0].PartitionKey(), s.partitions)
	s.mu.Lock()
	if other, ok := s.busy[p]; ok {
		s.overlap = append(s.overlap, other+" and "+m.name)
	}
	s.busy[p] = m.name
	hold := s.hold
	s.mu.Unlock()
	if hold != nil {
		hold(m.name, batch)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.busy, p)
	if err := ctx.Err(); err != nil {
		return err
	}
	s.got = append(s.got, batch...)
	s.by[m.name] += len(batch)
	return nil
}

func (m member) Close(context.Context) error { return nil }

func (s *shared) messages() []router.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]router.Message(nil), s.got...)
}

func TestTwoDispatchersShareTheLog(t *testing.T) {
	a := openLog(t, eventlog.Config{Listen: "127.0.0.1:0"})
	b := openLog(t, eventlog.Config{URL: a.ClientURL()})
	s := &shared{by: map[string]int{}, busy: map[int]string{}, partitions: 4}
	s.hold = func(string, []router.Message) { time.Sleep(5 * time.Millisecond) }
	opts := fast(Options{BatchSize: 7})
	ra := start(t, a, Route{Name: "hook", Destination: member{s, "A"}, Options: opts})
	start(t, b, Route{Name: "hook", Destination: member{s, "B"}, Options: opts})

	appendUsers(t, a, users, 0, 30)
	appendUsers(t, b, users, 30, 30)
	waitFor(t, 30*time.Second, "first half", func() bool { return len(s.messages()) >= 360 })

	// A stops; B takes its partitions over.
	ra.stop(t)
	s.mu.Lock()
	byA := s.by["A"]
	s.mu.Unlock()
	appendUsers(t, b, users, 60, 30)
	waitFor(t, 30*time.Second, "second half", func() bool { return len(s.messages()) >= 540 })
	checkOrder(t, s.messages(), users, 90, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.overlap) > 0 {
		t.Errorf("a partition was sent by two processes at once: %v", s.overlap)
	}
	if s.by["A"] != byA {
		t.Errorf("A delivered after it stopped")
	}
	t.Logf("delivered by A: %d, by B: %d", s.by["A"], s.by["B"])
}

// A process that loses its connection to NATS in the middle of a batch
// (as if it died) loses its leases; the other process takes the partition
// over and redelivers the unfinished batch before anything newer.
func TestTakeoverAfterCrashKeepsOrder(t *testing.T) {
	a := openLog(t, eventlog.Config{Listen: "127.0.0.1:0", Partitions: 1})
	crashing := openLog(t, eventlog.Config{URL: a.ClientURL(), Partitions: 1})
	s := &shared{by: map[string]int{}, busy: map[int]string{}, partitions: 1}
	stuck := make(chan struct{})
	var once sync.Once
	s.hold = func(process string, _ []router.Message) {
		if process == "crashing" {
			once.Do(func() { close(stuck) })
			time.Sleep(time.Hour) // never returns: the process hangs, then dies
		}
	}
	opts := fast(Options{BatchSize: 5})
	// The takeover must not wait for the cursor's AckWait: the survivor
	// rewinds and gets the unfinished batch at once.
	opts.AckWait = time.Minute
	dc, err := New(crashing, []Route{{Name: "hook", Destination: member{s, "crashing"}, Options: opts}}, quiet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.acquireEvery = 50 * time.Millisecond
	go func() { _ = dc.Run(context.Background()) }() // never stopped: it "dies"
	appendUsers(t, a, []string{"alice"}, 0, 5)
	<-stuck
	// The crashing process now holds the lease and a batch of 5 in flight.
	start(t, a, Route{Name: "hook", Destination: member{s, "survivor"}, Options: opts})
	appendUsers(t, a, []string{"alice"}, 5, 10)
	time.Sleep(300 * time.Millisecond)
	if n := len(s.messages()); n != 0 {
		t.Fatalf("survivor delivered %d messages while the lease was held", n)
	}
	t0 := time.Now()
	crashing.Close() // the process dies: no more renewals, acks or keep-alives
	waitFor(t, 20*time.Second, "takeover", func() bool { return len(s.messages()) >= 1 })
	took := time.Since(t0)
	waitFor(t, 20*time.Second, "takeover", func() bool { return len(s.messages()) >= 15 })
	checkOrder(t, s.messages(), []string{"alice"}, 15, true)
	t.Logf("first delivery by the survivor %s after the crash (lease TTL 500ms, AckWait 1m)", took.Round(time.Millisecond))
}
