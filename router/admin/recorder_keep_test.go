package admin

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestRecorderKeepRate checks the sample kept above KeepRate: within a
// second, requests are kept until KeepRate accepted messages are, the
// rest are counted but not kept (not listed, not found, not given
// attempts), a request with a rejected or quarantined message is kept
// whatever the rate, and the next second keeps again.
func TestRecorderKeepRate(t *testing.T) {
	r := NewRecorder(RecorderConfig{KeepRate: 10})
	at := time.Unix(1_700_000_000, 0)
	r.now = func() time.Time { return at }
	request := func(prefix string, accepted, rejected int) router.IngestRecord {
		rec := router.IngestRecord{Raw: []byte(`{"batch":[]}`)}
		for i := range accepted {
			rec.Accepted = append(rec.Accepted, router.Message{Source: "web", ID: fmt.Sprintf("%s-%d", prefix, i), Type: "track", Body: []byte(`{}`)})
		}
		for i := range rejected {
			rec.Rejected = append(rec.Rejected, router.Rejected{Source: "web", MessageID: fmt.Sprintf("%s-r%d", prefix, i), Reason: "invalid", Body: []byte(`{}`)})
		}
		return rec
	}
	found := func(id string) bool {
		_, ok := r.Message("web", id)
		return ok
	}

	r.ObserveIngest(request("a", 6, 0)) // kept: 6
	r.ObserveIngest(request("b", 6, 0)) // kept: 6 < 10 before it, 12 after
	r.ObserveIngest(request("c", 6, 0)) // not kept
	r.ObserveIngest(request("d", 2, 1)) // kept: it has a rejected message
	for id, want := range map[string]bool{"a-0": true, "b-5": true, "c-0": false, "c-5": false, "d-1": true, "d-r0": true} {
		if found(id) != want {
			t.Errorf("second 1: message %s kept = %v, want %v", id, !want, want)
		}
	}
	if got := r.NotKept(); got != 6 {
		t.Errorf("NotKept = %d, want 6", got)
	}
	if got := len(r.Recent(Filter{}, 100)); got != 15 {
		t.Errorf("Recent lists %d messages, want 15 (6 + 6 + 3)", got)
	}
	if got := r.received.Load(); got != 21 {
		t.Errorf("received = %d, want 21: every message is counted, kept or not", got)
	}
	// A delivery of a message not kept is counted for the destination
	// and attaches to nothing.
	r.ObserveSend("hook", []router.Message{{Source: "web", ID: "c-1"}, {Source: "web", ID: "a-1"}}, nil, time.Millisecond)
	if d, _ := r.Message("web", "a-1"); len(d.Destinations["hook"]) != 1 {
		t.Errorf("kept message a-1 has attempts %v, want one", d.Destinations["hook"])
	}
	if found("c-1") {
		t.Error("a delivery made message c-1 appear in the window")
	}

	at = at.Add(time.Second)
	r.ObserveIngest(request("e", 3, 0))
	if !found("e-2") {
		t.Error("the next second did not keep again")
	}
}
