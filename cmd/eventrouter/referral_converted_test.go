package main

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	analytics "github.com/segmentio/analytics-go/v3"
)

// TestReferralConvertedRecipe is vector T7: GrowSurf sends no webhook
// when a referral converts, so the product backend sends a track
// "referral_converted" through the Segment API, as docs/sources.md shows with
// curl and analytics-go. Both reach a destination unchanged: messageId,
// event, userId, properties and the client's timestamp.
func TestReferralConvertedRecipe(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	snk := newSink(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  backend: {type: segment, write_keys: ["backend-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 50ms}
`, addr, t.TempDir(), snk.URL)
	srv := startServer(t, cfg, addr)

	// The curl recipe's request, verbatim (vector T7).
	t7 := `{"type":"track","userId":"richard@piedpiper.com","event":"referral_converted","messageId":"app-conv-p88y0a","timestamp":"2026-03-05T12:00:00Z","properties":{"campaign_id":"ct8f71","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`
	status, body, err := post(context.Background(), http.DefaultClient, srv.base+"/v1/track", "backend-key", []byte(t7))
	if err != nil || status != http.StatusOK {
		t.Fatalf("T7 track: %d %s %v", status, body, err)
	}

	// The analytics-go recipe.
	client, err := analytics.NewWithConfig("backend-key", analytics.Config{Endpoint: srv.base, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Enqueue(analytics.Track{
		MessageId: "app-conv-x9a7uu",
		UserId:    "richard@piedpiper.com",
		Event:     "referral_converted",
		Properties: analytics.NewProperties().
			Set("campaign_id", "ct8f71").
			Set("referee_participant_id", "x9a7uu").
			Set("referee_email", "erlich@aviato.com"),
	}); err != nil {
		t.Fatal(err)
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}

	snk.waitForIDs(t, map[string]bool{"app-conv-p88y0a": true, "app-conv-x9a7uu": true}, 30*time.Second)
	for _, m := range snk.messages() {
		if m.Type != "track" || m.Event != "referral_converted" || m.UserID != "richard@piedpiper.com" {
			t.Errorf("%s: got type %q event %q userId %q", m.MessageID, m.Type, m.Event, m.UserID)
		}
		props, _ := m.Body["properties"].(map[string]any)
		if props["campaign_id"] != "ct8f71" || props["referee_participant_id"] == nil || props["referee_email"] == nil {
			t.Errorf("%s: properties %v", m.MessageID, props)
		}
		if m.MessageID == "app-conv-p88y0a" {
			if got := m.Body["originalTimestamp"]; got != "2026-03-05T12:00:00.000Z" {
				t.Errorf("T7 originalTimestamp = %v, want the client's timestamp", got)
			}
			if got := m.Body["timestamp"]; got != "2026-03-05T12:00:00.000Z" {
				t.Errorf("T7 timestamp = %v, want the client's timestamp (no sentAt, so no skew correction)", got)
			}
		}
	}
}
