package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/customerio/ciotest"
	"github.com/nats-io/nats.go"
)

// cioAuth is the Authorization header every Customer.io request of the
// GrowSurf vectors carries: Basic test-site:test-key.
const cioAuth = "Basic dGVzdC1zaXRlOnRlc3Qta2V5"

// cioDest is the YAML of a customerio destination named "cio" against the
// fake, with the vectors' settings (identifier email), short batching and
// backoffs, and extra appended to its keys.
func cioDest(fake *ciotest.Server, extra string) string {
	return fmt.Sprintf(`  cio: {type: customerio, url: %q, site_id: %q, api_key: %q, identifier: email, batch_timeout: 50ms, initial_backoff: 50ms, max_backoff: 500ms%s}
`, fake.URL(), fake.SiteID(), fake.APIKey(), extra)
}

// postGrowSurf delivers body to the growsurf source's webhook path, signed
// with secret as GrowSurf signs it (HMAC-SHA256 of "<ts>.<body>"), and
// requires a 200.
func postGrowSurf(t *testing.T, base, secret string, body []byte) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/webhooks/growsurf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("GrowSurf-Signature", "ts="+ts+",v="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("growsurf webhook answered %d", resp.StatusCode)
	}
}

// postSegment sends one call to path with the write key and requires a 200.
func postSegment(t *testing.T, srv *serverProc, path, key, body string) {
	t.Helper()
	status, resp, err := post(context.Background(), http.DefaultClient, srv.base+path, key, []byte(body))
	if err != nil || status != http.StatusOK {
		t.Fatalf("POST %s: %d %s %v", path, status, resp, err)
	}
}

// cioReq is an expected request at the Customer.io fake.
type cioReq struct {
	method, path, body string
}

// sameJSONValue reports whether two JSON documents are the same value (key
// order and spacing irrelevant), as the customerio unit tests compare them.
func sameJSONValue(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("request body %s is not JSON: %v", got, err)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected body %s: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// cioOwner is the person a Customer.io request path addresses.
func cioOwner(path string) string { return strings.TrimSuffix(path, "/events") }

// waitFor polls cond every 20ms until it holds or timeout passes, and
// reports whether it held.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitMetric polls /metrics until it has the line want.
func waitMetric(t *testing.T, srv *serverProc, want string, timeout time.Duration) {
	t.Helper()
	if !waitFor(timeout, func() bool { return strings.Contains(metricsOf(t, srv)+"\n", want+"\n") }) {
		name, _, _ := strings.Cut(want, "{")
		t.Fatalf("/metrics never had %q; it has:\n%s", want, grepLines(metricsOf(t, srv), name))
	}
}

// TestCustomerIOVectorsEndToEnd is vectors T1, T2, T3 (GrowSurf webhooks,
// signed), T3b–T6 (which must send nothing) and T7 (a Segment track)
// through a running server: the fake
// Customer.io receives exactly the requests the vectors expect — method, path,
// headers and body as a JSON value, with the event ids derived
// from the message times — each person's in the listed order (so the
// identify before the track), and nothing else.
func TestCustomerIOVectorsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const secret = "grsf_test_secret"
	fake := ciotest.New(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  referrals: {type: growsurf, secret: %q}
  backend: {type: segment, write_keys: ["backend-key"]}
destinations:
`, addr, t.TempDir(), secret) + cioDest(fake, "")
	srv := startServer(t, cfg, addr)

	// The inputs, sent one after the other: each 200 means the messages
	// are in the log, so one person's messages are in send order.
	// T3b, T4, T5 and T6 map to nothing: they must add no request.
	for _, dir := range []string{"T1-direct-signup", "T2-referred-signup", "T3-reward-approved",
		"T3b-reward-pending", "T4-campaign-ended", "T5-fraud-status", "T6-unknown-event", "T6-missing-email"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "router", "sources", "growsurf", "testdata", dir, "request.json"))
		if err != nil {
			t.Fatal(err)
		}
		postGrowSurf(t, srv.base, secret, body)
	}
	postSegment(t, srv, "/v1/track", "backend-key",
		`{"type":"track","userId":"richard@piedpiper.com","event":"referral_converted","messageId":"app-conv-p88y0a","timestamp":"2026-03-05T12:00:00Z","properties":{"campaign_id":"ct8f71","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`)

	// Per person in the order the vectors list them.
	const richard, gavin = "/api/v1/customers/richard@piedpiper.com", "/api/v1/customers/gavin.belson@hooli.com"
	want := map[string][]cioReq{
		richard: {
			// T1
			{"PUT", richard, `{"email":"richard@piedpiper.com","first_name":"Richard","last_name":"Hendricks","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_status":"active","total_referrals":0,"referral_program_join_date":1770714000}`},
			{"POST", richard + "/events", `{"name":"referral_program_joined","id":"01KH3CETQV84G96YFJXMAPB47M","timestamp":1770714000,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"x9a7uu","referral_code":"x9a7uu","referral_link":"https://piedpiper.com?grsf=x9a7uu","referral_source":"DIRECT"}}`},
			// T2, requests 3 and 4 (the referrer)
			{"PUT", richard, `{"total_referrals":1,"last_referral_date":1772445600}`},
			{"POST", richard + "/events", `{"name":"referral_made","id":"01KJPZV2P86X0QGXHD8RMZZHDG","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com","referee_first_name":"Gavin","total_referrals":1}}`},
			// T3
			{"PUT", richard, `{"total_referrals":1}`},
			{"POST", richard + "/events", `{"name":"referral_reward_earned","id":"01KJPZV378JHYCRF9J98Q6J718","timestamp":1772445601,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","participant_reward_id":"prew_ccm2ue","campaign_reward_id":"crew_xlj123","reward_title":"Free month","reward_description":"Get a free month of Pied Piper Pro for every friend who signs up","reward_type":"SINGLE_SIDED","coupon_code":"FREEMONTH-X9A7UU","is_referrer":true,"referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`},
			// T7
			{"POST", richard + "/events", `{"name":"referral_converted","id":"01KJYXWYG0DAXW370XM65SSG5B","timestamp":1772712000,"data":{"campaign_id":"ct8f71","referee_participant_id":"p88y0a","referee_email":"gavin.belson@hooli.com"}}`},
		},
		gavin: {
			// T2, requests 1 and 2 (the new participant)
			{"PUT", gavin, `{"email":"gavin.belson@hooli.com","first_name":"Gavin","last_name":"Belson","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_status":"active","total_referrals":0,"referred_by":"richard@piedpiper.com","referral_program_join_date":1772445600}`},
			{"POST", gavin + "/events", `{"name":"referral_program_joined","id":"01KJPZV2P84E1MFT50YG79HQYE","timestamp":1772445600,"data":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","growsurf_participant_id":"p88y0a","referral_code":"p88y0a","referral_link":"https://piedpiper.com?grsf=p88y0a","referral_source":"PARTICIPANT","referred_by":"richard@piedpiper.com","referrer_participant_id":"x9a7uu"}}`},
		},
	}
	total := len(want[richard]) + len(want[gavin])
	if !waitFor(30*time.Second, func() bool { return len(fake.AllRequests()) >= total }) {
		for _, r := range fake.AllRequests() {
			t.Logf("got %d %s %s %s", r.Status, r.Method, r.Path, r.Body)
		}
		t.Fatalf("the fake got %d requests in 30s, want %d:\n%s", len(fake.AllRequests()), total, srv.logs.String())
	}
	// Nothing else may follow: give a stray request a moment to show.
	time.Sleep(300 * time.Millisecond)

	all := fake.AllRequests()
	got := map[string][]ciotest.Request{}
	for _, r := range all {
		got[cioOwner(r.Path)] = append(got[cioOwner(r.Path)], r)
		if r.Status != http.StatusOK || r.Duplicate {
			t.Errorf("%s %s answered %d (duplicate %v), want a first-time 200: %s", r.Method, r.Path, r.Status, r.Duplicate, r.Body)
		}
		if a := r.Header.Get("Authorization"); a != cioAuth {
			t.Errorf("%s %s: Authorization %q, want %q", r.Method, r.Path, a, cioAuth)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: Content-Type %q, want application/json", r.Method, r.Path, ct)
		}
	}
	if len(all) != total || len(got) != len(want) {
		for _, r := range all {
			t.Logf("got %s %s %s", r.Method, r.Path, r.Body)
		}
		t.Fatalf("%d requests for %d people, want exactly %d for %d", len(all), len(got), total, len(want))
	}
	for person, reqs := range want {
		if len(got[person]) != len(reqs) {
			t.Errorf("%s: %d requests, want %d", person, len(got[person]), len(reqs))
			continue
		}
		for i, w := range reqs {
			r := got[person][i]
			if r.Method != w.method || r.Path != w.path {
				t.Errorf("%s request %d: %s %s, want %s %s", person, i+1, r.Method, r.Path, w.method, w.path)
				continue
			}
			if !sameJSONValue(t, r.Body, w.body) {
				t.Errorf("%s request %d (%s %s) body\n got %s\nwant %s", person, i+1, r.Method, r.Path, r.Body, w.body)
			}
		}
	}
}

// TestCustomerIOFailuresEndToEnd is vector T8 through a running server
// whose log is an external NATS server, so that the dead-letter records
// can be read as they are stored:
//   - 429 (Retry-After: 1) once, then 200: exactly one retry, not before
//     the Retry-After; the message is delivered;
//   - 400 with Customer.io's error body: no retry, dead-lettered with the
//     error, eventrouter_dispatch_dead_lettered_total counts it;
//   - 201: success (go-customerio alone would call it an error), no retry;
//   - an attribute value of 1,001 bytes: dead-lettered before sending, no
//     request.
func TestCustomerIOFailuresEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := startNATS(t)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	dlq, err := nc.SubscribeSync("EVENTROUTER.dlq.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	fake := ciotest.New(t)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {url: %q, partitions: 4}
sources:
  app: {type: segment, write_keys: ["t8-key"]}
destinations:
`, addr, t.TempDir(), ns.ClientURL()) + cioDest(fake, "")
	srv := startServer(t, cfg, addr)

	requestsOf := func(id string) []ciotest.Request {
		var out []ciotest.Request
		for _, r := range fake.AllRequests() {
			if r.MessageID == id {
				out = append(out, r)
			}
		}
		return out
	}
	statuses := func(rs []ciotest.Request) []int {
		out := make([]int, len(rs))
		for i, r := range rs {
			out[i] = r.Status
		}
		return out
	}
	nextDeadLetter := func(id string) *nats.Msg {
		t.Helper()
		m, err := dlq.NextMsg(15 * time.Second)
		if err != nil {
			t.Fatalf("no dead letter for %s: %v\n%s", id, err, srv.logs.String())
		}
		if m.Subject != "EVENTROUTER.dlq.cio" {
			t.Errorf("dead letter on %s, want EVENTROUTER.dlq.cio", m.Subject)
		}
		var body struct {
			MessageID string `json:"messageId"`
		}
		if err := json.Unmarshal(m.Data, &body); err != nil || body.MessageID != id {
			t.Errorf("dead letter holds %s (%v), want message %s", m.Data, err, id)
		}
		return m
	}

	t.Run("429 once then 200: one retry after Retry-After", func(t *testing.T) {
		fake.SetRetryAfter("1")
		fake.FailNext(http.StatusTooManyRequests, 1)
		postSegment(t, srv, "/v1/track", "t8-key", `{"messageId":"t8-429","userId":"retry@example.com","event":"Retried","properties":{"n":1}}`)
		if !waitFor(15*time.Second, func() bool { return len(requestsOf("t8-429")) >= 2 }) {
			t.Fatalf("requests for t8-429: %v, want a 429 then a 200", statuses(requestsOf("t8-429")))
		}
		waitMetric(t, srv, `eventrouter_dispatch_delivered_total{destination="cio"} 1`, 10*time.Second)
		rs := requestsOf("t8-429")
		if !reflect.DeepEqual(statuses(rs), []int{429, 200}) {
			t.Fatalf("answers for t8-429: %v, want [429 200]", statuses(rs))
		}
		if gap := rs[1].Time.Sub(rs[0].Time); gap < 900*time.Millisecond {
			t.Errorf("retried %v after the 429, before its Retry-After: 1", gap)
		}
		if ev := fake.Events("retry@example.com"); len(ev) != 1 || ev[0].Name != "Retried" {
			t.Errorf("events stored for retry@example.com: %+v, want one Retried", ev)
		}
		waitMetric(t, srv, `eventrouter_dispatch_retried_total{destination="cio"} 1`, 5*time.Second)
	})

	t.Run("400 is dead-lettered without retry", func(t *testing.T) {
		fake.FailNext(http.StatusBadRequest, 1)
		postSegment(t, srv, "/v1/track", "t8-key", `{"messageId":"t8-400","userId":"refused@example.com","event":"Refused"}`)
		waitMetric(t, srv, `eventrouter_dispatch_dead_lettered_total{destination="cio"} 1`, 15*time.Second)
		m := nextDeadLetter("t8-400")
		// The fake answers a scripted 400 with Customer.io's error body,
		// {"meta":{"errors":["scripted failure 400"]}}: the dead letter
		// quotes it.
		if e := m.Header.Get("Er-Last-Error"); !strings.Contains(e, "scripted failure 400") || !strings.Contains(e, "400") {
			t.Errorf("dead letter's error %q does not quote Customer.io's 400 body", e)
		}
		if a := m.Header.Get("Er-Attempts"); a != "1" {
			t.Errorf("dead letter after %s attempts, want 1", a)
		}
		if rs := requestsOf("t8-400"); !reflect.DeepEqual(statuses(rs), []int{400}) {
			t.Errorf("answers for t8-400: %v, want one 400 and no retry", statuses(rs))
		}
	})

	t.Run("201 is success", func(t *testing.T) {
		fake.FailNext(http.StatusCreated, 1)
		postSegment(t, srv, "/v1/track", "t8-key", `{"messageId":"t8-201","userId":"created@example.com","event":"Created"}`)
		waitMetric(t, srv, `eventrouter_dispatch_delivered_total{destination="cio"} 2`, 15*time.Second)
		if rs := requestsOf("t8-201"); !reflect.DeepEqual(statuses(rs), []int{201}) {
			t.Errorf("answers for t8-201: %v, want one 201 and no retry", statuses(rs))
		}
		if ev := fake.Events("created@example.com"); len(ev) != 1 {
			t.Errorf("events stored for created@example.com: %+v, want one", ev)
		}
	})

	t.Run("1001-byte attribute is dead-lettered unsent", func(t *testing.T) {
		postSegment(t, srv, "/v1/identify", "t8-key", fmt.Sprintf(`{"messageId":"t8-big","userId":"big@example.com","traits":{"email":"big@example.com","bio":%q}}`, strings.Repeat("x", 1001)))
		waitMetric(t, srv, `eventrouter_dispatch_dead_lettered_total{destination="cio"} 2`, 15*time.Second)
		m := nextDeadLetter("t8-big")
		if e := m.Header.Get("Er-Last-Error"); !strings.Contains(e, "traits.bio") || !strings.Contains(e, "1000") {
			t.Errorf("dead letter's error %q does not name traits.bio and the 1000-byte limit", e)
		}
		if rs := requestsOf("t8-big"); len(rs) != 0 {
			t.Errorf("%d requests sent for t8-big, want none", len(rs))
		}
	})

	// Nothing was retried late: still one retry, two dead letters.
	m := metricsOf(t, srv)
	for _, want := range []string{
		`eventrouter_dispatch_retried_total{destination="cio"} 1`,
		`eventrouter_dispatch_dead_lettered_total{destination="cio"} 2`,
		`eventrouter_dispatch_delivered_total{destination="cio"} 2`,
	} {
		if !strings.Contains(m+"\n", want+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", want, grepLines(m, `destination="cio"`))
		}
	}
	if n := len(fake.AllRequests()); n != 4 {
		t.Errorf("the fake got %d requests in all, want 4 (429, 200, 400, 201)", n)
	}
}

// TestCustomerIORateLimitStorm sends 200 track events of 20 users to a
// server with a Customer.io destination limited to 20 messages/s and a
// webhook destination without limit, once with the fake accepting more
// than the destination may send and once with the fake answering 429
// (Retry-After: 1) above 15 requests/s. Every event reaches the fake once,
// each user's in order; the requests respect the limit; the webhook gets
// all 200 long before Customer.io has them.
//
// The bound: dispatch paces with rate.Limiter(rate 20/s, burst
// max(batch_size, ceil(rate)) = max(20, 20) = 20), charged before each Send
// for every message of it, and one message is one request. So any interval
// of length L holds at most burst + rate·L requests: at most 20 + 20 = 40
// in any one second, and N requests take at least (N − burst)/rate seconds
// from the first to the last. The assertions allow 2 requests more per
// second (and 250ms on the span) for the time between taking the tokens and
// the request reaching the fake.
func TestCustomerIORateLimitStorm(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const (
		users, perUser = 20, 10
		events         = users * perUser
		rateLimit      = 20.0
		batchSize      = 20
		burst          = batchSize // max(batch_size, ceil(rate_limit))
		perSecondBound = burst + int(rateLimit) + 2
	)
	tests := []struct {
		name     string
		fakeRate float64 // requests/s the fake admits, 0 for no limit
		storm    bool    // the fake's limit is below the destination's
	}{
		// 45 > burst + rate + slack: a 429 here means eventrouter sent
		// more than its limit allows.
		{name: "fake limit above the destination's", fakeRate: 45},
		{name: "429 storm with Retry-After", fakeRate: 15, storm: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fake := ciotest.New(t, ciotest.WithRateLimit(tt.fakeRate))
			fake.SetRetryAfter("1")
			snk := newSink(t)
			addr := freeAddr(t)
			cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: error}
sources:
  app: {type: segment, write_keys: ["storm-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 100, batch_timeout: 50ms}
`, addr, t.TempDir(), snk.URL+"/in") + cioDest(fake, fmt.Sprintf(", rate_limit: %v, batch_size: %d, max_attempts: 1000", rateLimit, batchSize))
			srv := startServer(t, cfg, addr)

			// One batch, each user's events in sequence order.
			var b strings.Builder
			b.WriteString(`{"batch":[`)
			ids := map[string]bool{}
			for k := range perUser {
				for u := range users {
					id := fmt.Sprintf("storm-u%02d-%02d", u, k)
					ids[id] = true
					if len(ids) > 1 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"type":"track","messageId":%q,"userId":"u%02d@example.com","event":"Step","properties":{"seq":%d}}`, id, u, k)
				}
			}
			b.WriteString(`]}`)
			start := time.Now()
			postSegment(t, srv, "/v1/batch", "storm-key", b.String())

			stored := func() int {
				n := 0
				for u := range users {
					n += len(fake.Events(fmt.Sprintf("u%02d@example.com", u)))
				}
				return n
			}
			var hookDone, cioDone time.Duration
			cioAtHookDone := 0
			ok := waitFor(45*time.Second, func() bool {
				if hookDone == 0 && len(snk.messages()) >= events {
					hookDone, cioAtHookDone = time.Since(start), stored()
				}
				if cioDone == 0 && stored() >= events {
					cioDone = time.Since(start)
				}
				return hookDone != 0 && cioDone != 0
			})
			if !ok {
				t.Fatalf("after 45s the webhook has %d of %d, Customer.io %d of %d", len(snk.messages()), events, stored(), events)
			}
			snk.waitForIDs(t, ids, time.Second)
			time.Sleep(200 * time.Millisecond) // let a stray request show

			// Nothing lost, nothing stored twice, each user's in order.
			accepted := map[string]int{}
			duplicates, throttled := 0, 0
			for _, r := range fake.AllRequests() {
				switch {
				case r.Status == http.StatusTooManyRequests:
					throttled++
				case r.Status != http.StatusOK:
					t.Errorf("request for %s answered %d: %s", r.MessageID, r.Status, r.Body)
				case r.Duplicate:
					duplicates++
				default:
					accepted[r.MessageID]++
				}
			}
			for id := range ids {
				if accepted[id] != 1 {
					t.Errorf("%s accepted %d times, want once", id, accepted[id])
				}
			}
			if len(accepted) != events {
				t.Errorf("%d messages accepted, want %d", len(accepted), events)
			}
			for u := range users {
				user := fmt.Sprintf("u%02d@example.com", u)
				var seqs []string
				for _, e := range fake.Events(user) {
					seqs = append(seqs, fmt.Sprint(e.Data["seq"]))
				}
				if want := "0 1 2 3 4 5 6 7 8 9"; strings.Join(seqs, " ") != want {
					t.Errorf("%s: events in order %v, want %s", user, seqs, want)
				}
			}

			// The rate limit, seen at the fake.
			perSecond := fake.RequestsPerSecond()
			all := fake.AllRequests()
			span := all[len(all)-1].Time.Sub(all[0].Time)
			minSpan := time.Duration(float64(len(all)-burst)/rateLimit*float64(time.Second)) - 250*time.Millisecond
			t.Logf("requests per second %v (%d in all: %d throttled, %d duplicates) over %v; webhook had all %d after %v (Customer.io %d then), Customer.io after %v",
				perSecond, len(all), throttled, duplicates, span.Round(time.Millisecond), events, hookDone.Round(time.Millisecond), cioAtHookDone, cioDone.Round(time.Millisecond))
			for i, n := range perSecond {
				if n > perSecondBound {
					t.Errorf("second %d: %d requests, over the bound %d (burst %d + rate %v/s + 2)", i, n, perSecondBound, burst, rateLimit)
				}
			}
			if span < minSpan {
				t.Errorf("%d requests in %v, faster than rate %v/s with burst %d allows (at least %v)", len(all), span, rateLimit, burst, minSpan)
			}
			if tt.storm && throttled == 0 {
				t.Errorf("no 429 from a fake limited to %v/s: the storm did not happen", tt.fakeRate)
			}
			if !tt.storm && throttled != 0 {
				t.Errorf("%d answers 429 from a fake admitting %v/s: eventrouter exceeded its limit", throttled, tt.fakeRate)
			}

			// The other destination was not held back.
			if hookDone > 5*time.Second {
				t.Errorf("the webhook destination needed %v for %d events, held back by Customer.io", hookDone, events)
			}
			if lead := cioDone - hookDone; lead < 3*time.Second {
				t.Errorf("the webhook had all events only %v before Customer.io (at %v vs %v)", lead, hookDone, cioDone)
			}
			if minCIO := time.Duration(math.Floor(float64(events-burst)/rateLimit)) * time.Second; cioDone < minCIO-250*time.Millisecond {
				t.Errorf("Customer.io had all %d events after %v, sooner than its limit allows (%v)", events, cioDone, minCIO)
			}
		})
	}
}
