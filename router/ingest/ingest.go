package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/schemas"
)

// Store is where ingest stores messages. *eventlog.Log implements it.
//
// The handler calls Append and Reject from its request goroutines, so both
// must be safe for concurrent use. Any error makes the request answer 503
// unavailable, so an error must mean "nothing or only part was stored; the
// client should retry".
type Store interface {
	// Append returns only when every message is durably stored.
	// duplicates is the number of messages the log already had (same
	// source and messageId within the dedupe window): they are answered
	// 200 and counted, not an error.
	Append(ctx context.Context, msgs []router.Message) (duplicates int, err error)
	// Reject durably stores items that are answered 200 but not accepted
	// (as Segment does), each with its reason.
	Reject(ctx context.Context, rejected []router.Rejected) error
	// Seen reports whether a webhook delivery (source and delivery key)
	// was marked with Remember within the log's delivery dedupe window.
	Seen(ctx context.Context, source, key string) (bool, error)
	// Remember durably marks a webhook delivery as stored; ingest calls it
	// after Append returned, so that a crash in between can only store a
	// redelivery again (and the log drops its repeated messageIds), never
	// lose one.
	Remember(ctx context.Context, source, key string) error
}

// Source is one source of the Segment Tracking API, given directly by its
// write keys. A [Hosted] source that implements router.TrackingAPISource
// becomes one too.
type Source struct {
	// Name is the source's name; it becomes router.Message.Source.
	Name string
	// WriteKeys are the keys that authenticate requests for this source;
	// at least one, unique across all sources.
	WriteKeys []string
	// Disabled makes requests with this source's keys answer 403
	// source_disabled.
	Disabled bool
	// RateLimit is how many events per second the source accepts, shared
	// by all its write keys; 0 (the default) is unlimited. Over the limit a
	// request is answered 429 rate_limited and nothing of it is stored
	// (see the package documentation).
	RateLimit float64
	// Burst is the most events accepted at once after a quiet period (the
	// size of the token bucket); 0 means one second's worth, RateLimit
	// rounded up. It is ignored when RateLimit is 0.
	Burst int
	// Enforcement overrides the tracking plan's enforcement settings for
	// this source: an empty Mode (or forwarding target) takes the plan's.
	// See Config.Plan.
	Enforcement schemas.Enforcement
}

// The values of [Config.UnknownKey].
const (
	UnknownKeyReject = "reject"
	UnknownKeyAccept = "accept"
)

// Config configures a [Handler].
type Config struct {
	// Sources are the sources whose write keys are accepted.
	Sources []Source
	// Hosted are the sources built by their factories (router.Source):
	// the webhook routes each mounts are served, and the write keys of
	// each router.TrackingAPISource are accepted as a [Source]'s. Names
	// are unique across Sources and Hosted.
	Hosted []Hosted
	// UnknownKey is what happens to a request whose write key matches no
	// source: "reject" (the default when empty) answers 401
	// invalid_write_key; "accept" answers 200 and stores the body with
	// [Log.Reject], reason unknown_source.
	UnknownKey string
	// TrustedProxies are the peers whose X-Forwarded-For header is
	// honoured when ingest determines the client address.
	// Default: none.
	TrustedProxies []netip.Prefix
	// StrictBatchItemSize makes a batch item over 32 KiB fail the whole
	// request with 400 payload_too_large instead of rejecting only that
	// item. Default false.
	StrictBatchItemSize bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings about storage failures; nil means
	// slog.Default(). Write keys are never logged.
	Logger *slog.Logger
	// Registerer, when not nil, receives the handler's metrics.
	Registerer prometheus.Registerer
	// Plan is the tracking plan enforced from the start; nil: none (no
	// message is validated). [Handler.SetPlan] replaces it while serving.
	Plan *schemas.Plan
	// Quarantine stores the messages the plan blocks. When nil, the Log is
	// used if it implements [Quarantine]; else blocked messages are stored
	// with Log.Reject, reason blocked_by_tracking_plan.
	Quarantine Quarantine
	// Sampler keeps the sample of unauthenticated requests (see
	// "Unauthenticated requests" in the package documentation). When nil,
	// the Log is used if it implements [Sampler].
	Sampler Sampler
	// SampleRate is how many unauthenticated requests per second at most
	// are kept in the sample, SampleBurst how many at once; 0 (the zero
	// value) keeps none. The command's configuration defaults them to
	// DefaultSampleRate and DefaultSampleBurst.
	SampleRate  float64
	SampleBurst int
}

type source struct {
	name     string
	disabled bool
	// enforce are the source's overrides of the plan's settings.
	enforce schemas.Enforcement
	// limiter is the source's token bucket of events, nil when unlimited;
	// burst is its size.
	limiter *rate.Limiter
	burst   int
}

// Handler serves the Segment HTTP Tracking API. It is safe for concurrent
// use. Build it with [New].
type Handler struct {
	log            Store
	now            func() time.Time
	logger         *slog.Logger
	keys           map[string]*source
	acceptUnknown  bool
	trusted        []netip.Prefix
	strictItemSize bool
	m              *metrics
	// hooks are the hosted sources' webhook routes by lower-cased path.
	hooks map[string]*webhookRoute
	// obs is told about stored requests (see observe.go); nil: nobody.
	obs Observer
	// plan is the tracking plan in force (nil: none); see SetPlan.
	plan atomic.Pointer[activePlan]
	// apiSources are the sources of the Tracking API, hosted ones
	// included, in the order of the config.
	apiSources []Source
	// byName are the sources (hosted ones included) by name.
	byName     map[string]*source
	quarantine Quarantine
	pm         *planMetrics
	// sample keeps the sample of unauthenticated requests; logs samples
	// the per-request warnings.
	sample *sampler
	logs   logSampler
}

// New validates cfg and returns a handler that stores into log. Every
// problem of cfg is reported at once: a source without name or write keys,
// a duplicate source name, a write key used twice (also across sources),
// an unknown UnknownKey value, a RateLimit that is negative, NaN or
// infinite, a negative Burst; for hosted sources a missing or duplicate
// name, a missing Source, a type that cannot name a metric, and a route
// whose path does not start with "/", is a route of the Segment API or is
// served twice. The settings of each hosted source were checked by its
// factory.
func New(cfg Config, log Store) (*Handler, error) {
	var errs []error
	if log == nil {
		errs = append(errs, errors.New("log: required"))
	}
	h := &Handler{
		log:            log,
		now:            cfg.Now,
		logger:         cfg.Logger,
		keys:           make(map[string]*source),
		byName:         make(map[string]*source),
		quarantine:     cfg.Quarantine,
		trusted:        cfg.TrustedProxies,
		strictItemSize: cfg.StrictBatchItemSize,
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.logger == nil {
		h.logger = slog.Default()
	}
	switch cfg.UnknownKey {
	case "", UnknownKeyReject:
	case UnknownKeyAccept:
		h.acceptUnknown = true
	default:
		errs = append(errs, fmt.Errorf("unknown_key: %q is neither %q nor %q", cfg.UnknownKey, UnknownKeyReject, UnknownKeyAccept))
	}
	names := make(map[string]bool)
	keyOwner := make(map[string]string)
	claim := func(where, name string) string {
		if name == "" {
			errs = append(errs, fmt.Errorf("%s: name: required", where))
			return where
		}
		where = "sources." + name
		if names[name] {
			errs = append(errs, fmt.Errorf("%s: defined twice", where))
		}
		names[name] = true
		return where
	}
	for i, s := range cfg.Sources {
		where := claim(fmt.Sprintf("sources[%d]", i), s.Name)
		errs = append(errs, h.addSource(where, s, keyOwner)...)
	}
	for i, hs := range cfg.Hosted {
		where := claim(fmt.Sprintf("hosted[%d]", i), hs.Name)
		if !metricName.MatchString(hs.Type) {
			errs = append(errs, fmt.Errorf("%s: type: %q must be lower-case letters, digits and '_', starting with a letter", where, hs.Type))
		}
		switch ts, ok := hs.Source.(router.TrackingAPISource); {
		case hs.Source == nil:
			errs = append(errs, fmt.Errorf("%s: source: required", where))
		case ok:
			rl := ts.RateLimit()
			errs = append(errs, h.addSource(where, Source{
				Name: hs.Name, WriteKeys: ts.WriteKeys(), Disabled: hs.Disabled,
				RateLimit: rl.EventsPerSecond, Burst: rl.Burst, Enforcement: hs.Enforcement,
			}, keyOwner)...)
		case hs.Name != "":
			// Served on its webhook routes only, which check Disabled.
			h.byName[hs.Name] = &source{name: hs.Name, enforce: hs.Enforcement}
		}
	}
	hooks, herrs := newWebhookRoutes(cfg.Hosted, h.byName)
	errs = append(errs, herrs...)
	h.hooks = hooks
	if h.quarantine == nil {
		h.quarantine, _ = log.(Quarantine)
	}
	store := cfg.Sampler
	if store == nil {
		store, _ = log.(Sampler)
	}
	var err error
	if h.sample, err = newSampler(store, cfg.SampleRate, cfg.SampleBurst); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring ingest: %w", err)
	}
	m, err := newMetrics(cfg.Registerer, webhookTypes(hooks))
	if err != nil {
		return nil, fmt.Errorf("configuring ingest: %w", err)
	}
	h.m = m
	if h.pm, err = newPlanMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("configuring ingest: %w", err)
	}
	h.SetPlan(cfg.Plan)
	return h, nil
}

// TrackingAPISources returns the sources served on the Tracking API: those
// of Config.Sources, then the hosted ones that are router.TrackingAPISource.
// The caller must not change them.
func (h *Handler) TrackingAPISources() []Source { return h.apiSources }

// metricName is what a hosted source's type must match to name its
// webhook counter, eventrouter_<type>_webhooks_total.
var metricName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// webhookTypes returns the types of the sources that mount webhook routes.
func webhookTypes(hooks map[string]*webhookRoute) []string {
	var out []string
	for _, hk := range hooks {
		if !slices.Contains(out, hk.typ) {
			out = append(out, hk.typ)
		}
	}
	slices.Sort(out)
	return out
}

// addSource checks a source of the Tracking API and adds it and its write
// keys; keyOwner maps the keys added so far to where they were.
func (h *Handler) addSource(where string, s Source, keyOwner map[string]string) []error {
	var errs []error
	if len(s.WriteKeys) == 0 {
		errs = append(errs, fmt.Errorf("%s: write_keys: at least one required", where))
	}
	src := &source{name: s.Name, disabled: s.Disabled, enforce: s.Enforcement}
	if s.Name != "" {
		h.byName[s.Name] = src
	}
	h.apiSources = append(h.apiSources, s)
	badRate := math.IsNaN(s.RateLimit) || math.IsInf(s.RateLimit, 0) || s.RateLimit < 0
	if badRate {
		errs = append(errs, fmt.Errorf("%s: rate_limit: %v is not a finite number >= 0", where, s.RateLimit))
	}
	if s.Burst < 0 {
		errs = append(errs, fmt.Errorf("%s: burst: %d is negative", where, s.Burst))
	}
	if !badRate && s.Burst >= 0 && s.RateLimit > 0 {
		src.burst = s.Burst
		if src.burst == 0 {
			src.burst = int(math.Ceil(min(s.RateLimit, maxDefaultBurst)))
		}
		src.limiter = rate.NewLimiter(rate.Limit(s.RateLimit), src.burst)
	}
	for j, k := range s.WriteKeys {
		switch {
		case k == "":
			errs = append(errs, fmt.Errorf("%s: write_keys[%d]: empty", where, j))
		case strings.TrimSpace(k) != k:
			errs = append(errs, fmt.Errorf("%s: write_keys[%d]: surrounding whitespace", where, j))
		case keyOwner[k] != "":
			errs = append(errs, fmt.Errorf("%s: write_keys[%d]: already used by source %q", where, j, keyOwner[k]))
		default:
			keyOwner[k] = where
			h.keys[k] = src
		}
	}
	return errs
}

// routeKind is how a route is served.
type routeKind uint8

const (
	kindSingle routeKind = iota
	kindBatch
	kindPixel
	kindHealth
)

// Body limits of Segment's Tracking API (decoded bytes).
const (
	singleLimit  = 32 << 10
	batchLimit   = 500 << 10
	itemLimit    = 32 << 10
	maxBatchSize = 2500
	maxIDLength  = 100
)

type route struct {
	name    string // canonical path; the metrics label
	kind    routeKind
	typ     string // single and pixel routes: the implied type
	browser bool   // short, /v1/b, pixel and beacon routes
	get     bool   // GET allowed (short routes, pixel, health)
	post    bool   // POST allowed
	put     bool   // PUT allowed
	limit   int
	allow   string // the Allow header of a 405
}

var routes = func() map[string]*route {
	m := make(map[string]*route)
	add := func(r *route) {
		var allow []string
		if r.get {
			allow = append(allow, http.MethodGet)
		}
		if r.post {
			allow = append(allow, http.MethodPost)
		}
		if r.put {
			allow = append(allow, http.MethodPut)
		}
		if r.kind != kindHealth {
			allow = append(allow, http.MethodOptions)
		} else {
			allow = append(allow, http.MethodHead)
		}
		r.allow = strings.Join(allow, ", ")
		if r.limit == 0 {
			r.limit = singleLimit
		}
		m[r.name] = r
	}
	for _, t := range router.Types {
		add(&route{name: "/v1/" + t, kind: kindSingle, typ: t, post: true, put: true})
		add(&route{name: "/v1/" + t[:1], kind: kindSingle, typ: t, browser: true, get: true, post: true, put: true})
		add(&route{name: "/v1/pixel/" + t, kind: kindPixel, typ: t, browser: true, get: true})
	}
	add(&route{name: "/v1/batch", kind: kindBatch, post: true, put: true, limit: batchLimit})
	add(&route{name: "/v1/import", kind: kindBatch, post: true, put: true, limit: batchLimit})
	add(&route{name: "/v1/b", kind: kindBatch, browser: true, post: true, put: true, limit: batchLimit})
	add(&route{name: "/beacon/v1/batch", kind: kindBatch, browser: true, post: true, limit: batchLimit})
	add(&route{name: "/internal/health", kind: kindHealth, get: true})
	add(&route{name: "/health", kind: kindHealth, get: true})
	return m
}()

// lookupRoute finds the route of a request path, case-insensitively and
// ignoring one trailing slash.
func lookupRoute(path string) *route {
	if len(path) > 1 && path[len(path)-1] == '/' {
		path = path[:len(path)-1]
	}
	if r, ok := routes[path]; ok {
		return r
	}
	if len(path) > 32 {
		return nil
	}
	var buf [32]byte
	b := buf[:len(path)]
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return routes[string(b)]
}

// ServeHTTP serves every route of the Segment API (see the package
// documentation).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	receivedAt := h.now()
	rt := lookupRoute(r.URL.Path)
	if rt == nil {
		if hk := h.lookupHook(r.URL.Path); hk != nil {
			h.serveWebhook(w, r, hk, receivedAt)
			return
		}
	}
	if rt == nil || rt.kind != kindHealth {
		if origin := r.Header.Get("Origin"); origin != "" {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Add("Vary", "Origin")
		}
	}
	if rt == nil {
		h.writeError(w, nil, errNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		if rt.kind != kindHealth {
			h.preflight(w, r, rt)
			return
		}
	case http.MethodGet:
		if rt.get {
			h.serveGet(w, r, rt, receivedAt)
			return
		}
	case http.MethodHead:
		if rt.kind == kindHealth {
			h.writeStatus(w, rt, http.StatusOK)
			return
		}
	case http.MethodPost, http.MethodPut:
		if (r.Method == http.MethodPost && rt.post) || (r.Method == http.MethodPut && rt.put) {
			h.serveEvents(w, r, rt, receivedAt, nil)
			return
		}
	}
	w.Header().Set("Allow", rt.allow)
	h.writeError(w, rt, errMethodNotAllowed)
}

func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, rt *route) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", "POST, PUT, GET, OPTIONS")
	if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
		hd.Set("Access-Control-Allow-Headers", strings.Join(req, ", "))
	} else {
		hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Retry-Count")
	}
	hd.Set("Access-Control-Max-Age", "604800")
	if hd.Get("Access-Control-Allow-Origin") == "" {
		if origin := r.Header.Get("Origin"); origin != "" {
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	h.writeStatus(w, rt, http.StatusNoContent)
}

func (h *Handler) serveGet(w http.ResponseWriter, r *http.Request, rt *route, receivedAt time.Time) {
	w.Header().Set("Cache-Control", "no-cache, max-age=0")
	switch rt.kind {
	case kindHealth:
		h.writeStatus(w, rt, http.StatusOK)
	case kindPixel:
		h.servePixel(w, r, rt, receivedAt)
	default:
		q := r.URL.Query()
		body, aerr := decodeData(q.Get("data"), rt.limit)
		if aerr != nil {
			h.writeError(w, rt, aerr)
			return
		}
		h.serveEvents(w, r, rt, receivedAt, body)
	}
}

// serveEvents handles a request carrying messages: body is the already
// decoded body of a GET, or nil to read it from the request.
func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request, rt *route, receivedAt time.Time, body []byte) {
	req := h.newRequest(r, rt, receivedAt)
	defer req.release()
	if aerr := req.run(body); aerr != nil {
		h.writeError(w, rt, aerr)
		return
	}
	if wait := req.admit(); wait > 0 {
		h.writeRateLimited(w, rt, req.src.name, wait)
		return
	}
	if aerr := req.store(); aerr != nil {
		h.writeError(w, rt, aerr)
		return
	}
	req.observe()
	if r.Method == http.MethodGet {
		if cb := r.URL.Query().Get("callback"); validCallback(cb) {
			w.Header().Set("Content-Type", "text/javascript")
			w.WriteHeader(http.StatusOK)
			_, _ = fmt.Fprintf(w, "typeof %s == \"function\" && %s({ success: true });", cb, cb)
			h.m.request(rt, http.StatusOK)
			return
		}
	}
	h.writeOK(w, rt)
}

// validCallback reports whether cb matches ^[A-Za-z_$][A-Za-z0-9_$.]{0,63}$.
func validCallback(cb string) bool {
	if cb == "" || len(cb) > 64 {
		return false
	}
	for i := 0; i < len(cb); i++ {
		c := cb[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_', c == '$':
		case i > 0 && (c >= '0' && c <= '9' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// gif is a transparent 1×1 GIF.
var gif = []byte{
	0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
}

// servePixel always answers 200 with the GIF; request-level
// errors are stored with Log.Reject instead of being answered when the
// request has a valid write key (in the query, the data or the
// Authorization header), else only counted and sampled (see
// Handler.unauthenticated).
func (h *Handler) servePixel(w http.ResponseWriter, r *http.Request, rt *route, receivedAt time.Time) {
	req := h.newRequest(r, rt, receivedAt)
	defer req.release()
	q := r.URL.Query()
	var body []byte
	var aerr *apiError
	if data, ok := q["data"]; ok && len(data) > 0 {
		body, aerr = decodeData(data[0], rt.limit)
		if aerr != nil {
			req.authenticateQuery(q.Get("writeKey"))
			req.rejectRequest(aerr, []byte(data[0]))
		}
	} else {
		body = appendJSON(nil, dottedObject(q))
		if len(body) > rt.limit {
			aerr = errTooLarge
			req.authenticateQuery(q.Get("writeKey"))
			req.rejectRequest(aerr, body)
		}
	}
	if aerr == nil {
		if aerr = req.run(body); aerr != nil {
			req.authenticateQuery(q.Get("writeKey"))
			req.rejectRequest(aerr, body)
		}
	}
	if aerr := req.store(); aerr != nil {
		h.warn("pixel not stored", "pixel request not stored", "route", rt.name, "error", aerr.msg)
	} else {
		req.observe()
	}
	hd := w.Header()
	hd.Set("Content-Type", "image/gif")
	hd.Set("Content-Length", "43")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(gif)
	h.m.request(rt, http.StatusOK)
}

// dottedObject builds a message from pixel query parameters:
// "properties.subject=Hi" becomes {"properties":{"subject":"Hi"}}. Keys are
// applied in sorted order; the first value of a key counts; writeKey is left
// out (it is read from the query separately).
func dottedObject(q map[string][]string) map[string]any {
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "writeKey" && k != "" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	root := make(map[string]any)
	for _, k := range keys {
		if len(q[k]) == 0 {
			continue
		}
		parts := strings.Split(k, ".")
		m := root
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = make(map[string]any)
				m[p] = next
			}
			m = next
		}
		last := parts[len(parts)-1]
		if _, isObj := m[last].(map[string]any); !isObj {
			m[last] = q[k][0]
		}
	}
	return root
}
