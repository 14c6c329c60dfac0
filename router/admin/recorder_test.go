package admin

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func msg(i int, at time.Time) router.Message {
	return router.Message{
		ID: fmt.Sprintf("m-%d", i), Source: "app", Type: "track", Event: "Order Completed",
		UserID: fmt.Sprintf("u-%d", i%7), ReceivedAt: at,
		Body: []byte(fmt.Sprintf(`{"type":"track","messageId":"m-%d","event":"Order Completed"}`, i)),
	}
}

func batchRecord(from, n int, at time.Time) router.IngestRecord {
	rec := router.IngestRecord{Raw: []byte(`{"batch":[...]}`), ReceivedAt: at}
	for i := from; i < from+n; i++ {
		rec.Accepted = append(rec.Accepted, msg(i, at))
	}
	return rec
}

func TestRecorderWindow(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name        string
		cfg         RecorderConfig
		messages    int
		perRequest  int
		wantKept    []int // message numbers found
		wantGone    []int // not in the window
		wantNoBytes []int // in the window, bodies dropped
	}{
		{"count bound", RecorderConfig{Messages: 10}, 25, 5, []int{15, 24}, []int{0, 14}, nil},
		{"bytes bound", RecorderConfig{Messages: 100, Bytes: 300}, 20, 2, []int{19}, nil, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRecorder(tt.cfg)
			for i := 0; i < tt.messages; i += tt.perRequest {
				r.ObserveIngest(batchRecord(i, tt.perRequest, now))
			}
			if got := r.Counts().Received; got != uint64(tt.messages) {
				t.Fatalf("received %d, want %d (counts are exact)", got, tt.messages)
			}
			for _, i := range tt.wantKept {
				d, ok := r.Message("app", fmt.Sprintf("m-%d", i))
				if !ok || d.Message == nil || d.Raw == "" {
					t.Errorf("m-%d: kept %v, message %s, raw %q; want all", i, ok, d.Message, d.Raw)
				}
			}
			for _, i := range tt.wantGone {
				if _, ok := r.Message("app", fmt.Sprintf("m-%d", i)); ok {
					t.Errorf("m-%d still in the window", i)
				}
			}
			for _, i := range tt.wantNoBytes {
				d, ok := r.Message("app", fmt.Sprintf("m-%d", i))
				if !ok || d.Message != nil || d.Raw != "" {
					t.Errorf("m-%d: kept %v, message %s, raw %q; want summary only", i, ok, d.Message, d.Raw)
				}
			}
		})
	}
}

func TestRecorderAttempts(t *testing.T) {
	r := NewRecorder(RecorderConfig{})
	now := time.Now()
	r.ObserveIngest(batchRecord(0, 3, now))
	batch := []router.Message{msg(0, now), msg(1, now), msg(2, now)}
	r.ObserveSend("hook", batch, &router.BatchError{Failed: map[int]error{1: errors.New("503 busy"), 2: router.Permanent(errors.New("400 bad"))}}, 12*time.Millisecond)
	r.ObserveSend("hook", batch[1:2], nil, 5*time.Millisecond)
	r.ObserveDeadLetter(router.DeadLetter{Destination: "hook", Message: batch[2], LastError: "400 bad", Attempts: 1})
	r.ObserveFiltered("other", &batch[0], "type")

	want := map[string][]string{
		"m-0": {"hook:1:delivered", "other:1:filtered"},
		"m-1": {"hook:1:retrying", "hook:2:delivered"},
		"m-2": {"hook:1:failed", "hook:1:dead_lettered"},
	}
	for id, w := range want {
		d, ok := r.Message("app", id)
		if !ok {
			t.Fatalf("%s not found", id)
		}
		var got []string
		for _, dest := range []string{"hook", "other"} {
			for _, a := range d.Destinations[dest] {
				got = append(got, fmt.Sprintf("%s:%d:%s", dest, a.Attempt, a.Status))
			}
		}
		if strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("%s: attempts %v, want %v", id, got, w)
		}
	}
	st := r.Destination("hook")
	if st.DeliveredTotal != 2 || st.DeadLettered != 1 || st.Retrying != 0 || st.Failing || st.LastError != "503 busy" && st.LastError != "400 bad" {
		t.Errorf("stats %+v", st)
	}
}

// A destination's attempts are capped at maxAttemptsKept, the oldest
// dropped first, without touching another destination's.
func TestRecorderAttemptsCapped(t *testing.T) {
	r := NewRecorder(RecorderConfig{})
	now := time.Now()
	r.ObserveIngest(batchRecord(0, 1, now))
	m := []router.Message{msg(0, now)}
	r.ObserveSend("hook", m, errors.New("503 busy"), time.Millisecond)
	for i := 0; i < maxAttemptsKept+5; i++ {
		r.ObserveSend("other", m, errors.New("503 busy"), time.Millisecond)
	}
	r.ObserveSend("hook", m, nil, time.Millisecond)
	d, ok := r.Message("app", "m-0")
	if !ok {
		t.Fatal("m-0 not found")
	}
	if h := d.Destinations["hook"]; len(h) != 2 || h[0].Attempt != 1 || h[0].Status != "retrying" || h[0].Error != "503 busy" || h[1].Attempt != 2 || h[1].Status != "delivered" {
		t.Errorf("hook attempts %+v", h)
	}
	o := d.Destinations["other"]
	if len(o) != maxAttemptsKept || o[0].Attempt != 6 || o[len(o)-1].Attempt != maxAttemptsKept+5 {
		t.Errorf("other: %d attempts from %d to %d, want %d from 6 to %d", len(o), o[0].Attempt, o[len(o)-1].Attempt, maxAttemptsKept, maxAttemptsKept+5)
	}
	if o[0].At == "" || o[0].LatencyMS != 1 {
		t.Errorf("attempt %+v: want its time and 1 ms", o[0])
	}
}

func TestStreamSampling(t *testing.T) {
	r := NewRecorder(RecorderConfig{StreamRate: 5})
	all, cancelAll := r.subscribe(Filter{})
	defer cancelAll()
	odd, cancelOdd := r.subscribe(Filter{UserID: "u-1"})
	defer cancelOdd()
	at := time.Unix(1700000000, 0)
	now := at // the recorder's clock: the rate is per second of it
	r.now = func() time.Time { return now }
	for i := 0; i < 100; i += 10 {
		r.ObserveIngest(batchRecord(i, 10, at))
	}
	if n := len(all.ch); n != 5 {
		t.Errorf("unfiltered client got %d messages in one second, want 5 (the rate)", n)
	}
	if got := all.out.Load(); got != 95 {
		t.Errorf("unfiltered client: %d sampled out, want 95", got)
	}
	if n := len(odd.ch); n != 5 {
		t.Errorf("filtered client got %d, want 5", n)
	}
	for range len(odd.ch) {
		if s := <-odd.ch; s.UserID != "u-1" {
			t.Errorf("filtered client got user %q", s.UserID)
		}
	}
	// A new second lets more through.
	now = at.Add(time.Second)
	r.ObserveIngest(batchRecord(100, 10, now))
	if n := len(all.ch); n != 10 {
		t.Errorf("after a second, %d queued, want 10", n)
	}
}

func TestOperationsNeedToken(t *testing.T) {
	s := New("right-token", nil)
	Operations{Recorder: NewRecorder(RecorderConfig{})}.Mount(s)
	routes := []struct{ method, path string }{
		{"GET", "/admin/stream"}, {"GET", "/admin/messages/app/m-1"}, {"GET", "/admin/destinations"},
		{"GET", "/admin/log"}, {"GET", "/admin/dlq?destination=x"}, {"GET", "/admin/dlq/1"},
		{"POST", "/admin/dlq/redrive"}, {"POST", "/admin/replay"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer wrong-token", "Bearer right-tokenX", "Basic right-token"} {
			t.Run(rt.method+" "+rt.path+" "+auth, func(t *testing.T) {
				r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(`{}`))
				if auth != "" {
					r.Header.Set("Authorization", auth)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, r)
				if w.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401", w.Code)
				}
			})
		}
	}
	r := httptest.NewRequest("GET", "/admin/messages/app/nope", nil)
	r.Header.Set("Authorization", "Bearer right-token")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "recent window") {
		t.Fatalf("unknown message with the token: %d %s", w.Code, w.Body)
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"24h", now.Add(-24 * time.Hour), true},
		{"90m", now.Add(-90 * time.Minute), true},
		{"7d", now.Add(-7 * 24 * time.Hour), true},
		{"2024-04-30T10:00:00Z", time.Date(2024, 4, 30, 10, 0, 0, 0, time.UTC), true},
		{"yesterday", time.Time{}, false},
		{"-5h", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSince(tt.in, now)
			if (err == nil) != tt.ok || tt.ok && !got.Equal(tt.want) {
				t.Fatalf("ParseSince(%q) = %v, %v", tt.in, got, err)
			}
		})
	}
}

// BenchmarkObserveIngest measures the recorder's cost per request of 100
// messages (ns/op is per request): with no live-stream client, and with
// two (one filtered).
func BenchmarkObserveIngest(b *testing.B) {
	for _, clients := range []int{0, 2} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			// Every request kept: the cost of keeping one (at most
			// KeepRate messages a second are).
			r := NewRecorder(RecorderConfig{KeepRate: math.MaxInt})
			if clients > 0 {
				s1, c1 := r.subscribe(Filter{})
				s2, c2 := r.subscribe(Filter{Event: "Signed Up"})
				defer c1()
				defer c2()
				done := make(chan struct{})
				defer close(done)
				go func() {
					for {
						select {
						case <-s1.ch:
						case <-s2.ch:
						case <-done:
							return
						}
					}
				}()
			}
			rec := batchRecord(0, 100, time.Now())
			b.ReportAllocs()
			for b.Loop() {
				r.ObserveIngest(rec)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/msg")
		})
	}
}

// BenchmarkObserveSend measures the recorder's cost per delivered batch of
// 100 messages.
func BenchmarkObserveSend(b *testing.B) {
	r := NewRecorder(RecorderConfig{})
	rec := batchRecord(0, 100, time.Now())
	r.ObserveIngest(rec)
	b.ReportAllocs()
	for b.Loop() {
		r.ObserveSend("hook", rec.Accepted, nil, time.Millisecond)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/msg")
}

func TestMessageRoute(t *testing.T) {
	r := NewRecorder(RecorderConfig{})
	r.ObserveIngest(batchRecord(0, 3, time.Now()))
	s := New("tok", nil)
	Operations{Recorder: r}.Mount(s)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/admin/messages/app/m-1", 200, `"message_id":"m-1"`},
		{"/admin/messages/app/m-9", 404, "recent window"},
		{"/admin/messages?limit=2", 200, `"m-2"`},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			req.Header.Set("Authorization", "Bearer tok")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.body) {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
}
