package eventlog

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestQuarantineRoundTrip stores blocked messages, lists them with each
// filter, reads one, checks the dedupe of a repeated (source, messageId),
// and deletes one.
func TestQuarantineRoundTrip(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	ctx := context.Background()
	viol := []router.Violation{{Type: "Unplanned", Field: "event", Description: "event 'Clicked' is not in the tracking plan", EventName: "Clicked", EventType: "track"}}
	q := func(source, id, event string) router.Quarantined {
		m := msg(source, id, "u1")
		m.Event = event
		return router.Quarantined{Message: m, Reason: router.ReasonBlocked, Detail: "track.unplanned_events: block", Violations: viol, PlanID: "p", PlanVersion: "v1"}
	}
	if err := l.Quarantine(ctx, []router.Quarantined{q("web", "a", "Clicked"), q("web", "b", "Viewed"), q("app", "c", "Clicked")}); err != nil {
		t.Fatal(err)
	}
	// A client's retry of a blocked message is kept once.
	if err := l.Quarantine(ctx, []router.Quarantined{q("web", "a", "Clicked")}); err != nil {
		t.Fatal(err)
	}
	ids := func(qs []router.Quarantined) []string {
		var out []string
		for _, q := range qs {
			out = append(out, q.Message.ID)
		}
		return out
	}
	tests := []struct {
		name          string
		source, event string
		since         time.Time
		want          []string
	}{
		{"all", "", "", time.Time{}, []string{"a", "b", "c"}},
		{"source", "web", "", time.Time{}, []string{"a", "b"}},
		{"event", "", "Clicked", time.Time{}, []string{"a", "c"}},
		{"source and event", "app", "Clicked", time.Time{}, []string{"c"}},
		{"since the future", "", "", time.Now().Add(time.Hour), nil},
		{"since the past", "", "", time.Now().Add(-time.Hour), []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.Quarantined(ctx, tt.source, tt.event, tt.since)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(got), tt.want) {
				t.Errorf("ids = %v, want %v", ids(got), tt.want)
			}
		})
	}
	all, err := l.Quarantined(ctx, "", "", time.Time{})
	if err != nil || len(all) != 3 {
		t.Fatalf("Quarantined: %v %v", all, err)
	}
	one, err := l.QuarantinedMessage(ctx, all[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if one.Message.ID != "a" || one.Message.Source != "web" || !reflect.DeepEqual(one.Violations, viol) || one.Detail != "track.unplanned_events: block" ||
		one.PlanVersion != "v1" || string(one.Message.Body) != string(msg("web", "a", "u1").Body) || one.QuarantinedAt.IsZero() || !one.Message.ReceivedAt.Equal(t0) {
		t.Errorf("QuarantinedMessage = %+v", one)
	}
	if err := l.Unquarantine(ctx, all[0].Seq); err != nil {
		t.Fatal(err)
	}
	if err := l.Unquarantine(ctx, all[0].Seq); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := l.QuarantinedMessage(ctx, all[0].Seq); !errors.Is(err, router.ErrNotFound) {
		t.Errorf("reading a deleted entry: %v, want ErrNotFound", err)
	}
	if rest, _ := l.Quarantined(ctx, "", "", time.Time{}); !reflect.DeepEqual(ids(rest), []string{"b", "c"}) {
		t.Errorf("after delete: %v", ids(rest))
	}
}

// TestViolationsTravelInHeaders checks that Message.Violations survives the
// log, so that dispatch filters without decoding bodies.
func TestViolationsTravelInHeaders(t *testing.T) {
	l := openLog(t, Config{Partitions: 1})
	clean, dirty := msg("web", "clean", "u1"), msg("web", "dirty", "u1")
	dirty.Violations = 3
	if _, err := l.Append(context.Background(), []router.Message{clean, dirty}); err != nil {
		t.Fatal(err)
	}
	ds := readAll(t, l, "d", 0)
	if len(ds) != 2 || ds[0].Message.Violations != 0 || ds[1].Message.Violations != 3 {
		t.Fatalf("violations read back: %+v", ds)
	}
}
