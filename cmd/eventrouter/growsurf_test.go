package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestGrowSurfWebhookEndToEnd posts GrowSurf's referred-signup webhook
// (vector T2), signed as GrowSurf signs it, to a running server: a webhook
// destination receives, per person, the identify before the track —
// the new participant's identify and referral_program_joined, the
// referrer's identify and referral_made. GrowSurf's retry of the same
// delivery, after a restart, adds nothing.
func TestGrowSurfWebhookEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	body, err := os.ReadFile("../../router/ingest/testdata/growsurf/t2_referred_signup.json")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec-test"
	snk := newSink(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  referrals: {type: growsurf, secret: %q}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 50ms}
`, addr, t.TempDir(), secret, snk.URL)
	srv := startServer(t, cfg, addr)

	deliver := func() {
		t.Helper()
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "."))
		mac.Write(body)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.base+"/webhooks/growsurf", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("GrowSurf-Signature", "ts="+ts+",v="+hex.EncodeToString(mac.Sum(nil)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d", resp.StatusCode)
		}
	}
	deliver()

	deadline := time.Now().Add(30 * time.Second)
	for len(snk.messages()) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	first := snk.messages()
	if len(first) != 4 {
		t.Fatalf("sink got %d messages, want 4 (two identifies, two tracks): %+v", len(first), first)
	}
	type person struct{ identify, track int }
	seen := map[string]*person{}
	events := map[string]string{}
	for i, m := range first {
		p := seen[m.UserID]
		if p == nil {
			p = &person{identify: -1, track: -1}
			seen[m.UserID] = p
		}
		switch m.Type {
		case "identify":
			p.identify = i
		case "track":
			p.track = i
			events[m.UserID] = m.Event
		}
	}
	if len(seen) != 2 {
		t.Fatalf("messages for %d people, want the participant and the referrer: %+v", len(seen), first)
	}
	for user, p := range seen {
		if p.identify < 0 || p.track < 0 || p.identify > p.track {
			t.Errorf("%s: identify at %d, track at %d; want the identify first", user, p.identify, p.track)
		}
	}
	got := []string{}
	for _, e := range events {
		got = append(got, e)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"referral_made", "referral_program_joined"}) {
		t.Errorf("track events %v, want referral_made and referral_program_joined", got)
	}

	// GrowSurf retries the same delivery, after a restart: nothing new.
	srv.stop()
	srv.start()
	deliver()
	time.Sleep(time.Second)
	if n := len(snk.messages()); n != 4 {
		t.Errorf("after a repeated delivery the sink has %d messages, want still 4", n)
	}
}
