package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/eventlog"
)

// countingStore is the real quarantine, counting how entries are read.
type countingStore struct {
	*eventlog.Log
	scans, reads atomic.Int64
}

func (c *countingStore) ScanQuarantined(ctx context.Context, source, event string, since time.Time, fn func(router.Quarantined) bool) error {
	c.scans.Add(1)
	return c.Log.ScanQuarantined(ctx, source, event, since, fn)
}

func (c *countingStore) QuarantinedMessage(ctx context.Context, seq uint64) (router.Quarantined, error) {
	c.reads.Add(1)
	return c.Log.QuarantinedMessage(ctx, seq)
}

// passingReingester passes every entry without storing it.
type passingReingester struct{}

func (passingReingester) Reingest(context.Context, router.Quarantined, bool) (bool, []router.Violation, error) {
	return true, nil, nil
}

// quarantineOf stores n entries (events E0, E1, E0, ...) and returns the
// store and their seqs, oldest first.
func quarantineOf(t *testing.T, n int) (*countingStore, []uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	qs := make([]router.Quarantined, n)
	for i := range qs {
		m := msg(i, time.Now())
		m.Event = fmt.Sprintf("E%d", i%2)
		qs[i] = router.Quarantined{Message: m, Reason: router.ReasonBlocked}
	}
	if err := l.Quarantine(ctx, qs); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	if err := l.ScanQuarantined(ctx, "", "", time.Time{}, func(q router.Quarantined) bool { seqs = append(seqs, q.Seq); return true }); err != nil || len(seqs) != n {
		t.Fatalf("stored %d entries, read back %d: %v", n, len(seqs), err)
	}
	return &countingStore{Log: l}, seqs
}

// TestQuarantineListPages pages through the quarantine newest first: each
// page holds at most limit entries, without their messages; total counts
// every match; next_before leads to the next page.
func TestQuarantineListPages(t *testing.T) {
	store, seqs := quarantineOf(t, 7)
	s := New("tok", nil)
	s.MountQuarantine(store, passingReingester{}, nil)
	type page struct {
		Messages []struct {
			Seq     uint64          `json:"seq"`
			Event   string          `json:"event"`
			Message json.RawMessage `json:"message"`
		} `json:"messages"`
		Total      int     `json:"total"`
		NextBefore *uint64 `json:"next_before"`
	}
	list := func(query string) page {
		t.Helper()
		req := httptest.NewRequest("GET", "/admin/quarantine?"+query, nil)
		req.Header.Set("Authorization", "Bearer tok")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		var p page
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &p) != nil {
			t.Fatalf("GET /admin/quarantine?%s: %d %s", query, w.Code, w.Body)
		}
		return p
	}
	tests := []struct {
		name  string
		event string
		limit int
		want  [][]uint64 // the pages' seqs
		total int
	}{
		{"all, by 3", "", 3, [][]uint64{{seqs[6], seqs[5], seqs[4]}, {seqs[3], seqs[2], seqs[1]}, {seqs[0]}}, 7},
		{"all, one page", "", 7, [][]uint64{{seqs[6], seqs[5], seqs[4], seqs[3], seqs[2], seqs[1], seqs[0]}}, 7},
		{"one event, by 2", "E1", 2, [][]uint64{{seqs[5], seqs[3]}, {seqs[1]}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := fmt.Sprintf("event=%s&limit=%d", tt.event, tt.limit)
			for i, want := range tt.want {
				p := list(q)
				var got []uint64
				for _, m := range p.Messages {
					got = append(got, m.Seq)
					if m.Message != nil {
						t.Errorf("entry %d listed with its message", m.Seq)
					}
				}
				if !reflect.DeepEqual(got, want) || p.Total != tt.total {
					t.Fatalf("page %d (%s): %v of %d, want %v of %d", i, q, got, p.Total, want, tt.total)
				}
				last := i == len(tt.want)-1
				if last != (p.NextBefore == nil) {
					t.Fatalf("page %d: next_before %v", i, p.NextBefore)
				}
				if !last {
					q = fmt.Sprintf("event=%s&limit=%d&before=%d", tt.event, tt.limit, *p.NextBefore)
				}
			}
		})
	}
}

// TestQuarantineReplayReads: a replay by ids reads those entries one by
// one (no scan of the whole quarantine) and reports the ids that are not
// there; an empty ids list is refused; a replay by filter scans once.
func TestQuarantineReplayReads(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, seqs := quarantineOf(t, 6)
	res, err := ReplayQuarantine(ctx, store, passingReingester{}, ReplaySelection{IDs: []uint64{seqs[4], 999, seqs[1], seqs[4]}}, nil)
	if err != nil || res.Replayed != 2 || !reflect.DeepEqual(res.NotFound, []uint64{999}) {
		t.Fatalf("replay by ids: %+v, %v; want 2 replayed, 999 not found", res, err)
	}
	if store.scans.Load() != 0 || store.reads.Load() != 3 {
		t.Fatalf("replay of 2 ids (one listed twice) and a missing one: %d scans, %d reads; want 0 and 3", store.scans.Load(), store.reads.Load())
	}
	if _, err := ReplayQuarantine(ctx, store, passingReingester{}, ReplaySelection{IDs: []uint64{}}, nil); err != ErrEmptyIDs {
		t.Fatalf("replay of an empty ids list: %v, want ErrEmptyIDs", err)
	}
	res, err = ReplayQuarantine(ctx, store, passingReingester{}, ReplaySelection{Event: "E0"}, nil)
	if err != nil || res.Replayed != 2 || store.scans.Load() != 1 {
		t.Fatalf("replay of E0: %+v, %v, %d scans; want 2 replayed (the E0 entries left), one scan", res, err, store.scans.Load())
	}
	left, err := store.Quarantined(ctx, "", "", time.Time{})
	if err != nil || len(left) != 2 || left[0].Seq != seqs[3] || left[1].Seq != seqs[5] {
		t.Fatalf("left in the quarantine: %v, %v; want entries %d and %d", left, err, seqs[3], seqs[5])
	}

	s := New("tok", nil)
	s.MountQuarantine(store, passingReingester{}, nil)
	req := httptest.NewRequest("POST", "/admin/quarantine/replay", strings.NewReader(`{"ids":[]}`))
	req.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, req)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"empty_ids"`) {
		t.Fatalf(`POST /admin/quarantine/replay {"ids":[]}: %d %s; want 400 empty_ids`, w.Code, w.Body)
	}
	if left, _ := store.Quarantined(ctx, "", "", time.Time{}); len(left) != 2 {
		t.Fatalf("an empty ids list replayed %d entries", 2-len(left))
	}
}
