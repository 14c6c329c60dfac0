package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// logBackend is the real log (embedded NATS JetStream), read back through
// its own partition readers (accepted messages) and the rejected stream.
type logBackend struct {
	*eventlog.Log
	readers  []router.PartitionReader
	events   jetstream.Stream
	rejected jetstream.Stream
	sample   jetstream.Stream
	evSeq    uint64
	rjSeq    uint64
	smSeq    uint64
}

func openLogBackend(t *testing.T) *logBackend {
	t.Helper()
	return openLogBackendAt(t, t.TempDir())
}

// openLogBackendAt opens the real log on the data directory dir, so that
// a test can close it and open it again (a restart).
func openLogBackendAt(t *testing.T, dir string) *logBackend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Partitions: 4, Listen: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("eventlog.Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	b := &logBackend{Log: l}
	for p := range l.Partitions() {
		r, err := l.Reader(ctx, router.ReaderConfig{Destination: "conformance", Partition: p, FromStart: true})
		if err != nil {
			t.Fatalf("Reader: %v", err)
		}
		b.readers = append(b.readers, r)
	}
	nc, err := nats.Connect(l.ClientURL())
	if err != nil {
		t.Fatalf("connecting to the embedded server: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if b.events, err = js.Stream(ctx, eventlog.DefaultStreamPrefix+"_EVENTS"); err != nil {
		t.Fatal(err)
	}
	if b.rejected, err = js.Stream(ctx, eventlog.DefaultStreamPrefix+"_REJECTED"); err != nil {
		t.Fatal(err)
	}
	if b.sample, err = js.Stream(ctx, eventlog.DefaultStreamPrefix+"_SAMPLE"); err != nil {
		t.Fatal(err)
	}
	// A reopened log starts reading back after what it already holds.
	b.evSeq = lastSeq(t, ctx, b.events)
	b.rjSeq = lastSeq(t, ctx, b.rejected)
	b.smSeq = lastSeq(t, ctx, b.sample)
	return b
}

func lastSeq(t *testing.T, ctx context.Context, s jetstream.Stream) uint64 {
	t.Helper()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.LastSeq
}

// drain returns what was stored since the last drain: the new messages of
// the events stream, read through the log's readers in stream order, and
// the new rejected items.
func (b *logBackend) drain(t *testing.T) ([]router.Message, []router.Rejected) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	last := lastSeq(t, ctx, b.events)
	want := int(last - b.evSeq) // stored records, each holding one or more messages
	b.evSeq = last
	var ds []router.Delivery
	records := map[uint64]bool{}
	// Until every record has been seen, and then one pass that finds
	// nothing more (a record may come in more than one fetch).
	for empty := false; len(records) < want || !empty; {
		if ctx.Err() != nil {
			t.Fatalf("read %d messages of %d of %d stored records", len(ds), len(records), want)
		}
		empty = true
		for _, r := range b.readers {
			got, err := r.Fetch(ctx, 1000, 20*time.Millisecond)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if len(got) > 0 {
				if err := r.Ack(ctx, got); err != nil {
					t.Fatalf("Ack: %v", err)
				}
				ds = append(ds, got...)
				for _, d := range got {
					records[d.Seq/10000] = true // Seq is record × 10,000 + index
				}
				empty = false
			}
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Seq < ds[j].Seq })
	var msgs []router.Message
	for _, d := range ds {
		msgs = append(msgs, d.Message)
	}
	return msgs, readRejected(t, ctx, b.rejected, &b.rjSeq)
}

// drainSample returns the new entries of the sample stream.
func (b *logBackend) drainSample(t *testing.T) []router.Rejected {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return readRejected(t, ctx, b.sample, &b.smSeq)
}

// readRejected reads the router.Rejected entries of s after *seq and moves
// *seq to the last one.
func readRejected(t *testing.T, ctx context.Context, s jetstream.Stream, seq *uint64) []router.Rejected {
	t.Helper()
	var out []router.Rejected
	last := lastSeq(t, ctx, s)
	for n := *seq + 1; n <= last; n++ {
		raw, err := s.GetMsg(ctx, n)
		if err != nil {
			t.Fatalf("reading entry %d: %v", n, err)
		}
		var r router.Rejected
		if err := json.Unmarshal(raw.Data, &r); err != nil {
			t.Fatalf("decoding entry %d: %v", n, err)
		}
		out = append(out, r)
	}
	*seq = last
	return out
}

// TestConformance runs every conformance vector (T1–T40) against a real
// server storing into the real log: the embedded NATS JetStream of
// router/eventlog, with its deduplication, read back through its readers.
func TestConformance(t *testing.T) {
	b := openLogBackend(t)
	runConformance(t, b)

	t.Run("T37_real_log_closed", func(t *testing.T) {
		e := newEnv(t, b, nil)
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		r := e.send(t, req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u","event":"E"}`)})
		apiErr(t, r, http.StatusServiceUnavailable, "unavailable")
		if r.header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
}

// BenchmarkIngestBatchQueue is BenchmarkIngestBatch storing into the real
// embedded log (no fsync per write, the queue's default), requests sent
// from GOMAXPROCS goroutines.
func BenchmarkIngestBatchQueue(b *testing.B) {
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: b.TempDir(), Partitions: 16, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	h, err := New(baseConfig(), l)
	if err != nil {
		b.Fatal(err)
	}
	// Distinct messageIds per request, so that nothing is a duplicate.
	var seq atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := bytes.ReplaceAll(benchBatch(100), []byte("5f3c2a1e-9d8b"), fmt.Appendf(nil, "%013d", seq.Add(1)))
			r := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
			r.Header.Set("Authorization", basicWK1)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}
