package customerio

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/eventrouter/eventrouter/router"
)

// sixTypes mirrors the conformance suite's messages (destinations package).
func sixTypes(prefix string) []router.Message {
	bodies := map[string]string{
		router.TypeIdentify: `{"type":"identify","messageId":"%s","userId":"u1","traits":{"name":"Zoë \"Z\" Ω","email":"z@example.com","tags":["a","b"]},"timestamp":"2024-05-01T12:00:00.000Z"}`,
		router.TypeTrack:    `{"type":"track","messageId":"%s","userId":"u1","event":"Order Completed","properties":{"revenue":12.5,"items":[{"sku":"x","qty":1e3}],"note":"line\nbreak \u00e9 😀"}}`,
		router.TypePage:     `{"type":"page","messageId":"%s","anonymousId":"a1","name":"Home","properties":{"url":"https://example.com/?q=1&r=2"}}`,
		router.TypeScreen:   `{"type":"screen","messageId":"%s","userId":"u1","name":"Settings","properties":{}}`,
		router.TypeGroup:    `{"type":"group","messageId":"%s","userId":"u1","groupId":"g1","traits":{"employees":-0.5,"null":null,"bool":false}}`,
		router.TypeAlias:    `{"type":"alias","messageId":"%s","userId":"u2","previousId":"u1"}`,
	}
	out := make([]router.Message, 0, len(router.Types))
	for _, typ := range router.Types {
		id := prefix + "-" + typ
		out = append(out, router.Message{
			ID: id, Source: "web", Type: typ, UserID: "u1",
			ReceivedAt: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC),
			Body:       json.RawMessage(strings.Replace(bodies[typ], "%s", id, 1)),
		})
	}
	return out
}

// TestConformanceHarness runs what the destinations conformance suite
// does, reading delivered messages back by the fake's MessageID.
func TestConformanceHarness(t *testing.T) {
	srv := ciotest.New(t)
	d := newDest(t, srv, nil)
	first, second := sixTypes("a"), sixTypes("b")
	ctx := context.Background()
	for _, b := range [][]router.Message{first, second[:1], second[1:]} {
		if err := d.Send(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	byID := map[string][]byte{}
	var want [][]byte
	for _, m := range append(first, second...) {
		byID[m.ID] = m.Body
		want = append(want, m.Body)
	}
	reqs := srv.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("%d requests, want %d", len(reqs), len(want))
	}
	for i, r := range reqs {
		if !bytes.Equal(byID[r.MessageID], want[i]) {
			t.Fatalf("request %d delivered %q", i, r.MessageID)
		}
	}

	failures := []struct {
		name      string
		setup     func(srv *ciotest.Server, c *Config)
		want      router.Kind
		wantDelay time.Duration
	}{
		{"wrong api key is permanent", func(_ *ciotest.Server, c *Config) { c.APIKey = "wrong" }, router.KindPermanent, 0},
		{"503 with Retry-After", func(srv *ciotest.Server, _ *Config) { srv.FailNext(503, 1); srv.SetRetryAfter("3") }, router.KindRetryable, 3 * time.Second},
		{"connection refused", func(srv *ciotest.Server, _ *Config) { srv.Close() }, router.KindRetryable, 0},
	}
	for _, fc := range failures {
		t.Run(fc.name, func(t *testing.T) {
			srv := ciotest.New(t)
			d := newDest(t, srv, func(c *Config) { fc.setup(srv, c) })
			err := d.Send(ctx, sixTypes("f"))
			if k, dl := router.Classify(err); k != fc.want || dl != fc.wantDelay {
				t.Fatalf("Send = %v, classified %v %v", err, k, dl)
			}
		})
	}
}
