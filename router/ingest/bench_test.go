package ingest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// discardLog is a Log that keeps nothing, for benchmarks.
type discardLog struct{}

func (discardLog) Append(context.Context, []router.Message) (int, error) { return 0, nil }
func (discardLog) Reject(context.Context, []router.Rejected) error       { return nil }
func (discardLog) Seen(context.Context, string, string) (bool, error)    { return false, nil }
func (discardLog) Remember(context.Context, string, string) error        { return nil }

// benchBatch is a /v1/batch body of n track events of about 400 bytes each,
// shaped like analytics-go's.
func benchBatch(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"messageId":"8c1f0d5e-2b6a-4f43-9a57-3e8f5d1b2c40","sentAt":"2024-01-01T01:00:09.512Z","context":{"library":{"name":"analytics-go","version":"3.0.0"}},"batch":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","messageId":"5f3c2a1e-9d8b-4c7a-b6e5-%012d","userId":"user-%d","event":"Order Completed","timestamp":"2024-01-01T01:00:09.101Z",`+
			`"properties":{"order_id":"ord-%d","revenue":49.95,"currency":"EUR","products":[{"sku":"G-32","price":24.975,"quantity":2}],"coupon":"SPRING","affiliation":"web shop"},`+
			`"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","locale":"de-DE"}}`, i, i%977, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkIngestBatch measures the handler on /v1/batch with 100 track
// events of ~400 bytes (the load of the benchmark), without the
// network and with a Log that stores nothing. ns/op is per 100-event batch;
// the events/s metric is for one core.
func BenchmarkIngestBatch(b *testing.B) {
	h, err := New(baseConfig(), discardLog{})
	if err != nil {
		b.Fatal(err)
	}
	benchServeBatch(b, h)
}

// benchServeBatch runs BenchmarkIngestBatch's load against h: /v1/batch
// requests of 100 track events (benchBatch) with write key WK1, each
// answered 200, reporting events/s.
func benchServeBatch(b *testing.B, h http.Handler) {
	body := benchBatch(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/batch", bytes.NewReader(body))
		r.Header.Set("Authorization", basicWK1)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N)*100/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIngestTrack measures a single /v1/track request.
func BenchmarkIngestTrack(b *testing.B) {
	h, err := New(baseConfig(), discardLog{})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"userId":"user-1","event":"Order Completed","timestamp":"2024-01-01T01:00:09.101Z","properties":{"order_id":"ord-1","revenue":49.95,"currency":"EUR"},"context":{"ip":"203.0.113.7","userAgent":"Mozilla/5.0 (X11; Linux x86_64)","locale":"de-DE"}}`)
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/v1/track", bytes.NewReader(body))
		r.Header.Set("Authorization", basicWK1)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
