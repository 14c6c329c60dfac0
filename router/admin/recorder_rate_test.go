package admin

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStreamRateConcurrent offers messages from concurrent requests across
// a second's edge, their ReceivedAt straddling it (requests received just
// before and just after the edge are observed interleaved): a client gets
// at most its rate per second of the recorder's clock, whatever the
// messages' timestamps and however the requests interleave.
func TestStreamRateConcurrent(t *testing.T) {
	const rate = 50
	r := NewRecorder(RecorderConfig{StreamRate: rate})
	sub, cancel := r.subscribe(Filter{})
	defer cancel()
	edge := time.Unix(1700000000, 0)
	var clock atomic.Int64
	clock.Store(edge.Add(-time.Millisecond).UnixNano())
	r.now = func() time.Time { return time.Unix(0, clock.Load()) }

	// observe runs 8 concurrent requests of 40 messages each, half received
	// before the edge and half after.
	observe := func(from int) {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					at := edge.Add(-time.Millisecond)
					if (g+i)%2 == 1 {
						at = edge.Add(time.Millisecond)
					}
					r.ObserveIngest(batchRecord(from+g*1000+i, 1, at))
				}
			}()
		}
		wg.Wait()
	}
	drain := func() int {
		n := 0
		for {
			select {
			case <-sub.ch:
				n++
			default:
				return n
			}
		}
	}
	observe(0)
	if n := drain(); n != rate {
		t.Fatalf("the second before the edge: %d messages sent, want %d (the rate)", n, rate)
	}
	clock.Store(edge.Add(time.Millisecond).UnixNano())
	observe(100000)
	if n := drain(); n != rate {
		t.Fatalf("the second after the edge: %d messages sent, want %d (the rate)", n, rate)
	}
	if got := sub.out.Load(); got != 2*(8*40-rate) {
		t.Fatalf("%d sampled out, want %d", got, 2*(8*40-rate))
	}
}
