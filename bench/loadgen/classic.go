package main

import (
	"fmt"
	"runtime"
	"time"
)

// runClassic is the earlier benchmark: one eventrouter delivering to the
// sink; /v1/batch, then single /v1/track paced at -single-rate, then
// unpaced; then it waits until the sink has every accepted event.
func runClassic(o options) error {
	snk, err := startSink()
	if err != nil {
		return err
	}
	defer snk.close()
	p, err := startEventrouter(o.bin, o.dir, erConfig{partitions: o.partitions, syncAlways: o.syncAlways, sinkAddr: snk.addr, destEnabled: true, tuned: true}, o.keep)
	if err != nil {
		return err
	}
	defer p.stop()
	pid := p.pid()
	fmt.Printf("eventrouter benchmark: %d cores, server pid %d, %d partitions, log sync_always=%t, phase length %s\n", runtime.NumCPU(), pid, o.partitions, o.syncAlways, o.duration)

	client := newClient()
	batchSize := o.batchSize

	// Phase 1: /v1/batch.
	batchRes := load(client, p.base+"/v1/batch", o.batchClients, o.duration, 0, func(seq int64) []byte {
		return batchBody(seq, batchSize)
	})
	fmt.Printf("batch:  %d clients, %d events/request: %.0f events/s (%.0f requests/s), p50 %s, p99 %s, errors %d\n",
		o.batchClients, batchSize, batchRes.rps*float64(batchSize), batchRes.rps, batchRes.p50, batchRes.p99, batchRes.errors)
	fmt.Printf("        server RSS now %s\n", rssNow(pid))

	// Phase 2: single /v1/track at the target rate, for its latency.
	singleRes := load(client, p.base+"/v1/track", o.singleClients, o.duration, o.singleRate, func(seq int64) []byte {
		return trackEvent(seq, true)
	})
	fmt.Printf("single: %d clients paced at %d requests/s: %.0f requests/s, p50 %s, p99 %s, errors %d\n",
		o.singleClients, o.singleRate, singleRes.rps, singleRes.p50, singleRes.p99, singleRes.errors)
	fmt.Printf("        server RSS now %s\n", rssNow(pid))

	// Phase 3: single /v1/track as fast as the clients go.
	maxRes := load(client, p.base+"/v1/track", o.singleClients, o.duration, 0, func(seq int64) []byte {
		return trackEvent(seq+1<<40, true)
	})
	fmt.Printf("single: %d clients unpaced: %.0f requests/s, p50 %s, p99 %s, errors %d\n",
		o.singleClients, maxRes.rps, maxRes.p50, maxRes.p99, maxRes.errors)

	accepted := batchRes.ok*int64(batchSize) + singleRes.ok + maxRes.ok
	waited := snk.waitDelivered(accepted, 5*time.Minute)
	fmt.Printf("delivery: sink received %d of %d accepted events (%.1fs after the load ended)\n",
		snk.events.Load(), accepted, waited.Seconds())
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
