package ciotest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// do sends one request with the server's credentials (URL-safe base64 like
// go-customerio, or standard when std is set).
func do(t *testing.T, s *Server, method, path, body string, auth string) (*http.Response, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "-" {
		if auth == "" {
			auth = "Basic " + base64.URLEncoding.EncodeToString([]byte(s.SiteID()+":"+s.APIKey()))
		}
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestRoutesAndValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name       string
		method     string
		path, body string
		auth       string
		wantStatus int
		wantBody   string
	}{
		{name: "identify", method: "PUT", path: "/api/v1/customers/u1", body: `{"plan":"pro"}`, wantStatus: 200, wantBody: `{}`},
		{name: "event", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"e","data":{"a":1},"timestamp":1700000000,"id":"01H","type":"page"}`, wantStatus: 200},
		{name: "anonymous event", method: "POST", path: "/api/v1/events", body: `{"name":"e","anonymous_id":"a1","data":null}`, wantStatus: 200},
		{name: "merge", method: "POST", path: "/api/v1/merge_customers", body: `{"primary":{"id":"a"},"secondary":{"email":"b@x.com"}}`, wantStatus: 200},
		{name: "region", method: "GET", path: "/api/v1/accounts/region", wantStatus: 200, wantBody: `"region":"us"`},
		{name: "standard base64 auth", method: "PUT", path: "/api/v1/customers/u1", body: `{}`, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("test-site:test-key")), wantStatus: 200},
		{name: "no auth", method: "PUT", path: "/api/v1/customers/u1", body: `{}`, auth: "-", wantStatus: 401},
		{name: "wrong key", method: "PUT", path: "/api/v1/customers/u1", body: `{}`, auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("test-site:nope")), wantStatus: 401},
		{name: "unknown path", method: "GET", path: "/api/v2/entity", wantStatus: 404},
		{name: "unknown sub-resource", method: "POST", path: "/api/v1/customers/u1/stuff", body: `{}`, wantStatus: 404},
		{name: "wrong method", method: "POST", path: "/api/v1/customers/u1", body: `{}`, wantStatus: 405},
		{name: "not an object", method: "PUT", path: "/api/v1/customers/u1", body: `[1]`, wantStatus: 400, wantBody: `{"meta":{"errors":["body is not a JSON object`},
		{name: "id too long", method: "PUT", path: "/api/v1/customers/" + long(151), body: `{}`, wantStatus: 400, wantBody: "limit of 150 bytes"},
		{name: "attribute value too long", method: "PUT", path: "/api/v1/customers/u1", body: `{"bio":"` + long(1001) + `"}`, wantStatus: 400, wantBody: "attribute value too long: bio is 1001 bytes"},
		{name: "attribute name too long", method: "PUT", path: "/api/v1/customers/u1", body: `{"` + long(151) + `":1}`, wantStatus: 400, wantBody: "limit of 150 bytes"},
		{name: "created_at not seconds", method: "PUT", path: "/api/v1/customers/u1", body: `{"created_at":"2024-01-01"}`, wantStatus: 400, wantBody: "created_at must be a unix timestamp"},
		{name: "event without name", method: "POST", path: "/api/v1/customers/u1/events", body: `{"data":{}}`, wantStatus: 400, wantBody: "name is required"},
		{name: "event name too long", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"` + long(101) + `"}`, wantStatus: 400, wantBody: "limit of 100 bytes"},
		{name: "event data too large", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"e","data":{"b":"` + long(100_000) + `"}}`, wantStatus: 400, wantBody: "limit of 100000 bytes"},
		{name: "event timestamp in ms", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"e","timestamp":1700000000000}`, wantStatus: 400, wantBody: "seconds"},
		{name: "event unknown field", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"e","properties":{}}`, wantStatus: 400, wantBody: `unknown field \"properties\"`},
		{name: "anonymous_id on a person's event", method: "POST", path: "/api/v1/customers/u1/events", body: `{"name":"e","anonymous_id":"a"}`, wantStatus: 400},
		{name: "event bad type", method: "POST", path: "/api/v1/events", body: `{"name":"e","type":"view"}`, wantStatus: 400},
		{name: "merge with two keys", method: "POST", path: "/api/v1/merge_customers", body: `{"primary":{"id":"a","email":"a@x.com"},"secondary":{"id":"b"}}`, wantStatus: 400, wantBody: `{"meta":{"error":"primary must be`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t)
			resp, body := do(t, s, tt.method, tt.path, tt.body, tt.auth)
			if resp.StatusCode != tt.wantStatus || !strings.Contains(body, tt.wantBody) {
				t.Fatalf("%d %s, want %d containing %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			all := s.AllRequests()
			if len(all) != 1 || all[0].Status != tt.wantStatus || all[0].Method != tt.method {
				t.Fatalf("recorded %+v", all)
			}
			if accepted := len(s.Requests()); (accepted == 1) != (tt.wantStatus == 200) {
				t.Fatalf("%d accepted requests", accepted)
			}
		})
	}
}

func TestPeopleEventsAndDedupe(t *testing.T) {
	s := New(t)
	steps := []struct{ method, path, body string }{
		{"POST", "/api/v1/events", `{"name":"viewed","anonymous_id":"anon","id":"E0"}`},
		{"PUT", "/api/v1/customers/u1", `{"email":"u1@x.com","plan":"pro","drop":"x"}`},
		{"PUT", "/api/v1/customers/u1", `{"plan":"max","drop":"","anonymous_id":"anon"}`},
		{"POST", "/api/v1/customers/u1/events", `{"name":"a","id":"E1","timestamp":1700000000,"data":{"k":1}}`},
		{"POST", "/api/v1/customers/U1@X.COM/events", `{"name":"b","id":"E1"}`}, // same id: ignored
		{"POST", "/api/v1/customers/u2/events", `{"name":"c","id":"E2"}`},       // creates u2
		{"PUT", "/api/v1/customers/u3", `{"_update":true,"a":1}`},               // does not create
	}
	for _, st := range steps {
		if resp, body := do(t, s, st.method, st.path, st.body, ""); resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", st.method, st.path, resp.StatusCode, body)
		}
	}
	people := s.People()
	if len(people) != 2 || people["u1"]["plan"] != "max" || people["u1"]["drop"] != nil || people["u1"]["email"] != "u1@x.com" {
		t.Fatalf("people %v", people)
	}
	ev := s.Events("u1@x.com")
	if len(ev) != 2 || ev[0].Name != "viewed" || ev[1].Name != "a" || ev[1].Timestamp != 1700000000 || ev[1].Data["k"] != json.Number("1") {
		t.Fatalf("events %+v", ev)
	}
	if len(s.AnonymousEvents("")) != 0 {
		t.Fatal("anonymous event not attached by anonymous_id")
	}
	reqs := s.Requests()
	if len(reqs) != len(steps) || !reqs[4].Duplicate || reqs[3].Duplicate {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestMerge(t *testing.T) {
	s := New(t)
	do(t, s, "PUT", "/api/v1/customers/new", `{"plan":"pro"}`, "")
	do(t, s, "PUT", "/api/v1/customers/old", `{"plan":"free","city":"Paris"}`, "")
	do(t, s, "POST", "/api/v1/customers/old/events", `{"name":"e"}`, "")
	// Primary missing: 200, nothing happens (Customer.io's documented behaviour).
	do(t, s, "POST", "/api/v1/merge_customers", `{"primary":{"id":"nobody"},"secondary":{"id":"old"}}`, "")
	if _, ok := s.Person("old"); !ok {
		t.Fatal("merge into a missing primary deleted the secondary")
	}
	do(t, s, "POST", "/api/v1/merge_customers", `{"primary":{"id":"new"},"secondary":{"id":"old"}}`, "")
	if _, ok := s.Person("old"); ok {
		t.Fatal("secondary still exists")
	}
	a, _ := s.Person("new")
	if a["plan"] != "pro" || a["city"] != "Paris" || len(s.Events("new")) != 1 {
		t.Fatalf("primary %v %v", a, s.Events("new"))
	}
	m := s.Merges()
	if len(m) != 2 || m[0].Applied || !m[1].Applied || m[1].Primary["id"] != "new" {
		t.Fatalf("merges %+v", m)
	}
	if resp, _ := do(t, s, "POST", "/api/v1/merge_customers", `{"primary":{"id":"new"},"secondary":{"id":"new"}}`, ""); resp.StatusCode != 400 {
		t.Fatalf("self merge answered %d", resp.StatusCode)
	}
}

func TestScriptedFailures(t *testing.T) {
	s := New(t)
	s.FailNext(429, 1)
	s.FailNext(500, 1)
	s.FailNext(201, 1)
	resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, "")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("first: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, body := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, ""); resp.StatusCode != 500 || !strings.Contains(body, "internal server error") {
		t.Fatalf("second: %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{"a":1}`, ""); resp.StatusCode != 201 {
		t.Fatalf("third: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, ""); resp.StatusCode != 200 {
		t.Fatalf("fourth: %d", resp.StatusCode)
	}
	if a, _ := s.Person("u1"); a["a"] != json.Number("1") {
		t.Fatalf("201 request not applied: %v", a)
	}
	if n := len(s.Requests()); n != 2 {
		t.Fatalf("%d accepted, want 2", n)
	}
	s.SetRetryAfter("")
	s.FailNext(503, 1)
	if resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, ""); resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "" {
		t.Fatalf("503 without Retry-After: %d %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func TestRateLimit(t *testing.T) {
	s := New(t)
	s.SetRateLimit(5)
	s.SetRetryAfter("2")
	var ok, limited int
	for range 8 {
		resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, "")
		switch resp.StatusCode {
		case 200:
			ok++
		case 429:
			limited++
			if resp.Header.Get("Retry-After") != "2" {
				t.Fatalf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}
	}
	// 8 requests in well under a second on loopback.
	if ok != 5 || limited != 3 {
		t.Fatalf("%d ok, %d limited, want 5 and 3", ok, limited)
	}
	if rps := s.RequestsPerSecond(); len(rps) == 0 || sum(rps) != 8 {
		t.Fatalf("RequestsPerSecond %v", rps)
	}
	time.Sleep(1100 * time.Millisecond)
	if resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, ""); resp.StatusCode != 200 {
		t.Fatalf("after a second: %d", resp.StatusCode)
	}
	s.SetRateLimit(0)
	for range 10 {
		if resp, _ := do(t, s, "PUT", "/api/v1/customers/u1", `{}`, ""); resp.StatusCode != 200 {
			t.Fatalf("unlimited: %d", resp.StatusCode)
		}
	}
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

func TestRegionAndCredentialsOptions(t *testing.T) {
	s := New(t, WithRegion("eu"), WithCredentials("site", "key"))
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("site:key"))
	resp, body := do(t, s, "GET", "/api/v1/accounts/region", "", auth)
	if resp.StatusCode != 200 || !strings.Contains(body, `"region":"eu"`) || !strings.Contains(body, "track-eu.customer.io") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	s.Close()
	s.Close() // idempotent
}

func TestPathDecoding(t *testing.T) {
	s := New(t)
	// go-customerio escapes with url.PathEscape: '/' becomes %2F, '@' and
	// '+' stay as they are.
	if resp, body := do(t, s, "PUT", "/api/v1/customers/a%2Fb", `{"x":1}`, ""); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, body := do(t, s, "PUT", "/api/v1/customers/g+test@hooli.com", `{"x":1}`, ""); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if _, ok := s.Person("a/b"); !ok {
		t.Fatalf("people %v", s.People())
	}
	if _, ok := s.Person("G+TEST@hooli.com"); !ok {
		t.Fatalf("email lookup is not case-insensitive: %v", s.People())
	}
}
