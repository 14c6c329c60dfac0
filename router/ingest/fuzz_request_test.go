package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
	"github.com/eventrouter/eventrouter/schemas"
)

// The whole-request fuzz target: route, method, credentials, encoding,
// query and body all come from the fuzzer, and every answer is checked
// against the invariants of the limits (issue 12), not only for panics:
//
//   - no 5xx; every answer is 200 {"success":true}, a GIF (pixels), JSONP,
//     or a JSON error with code and message, and an error stores nothing;
//   - every stored message is within storedLimit, decodes with
//     encoding/json, nests at most maxNesting levels and holds only finite
//     numbers;
//   - what a request stores, rejected items' fields included, adds up to
//     at most budgetFactor × its decoded size + budgetPerItem per item (of
//     the first maxBatchSize) and the allowance of its violations, plus the
//     items kept as sent (at most six times their size once escaped into a
//     JSON string), the forward pool and a fixed size per rejected entry;
//   - a request without a valid write key (or GrowSurf signature) stores
//     nothing but at most one entry of the sample, of bounded size.

// fuzzRoute is one route the whole-request fuzzer picks from.
type fuzzRoute struct {
	path   string
	method string
	get    bool // the body goes into ?data= (base64)
}

var wholeRoutes = []fuzzRoute{
	{"/v1/batch", http.MethodPost, false},
	{"/v1/track", http.MethodPost, false},
	{"/v1/identify", http.MethodPut, false},
	{"/v1/alias", http.MethodPost, false},
	{"/v1/b", http.MethodPost, false},
	{"/v1/import", http.MethodPost, false},
	{"/beacon/v1/batch", http.MethodPost, false},
	{"/v1/t", http.MethodGet, true},
	{"/v1/pixel/track", http.MethodGet, true},
	{"/v1/pixel/page", http.MethodGet, false}, // dotted query only
	{"/webhooks/growsurf", http.MethodPost, false},
	{"/V1/Batch/", http.MethodPost, false},
	{"/v1/nope", http.MethodPost, false},
}

const fuzzGSSecret = "fuzz-growsurf-secret"

// newWholeHandler is the handler the whole-request fuzzer drives: the
// conformance sources, a tracking plan that omits and annotates (and
// forwards the violations of WK1's source to another source), a signed
// GrowSurf source, and a sample that the frozen clock never refills.
func newWholeHandler(t testing.TB) (*Handler, *recLog) {
	p, err := schemas.Load("../../schemas/testdata/order")
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Plan = p
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.SampleRate, cfg.SampleBurst = 1, 3
	cfg.Sources[0].Enforcement.ForwardViolationsTo = "backend"
	cfg.Hosted = hostGS(t, gsSrc{Name: "referrals", Path: "/webhooks/growsurf", Secret: []byte(fuzzGSSecret), Settings: growsurf.DefaultSettings()})
	log := newRecLog()
	h, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return h, log
}

func wholeSeeds(f *testing.F) {
	for _, b := range seedBodies() {
		f.Add(uint8(0), uint8(1), false, "", b)
		f.Add(uint8(8), uint8(0), false, "", b)
	}
	amplify := []byte(`{"context":{"p":"` + strings.Repeat("c", 28000) + `"},"batch":[` +
		strings.Repeat(`{"type":"track","userId":"u","event":"E"},`, 300) + `{}]}`)
	f.Add(uint8(0), uint8(1), false, "", amplify)
	f.Add(uint8(0), uint8(1), true, "", amplify)
	f.Add(uint8(1), uint8(1), false, "", []byte(`{"userId":"u","event":"E","properties":`+nested(70)+`}`))
	f.Add(uint8(0), uint8(1), false, "", []byte(`{"batch":[{"type":"track","userId":"u","event":"E","properties":{"n":1e400}},{"type":"identify","userId":"u"}]}`))
	f.Add(uint8(1), uint8(1), false, "", []byte(`{"userId":"u","event":"Order Completed","properties":{"order_id":"o","revenue":1,"x":1,"y":[1,2]}}`))
	f.Add(uint8(9), uint8(0), false, "userId=u&event=E&properties.a.b.c=1&writeKey=WK1", []byte{})
	f.Add(uint8(9), uint8(0), false, "userId=u&event=E&"+strings.Repeat("a.", 80)+"b=1", []byte{})
	f.Add(uint8(8), uint8(0), false, "writeKey=WK1", []byte(`%%%`))
	f.Add(uint8(8), uint8(2), false, "", []byte(`{"writeKey":"guess","userId":"u","event":"E"}`))
	f.Add(uint8(10), uint8(4), false, "", []byte(`{"event":"NEW_PARTICIPANT_ADDED","data":{"participant":{"id":"p1","email":"a@b.c","shareUrl":"https://x/?grsf=abc","metadata":{"n":1e400}}}}`))
	f.Add(uint8(10), uint8(0), false, "", []byte(`{"event":"NEW_PARTICIPANT_ADDED"}`))
	f.Add(uint8(4), uint8(3), true, "", []byte(`{"batch":[{"type":"page","anonymousId":"a","sentAt":`+nested(62)+`}]}`))
}

// FuzzRequest drives whole requests through the handler and checks the
// invariants listed above.
func FuzzRequest(f *testing.F) {
	wholeSeeds(f)
	h, log := newWholeHandler(f)
	f.Fuzz(func(t *testing.T, routeN, auth uint8, gz bool, query string, body []byte) {
		_, _, _ = checkWhole(t, h, log, routeN, auth, gz, query, body)
	})
}

// checkWhole sends one request and checks the invariants; it returns how
// many messages, rejected items and sample entries the request stored.
func checkWhole(t *testing.T, h *Handler, log *recLog, routeN, auth uint8, gzipped bool, query string, body []byte) (nMsgs, nRejected, nSampled int) {
	rt := wholeRoutes[int(routeN)%len(wholeRoutes)]
	if len(query) > 2048 {
		query = query[:2048]
	}
	q := url.Values{}
	if parsed, err := url.ParseQuery(query); err == nil {
		q = parsed
	}
	if rt.get {
		q.Set("data", base64.RawURLEncoding.EncodeToString(body))
	}
	target := rt.path
	if enc := q.Encode(); enc != "" {
		target += "?" + enc
	}
	var rd io.Reader = http.NoBody
	sent := body
	if !rt.get && rt.method != http.MethodGet {
		if gzipped {
			sent = gz(t, body)
		}
		rd = bytes.NewReader(sent)
	}
	r := httptest.NewRequest(rt.method, target, rd)
	switch auth % 5 {
	case 1:
		r.Header.Set("Authorization", basicWK1)
	case 2:
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("guess:")))
	case 3:
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("WK2:")))
	case 4:
		// Signed as GrowSurf would, at the handler's (frozen) clock.
		r.Header.Set(growsurf.SignatureHeader, growsurf.Sign(body, []byte(fuzzGSSecret), frozen.Add(-time.Minute)))
	}
	if gzipped && !rt.get {
		r.Header.Set("Content-Encoding", "gzip")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)

	log.mu.Lock()
	msgs, rejected, sampled := log.msgs, log.rejected, log.sampled
	log.msgs, log.rejected, log.sampled = nil, nil, nil
	log.seen = make(map[string]bool)
	log.deliveries = make(map[string]bool)
	log.mu.Unlock()

	res := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	switch {
	case w.Code >= 500:
		t.Fatalf("%s %s: %d %s", rt.method, target, w.Code, w.Body)
	case w.Header().Get("Content-Type") == "image/gif":
		if w.Code != 200 || w.Body.Len() != len(gif) {
			t.Fatalf("pixel answered %d with %d bytes", w.Code, w.Body.Len())
		}
	case w.Header().Get("Content-Type") == "text/javascript":
		if w.Code != 200 {
			t.Fatalf("JSONP answered %d", w.Code)
		}
	case w.Code == 200:
		if string(res.body) != `{"success":true}` {
			t.Fatalf("200 with %q", res.body)
		}
	case w.Code == http.StatusNoContent && rt.method == http.MethodOptions:
	default:
		checkErrorBody(t, res)
		if len(msgs)+len(rejected)+len(sampled) != 0 {
			t.Fatalf("%d answered, but %d stored, %d rejected, %d sampled", w.Code, len(msgs), len(rejected), len(sampled))
		}
	}

	// Unauthenticated: nothing but at most one sample entry.
	if len(sampled) > 0 {
		if len(msgs)+len(rejected) != 0 {
			t.Fatalf("a request sampled as unauthenticated also stored %d messages and %d rejected", len(msgs), len(rejected))
		}
		if len(sampled) > 1 {
			t.Fatalf("one request left %d sample entries", len(sampled))
		}
		if s := sampled[0]; s.Source != "" || len(s.Body) > 6*SampleBodyLimit+2 {
			t.Fatalf("sample entry of source %q with %d bytes", s.Source, len(s.Body))
		}
	}
	for _, m := range msgs {
		if m.Source == "" {
			t.Fatalf("stored a message without a source")
		}
	}
	for _, rj := range rejected {
		if rj.Source == "" {
			t.Fatalf("stored a rejected item without a source (unauthenticated): %+v", rj.Reason)
		}
	}
	if auth%5 == 2 && !strings.Contains(query, "writeKey") && !bytes.Contains(body, []byte("writeKey")) && len(msgs)+len(rejected) > 0 {
		t.Fatalf("a request with a wrong key stored %d messages and %d rejected", len(msgs), len(rejected))
	}

	// Shapes and sizes of what was stored.
	for _, m := range msgs {
		if len(m.Body) > storedLimit {
			t.Fatalf("stored a message of %d bytes", len(m.Body))
		}
		d := json.NewDecoder(bytes.NewReader(m.Body))
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("stored message does not decode with encoding/json: %v", err)
		}
		if sh := valueShapeStd(v, 1); sh > maxNesting {
			t.Fatalf("stored message nests %d levels", sh)
		}
	}
	for _, rj := range rejected {
		if b, err := json.Marshal(rj); err != nil {
			t.Fatalf("rejected item does not encode: %v", err)
		} else if !json.Valid(b) {
			t.Fatalf("rejected item is not valid JSON")
		}
		// What a reader of the rejected stream decodes: an item too deep
		// or not finite is kept as text (the entry of the items past the
		// 2,500th holds them one level down, in an array).
		d := json.NewDecoder(bytes.NewReader(rj.Body))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("rejected body (%s) does not decode with encoding/json: %v", rj.Reason, err)
		}
		if sh := valueShapeStd(v, 1); sh > maxNesting+1 || !finiteStd(v) {
			t.Fatalf("rejected body (%s) nests %d levels or holds a number that is not finite", rj.Reason, sh)
		}
	}

	// Stored bytes bounded by sent bytes.
	decoded := len(body)
	if rt.path == "/v1/pixel/page" || rt.get {
		decoded += 4*len(target) + 16
	}
	// Only the first maxBatchSize items earn a share: the rest are kept
	// together, as sent.
	items := 1
	var top map[string]any
	if json.Unmarshal(body, &top) == nil {
		if b, ok := top["batch"].([]any); ok && len(b) > 1 {
			items = min(len(b), maxBatchSize)
		}
	}
	// Whole entries as the log stores them, rejected items' fields
	// included (a messageId of 100 escaped runes takes 600 bytes).
	stored := storedBytes(t, msgs, rejected)
	limit := budgetFactor*decoded + // the budget
		6*decoded + // items kept as sent, escaped into a JSON string at worst
		budgetFactor*decoded + forwardPerRequest + // Violation Generated events
		(budgetPerItem+1024)*items + 4096
	for _, m := range msgs {
		limit += planAllowance(m.Violations)
	}
	for _, rj := range rejected {
		if rj.Reason == router.ReasonBlocked {
			limit += planAllowance(budgetViolations)
		}
	}
	if rt.path == "/webhooks/growsurf" {
		limit = 10*decoded + 16<<10
	}
	if stored > limit {
		t.Fatalf("a request of %d bytes with %d items stored %d bytes (limit %d)", decoded, items, stored, limit)
	}
	return len(msgs), len(rejected), len(sampled)
}

// valueShapeStd is the nesting depth of a value decoded by encoding/json.
func valueShapeStd(v any, depth int) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		d = depth
		for _, e := range v {
			d = max(d, valueShapeStd(e, depth+1))
		}
	case []any:
		d = depth
		for _, e := range v {
			d = max(d, valueShapeStd(e, depth+1))
		}
	}
	return d
}

// finiteStd reports whether every number of v (decoded with UseNumber) is a
// finite double.
func finiteStd(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			if !finiteStd(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !finiteStd(e) {
				return false
			}
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(v), 64)
		return err == nil || !math.IsInf(f, 0)
	}
	return true
}

// TestWholeRequestInvariants runs the invariant check over the amplifying
// requests of issue 12 and a few others as a plain test, in every make
// test, and makes sure each of them stored what it should (so that the
// checks are not vacuous).
func TestWholeRequestInvariants(t *testing.T) {
	h, log := newWholeHandler(t)
	for i, b := range [][]byte{tinyBatch(1000, 100_000, false), tinyBatch(2000, 300_000, true), tinyBatch(2500, 28_000, false), tinyBatch(2500, 28_000, true)} {
		for _, gzipped := range []bool{false, true} {
			t.Run(fmt.Sprintf("amplifying %d gzip=%t", i, gzipped), func(t *testing.T) {
				m, r, _ := checkWhole(t, h, log, 0, 1, gzipped, "", b)
				if m+r < 1000 {
					t.Fatalf("stored %d messages and %d rejected", m, r)
				}
			})
		}
	}
	signup, err := os.ReadFile("testdata/growsurf/t1_direct_signup.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		route, auth     uint8
		query           string
		body            []byte
		msgs, sampled   int
		rejectedAtLeast int
	}{
		{name: "signed webhook", route: 10, auth: 4, body: signup, msgs: 2},
		{name: "unsigned webhook", route: 10, auth: 0, body: signup},
		{name: "pixel without key", route: 8, body: []byte(`{"userId":"u","event":"E"}`), sampled: 1},
		{name: "dotted pixel with key", route: 9, query: "writeKey=WK1&userId=u&event=E", msgs: 1},
		{name: "annotated order, its violation forwarded", route: 1, auth: 1, body: []byte(`{"userId":"u","event":"Order Completed","properties":{"order_id":"o","revenue":1,"x":1}}`), msgs: 2},
		{name: "250,001 items of 0", route: 0, auth: 1, body: []byte(`{"batch":[` + strings.Repeat("0,", 250_000) + `0]}`), rejectedAtLeast: 2501},
		{name: "2,200 orders with 20 violations each", route: 0, auth: 1, body: violatingBatch(2200, 20), msgs: 2200 + 2540},
		{name: "deep item", route: 0, auth: 1, body: []byte(`{"batch":[{"type":"identify","userId":"u","traits":` + nested(70) + `}]}`), rejectedAtLeast: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, r, s := checkWhole(t, h, log, tc.route, tc.auth, false, tc.query, tc.body)
			if m != tc.msgs || s != tc.sampled || r < tc.rejectedAtLeast {
				t.Fatalf("stored %d messages, %d rejected, %d sampled; want %d, >= %d, %d", m, r, s, tc.msgs, tc.rejectedAtLeast, tc.sampled)
			}
		})
	}
}

// violatingBatch is a batch of n orders with k unplanned properties each.
func violatingBatch(n, k int) []byte {
	var props strings.Builder
	for i := range k {
		fmt.Fprintf(&props, `,"%c":1`, 'a'+i)
	}
	item := `{"type":"track","userId":"u","event":"Order Completed","properties":{"order_id":"o","revenue":1` + props.String() + `}}`
	return []byte(`{"batch":[` + strings.Repeat(item+",", n-1) + item + `]}`)
}
