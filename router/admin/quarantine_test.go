package admin

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestViolationShape checks that every admin route showing violations
// (the quarantine list, one quarantined message, a recent message) uses
// router.Violation's Segment-style names, the ones context.protocols
// carries.
func TestViolationShape(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)

	viol := router.Violation{Type: "Unplanned", Field: "event", Description: "event 'Clicked' is not in the tracking plan", EventName: "Clicked", EventType: "track"}
	m := msg(1, time.Now())
	m.Event = "Clicked"
	q := router.Quarantined{Message: m, Reason: router.ReasonBlocked, Detail: "track.unplanned_events: block",
		Violations: []router.Violation{viol}, PlanID: "p", PlanVersion: "v1"}
	if err := l.Quarantine(ctx, []router.Quarantined{q}); err != nil {
		t.Fatal(err)
	}
	rec := NewRecorder(RecorderConfig{})
	rec.ObserveIngest(router.IngestRecord{Raw: []byte(`{}`), ReceivedAt: m.ReceivedAt, Quarantined: []router.Quarantined{q}})

	s := New("tok", nil)
	Operations{Recorder: rec}.Mount(s)
	s.MountQuarantine(l, nil, nil)
	get := func(path string, v any) {
		t.Helper()
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer tok")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: decoding %s: %v", path, w.Body, err)
		}
	}
	type violations = []map[string]any
	var list struct {
		Messages []struct {
			Seq        uint64     `json:"seq"`
			Violations violations `json:"violations"`
		} `json:"messages"`
	}
	get("/admin/quarantine", &list)
	if len(list.Messages) != 1 {
		t.Fatalf("quarantine lists %d messages, want 1", len(list.Messages))
	}
	var one struct {
		Violations violations `json:"violations"`
	}
	get("/admin/quarantine/"+jsonNumber(list.Messages[0].Seq), &one)
	var recent struct {
		Violations violations `json:"violations"`
	}
	get("/admin/messages/app/m-1", &recent)

	var want violations
	b, _ := json.Marshal([]router.Violation{viol})
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if want[0]["violationType"] != "Unplanned" || want[0]["violationField"] != "event" {
		t.Fatalf("router.Violation's JSON is %s; want Segment's violationType/violationField", b)
	}
	for name, got := range map[string]violations{
		"GET /admin/quarantine":          list.Messages[0].Violations,
		"GET /admin/quarantine/{seq}":    one.Violations,
		"GET /admin/messages/{src}/{id}": recent.Violations,
	} {
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: violations %v, want %v", name, got, want)
		}
	}
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
