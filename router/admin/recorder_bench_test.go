//go:build unix

package admin

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRecorderAt30k measures what the debugger costs the server: the
// recorder fed through the real hooks (ingest's ObserveIngest with
// requests of 100 distinct messages, dispatch's ObserveSend delivering
// them to one destination) while two live-stream clients are attached
// over HTTP (one unfiltered, one filtered on an event name), with the
// stream's sampling, stats events and JSON encoding running. An op is one
// request; it reports the process's CPU time per event (ns/event, every
// goroutine included: the server's stream handlers, the two clients
// reading, the garbage collector) and what that is as a share of one core
// at 30,000 events/s (%core@30k).
func BenchmarkRecorderAt30k(b *testing.B) {
	const perReq = 100
	rec := NewRecorder(RecorderConfig{})
	srv := streamServer(b, rec)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var streams []<-chan sseEvent
	for _, q := range []string{"", "?event=Order%20Completed"} {
		events := openStream(ctx, b, srv.URL, q)
		<-events // the first stats: subscribed
		streams = append(streams, events)
	}
	got := make(chan int, len(streams))
	for _, events := range streams {
		go func() {
			n := 0
			for ev := range events {
				if ev.name == "message" {
					n++
				}
			}
			got <- n
		}()
	}

	// A window's worth of distinct messages, half of them the filtered
	// client's event, sent in turn.
	reqs := make([]router.IngestRecord, DefaultRecentMessages/perReq)
	for i := range reqs {
		reqs[i] = batchRecord(i*perReq, perReq, time.Now())
		for j := range reqs[i].Accepted {
			if j%2 == 1 {
				reqs[i].Accepted[j].Event = "Product Viewed"
			}
		}
	}
	stamp := time.Now()
	// The recorder's clock runs at the benchmark's rate: 30,000 events a
	// second of it, so that it keeps the share of requests it keeps at
	// that rate (RecorderConfig.KeepRate), not of the millions a second
	// the loop sends.
	var clock atomic.Int64 // read by the stream's goroutines too
	clock.Store(stamp.UnixNano())
	rec.mu.Lock()
	rec.now = func() time.Time { return time.Unix(0, clock.Load()) }
	rec.mu.Unlock()
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		req := &reqs[i%len(reqs)]
		i++
		clock.Store(stamp.Add(time.Duration(i) * time.Second * perReq / 30000).UnixNano())
		if now := time.Now(); now.Sub(stamp) > 50*time.Millisecond { // received now, for the sampling
			stamp = now
			for j := range req.Accepted {
				req.Accepted[j].ReceivedAt = now
			}
		}
		rec.ObserveIngest(*req)
		rec.ObserveSend("hook", req.Accepted, nil, time.Millisecond)
	}
	cpu := cpuTime(b) - cpu0
	events := float64(b.N * perReq)
	nsPerEvent := float64(cpu.Nanoseconds()) / events
	b.ReportMetric(nsPerEvent, "ns/event")
	b.ReportMetric(nsPerEvent*30000/1e9*100, "%core@30k")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "wall-ns/event")
	cancel()
	sent := 0
	for range streams {
		sent += <-got
	}
	if c := rec.Counts(); c.Received != uint64(b.N*perReq) {
		b.Fatalf("counted %d received, want %d", c.Received, b.N*perReq)
	}
	if b.N > 1000 && sent == 0 {
		b.Fatal(fmt.Sprintf("the clients got no message out of %d", b.N*perReq))
	}
}
