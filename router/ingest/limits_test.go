package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
	"github.com/eventrouter/eventrouter/schemas"
)

// storedBytes is what a request stored, as the log stores it: message
// bodies and rejected items as JSON.
func storedBytes(t testing.TB, msgs []router.Message, rejected []router.Rejected) int {
	t.Helper()
	n := 0
	for _, m := range msgs {
		n += len(m.Body)
	}
	for _, r := range rejected {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("rejected item does not encode: %v", err)
		}
		n += len(b)
	}
	return n
}

// bodyBytes is what the budget counts: the bodies alone.
func bodyBytes(msgs []router.Message, rejected []router.Rejected) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Body)
	}
	for _, r := range rejected {
		n += len(r.Body)
	}
	return n
}

// tinyBatch returns a batch of n tiny tracks with an envelope context of
// about ctxBytes (one string, or keys of 20 bytes when manyKeys).
func tinyBatch(n, ctxBytes int, manyKeys bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"context":{`)
	if manyKeys {
		for i := 0; b.Len() < ctxBytes; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `"k%07d":"vvvvvvv"`, i)
		}
	} else {
		b.WriteString(`"pad":"` + strings.Repeat("c", ctxBytes) + `"`)
	}
	b.WriteString(`},"batch":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","userId":"u%d","event":"E"}`, i)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestEnvelopeCannotAmplify sends the requests of issue 12: a batch's
// context merged into every item used to store up to 1,000 times what was
// sent. Now every stored message is within its limit and a request stores
// at most budgetFactor × its size + budgetPerItem per item.
func TestEnvelopeCannotAmplify(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	tests := []struct {
		name              string
		body              []byte
		items             int
		wantAccepted      int    // exact; -1: some but not all
		wantReason        string // of every rejected item
		maxStoredOverSent float64
	}{
		// 180 KB, 1,000 items, 100 KB context: each merged item would be
		// over 32 KiB; all are rejected, kept as sent (without it).
		{name: "1000 items, 100 KB context", body: tinyBatch(1000, 100_000, false), items: 1000, wantAccepted: 0, wantReason: "message_too_large", maxStoredOverSent: 2},
		// 462 KB: 300 KB context × 2,000 items (keys this time).
		{name: "2000 items, 300 KB context of keys", body: tinyBatch(2000, 300_000, true), items: 2000, wantAccepted: 0, wantReason: "message_too_large", maxStoredOverSent: 2},
		// Under the per-message limit the budget bites: 2,500 items with
		// 28 KB each would be 70 MB.
		{name: "2500 items, 28 KB context", body: tinyBatch(2500, 28_000, false), items: 2500, wantAccepted: -1, wantReason: "request_too_large", maxStoredOverSent: 20},
		{name: "2500 items, 28 KB context of keys", body: tinyBatch(2500, 28_000, true), items: 2500, wantAccepted: -1, wantReason: "request_too_large", maxStoredOverSent: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: "/v1/batch", header: wk1(), body: tt.body})
			s200(t, r)
			if len(r.msgs)+len(r.rejected) != tt.items {
				t.Fatalf("%d accepted + %d rejected, want %d items", len(r.msgs), len(r.rejected), tt.items)
			}
			switch {
			case tt.wantAccepted >= 0 && len(r.msgs) != tt.wantAccepted:
				t.Fatalf("accepted %d, want %d", len(r.msgs), tt.wantAccepted)
			case tt.wantAccepted < 0 && (len(r.msgs) == 0 || len(r.msgs) == tt.items):
				t.Fatalf("accepted %d of %d, want some but not all", len(r.msgs), tt.items)
			}
			for _, m := range r.msgs {
				if len(m.Body) > storedLimit {
					t.Fatalf("stored message of %d bytes", len(m.Body))
				}
			}
			for _, rj := range r.rejected {
				if rj.Reason != tt.wantReason || rj.Source != "prod-web" {
					t.Fatalf("rejected %+v, want reason %s", rj, tt.wantReason)
				}
				if bytes.Contains(rj.Body, []byte("ccccc")) || bytes.Contains(rj.Body, []byte(`"k0000001"`)) || len(rj.Body) > 100 {
					t.Fatalf("rejected item kept with the envelope: %.200s", rj.Body)
				}
			}
			bodies := bodyBytes(r.msgs, r.rejected)
			if limit := budgetFactor*len(tt.body) + budgetPerItem*tt.items + len(tt.body); bodies > limit {
				t.Fatalf("stored %d bytes of bodies for a %d-byte request, over %d", bodies, len(tt.body), limit)
			}
			total := storedBytes(t, r.msgs, r.rejected)
			if ratio := float64(total) / float64(len(tt.body)); ratio > tt.maxStoredOverSent {
				t.Fatalf("stored %d bytes for %d sent: %.1f×, want at most %.0f×", total, len(tt.body), ratio, tt.maxStoredOverSent)
			}
			t.Logf("%d bytes sent: %d accepted, %d rejected, %d bytes stored (%.1f×)", len(tt.body), len(r.msgs), len(r.rejected), total, float64(total)/float64(len(tt.body)))
		})
	}
}

// TestItemsPastTheBatchLimitCannotAmplify: the items past the 2,500th are
// kept together in one rejected entry, as sent, and earn no share of the
// budget. One entry each used to store 41 MB for a 500 KB batch of "0,"
// items, and their shares of the budget let 2,500 items with a 28 KB
// context store 70 MB for 342 KB.
func TestItemsPastTheBatchLimitCannotAmplify(t *testing.T) {
	reg := prometheus.NewRegistry()
	e := newEnv(t, newRecLog(), func(c *Config) { c.Registerer = reg })
	withCtx := tinyBatch(2500, 28_000, false)
	withCtx = append(withCtx[:len(withCtx)-2], []byte(strings.Repeat(`,{"type":"track","userId":"u","event":"E","writeKey":"WK1"}`, 100)+strings.Repeat(",0", 50_000)+"]}")...)
	tests := []struct {
		name     string
		body     []byte
		accepted bool // some accepted
		excess   int
	}{
		{"250,001 items of 0", []byte(`{"batch":[` + strings.Repeat("0,", 250_000) + `0]}`), false, 247_501},
		{"2,500 items with 28 KB of context, then 50,100 more", withCtx, true, 50_100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: "/v1/batch", header: wk1(), body: tt.body})
			s200(t, r)
			if tt.accepted != (len(r.msgs) > 0) || len(r.msgs)+len(r.rejected) != 2501 {
				t.Fatalf("accepted %d, rejected %d; want 2,500 items and one entry for the rest", len(r.msgs), len(r.rejected))
			}
			var excess *router.Rejected
			for i := range r.rejected {
				if r.rejected[i].Reason == "batch_too_many_events" {
					if excess != nil {
						t.Fatal("two batch_too_many_events entries")
					}
					excess = &r.rejected[i]
				}
			}
			var items []any
			if excess == nil || json.Unmarshal(excess.Body, &items) != nil || len(items) != tt.excess || excess.MessageID != "" {
				t.Fatalf("excess entry %.300v: want a JSON array of the %d items past the 2500th", excess, tt.excess)
			}
			if bytes.Contains(excess.Body, []byte("writeKey")) || !strings.Contains(excess.Detail, fmt.Sprintf("the %d past the 2500th", tt.excess)) {
				t.Fatalf("excess entry: detail %q, body %.200s", excess.Detail, excess.Body)
			}
			// The stated bound on bodies (what was sent, plus budgetFactor ×
			// that and budgetPerItem for each of the 2,500 items), and on
			// whole entries, with their fields (reason, detail, ...).
			bodies, stored := bodyBytes(r.msgs, r.rejected), storedBytes(t, r.msgs, r.rejected)
			if limit := (budgetFactor+1)*len(tt.body) + budgetPerItem*2500; bodies > limit {
				t.Fatalf("stored %d bytes of bodies for %d sent, over %d", bodies, len(tt.body), limit)
			}
			if limit := (budgetFactor+1)*len(tt.body) + (budgetPerItem+512)*2500; stored > limit {
				t.Fatalf("stored %d bytes for %d sent, over %d", stored, len(tt.body), limit)
			}
			t.Logf("%d bytes sent: %d accepted, %d rejected entries, %d bytes stored (%.1f×)", len(tt.body), len(r.msgs), len(r.rejected), stored, float64(stored)/float64(len(tt.body)))
		})
	}
	// Every item is counted in the metrics.
	if got := counterValue(t, reg, "eventrouter_events_rejected_total", map[string]string{"reason": "batch_too_many_events"}); got != 247_501+50_100 {
		t.Errorf("eventrouter_events_rejected_total{batch_too_many_events} = %v, want %d", got, 247_501+50_100)
	}
	// A deep item among them keeps the entry as text, which any JSON
	// decoder takes.
	deep := `{"type":"track","userId":"u","event":"E","properties":` + nested(70) + `}`
	body := []byte(`{"batch":[` + strings.Repeat(`{"type":"track","userId":"u","event":"E"},`, 2500) + deep + `,1]}`)
	r := e.do(t, req{path: "/v1/batch", header: wk1(), body: body})
	s200(t, r)
	if len(r.msgs) != 2500 || len(r.rejected) != 1 {
		t.Fatalf("accepted %d, rejected %d", len(r.msgs), len(r.rejected))
	}
	var text string
	if err := json.Unmarshal(r.rejected[0].Body, &text); err != nil || text != "["+deep+",1]" {
		t.Fatalf("excess entry with a deep item: %v %.200s", err, r.rejected[0].Body)
	}
}

// TestLegitimateBatchesFitTheBudget: the budget never bites on what real
// clients send, including 2,500 minimal items (the most ingest's own fields
// add relative to what was sent), over a browser route (context.ip) and
// with a small envelope context like analytics-go's.
func TestLegitimateBatchesFitTheBudget(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	for _, tt := range []struct{ name, path, env, item string }{
		{"minimal pages", "/v1/batch", ``, `{"type":"page","userId":"u"}`},
		{"minimal identifies on a browser route", "/v1/b", `"sentAt":"2024-01-01T01:00:09.000Z",`, `{"type":"identify","anonymousId":"a"}`},
		{"analytics-go envelope", "/v1/batch", `"context":{"library":{"name":"analytics-go","version":"3.3.0"}},"sentAt":"2024-01-01T01:00:09.000Z",`, `{"type":"track","userId":"u","event":"E","timestamp":"bad"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{` + tt.env + `"batch":[` + strings.Repeat(tt.item+",", 2499) + tt.item + `]}`)
			r := e.do(t, req{path: tt.path, header: wk1(), body: body})
			s200(t, r)
			if len(r.msgs) != 2500 || len(r.rejected) != 0 {
				t.Fatalf("accepted %d, rejected %d (%+v), want 2500 accepted", len(r.msgs), len(r.rejected), first(r.rejected))
			}
			t.Logf("%d bytes sent, %d bytes of messages stored (budget %d)", len(body), bodyBytes(r.msgs, nil), budgetFactor*len(body)+budgetPerItem*2500)
		})
	}
}

func first(rs []router.Rejected) any {
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

// nested returns a JSON object nested depth levels deep, counting itself.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// TestShapesEveryReceiverTakes: a message nesting deeper than 64 levels, or
// holding a number that is not a finite double, is rejected with its
// reason, kept as a JSON string of what was sent; the rest of its batch is
// accepted.
func TestShapesEveryReceiverTakes(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	deep := `{"type":"track","userId":"u","event":"Deep","messageId":"deep","properties":{"a":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `}}`
	inf := `{"type":"track","userId":"u","event":"Inf","messageId":"inf","properties":{"n":1e400}}`
	ok := `{"type":"track","userId":"u","event":"Fine","messageId":"fine","properties":{"n":1e308,"m":-1e-400,"o":12345678901234567890}}`
	r := e.do(t, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[` + deep + "," + inf + "," + ok + "," + deep + `]}`)})
	s200(t, r)
	if len(r.msgs) != 1 || r.msgs[0].ID != "fine" {
		t.Fatalf("accepted %d messages, want only \"fine\"", len(r.msgs))
	}
	wantReasons := map[string]string{"deep": "nesting_too_deep", "inf": "number_not_finite"}
	if len(r.rejected) != 3 {
		t.Fatalf("rejected %d, want 3", len(r.rejected))
	}
	for _, rj := range r.rejected {
		if wantReasons[rj.MessageID] != rj.Reason {
			t.Errorf("rejected %s with %s, want %s", rj.MessageID, rj.Reason, wantReasons[rj.MessageID])
		}
		var s string
		if err := json.Unmarshal(rj.Body, &s); err != nil || !strings.Contains(s, `"messageId":"`+rj.MessageID+`"`) {
			t.Errorf("rejected body is not the item as a JSON string: %v %.100s", err, rj.Body)
		}
	}
	// Two deep messages no longer reach a receiver: what was stored decodes
	// with encoding/json.
	var v any
	if err := json.Unmarshal(r.msgs[0].Body, &v); err != nil {
		t.Fatalf("stored message does not decode: %v", err)
	}
	// Items rejected for another reason before their shape was checked
	// (over 32 KiB, not an object, past the 2,500th) are kept as text too
	// when deep or not finite, with their own reason.
	big := `{"type":"track","userId":"u","event":"Big","properties":{"pad":"` + strings.Repeat("p", 33<<10) + `","a":` + nested(70) + `}}`
	notObject := `[` + nested(70) + `]`
	past := `{"type":"track","userId":"u","event":"Past","properties":{"n":1e400}}`
	r = e.do(t, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[` + big + "," + notObject + strings.Repeat(`,{"type":"track","userId":"u","event":"E"}`, 2498) + "," + past + `]}`)})
	s200(t, r)
	if len(r.msgs) != 2498 || len(r.rejected) != 3 {
		t.Fatalf("accepted %d, rejected %d; want 2,498 and 3", len(r.msgs), len(r.rejected))
	}
	for i, want := range []struct{ reason, text string }{{"batch_too_many_events", past}, {"message_too_large", big}, {"invalid_type", notObject}} {
		rj := r.rejected[i]
		var text string
		if rj.Reason != want.reason || json.Unmarshal(rj.Body, &text) != nil || text != want.text || !strings.Contains(rj.Detail, "kept as a JSON string") {
			t.Errorf("rejected %s (%s) %.100s; want %s, kept as a JSON string of the item", rj.Reason, rj.Detail, rj.Body, want.reason)
		}
	}
	// So is a keyed pixel's data that fails as a whole: a deep array (not
	// an object) and a deep dotted query over the size limit.
	deepArray := strings.Repeat("[", 70) + strings.Repeat("]", 70)
	for _, path := range []string{
		"/v1/pixel/track?writeKey=WK1&data=" + base64.StdEncoding.EncodeToString([]byte(deepArray)),
		"/v1/pixel/track?writeKey=WK1&userId=u&event=E&" + strings.Repeat("a.", 70) + "b=" + strings.Repeat("x", 33<<10),
	} {
		r = e.do(t, req{method: http.MethodGet, path: path})
		var text string
		if len(r.msgs) != 0 || len(r.rejected) != 1 || json.Unmarshal(r.rejected[0].Body, &text) != nil {
			t.Errorf("pixel %.60s: accepted %d, rejected %d; want one rejected entry, kept as a JSON string", path, len(r.msgs), len(r.rejected))
		}
	}

	tests := []struct {
		name, path, body, reason string
	}{
		{"64 levels", "/v1/track", `{"userId":"u","event":"E","properties":` + nested(63) + `}`, ""},
		{"65 levels", "/v1/track", `{"userId":"u","event":"E","properties":` + nested(64) + `}`, "nesting_too_deep"},
		{"deep array", "/v1/track", `{"userId":"u","event":"E","properties":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, "nesting_too_deep"},
		{"1e309", "/v1/identify", `{"userId":"u","traits":{"n":1e309}}`, "number_not_finite"},
		{"-1E+400 in an array", "/v1/identify", `{"userId":"u","traits":{"n":[1,-1E+400]}}`, "number_not_finite"},
		{"a 400-digit integer", "/v1/identify", `{"userId":"u","traits":{"n":` + strings.Repeat("9", 400) + `}}`, "number_not_finite"},
		{"an infinite userId", "/v1/identify", `{"userId":1e999}`, "number_not_finite"},
		{"underflow is finite", "/v1/identify", `{"userId":"u","traits":{"n":1e-999}}`, ""},
		{"envelope too deep", "/v1/batch", `{"context":` + nested(64) + `,"batch":[{"type":"track","userId":"u","event":"E"},{"type":"identify","userId":"u"}]}`, "nesting_too_deep"},
		{"envelope context at the limit", "/v1/batch", `{"context":` + nested(63) + `,"batch":[{"type":"track","userId":"u","event":"E"}]}`, ""},
		{"envelope with 1e400", "/v1/batch", `{"integrations":{"x":1e400},"batch":[{"type":"track","userId":"u","event":"E"}]}`, "number_not_finite"},
		{"envelope sentAt too deep for the notes", "/v1/batch", `{"sentAt":` + nested(61) + `,"batch":[{"type":"track","userId":"u","event":"E"}]}`, "nesting_too_deep"},
		{"timestamp too deep for the notes", "/v1/track", `{"userId":"u","event":"E","timestamp":` + nested(61) + `}`, "nesting_too_deep"},
		{"pixel query nesting", "/v1/pixel/track?writeKey=WK1&userId=u&event=E&" + strings.Repeat("a.", 70) + "b=1", "", "nesting_too_deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rq := req{path: tt.path, header: wk1(), body: []byte(tt.body)}
			if tt.body == "" {
				rq = req{method: http.MethodGet, path: tt.path}
			}
			r := e.do(t, rq)
			if r.status != 200 {
				t.Fatalf("status %d %s", r.status, r.body)
			}
			if tt.reason == "" {
				if len(r.msgs) == 0 || len(r.rejected) != 0 {
					t.Fatalf("accepted %d, rejected %+v; want accepted", len(r.msgs), first(r.rejected))
				}
				for _, m := range r.msgs {
					if sh := mustShape(t, m.Body); sh.depth > maxNesting || sh.nonFinite {
						t.Fatalf("stored a message of shape %+v", sh)
					}
				}
				return
			}
			if len(r.msgs) != 0 || len(r.rejected) == 0 {
				t.Fatalf("accepted %d, rejected %d; want only rejected", len(r.msgs), len(r.rejected))
			}
			for _, rj := range r.rejected {
				if rj.Reason != tt.reason {
					t.Fatalf("reason %s (%s), want %s", rj.Reason, rj.Detail, tt.reason)
				}
			}
		})
	}
}

func mustShape(t *testing.T, b []byte) shape {
	t.Helper()
	_, _, sh, err := parseShape(b, false)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

// TestAnnotationsCountAgainstTheLimits: a message whose tracking-plan
// annotations would take it past the stored limit is rejected (kept as
// sent), not stored oversized.
func TestAnnotationsCountAgainstTheLimits(t *testing.T) {
	p, err := schemas.Load("../../schemas/testdata/order")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, newRecLog(), func(c *Config) { c.Plan = p })
	var props strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&props, `,"p%d":1`, i)
	}
	body := `{"userId":"u","event":"Order Completed","messageId":"annotated","properties":{"order_id":"o","revenue":1` + props.String() + `}}`
	if len(body) > itemLimit {
		t.Fatalf("body is %d bytes", len(body))
	}
	r := e.do(t, req{path: "/v1/track", header: wk1(), body: []byte(body)})
	s200(t, r)
	rj := rejectedOnly(t, r, "message_too_large")
	if rj.MessageID != "annotated" || !strings.Contains(rj.Detail, "annotations") || len(rj.Body) > len(body) {
		t.Fatalf("rejected %+v (%d bytes of body)", rj, len(rj.Body))
	}
	// A few unplanned properties are annotated and stored as usual.
	r = e.do(t, req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u","event":"Order Completed","properties":{"order_id":"o","revenue":1,"x":1}}`)})
	s200(t, r)
	wantField(t, one(t, r), "context.protocols.omitted.properties.x", "1")
}

// TestPixelFloodStoresNothing sends 1,000 pixels without a write key (each
// with 15 KB of data) and 200 with an unknown one: nothing reaches the log,
// the sample keeps at most its burst, every item is counted, and the log
// gets a handful of lines, not one per request.
func TestPixelFloodStoresNothing(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	e := newEnv(t, newRecLog(), func(c *Config) {
		c.SampleRate, c.SampleBurst = 1, 5 // the frozen clock never refills it
		c.Registerer = reg
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	data := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte("x"), 15000))
	bad := base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"guess","userId":"u","event":"E"}`))
	var sampled []router.Rejected
	for i := range 1200 {
		path := "/v1/pixel/track?data=" + data
		if i%6 == 5 {
			path = "/v1/pixel/page?data=" + bad
		}
		r := e.do(t, req{method: http.MethodGet, path: path})
		checkGIF(t, r)
		if len(r.msgs)+len(r.rejected) != 0 {
			t.Fatalf("request %d stored %d messages and %d rejected items", i, len(r.msgs), len(r.rejected))
		}
		sampled = append(sampled, r.sampled...)
	}
	if len(sampled) != 5 {
		t.Fatalf("sampled %d, want the burst of 5", len(sampled))
	}
	for _, s := range sampled {
		if len(s.Body) > 6*SampleBodyLimit+2 || s.Source != "" {
			t.Fatalf("sample entry %+v of %d bytes", s.Detail, len(s.Body))
		}
	}
	const unauth = "eventrouter_ingest_unauthenticated_total"
	if got := counterValue(t, reg, unauth, map[string]string{"route": "/v1/pixel/track", "reason": "invalid_json"}); got != 1000 {
		t.Errorf("unauthenticated{invalid_json} = %v, want 1000", got)
	}
	if got := counterValue(t, reg, unauth, map[string]string{"route": "/v1/pixel/page", "reason": "invalid_write_key"}); got != 200 {
		t.Errorf("unauthenticated{invalid_write_key} = %v, want 200", got)
	}
	const sample = "eventrouter_ingest_sample_total"
	if s, d := counterValue(t, reg, sample, map[string]string{"outcome": "stored"}), counterValue(t, reg, sample, map[string]string{"outcome": "dropped"}); s != 5 || d != 1195 {
		t.Errorf("sample stored %v dropped %v, want 5 and 1195", s, d)
	}
	if n := strings.Count(logs.String(), "\n"); n > 3 {
		t.Errorf("%d log lines for 1,200 refused pixels, want a sampled few:\n%s", n, logs.String())
	}
	t.Logf("log:\n%s", logs.String())
}

// TestForwardedViolationsWithinBudget: with forward_violations_to, each
// violation becomes a Violation Generated event of its own. A few of them
// are forwarded for any message; a batch whose violations would fan out into
// 44,000 events (43 MB for 480 KB sent, before) stores every message, with
// its annotations, and forwards what the request's forward pool holds,
// counting the others; a message whose own annotations do not fit is kept
// as sent.
func TestForwardedViolationsWithinBudget(t *testing.T) {
	p, err := schemas.Load("../../schemas/testdata/order")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e := newEnv(t, newRecLog(), func(c *Config) {
		c.Plan = p
		c.Registerer = reg
		c.Sources[0].Enforcement.ForwardViolationsTo = "backend"
	})
	r := e.do(t, req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u","event":"Order Completed","messageId":"few","properties":{"order_id":"o","x":1,"y":2}}`)})
	s200(t, r)
	forwarded := 0
	for _, m := range r.msgs {
		if m.Source == "backend" && m.Event == "Violation Generated" {
			forwarded++
		}
	}
	if len(r.rejected) != 0 || forwarded != 3 || len(r.msgs) != 4 {
		t.Fatalf("stored %d messages (%d forwarded violations), rejected %+v; want the message and 3 violations", len(r.msgs), forwarded, first(r.rejected))
	}

	batch := violatingBatch(2200, 20)
	r = e.do(t, req{path: "/v1/batch", header: wk1(), body: batch})
	s200(t, r)
	own, fwd, fwdBytes := 0, 0, 0
	for _, m := range r.msgs {
		switch m.Source {
		case "prod-web":
			own++
			if m.Violations != 20 {
				t.Fatalf("stored message with %d violations, want 20", m.Violations)
			}
		case "backend":
			fwd++
			fwdBytes += len(m.Body)
		}
	}
	if own != 2200 || len(r.rejected) != 0 {
		t.Fatalf("stored %d of 2200 messages, rejected %d (%+v)", own, len(r.rejected), first(r.rejected))
	}
	if pool := budgetFactor*len(batch) + forwardPerRequest; fwd == 0 || fwdBytes > pool {
		t.Fatalf("forwarded %d violations (%d bytes); want some, within %d bytes", fwd, fwdBytes, pool)
	}
	if got := counterValue(t, reg, "eventrouter_tracking_plan_forwards_dropped_total", map[string]string{"source": "prod-web"}); got != float64(44_000-fwd) {
		t.Errorf("forwards_dropped_total = %v, want %d", got, 44_000-fwd)
	}
	stored := storedBytes(t, r.msgs, r.rejected)
	t.Logf("%d bytes sent: 2200 messages and %d of 44000 violations stored, %d bytes (%.1f×)", len(batch), fwd, stored, float64(stored)/float64(len(batch)))

	var many strings.Builder
	for i := range 100 {
		fmt.Fprintf(&many, `,"p%d":1`, i)
	}
	body := `{"userId":"u","event":"Order Completed","messageId":"many","properties":{"order_id":"o","revenue":1` + many.String() + `}}`
	r = e.do(t, req{path: "/v1/track", header: wk1(), body: []byte(body)})
	s200(t, r)
	rj := rejectedOnly(t, r, "request_too_large")
	if rj.MessageID != "many" || len(rj.Body) > len(body) {
		t.Fatalf("rejected %+v", rj)
	}
}

// TestRejectedEntriesFitTheLog: every rejected entry is one message of the
// real log, which NATS refuses over 1 MiB; an entry that could not be
// stored would make its request answer 503 on every retry. Bodies of < and
// & (which encoding/json escaped six times over), items kept as text
// (invalid UTF-8 grows six times), the items past the 2,500th and a GrowSurf
// delivery of 1 MiB are all stored, cut where they must be, and answered
// 200.
func TestRejectedEntriesFitTheLog(t *testing.T) {
	b := openLogBackend(t)
	const secret = "entries-secret"
	hosted := hostGS(t, gsSrc{Name: "referrals", Path: "/webhooks/growsurf", Secret: []byte(secret), Settings: growsurf.DefaultSettings()})
	e := newEnv(t, b, func(c *Config) { c.Hosted = hosted })
	html := strings.Repeat("<&>", 160_000)
	deepInvalid := `{"type":"track","userId":"u","event":"E","properties":{"p":"` + strings.Repeat("\xff", 400_000) + `","d":` + nested(70) + `}}`
	gs := []byte(`{"event":"UNKNOWN_EVENT","data":{"pad":"` + strings.Repeat("<", 1<<20-64) + `"}}`)
	tests := []struct {
		name, path string
		body       []byte
		header     map[string]string
		cut        bool
	}{
		{"an item of 480 KB of <&>", "/v1/batch", []byte(`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"p":"` + html + `"}}]}`), wk1(), false},
		{"2,501 items, the last of 480 KB of <&>", "/v1/batch", []byte(`{"batch":[` + strings.Repeat(`0,`, 2500) + `"` + html + `"]}`), wk1(), false},
		{"2,980 items, 480 past the 2,500th", "/v1/batch", []byte(`{"batch":[` + strings.Repeat(`0,`, 2500) + strings.Repeat(`"`+strings.Repeat("<", 1000)+`",`, 479) + `0]}`), wk1(), false},
		{"a deep item of 400 KB of invalid UTF-8", "/v1/batch", []byte(`{"batch":[` + deepInvalid + `]}`), wk1(), true},
		{"an unmapped GrowSurf delivery of 1 MiB", "/webhooks/growsurf", gs, map[string]string{growsurf.SignatureHeader: growsurf.Sign(gs, []byte(secret), frozen.Add(-time.Minute))}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: tt.path, header: tt.header, body: tt.body})
			s200(t, r)
			if len(r.rejected) == 0 {
				t.Fatal("nothing rejected")
			}
			for _, rj := range r.rejected {
				if len(rj.Body) > maxRejectedBody {
					t.Errorf("entry %s with a body of %d bytes", rj.Reason, len(rj.Body))
				}
				if cut := strings.Contains(rj.Detail, "is cut to its first"); cut != tt.cut {
					t.Errorf("entry %s: cut %t, want %t (%s)", rj.Reason, cut, tt.cut, rj.Detail)
				}
			}
		})
	}
}
