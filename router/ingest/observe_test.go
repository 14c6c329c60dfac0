package ingest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/admin"
)

// recordingObserver keeps copies of what it is told.
type recordingObserver struct {
	mu   sync.Mutex
	recs []router.IngestRecord
}

func (o *recordingObserver) ObserveIngest(rec router.IngestRecord) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rec.Raw = append([]byte(nil), rec.Raw...)
	rec.Accepted = append([]router.Message(nil), rec.Accepted...)
	rec.Rejected = append([]router.Rejected(nil), rec.Rejected...)
	o.recs = append(o.recs, rec)
}

func TestObserver(t *testing.T) {
	tests := []struct {
		name          string
		path, body    string
		status        int
		observed      bool
		accepted      int
		rejected      int
		rawContaining string
	}{
		{"track", "/v1/track", `{"userId":"u1","event":"E","messageId":"obs-1"}`, 200, true, 1, 0, `"obs-1"`},
		{"batch with a rejected item", "/v1/batch", `{"batch":[{"type":"track","userId":"u1","event":"E"},{"type":"track","event":"E"}]}`, 200, true, 1, 1, `"batch"`},
		{"invalid json is not stored, not observed", "/v1/track", `{"userId":`, 400, false, 0, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(baseConfig(), discardLog{})
			if err != nil {
				t.Fatal(err)
			}
			o := &recordingObserver{}
			h.Observe(o)
			r := httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(tt.body))
			r.Header.Set("Authorization", basicWK1)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if len(o.recs) != map[bool]int{true: 1, false: 0}[tt.observed] {
				t.Fatalf("observed %d requests", len(o.recs))
			}
			if !tt.observed {
				return
			}
			rec := o.recs[0]
			if len(rec.Accepted) != tt.accepted || len(rec.Rejected) != tt.rejected {
				t.Fatalf("accepted %d, rejected %d", len(rec.Accepted), len(rec.Rejected))
			}
			if !bytes.Contains(rec.Raw, []byte(tt.rawContaining)) {
				t.Fatalf("raw body %q lacks %s", rec.Raw, tt.rawContaining)
			}
		})
	}
}

// BenchmarkIngestBatchObserved is BenchmarkIngestBatch with the debugger's
// recorder observing every request (compare the two for the cost of the
// hook; without an observer the hook is one nil check).
func BenchmarkIngestBatchObserved(b *testing.B) {
	h, err := New(baseConfig(), discardLog{})
	if err != nil {
		b.Fatal(err)
	}
	h.Observe(admin.NewRecorder(admin.RecorderConfig{}))
	benchServeBatch(b, h)
}
