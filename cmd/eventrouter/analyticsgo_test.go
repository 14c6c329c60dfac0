package main

import (
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

type recordingCallback struct {
	mu        sync.Mutex
	succeeded []string
	failed    []error
}

func (c *recordingCallback) Success(m analytics.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.succeeded = append(c.succeeded, messageID(m))
}

func (c *recordingCallback) Failure(m analytics.Message, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failed = append(c.failed, err)
}

func messageID(m analytics.Message) string {
	switch m := m.(type) {
	case analytics.Identify:
		return m.MessageId
	case analytics.Track:
		return m.MessageId
	case analytics.Page:
		return m.MessageId
	case analytics.Screen:
		return m.MessageId
	case analytics.Group:
		return m.MessageId
	case analytics.Alias:
		return m.MessageId
	}
	return ""
}

// TestAnalyticsGoEndToEnd points the official analytics-go v3.3.0 client at
// `eventrouter serve` and checks that a webhook destination receives each of
// the six message types exactly once, with Segment's timestamps, the batch
// context merged into each message, and the client's messageIds.
func TestAnalyticsGoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	snk := newSink(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  backend: {type: segment, write_keys: ["go-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 50ms}
`, addr, t.TempDir(), snk.URL+"/in")
	srv := startServer(t, cfg, addr)

	cb := &recordingCallback{}
	client, err := analytics.NewWithConfig("go-key", analytics.Config{
		Endpoint:  srv.base,
		BatchSize: 6,
		Interval:  time.Hour,
		Callback:  cb,
	})
	if err != nil {
		t.Fatal(err)
	}
	historical := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	msgs := []analytics.Message{
		analytics.Identify{MessageId: "go-identify", UserId: "u1", Traits: analytics.NewTraits().SetEmail("a@example.com")},
		analytics.Track{MessageId: "go-track", UserId: "u1", Event: "Order Completed", Timestamp: historical,
			Properties: analytics.NewProperties().SetRevenue(9.99)},
		analytics.Page{MessageId: "go-page", UserId: "u1", Name: "Docs"},
		analytics.Screen{MessageId: "go-screen", AnonymousId: "a1", Name: "Home"},
		analytics.Group{MessageId: "go-group", UserId: "u1", GroupId: "g1", Traits: analytics.NewTraits().SetName("Acme")},
		analytics.Alias{MessageId: "go-alias", PreviousId: "a1", UserId: "u1"},
	}
	for _, m := range msgs {
		if err := client.Enqueue(m); err != nil {
			t.Fatalf("enqueue %T: %v", m, err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if len(cb.failed) > 0 || len(cb.succeeded) != len(msgs) {
		t.Fatalf("analytics-go callbacks: %d successes, failures %v", len(cb.succeeded), cb.failed)
	}
	want := map[string]bool{}
	for _, m := range msgs {
		want[messageID(m)] = true
	}
	snk.waitForIDs(t, want, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // let any duplicate show up

	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	seen := map[string]int{}
	wantType := map[string]string{"go-identify": "identify", "go-track": "track", "go-page": "page",
		"go-screen": "screen", "go-group": "group", "go-alias": "alias"}
	for _, m := range snk.messages() {
		seen[m.MessageID]++
		if m.Type != wantType[m.MessageID] {
			t.Errorf("%s: type %q, want %q", m.MessageID, m.Type, wantType[m.MessageID])
		}
		for _, f := range []string{"receivedAt", "sentAt", "timestamp", "originalTimestamp"} {
			v, _ := m.Body[f].(string)
			if !ts.MatchString(v) {
				t.Errorf("%s: %s = %q, want ISO-8601 UTC with milliseconds", m.MessageID, f, v)
			}
		}
		ctx, _ := m.Body["context"].(map[string]any)
		lib, _ := ctx["library"].(map[string]any)
		if lib["name"] != "analytics-go" {
			t.Errorf("%s: context.library = %v, want the batch context merged in (name analytics-go)", m.MessageID, lib)
		}
		if _, ok := m.Body["writeKey"]; ok {
			t.Errorf("%s: writeKey reached the destination", m.MessageID)
		}
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times, want exactly once", id, seen[id])
		}
	}
	// The historical timestamp survives (corrected only by the send delay).
	for _, m := range snk.messages() {
		if m.MessageID != "go-track" {
			continue
		}
		if got := m.Body["originalTimestamp"]; got != "2024-03-01T12:00:00.000Z" {
			t.Errorf("track originalTimestamp = %v, want the client's timestamp", got)
		}
		tsv, _ := time.Parse(time.RFC3339, m.Body["timestamp"].(string))
		if d := tsv.Sub(historical); d < 0 || d > time.Minute {
			t.Errorf("track timestamp = %v, want the historical time plus the send delay", tsv)
		}
	}
}
