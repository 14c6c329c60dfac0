package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router/eventlog"
)

// openTestLog opens a log on an in-process NATS server in a temporary
// directory.
func openTestLog(t testing.TB) *eventlog.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Partitions: 1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("opening the log: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// streamServer serves rec's operating routes (token "tok") with one
// destination, "hook", on a local port.
func streamServer(t testing.TB, rec *Recorder) *httptest.Server {
	t.Helper()
	s := New("tok", nil)
	Operations{Log: openTestLog(t), Recorder: rec, Destinations: []DestinationInfo{{Name: "hook", Type: "webhook"}}}.Mount(s)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// sseEvent is one Server-Sent Event of the live stream.
type sseEvent struct {
	name string
	data []byte
	at   time.Time // when it was read
}

// openStream connects to the live stream and returns its events as they
// are read; they stop when ctx ends.
func openStream(ctx context.Context, t testing.TB, base, query string) <-chan sseEvent {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/admin/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("connecting to the stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /admin/stream: %s", resp.Status)
	}
	out := make(chan sseEvent, 1024)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			case line == "" && ev.name != "":
				ev.at = time.Now()
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
				ev = sseEvent{}
			}
		}
	}()
	return out
}

// streamStats is the data of an "event: stats".
type streamStats struct {
	ReceivedPerS    float64             `json:"received_per_s"`
	ReceivedTotal   uint64              `json:"received_total"`
	SampledOutTotal uint64              `json:"sampled_out_total"`
	Destinations    []DestinationStatus `json:"destinations"`
}

// TestStreamStatsOnConnect checks that a client of the live stream gets
// the exact counts and the last second's rate as soon as it connects,
// not a second later.
func TestStreamStatsOnConnect(t *testing.T) {
	rec := NewRecorder(RecorderConfig{})
	at := time.Unix(1700000000, 0)
	rec.now = func() time.Time { return at }
	rec.ObserveIngest(batchRecord(0, 4, at))
	rec.ObserveIngest(batchRecord(4, 3, at.Add(300*time.Millisecond)))
	rec.now = func() time.Time { return at.Add(1500 * time.Millisecond) } // the next second: 7 received in the last one
	srv := streamServer(t, rec)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	connected := time.Now()
	events := openStream(ctx, t, srv.URL, "")
	var ev sseEvent
	select {
	case ev = <-events:
	case <-ctx.Done():
		t.Fatal("no event from the stream")
	}
	if ev.name != "stats" {
		t.Fatalf("first event %q %s, want stats", ev.name, ev.data)
	}
	if took := ev.at.Sub(connected); took > 700*time.Millisecond {
		t.Errorf("the first stats came %v after connecting; want it at once (the ticker's first is 1 s later)", took)
	}
	var st streamStats
	if err := json.Unmarshal(ev.data, &st); err != nil {
		t.Fatalf("decoding %s: %v", ev.data, err)
	}
	if st.ReceivedTotal != 7 || st.ReceivedPerS != 7 || len(st.Destinations) != 1 || st.Destinations[0].Name != "hook" {
		t.Errorf("first stats %s; want received_total 7, received_per_s 7 and destination hook", ev.data)
	}
	// Then one a second.
	deadline := time.After(3 * time.Second)
	for {
		select {
		case ev = <-events:
		case <-deadline:
			t.Fatal("no second stats event within 3 s")
		}
		if ev.name == "stats" {
			break
		}
	}
}

// TestReceivedPerSecond checks the rate the stats report: the messages
// received in the last complete second.
func TestReceivedPerSecond(t *testing.T) {
	rec := NewRecorder(RecorderConfig{})
	base := time.Unix(1700000000, 0)
	clock := base
	rec.now = func() time.Time { return clock }
	feed := func(n int) { rec.ObserveIngest(batchRecord(0, n, clock)) }
	tests := []struct {
		name string
		at   time.Duration // clock, from base
		feed int
		want uint64 // ReceivedPerSecond after feeding
	}{
		{"nothing yet", 0, 0, 0},
		{"first second, in progress", 100 * time.Millisecond, 5, 0},
		{"same second", 900 * time.Millisecond, 3, 0},
		{"next second", 1200 * time.Millisecond, 2, 8},
		{"a request stamped before the edge", 950 * time.Millisecond, 1, 0},
		{"counted in its second", 1300 * time.Millisecond, 0, 9},
		{"two seconds on", 2100 * time.Millisecond, 0, 2},
		{"idle", 4 * time.Second, 0, 0},
		{"traffic again", 4500 * time.Millisecond, 6, 0},
		{"a second after it", 5 * time.Second, 0, 6},
	}
	for _, tt := range tests {
		clock = base.Add(tt.at)
		if tt.feed > 0 {
			feed(tt.feed)
		}
		if got := rec.ReceivedPerSecond(); got != tt.want {
			t.Errorf("%s: received per second %d, want %d", tt.name, got, tt.want)
		}
	}
}

// summaryWire is the data of an "event: message".
type summaryWire struct {
	ID         string `json:"id"`
	ReceivedAt string `json:"received_at"`
}

// TestStreamSampledCountsExact feeds the recorder far above the live
// stream's sampling limit (20,000 messages in each of 3 seconds, against
// 50 a second) and checks that a client gets at most 50 messages per
// second while the stats count exactly what was fed, and that what was
// not sent is counted as sampled out.
func TestStreamSampledCountsExact(t *testing.T) {
	const (
		seconds   = 3
		perSecond = 20000
		perReq    = 100
		fed       = seconds * perSecond
	)
	// The recorder's clock follows the fed seconds (sampling windows are
	// seconds of that clock), however long feeding takes in wall time.
	at := time.Unix(1700000000, 0)
	var clock atomic.Int64
	clock.Store(at.UnixNano())
	rec := NewRecorder(RecorderConfig{})
	rec.now = func() time.Time { return time.Unix(0, clock.Load()) }
	srv := streamServer(t, rec)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events := openStream(ctx, t, srv.URL, "")
	if ev := <-events; ev.name != "stats" { // subscribed once the first stats is out
		t.Fatalf("first event %q, want stats", ev.name)
	}

	for s := range seconds {
		clock.Store(at.Add(time.Duration(s) * time.Second).UnixNano())
		for i := 0; i < perSecond; i += perReq {
			rec.ObserveIngest(batchRecord(s*perSecond+i, perReq, at.Add(time.Duration(s)*time.Second+time.Duration(i)*time.Microsecond)))
		}
	}
	// Stats computed from now on count exactly what was fed (one computed
	// while feeding may count less, never more).
	if c := rec.Counts(); c.Received != fed || c.Accepted != fed {
		t.Fatalf("counts %+v, want %d received and accepted", c, fed)
	}

	// Read until a stats event counts everything, then one more, by which
	// time the client's queue has been drained.
	perSec := map[string]int{}
	delivered, statsSeen := 0, 0
	var last streamStats
	for statsSeen < 2 {
		var ev sseEvent
		select {
		case ev = <-events:
		case <-ctx.Done():
			t.Fatalf("the stream stopped; last stats %+v", last)
		}
		switch ev.name {
		case "message":
			var m summaryWire
			if err := json.Unmarshal(ev.data, &m); err != nil {
				t.Fatalf("decoding %s: %v", ev.data, err)
			}
			perSec[m.ReceivedAt[:19]]++
			delivered++
		case "stats":
			if err := json.Unmarshal(ev.data, &last); err != nil {
				t.Fatalf("decoding %s: %v", ev.data, err)
			}
			switch {
			case last.ReceivedTotal > fed:
				t.Fatalf("stats count %d received, more than the %d fed", last.ReceivedTotal, fed)
			case last.ReceivedTotal == fed:
				statsSeen++
			}
		}
	}
	for sec, n := range perSec {
		if n > DefaultStreamRate {
			t.Errorf("%d messages sent for second %s, want at most %d", n, sec, DefaultStreamRate)
		}
	}
	if delivered < DefaultStreamRate || delivered > seconds*DefaultStreamRate {
		t.Errorf("%d messages sent, want between %d and %d", delivered, DefaultStreamRate, seconds*DefaultStreamRate)
	}
	if got := uint64(delivered) + last.SampledOutTotal; got != fed {
		t.Errorf("sent %d + sampled out %d = %d, want exactly %d fed", delivered, last.SampledOutTotal, got, fed)
	}
}
