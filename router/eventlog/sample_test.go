package eventlog

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestSampleStreamNeverFills writes far more than the sample stream's cap
// into it: every write succeeds, the stream stays within its cap by
// dropping its oldest entries, the newest entry is kept, and the other
// streams, with their own (tiny) cap, are untouched.
func TestSampleStreamNeverFills(t *testing.T) {
	const capBytes = 64 << 10
	l := openLog(t, Config{Partitions: 1, MaxBytes: 1 << 20, SampleMaxBytes: capBytes})
	ctx := context.Background()
	body := json.RawMessage(`"` + strings.Repeat("x", 3000) + `"`)
	for i := range 200 { // ~600 KB into a 64 KiB cap
		e := router.Rejected{Reason: "invalid_write_key", Route: "/v1/pixel/track", ReceivedAt: t0, Body: body, Detail: strings.Repeat("d", i%7)}
		if err := l.Sample(ctx, []router.Rejected{e}); err != nil {
			t.Fatalf("Sample %d: %v", i, err)
		}
	}
	s, err := l.js.Stream(ctx, l.sampleStream())
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Bytes > capBytes || info.State.Msgs == 0 || info.State.Msgs >= 200 {
		t.Fatalf("sample stream holds %d entries, %d bytes; want some, fewer than 200, within %d bytes", info.State.Msgs, info.State.Bytes, capBytes)
	}
	if info.State.LastSeq != 200 {
		t.Fatalf("last sequence %d, want 200", info.State.LastSeq)
	}
	m, err := s.GetLastMsgForSubject(ctx, "EVENTROUTER.sample.invalid_write_key")
	if err != nil {
		t.Fatal(err)
	}
	var got router.Rejected
	if err := json.Unmarshal(m.Data, &got); err != nil || got.Reason != "invalid_write_key" || got.Detail != strings.Repeat("d", 199%7) {
		t.Fatalf("newest entry = %+v, %v", got, err)
	}
	for _, st := range []string{l.eventsStream(), l.rejectedStream()} {
		s, err := l.js.Stream(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if info, err := s.Info(ctx); err != nil || info.State.Msgs != 0 {
			t.Fatalf("%s: %d messages (%v), want none", st, info.State.Msgs, err)
		}
	}
	t.Logf("sample stream after 200 writes of ~3 KB: %d entries, %d bytes (cap %d)", info.State.Msgs, info.State.Bytes, capBytes)
}
