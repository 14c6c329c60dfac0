package customerio

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/router"
)

var received = time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)

// msg builds a router.Message from a JSON body, copying the routing fields.
func msg(t testing.TB, body string) router.Message {
	t.Helper()
	var s struct {
		Type        string `json:"type"`
		MessageID   string `json:"messageId"`
		UserID      string `json:"userId"`
		AnonymousID string `json:"anonymousId"`
		Event       string `json:"event"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("test message %s: %v", body, err)
	}
	return router.Message{ID: s.MessageID, Source: "web", Type: s.Type, UserID: s.UserID, AnonymousID: s.AnonymousID,
		Event: s.Event, ReceivedAt: received, Body: json.RawMessage(body)}
}

// newDest builds a destination against srv with the defaults, changed by
// mutate.
func newDest(t testing.TB, srv *ciotest.Server, mutate func(*Config)) *destination {
	t.Helper()
	cfg := NewFactory().DefaultConfig().(*Config)
	cfg.SiteID, cfg.APIKey, cfg.URL = srv.SiteID(), srv.APIKey(), srv.URL()
	if mutate != nil {
		mutate(cfg)
	}
	d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "cio"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d.(*destination)
}

// wantReq is an expected request at the fake.
type wantReq struct {
	method, path, body string
}

// sameJSON compares two JSON documents as values.
func sameJSON(t testing.TB, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("request body %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected body %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// checkRequests compares the fake's accepted requests with want, in order.
func checkRequests(t testing.TB, got []ciotest.Request, want []wantReq) {
	t.Helper()
	if len(got) != len(want) {
		for _, r := range got {
			t.Logf("got %s %s %s", r.Method, r.Path, r.Body)
		}
		t.Fatalf("%d requests, want %d", len(got), len(want))
	}
	for i, w := range want {
		r := got[i]
		if r.Method != w.method || r.Path != w.path {
			t.Errorf("request %d: %s %s, want %s %s", i, r.Method, r.Path, w.method, w.path)
			continue
		}
		if !sameJSON(t, r.Body, w.body) {
			t.Errorf("request %d %s %s body\n got %s\nwant %s", i, r.Method, r.Path, compact(r.Body), w.body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("request %d: Content-Type %q", i, ct)
		}
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}
