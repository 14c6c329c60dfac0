package ciotest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The credentials a Server accepts unless [WithCredentials] says otherwise
// (those of the GrowSurf vectors).
const (
	DefaultSiteID = "test-site"
	DefaultAPIKey = "test-key"
)

// Customer.io's data limits, enforced with 400.
const (
	maxIDBytes        = 150
	maxAttrNameBytes  = 150
	maxAttrValueBytes = 1000
	maxAttributes     = 300
	maxEventNameBytes = 100
	maxEventDataBytes = 100_000
	// maxSeconds is the largest event timestamp taken as unix seconds:
	// larger values are milliseconds sent by mistake.
	maxSeconds = 100_000_000_000
	maxBody    = 1 << 20
)

// Request is one request the server received.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the decoded path, e.g. /api/v1/customers/a@b.com.
	Path string
	// Header holds the request's headers.
	Header http.Header
	// Body is the raw request body.
	Body []byte
	// Time is when the request arrived.
	Time time.Time
	// Status is the status the server answered.
	Status int
	// MessageID is the value of the X-Eventrouter-Message-Id header, the
	// messageId of the message the request delivers ("" when absent).
	MessageID string
	// Duplicate is true for an event whose id the server had already
	// accepted: answered 200 and otherwise ignored.
	Duplicate bool
}

// Event is one event the server accepted.
type Event struct {
	// ID is the event's id ("" when the request had none).
	ID string
	// Name is the event's name.
	Name string
	// Type is "event", "page" or "screen" ("" when the request had none).
	Type string
	// Data is the event's data (nil when absent or null).
	Data map[string]any
	// Timestamp is the event's timestamp in unix seconds (0 when absent).
	Timestamp int64
	// AnonymousID is the anonymous_id of an anonymous event.
	AnonymousID string
	// Received is when the server accepted the event.
	Received time.Time
}

// Merge is one accepted merge_customers request.
type Merge struct {
	// Primary and Secondary are the identifiers of the request, e.g.
	// {"id":"u2"}.
	Primary, Secondary map[string]string
	// Applied is false when the primary or the secondary person did not
	// exist, in which case Customer.io does nothing.
	Applied bool
}

// Option configures a Server.
type Option func(*Server)

// WithCredentials sets the site id and API key the server accepts.
func WithCredentials(siteID, apiKey string) Option {
	return func(s *Server) { s.siteID, s.apiKey = siteID, apiKey }
}

// WithRegion sets the region GET /api/v1/accounts/region answers, "us"
// (default) or "eu".
func WithRegion(region string) Option {
	return func(s *Server) { s.region = region }
}

// WithRateLimit makes the server answer 429 above perSecond requests in
// any second (see [Server.SetRateLimit]).
func WithRateLimit(perSecond float64) Option {
	return func(s *Server) { s.rate = perSecond }
}

// Server is a fake Customer.io Track API. Its methods are safe for
// concurrent use.
type Server struct {
	srv       *httptest.Server
	closeOnce sync.Once
	siteID    string
	apiKey    string
	region    string

	mu         sync.Mutex
	rate       float64
	retryAfter string
	admitted   []time.Time // times of requests not throttled, last second
	script     []int       // statuses of the next answers
	people     []*person
	nextCioID  int
	anon       []Event
	seen       map[string]bool // event ids
	requests   []Request
	merges     []Merge
}

type person struct {
	cioID  string
	id     string
	email  string
	attrs  map[string]any
	events []Event
}

// New starts a server on 127.0.0.1 and closes it when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	s := &Server{
		siteID:     DefaultSiteID,
		apiKey:     DefaultAPIKey,
		region:     "us",
		retryAfter: "1",
		seen:       map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// URL returns the server's base URL, to use as the destination's url.
func (s *Server) URL() string { return s.srv.URL }

// SiteID returns the site id the server accepts.
func (s *Server) SiteID() string { return s.siteID }

// APIKey returns the API key the server accepts.
func (s *Server) APIKey() string { return s.apiKey }

// Close stops the server; later requests fail to connect. It may be called
// more than once.
func (s *Server) Close() { s.closeOnce.Do(s.srv.Close) }

// FailNext makes the next n requests be answered with status: 429 and 503
// with the Retry-After header (see [Server.SetRetryAfter]), 5xx with an
// error body, 4xx with Customer.io's error body. A 2xx status is a
// successful request answered with that status (Customer.io's documented
// success is 200). Calls queue up.
func (s *Server) FailNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.script = append(s.script, status)
	}
}

// SetRateLimit makes the server answer 429 (with Retry-After) to a request
// arriving when perSecond requests were already let through in the last
// second; 0 or less turns the limit off.
func (s *Server) SetRateLimit(perSecond float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rate = perSecond
	s.admitted = nil
}

// SetRetryAfter sets the Retry-After header value of 429 and 503 answers
// (default "1"); "" sends none.
func (s *Server) SetRetryAfter(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.retryAfter = v
}

// Requests returns the requests the server accepted (answered 2xx), in
// arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// AllRequests returns every request the server received, with the status
// it answered, in arrival order.
func (s *Server) AllRequests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestsPerSecond returns how many requests arrived (whatever the
// answer) in each second since the first request: element i counts the
// requests of second i.
func (s *Server) RequestsPerSecond() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return nil
	}
	start := s.requests[0].Time
	var out []int
	for _, r := range s.requests {
		i := int(r.Time.Sub(start) / time.Second)
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	return out
}

// People returns every person's attributes, keyed by the person's id, or
// by email for a person without an id.
func (s *Server) People() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.people))
	for _, p := range s.people {
		k := p.id
		if k == "" {
			k = p.email
		}
		out[k] = maps.Clone(p.attrs)
	}
	return out
}

// Person returns the attributes of the person an identifier (id, email or
// cio_<id>) addresses, as Customer.io resolves a path identifier.
func (s *Server) Person(identifier string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(identifier)
	if p == nil {
		return nil, false
	}
	return maps.Clone(p.attrs), true
}

// Events returns the events of the person an identifier addresses, in the
// order they were accepted (merged events follow the primary's own).
func (s *Server) Events(identifier string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.find(identifier)
	if p == nil {
		return nil
	}
	return append([]Event(nil), p.events...)
}

// AnonymousEvents returns the anonymous events with anonymous_id
// anonymousID not yet attached to a person (all of them for "").
func (s *Server) AnonymousEvents(anonymousID string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.anon {
		if anonymousID == "" || e.AnonymousID == anonymousID {
			out = append(out, e)
		}
	}
	return out
}

// Merges returns the merge requests accepted, in order.
func (s *Server) Merges() []Merge {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Merge(nil), s.merges...)
}

// answer is a handler's result.
type answer struct {
	status int
	body   any
	header http.Header
	dup    bool
}

func ok() answer { return answer{status: http.StatusOK, body: map[string]any{}} }

func badRequest(format string, args ...any) answer {
	return answer{status: http.StatusBadRequest, body: map[string]any{"meta": map[string]any{"errors": []string{fmt.Sprintf(format, args...)}}}}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	rec := Request{
		Method:    r.Method,
		Path:      r.URL.Path,
		Header:    r.Header.Clone(),
		Body:      body,
		Time:      now,
		MessageID: r.Header.Get("X-Eventrouter-Message-Id"),
	}
	s.mu.Lock()
	var a answer
	switch {
	case err != nil:
		a = badRequest("reading body: %v", err)
	case len(body) > maxBody:
		a = answer{status: http.StatusRequestEntityTooLarge, body: map[string]any{"meta": map[string]any{"errors": []string{"request body too large"}}}}
	default:
		a = s.handle(r, body, now)
	}
	rec.Status, rec.Duplicate = a.status, a.dup
	s.requests = append(s.requests, rec)
	s.mu.Unlock()

	for k, v := range a.header {
		w.Header()[k] = v
	}
	if a.body != nil {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	if a.body != nil {
		_ = json.NewEncoder(w).Encode(a.body)
	}
}

// handle answers one request; s.mu is held.
func (s *Server) handle(r *http.Request, body []byte, now time.Time) answer {
	scripted := 0
	if len(s.script) > 0 {
		scripted, s.script = s.script[0], s.script[1:]
		if scripted < 200 || scripted >= 300 {
			return s.failure(scripted)
		}
	}
	if s.rate > 0 {
		cut := now.Add(-time.Second)
		i := 0
		for i < len(s.admitted) && !s.admitted[i].After(cut) {
			i++
		}
		s.admitted = s.admitted[i:]
		if float64(len(s.admitted)) >= s.rate {
			return s.failure(http.StatusTooManyRequests)
		}
		s.admitted = append(s.admitted, now)
	}
	if !s.authorised(r.Header.Get("Authorization")) {
		return answer{status: http.StatusUnauthorized, body: map[string]any{"meta": map[string]any{"error": "Unauthorized request"}}}
	}
	a := s.route(r, body, now)
	if scripted != 0 && a.status == http.StatusOK {
		a.status = scripted
	}
	return a
}

func (s *Server) failure(status int) answer {
	a := answer{status: status, header: http.Header{}}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && s.retryAfter != "" {
		a.header.Set("Retry-After", s.retryAfter)
	}
	switch {
	case status == http.StatusTooManyRequests:
		a.body = map[string]any{"meta": map[string]any{"error": "rate limit exceeded"}}
	case status >= 500:
		a.body = map[string]any{"meta": map[string]any{"error": "internal server error"}}
	default:
		a.body = map[string]any{"meta": map[string]any{"errors": []string{fmt.Sprintf("scripted failure %d", status)}}}
	}
	return a
}

// authorised checks Basic site:key, in standard or URL-safe base64
// (go-customerio uses the URL-safe alphabet).
func (s *Server) authorised(h string) bool {
	enc, ok := strings.CutPrefix(h, "Basic ")
	if !ok {
		return false
	}
	want := s.siteID + ":" + s.apiKey
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		if b, err := e.DecodeString(strings.TrimSpace(enc)); err == nil && string(b) == want {
			return true
		}
	}
	return false
}

func (s *Server) route(r *http.Request, body []byte, now time.Time) answer {
	segs := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segs) < 3 || segs[0] != "api" || segs[1] != "v1" {
		return answer{status: http.StatusNotFound, body: map[string]any{"meta": map[string]any{"error": "not found"}}}
	}
	segs = segs[2:]
	method := func(want string) *answer {
		if r.Method != want {
			return &answer{status: http.StatusMethodNotAllowed, header: http.Header{"Allow": {want}}}
		}
		if want != http.MethodGet && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			a := badRequest("Content-Type must be application/json")
			return &a
		}
		return nil
	}
	switch {
	case len(segs) == 2 && segs[0] == "accounts" && segs[1] == "region":
		if a := method(http.MethodGet); a != nil {
			return *a
		}
		url := "https://track.customer.io"
		if s.region == "eu" {
			url = "https://track-eu.customer.io"
		}
		return answer{status: http.StatusOK, body: map[string]any{"url": url, "region": s.region, "environment_id": 1}}
	case len(segs) == 1 && segs[0] == "events":
		if a := method(http.MethodPost); a != nil {
			return *a
		}
		return s.event(nil, body, true, now)
	case len(segs) == 1 && segs[0] == "merge_customers":
		if a := method(http.MethodPost); a != nil {
			return *a
		}
		return s.merge(body)
	case (len(segs) == 2 || len(segs) == 3) && segs[0] == "customers":
		id, err := unescape(segs[1])
		if err != nil || id == "" {
			return badRequest("invalid customer identifier in path")
		}
		if len(id) > maxIDBytes {
			return badRequest("identifier is %d bytes, longer than the limit of %d bytes", len(id), maxIDBytes)
		}
		if len(segs) == 2 {
			if a := method(http.MethodPut); a != nil {
				return *a
			}
			return s.identify(id, body)
		}
		if segs[2] != "events" {
			break
		}
		if a := method(http.MethodPost); a != nil {
			return *a
		}
		p := s.find(id)
		if p == nil {
			p = s.create(id)
		}
		return s.event(p, body, false, now)
	}
	return answer{status: http.StatusNotFound, body: map[string]any{"meta": map[string]any{"error": "not found"}}}
}

func unescape(seg string) (string, error) {
	// Path segments are percent-decoded; '+' is a literal plus.
	var b strings.Builder
	for i := 0; i < len(seg); i++ {
		if seg[i] == '%' {
			if i+2 >= len(seg) {
				return "", fmt.Errorf("bad escape")
			}
			v, err := strconv.ParseUint(seg[i+1:i+3], 16, 8)
			if err != nil {
				return "", err
			}
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(seg[i])
	}
	return b.String(), nil
}

func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("body is not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("data after the JSON object")
	}
	if m == nil {
		return nil, fmt.Errorf("body is not a JSON object")
	}
	return m, nil
}

// integer reads a JSON integer.
func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	return i, err == nil
}

func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// find resolves a path identifier; s.mu is held.
func (s *Server) find(identifier string) *person {
	for _, p := range s.people {
		switch {
		case strings.HasPrefix(identifier, "cio_"):
			if p.cioID == strings.TrimPrefix(identifier, "cio_") {
				return p
			}
		case isEmail(identifier):
			if p.email != "" && strings.EqualFold(p.email, identifier) {
				return p
			}
		default:
			if p.id == identifier {
				return p
			}
		}
	}
	return nil
}

func (s *Server) create(identifier string) *person {
	s.nextCioID++
	p := &person{cioID: fmt.Sprintf("%x", 0xc10000+s.nextCioID), attrs: map[string]any{}}
	if isEmail(identifier) {
		p.email = identifier
	} else {
		p.id = identifier
	}
	s.people = append(s.people, p)
	return p
}

// identify is PUT /api/v1/customers/{identifier}.
func (s *Server) identify(identifier string, body []byte) answer {
	attrs, err := decodeObject(body)
	if err != nil {
		return badRequest("%v", err)
	}
	if len(attrs) > maxAttributes {
		return badRequest("%d attributes in one request, more than the limit of %d", len(attrs), maxAttributes)
	}
	for k, v := range attrs {
		if len(k) > maxAttrNameBytes {
			return badRequest("attribute name %.40q is %d bytes, longer than the limit of %d bytes", k, len(k), maxAttrNameBytes)
		}
		n := 0
		if str, ok := v.(string); ok {
			n = len(str)
		} else {
			b, _ := json.Marshal(v)
			n = len(b)
		}
		if n > maxAttrValueBytes {
			return badRequest("attribute value too long: %s is %d bytes, longer than the limit of %d bytes", k, n, maxAttrValueBytes)
		}
		switch k {
		case "created_at", "_timestamp":
			if _, ok := integer(v); !ok {
				return badRequest("%s must be a unix timestamp in seconds (an integer)", k)
			}
		case "_update":
			if _, ok := v.(bool); !ok {
				return badRequest("_update must be a boolean")
			}
		case "id", "email", "anonymous_id":
			if _, ok := v.(string); !ok && v != nil {
				return badRequest("%s must be a string", k)
			}
		}
	}
	p := s.find(identifier)
	if p == nil {
		if upd, _ := attrs["_update"].(bool); upd {
			return ok() // _update: do not create
		}
		p = s.create(identifier)
	}
	unique := len(p.attrs)
	for k := range attrs {
		if _, had := p.attrs[k]; !had && !reserved(k) {
			unique++
		}
	}
	if unique > maxAttributes {
		return badRequest("the person would have %d attributes, more than the limit of %d", unique, maxAttributes)
	}
	for k, v := range attrs {
		if reserved(k) {
			continue
		}
		if v == nil || v == "" {
			delete(p.attrs, k) // an empty value removes the attribute
			continue
		}
		p.attrs[k] = v
		switch k {
		case "email":
			if p.email == "" {
				p.email = v.(string)
			}
		case "id":
			if p.id == "" {
				p.id = v.(string)
			}
		}
	}
	if anon, _ := attrs["anonymous_id"].(string); anon != "" {
		kept := s.anon[:0]
		for _, e := range s.anon {
			if e.AnonymousID == anon {
				p.events = append(p.events, e)
			} else {
				kept = append(kept, e)
			}
		}
		s.anon = kept
	}
	return ok()
}

func reserved(k string) bool { return k == "_update" || k == "_timestamp" }

var eventKeys = map[string]bool{"name": true, "data": true, "timestamp": true, "id": true, "type": true}

// event is POST /api/v1/customers/{id}/events (p set) or /api/v1/events.
func (s *Server) event(p *person, body []byte, anonymous bool, now time.Time) answer {
	m, err := decodeObject(body)
	if err != nil {
		return badRequest("%v", err)
	}
	for k := range m {
		if !eventKeys[k] && !(anonymous && k == "anonymous_id") {
			return badRequest("unknown field %q in event", k)
		}
	}
	e := Event{Received: now}
	name, isStr := m["name"].(string)
	switch {
	case !isStr || name == "":
		return badRequest("name is required")
	case len(name) > maxEventNameBytes:
		return badRequest("event name is %d bytes, longer than the limit of %d bytes", len(name), maxEventNameBytes)
	}
	e.Name = name
	if d, present := m["data"]; present && d != nil {
		obj, isObj := d.(map[string]any)
		if !isObj {
			return badRequest("data must be an object")
		}
		b, _ := json.Marshal(obj)
		if len(b) > maxEventDataBytes {
			return badRequest("event data is %d bytes, larger than the limit of %d bytes", len(b), maxEventDataBytes)
		}
		e.Data = obj
	}
	if v, present := m["timestamp"]; present {
		ts, isInt := integer(v)
		if !isInt || ts < 0 || ts >= maxSeconds {
			return badRequest("timestamp must be a unix timestamp in seconds")
		}
		e.Timestamp = ts
	}
	if v, present := m["type"]; present {
		t, _ := v.(string)
		switch t {
		case "event", "page", "screen":
			e.Type = t
		default:
			return badRequest("type must be event, page or screen")
		}
	}
	if v, present := m["id"]; present {
		id, isStr := v.(string)
		if !isStr || id == "" {
			return badRequest("id must be a non-empty string")
		}
		e.ID = id
	}
	if anonymous {
		if v, present := m["anonymous_id"]; present {
			a, isStr := v.(string)
			if !isStr {
				return badRequest("anonymous_id must be a string")
			}
			if len(a) > maxIDBytes {
				return badRequest("anonymous_id is %d bytes, longer than the limit of %d bytes", len(a), maxIDBytes)
			}
			e.AnonymousID = a
		}
	}
	if e.ID != "" {
		if s.seen[e.ID] {
			a := ok()
			a.dup = true
			return a
		}
		s.seen[e.ID] = true
	}
	if anonymous {
		s.anon = append(s.anon, e)
	} else {
		p.events = append(p.events, e)
	}
	return ok()
}

// merge is POST /api/v1/merge_customers. Its errors use {"meta":{"error"}}.
func (s *Server) merge(body []byte) answer {
	bad := func(msg string) answer {
		return answer{status: http.StatusBadRequest, body: map[string]any{"meta": map[string]any{"error": msg}}}
	}
	m, err := decodeObject(body)
	if err != nil {
		return bad(err.Error())
	}
	ids := map[string]map[string]string{}
	for _, side := range []string{"primary", "secondary"} {
		obj, isObj := m[side].(map[string]any)
		if !isObj || len(obj) != 1 {
			return bad(side + " must be an object with exactly one of id, email, cio_id")
		}
		for k, v := range obj {
			str, isStr := v.(string)
			if (k != "id" && k != "email" && k != "cio_id") || !isStr || str == "" {
				return bad(side + " must be an object with exactly one of id, email, cio_id")
			}
			if len(str) > maxIDBytes {
				return bad(fmt.Sprintf("%s.%s is longer than %d bytes", side, k, maxIDBytes))
			}
			ids[side] = map[string]string{k: str}
		}
	}
	if len(m) != 2 {
		return bad("only primary and secondary are allowed")
	}
	resolve := func(id map[string]string) *person {
		for k, v := range id {
			switch k {
			case "cio_id":
				return s.find("cio_" + v)
			case "email":
				for _, p := range s.people {
					if p.email != "" && strings.EqualFold(p.email, v) {
						return p
					}
				}
			case "id":
				for _, p := range s.people {
					if p.id == v {
						return p
					}
				}
			}
		}
		return nil
	}
	rec := Merge{Primary: ids["primary"], Secondary: ids["secondary"]}
	prim, sec := resolve(ids["primary"]), resolve(ids["secondary"])
	if prim != nil && prim == sec {
		return bad("primary and secondary are the same person")
	}
	if prim != nil && sec != nil {
		for k, v := range sec.attrs {
			if cur, had := prim.attrs[k]; !had || cur == "" {
				prim.attrs[k] = v
			}
		}
		prim.events = append(prim.events, sec.events...)
		for i, p := range s.people {
			if p == sec {
				s.people = append(s.people[:i], s.people[i+1:]...)
				break
			}
		}
		rec.Applied = true
	}
	s.merges = append(s.merges, rec)
	return ok()
}
