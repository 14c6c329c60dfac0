package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// passAll is a Reingester under which every quarantined message passes
// (without storing it).
type passAll struct{}

func (passAll) Reingest(context.Context, router.Quarantined, bool) (bool, []router.Violation, error) {
	return true, nil, nil
}

func TestNewClientChecksItsArguments(t *testing.T) {
	if _, err := NewClient("http://127.0.0.1:1", "", nil); err == nil {
		t.Error("NewClient accepted an empty token")
	}
	for _, base := range []string{"127.0.0.1:8080", "not a url", "/admin"} {
		if _, err := NewClient(base, "tok", nil); err == nil {
			t.Errorf("NewClient accepted %q", base)
		}
	}
}

// TestClientDeadLetters lists, shows and redrives dead letters through
// the real handlers: the typed answers carry what the server wrote.
func TestClientDeadLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	for i, dest := range []string{"d", "d", "other"} {
		if err := l.DeadLetter(ctx, router.DeadLetter{Destination: dest, Message: msg(i, time.Now()), Seq: uint64(10 + i), Attempts: 3, LastError: "boom " + dest}); err != nil {
			t.Fatal(err)
		}
	}
	s := New("tok", nil)
	Operations{Log: l, Recorder: NewRecorder(RecorderConfig{}), Destinations: []DestinationInfo{{Name: "d", Type: "x"}, {Name: "other", Type: "x"}}}.Mount(s)
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, err := NewClient(srv.URL, "tok", nil)
	if err != nil {
		t.Fatal(err)
	}

	page, err := c.DeadLetters(ctx, DeadLetterQuery{Destination: "d", Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 2 || len(page.Messages) != 1 || page.NextBefore == nil || *page.NextBefore != page.Messages[0].Seq {
		t.Fatalf("page of 1 of d's dead letters: %+v", page)
	}
	newest := page.Messages[0]
	if newest.Destination != "d" || newest.MessageID != "m-1" || newest.Error != "boom d" || newest.Attempts != 3 || newest.Message != nil {
		t.Errorf("listed dead letter: %+v", newest)
	}
	all, err := c.DeadLetters(ctx, DeadLetterQuery{Destination: "d", ErrorContains: "BOOM"})
	if err != nil || all.Total != 2 || len(all.Messages) != 2 || all.NextBefore != nil {
		t.Fatalf("all of d's dead letters: %+v, %v", all, err)
	}

	one, err := c.DeadLetter(ctx, newest.Seq)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if json.Unmarshal(one.Message, &body) != nil || body["messageId"] != "m-1" {
		t.Errorf("shown dead letter's message: %s", one.Message)
	}
	_, err = c.DeadLetter(ctx, 999)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "not_found" {
		t.Errorf("DeadLetter(999): %v, want a 404 not_found APIError", err)
	}

	missing := uint64(999)
	dry, err := c.Redrive(ctx, RedriveRequest{Destination: "d", IDs: []uint64{newest.Seq, missing}, DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (RedriveResult{Matched: 1, NotFound: []uint64{missing}, DryRun: true}); !reflect.DeepEqual(dry, want) {
		t.Errorf("dry-run redrive: %+v, want %+v", dry, want)
	}
	var progress []Progress
	res, err := c.Redrive(ctx, RedriveRequest{Destination: "d"}, func(p Progress) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Redriven != 2 || res.Matched != 2 || res.DryRun {
		t.Errorf("redrive: %+v", res)
	}
	if len(progress) == 0 || progress[len(progress)-1] != (Progress{Done: 2, Total: 2, Matched: 2}) {
		t.Errorf("progress lines: %+v", progress)
	}
	if left, _ := c.DeadLetters(ctx, DeadLetterQuery{Destination: "d"}); left.Total != 0 {
		t.Errorf("after the redrive d has %d dead letters", left.Total)
	}

	// Errors: a refused request, an unknown destination, a wrong token.
	_, err = c.Redrive(ctx, RedriveRequest{Destination: "d", IDs: []uint64{}}, nil)
	if !errors.As(err, &ae) || ae.Status != 400 || ae.Code != "empty_ids" {
		t.Errorf("redrive of an empty ids list: %v", err)
	}
	_, err = c.Replay(ctx, ReplayRequest{Destination: "nope", Since: "1h"}, nil)
	if !errors.As(err, &ae) || ae.Status/100 != 4 {
		t.Errorf("replay to an unknown destination: %v", err)
	}
	bad, _ := NewClient(srv.URL, "wrong", nil)
	_, err = bad.DeadLetters(ctx, DeadLetterQuery{})
	if !errors.As(err, &ae) || ae.Status != 401 || ae.Code != "unauthorized" {
		t.Errorf("wrong token: %v", err)
	}
}

// TestClientReplay replays the log's history through the real handler.
func TestClientReplay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	now := time.Now()
	if _, err := l.Append(ctx, []router.Message{msg(1, now), msg(2, now), msg(3, now)}); err != nil {
		t.Fatal(err)
	}
	s := New("tok", nil)
	Operations{Log: l, Recorder: NewRecorder(RecorderConfig{}), Destinations: []DestinationInfo{{Name: "d", Type: "x"}}}.Mount(s)
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)
	res, err := c.Replay(ctx, ReplayRequest{Destination: "d", Since: "1h", Events: []string{"Order Completed"}, DryRun: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (LogReplayResult{Matched: 3, Scanned: 3, DryRun: true}); res != want {
		t.Errorf("dry-run replay: %+v, want %+v", res, want)
	}
	res, err = c.Replay(ctx, ReplayRequest{Destination: "d", Since: "1h"}, nil)
	if err != nil || res.Replayed != 3 || res.DryRun {
		t.Errorf("replay: %+v, %v", res, err)
	}
}

// TestClientQuarantine lists and replays the quarantine through the real
// handlers.
func TestClientQuarantine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l := openTestLog(t)
	viol := router.Violation{Type: "Unplanned", Field: "event", Description: "not planned"}
	var qs []router.Quarantined
	for i := range 3 {
		qs = append(qs, router.Quarantined{Message: msg(i, time.Now()), Reason: router.ReasonBlocked, Violations: []router.Violation{viol}, PlanID: "p"})
	}
	if err := l.Quarantine(ctx, qs); err != nil {
		t.Fatal(err)
	}
	s := New("tok", nil)
	s.MountQuarantine(l, passAll{}, nil)
	srv := httptest.NewServer(s)
	defer srv.Close()
	c, _ := NewClient(srv.URL, "tok", nil)

	page, err := c.Quarantine(ctx, QuarantineQuery{Source: "app", Event: "Order Completed", Since: "1h", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 3 || len(page.Messages) != 2 || page.NextBefore == nil || page.Messages[0].MessageID != "m-2" ||
		!reflect.DeepEqual(page.Messages[0].Violations, []router.Violation{viol}) || page.Messages[0].PlanID != "p" {
		t.Fatalf("quarantine page: %+v", page)
	}
	dry, err := c.ReplayQuarantine(ctx, ReplaySelection{DryRun: true}, nil)
	if err != nil || !reflect.DeepEqual(dry, ReplayResult{Replayed: 3, DryRun: true}) {
		t.Errorf("dry-run replay: %+v, %v", dry, err)
	}
	res, err := c.ReplayQuarantine(ctx, ReplaySelection{}, nil)
	if err != nil || res.Replayed != 3 || res.DryRun {
		t.Errorf("replay: %+v, %v", res, err)
	}
	if after, _ := c.Quarantine(ctx, QuarantineQuery{}); after.Total != 0 {
		t.Errorf("quarantine after the replay: %+v", after)
	}
}

// TestClientStream reads the live stream through the real handler: stats
// on connect, then the messages that pass the filter; cancelling the
// context ends it without an error.
func TestClientStream(t *testing.T) {
	rec := NewRecorder(RecorderConfig{})
	srv := streamServer(t, rec)
	c, _ := NewClient(srv.URL, "tok", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []StreamMessage
	var stats []StreamStats
	err := c.Stream(ctx, StreamQuery{Event: "Order Completed"}, func(event string, data []byte) error {
		switch event {
		case "stats":
			var st StreamStats
			if err := json.Unmarshal(data, &st); err != nil {
				return err
			}
			stats = append(stats, st)
			if len(stats) == 1 {
				rec.ObserveIngest(batchRecord(0, 2, time.Now()))
			}
		case "message":
			var m StreamMessage
			if err := json.Unmarshal(data, &m); err != nil {
				return err
			}
			got = append(got, m)
			if len(got) == 2 {
				cancel()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	if len(stats) == 0 || len(stats[0].Destinations) != 1 || stats[0].Destinations[0].Name != "hook" {
		t.Errorf("stats: %+v", stats)
	}
	if len(got) != 2 || got[0].Event != "Order Completed" || got[0].ID != "app/"+got[0].MessageID || got[0].Status == "" {
		t.Errorf("messages: %+v", got)
	}
}
