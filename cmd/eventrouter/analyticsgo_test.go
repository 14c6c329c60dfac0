package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
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

// capturingTransport records the body of every request a client sends.
type capturingTransport struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *capturingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.bodies = append(c.bodies, b)
		c.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// sentBatches decodes captured /v1/batch bodies into the messages each
// carried, as eventrouter should store them (see expectStored).
func sentBatches(t *testing.T, bodies [][]byte) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, b := range bodies {
		var env map[string]any
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("a request body is not JSON: %v\n%s", err, b)
		}
		items, _ := env["batch"].([]any)
		delete(env, "batch")
		for _, it := range items {
			m, _ := it.(map[string]any)
			id, _ := m["messageId"].(string)
			if _, dup := out[id]; dup {
				t.Errorf("the client sent %s twice", id)
			}
			out[id] = expectStored(env, m)
		}
	}
	return out
}

// clientIntegrations are the integrations every server-side client test
// sets on each call: they must reach the destinations as sent.
var clientIntegrations = map[string]any{"All": true, "Mixpanel": false, "Customer.io": map[string]any{"sendToInbox": true}}

// TestAnalyticsGoEndToEnd points the official analytics-go v3.3.0 client at
// `eventrouter serve` and checks that each of the six message types, each
// with integrations, reaches a file destination and a DuckDB warehouse
// exactly once: field by field as the client sent it (the batch context
// merged into each message, the client's messageIds), with Segment's
// timestamps, and in the warehouse with a row per table and a column per
// trait or property.
func TestAnalyticsGoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	rig := startClientRig(t, "go-key", "", "")
	capture := &capturingTransport{}
	cb := &recordingCallback{}
	client, err := analytics.NewWithConfig("go-key", analytics.Config{
		Endpoint:  rig.srv.base,
		BatchSize: 6,
		Interval:  time.Hour,
		Callback:  cb,
		Transport: capture,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Set("All", true), not EnableAll, which writes the key in lower case
	// ("all"), a key Segment does not read.
	integrations := analytics.NewIntegrations().Set("All", true).Disable("Mixpanel").Set("Customer.io", map[string]any{"sendToInbox": true})
	historical := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	msgs := []analytics.Message{
		analytics.Identify{MessageId: "go-identify", UserId: "u1", Integrations: integrations,
			Traits: analytics.NewTraits().SetEmail("a@example.com").Set("plan", "pro").Set("logins", 3).Set("vip", true)},
		analytics.Track{MessageId: "go-track", UserId: "u1", Event: "Order Completed", Timestamp: historical, Integrations: integrations,
			Properties: analytics.NewProperties().SetRevenue(9.99).Set("currency", "EUR").Set("coupon", map[string]any{"code": "SPRING"}),
			Context:    &analytics.Context{Campaign: analytics.CampaignInfo{Source: "newsletter"}}},
		analytics.Page{MessageId: "go-page", UserId: "u1", Name: "Docs", Integrations: integrations,
			Properties: analytics.NewProperties().SetURL("https://docs.example.com/start").Set("section", "install")},
		analytics.Screen{MessageId: "go-screen", AnonymousId: "a1", Name: "Home", Integrations: integrations,
			Properties: analytics.NewProperties().Set("orientation", "portrait")},
		analytics.Group{MessageId: "go-group", UserId: "u1", GroupId: "g1", Integrations: integrations,
			Traits: analytics.NewTraits().SetName("Acme").Set("employees", 42)},
		analytics.Alias{MessageId: "go-alias", PreviousId: "a1", UserId: "u1", Integrations: integrations},
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
	sent := sentBatches(t, capture.bodies)
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, messageID(m))
	}
	stored := rig.waitStored(t, ids)

	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	wantType := map[string]string{"go-identify": "identify", "go-track": "track", "go-page": "page",
		"go-screen": "screen", "go-group": "group", "go-alias": "alias"}
	for _, id := range ids {
		m, s := stored[id], sent[id]
		if s == nil {
			t.Errorf("%s: not in the requests analytics-go sent", id)
			continue
		}
		if m["type"] != wantType[id] {
			t.Errorf("%s: type %v, want %q", id, m["type"], wantType[id])
		}
		if !reflect.DeepEqual(s["integrations"], clientIntegrations) {
			t.Errorf("%s: analytics-go sent integrations %s, want %s", id, js(s["integrations"]), js(clientIntegrations))
		}
		checkStoredAsSent(t, id, "server", s, m)
		for _, f := range []string{"receivedAt", "sentAt", "timestamp", "originalTimestamp"} {
			v, _ := m[f].(string)
			if !ts.MatchString(v) {
				t.Errorf("%s: %s = %q, want ISO-8601 UTC with milliseconds", id, f, v)
			}
		}
		ctx, _ := m["context"].(map[string]any)
		lib, _ := ctx["library"].(map[string]any)
		if lib["name"] != "analytics-go" {
			t.Errorf("%s: context.library = %v, want the batch context merged in (name analytics-go)", id, lib)
		}
	}
	// The historical timestamp survives (corrected only by the send delay).
	if got := stored["go-track"]["originalTimestamp"]; got != "2024-03-01T12:00:00.000Z" {
		t.Errorf("track originalTimestamp = %v, want the client's timestamp", got)
	}
	if tsv, err := time.Parse(time.RFC3339, fmt.Sprint(stored["go-track"]["timestamp"])); err != nil || tsv.Sub(historical) < 0 || tsv.Sub(historical) > time.Minute {
		t.Errorf("track timestamp = %v, want the historical time plus the send delay", stored["go-track"]["timestamp"])
	}
	checkWarehouse(t, rig.srv.cfgPath, "web", stored)
}
