package cdn

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/schemas"
)

// Source is one configured Segment source whose write keys analytics.js
// may load settings for.
type Source struct {
	// Name is the source's name.
	Name string
	// WriteKeys are the source's write keys; at least one, unique across
	// sources.
	WriteKeys []string
	// Disabled makes the source's keys unknown here (404), as ingest
	// refuses their events.
	Disabled bool
	// Enforcement are the source's overrides of the tracking plan's
	// enforcement settings (an empty setting takes the plan's), as ingest
	// applies them.
	Enforcement schemas.Enforcement
}

// Config configures a [Handler].
type Config struct {
	// Sources are the Segment sources.
	Sources []Source
	// PublicURL is the absolute http or https URL at which browsers reach
	// this server (http.public_url), without query or fragment; the
	// settings' apiHost is its host and path followed by /v1. Empty: taken
	// from each request (see the package documentation).
	PublicURL string
	// TrustedProxies are the peers whose X-Forwarded-Proto and
	// X-Forwarded-Host headers are believed when PublicURL is empty.
	TrustedProxies []netip.Prefix
	// Plan returns the tracking plan in force (nil: none); it is called
	// for every settings request. nil means no plan.
	Plan func() *schemas.Plan
	// DropBlocked makes the browser drop the track calls the plan blocks
	// (see the package documentation). Default false here; the server's
	// configuration turns it on unless tracking_plan.drop_blocked_in_browser
	// is false.
	DropBlocked bool
	// Registerer, when not nil, receives the handler's metrics.
	Registerer prometheus.Registerer
}

type source struct {
	name     string
	disabled bool
	enforce  schemas.Enforcement
}

// Handler serves analytics.js's CDN: settings, the bundle and its chunks,
// the plan middleware, and the metrics endpoint. It is safe for
// concurrent use. Build it with [New].
type Handler struct {
	sources     []*source
	keys        map[string]*source
	public      *url.URL
	trusted     []netip.Prefix
	plan        func() *schemas.Plan
	dropBlocked bool
	snap        atomic.Pointer[snapshot]

	loaderMu sync.Mutex
	loaders  map[string]*asset // analytics.min.js by write key

	requests *prometheus.CounterVec
}

// New validates cfg and returns its handler. Every problem is reported at
// once: a source without name or write keys, an empty or repeated write
// key, a PublicURL that is not an absolute http(s) URL without query,
// fragment or user information.
func New(cfg Config) (*Handler, error) {
	var errs []error
	h := &Handler{
		keys:        map[string]*source{},
		trusted:     cfg.TrustedProxies,
		plan:        cfg.Plan,
		dropBlocked: cfg.DropBlocked,
		loaders:     map[string]*asset{},
	}
	for i, s := range cfg.Sources {
		if s.Name == "" {
			errs = append(errs, fmt.Errorf("sources[%d]: name: required", i))
		}
		if len(s.WriteKeys) == 0 {
			errs = append(errs, fmt.Errorf("sources[%d]: write_keys: at least one required", i))
		}
		src := &source{name: s.Name, disabled: s.Disabled, enforce: s.Enforcement}
		h.sources = append(h.sources, src)
		for _, k := range s.WriteKeys {
			switch {
			case k == "":
				errs = append(errs, fmt.Errorf("sources[%d]: write_keys: empty key", i))
			case h.keys[k] != nil:
				errs = append(errs, fmt.Errorf("sources[%d]: write_keys: a key is used twice", i))
			default:
				h.keys[k] = src
			}
		}
	}
	if cfg.PublicURL != "" {
		u, err := ParsePublicURL(cfg.PublicURL)
		if err != nil {
			errs = append(errs, fmt.Errorf("public_url: %w", err))
		}
		h.public = u
	}
	if cfg.Registerer != nil {
		h.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventrouter_cdn_requests_total",
			Help: "Requests to analytics.js's CDN routes (settings, analytics.js, bundle, middleware, metrics) by status code.",
		}, []string{"route", "code"})
		if err := cfg.Registerer.Register(h.requests); err != nil {
			errs = append(errs, fmt.Errorf("registering metrics: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring the analytics.js CDN: %w", err)
	}
	return h, nil
}

// ParsePublicURL checks a public URL (http.public_url) and returns it
// without a trailing slash: an absolute http or https URL with a host and
// without query, fragment or user information.
func ParsePublicURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("must start with http:// or https://")
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("must name a host (https://events.example.com)")
	case u.User != nil:
		return nil, errors.New("must not carry user information")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return nil, errors.New("must not have a query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// The route prefixes, as analytics.js builds them from its CDN URL.
const (
	settingsPrefix   = "/v1/projects/"
	settingsSuffix   = "/settings"
	loaderPrefix     = "/analytics.js/v1/"
	bundlePrefix     = "/analytics-next/bundles/"
	middlewareRoute  = "/next-integrations/middleware/"
	metricsPath      = "/v1/m"
	notFoundMessage  = "Cannot GET - Invalid path or write key provided."
	metricsBodyLimit = 64 << 10
)

// Mount registers the handler's routes on mux.
func (h *Handler) Mount(mux *http.ServeMux) {
	for _, p := range []string{settingsPrefix, "/analytics.js/", "/analytics-next/", "/next-integrations/", metricsPath} {
		mux.Handle(p, h)
	}
}

// ServeHTTP serves the routes listed in the package documentation.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
	}
	p := r.URL.Path
	route, code := "", 0
	switch {
	case p == metricsPath:
		route = "metrics"
		code = h.serveMetrics(w, r)
	case strings.HasPrefix(p, settingsPrefix) && strings.HasSuffix(p, settingsSuffix) && len(p) > len(settingsPrefix)+len(settingsSuffix):
		route = "settings"
		if code = allow(w, r, "GET, HEAD, OPTIONS"); code == 0 {
			code = h.serveSettings(w, r, p[len(settingsPrefix):len(p)-len(settingsSuffix)])
		}
	case strings.HasPrefix(p, loaderPrefix):
		route = "analytics.js"
		if code = allow(w, r, "GET, HEAD, OPTIONS"); code == 0 {
			code = h.serveLoader(w, r, p[len(loaderPrefix):])
		}
	case strings.HasPrefix(p, bundlePrefix):
		route = "bundle"
		if code = allow(w, r, "GET, HEAD, OPTIONS"); code == 0 {
			if a := bundles[p[len(bundlePrefix):]]; a != nil {
				code = a.serve(w, r)
			} else {
				code = notFound(w)
			}
		}
	case strings.HasPrefix(p, middlewareRoute):
		route = "middleware"
		if code = allow(w, r, "GET, HEAD, OPTIONS"); code == 0 {
			code = h.serveMiddleware(w, r, p[len(middlewareRoute):])
		}
	default:
		route = "unknown"
		code = notFound(w)
	}
	if h.requests != nil {
		h.requests.WithLabelValues(route, fmt.Sprint(code)).Inc()
	}
}

// allow answers OPTIONS (CORS preflight) and methods outside methods; it
// returns 0 when the request is for the route to serve.
func allow(w http.ResponseWriter, r *http.Request, methods string) int {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if strings.Contains(methods, "GET") {
			return 0
		}
	case http.MethodPost:
		if strings.Contains(methods, "POST") {
			return 0
		}
	case http.MethodOptions:
		hd := w.Header()
		hd.Set("Access-Control-Allow-Methods", methods)
		if req := r.Header.Values("Access-Control-Request-Headers"); len(req) > 0 {
			hd.Set("Access-Control-Allow-Headers", strings.Join(req, ", "))
		} else {
			hd.Set("Access-Control-Allow-Headers", "Content-Type")
		}
		hd.Set("Access-Control-Max-Age", "604800")
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	}
	w.Header().Set("Allow", methods)
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return http.StatusMethodNotAllowed
}

// notFound answers as Segment's CDN does for an unknown write key or path.
func notFound(w http.ResponseWriter) int {
	hd := w.Header()
	hd.Set("Content-Type", "text/plain; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, notFoundMessage)
	return http.StatusNotFound
}

// source returns the enabled source of writeKey, nil when there is none.
func (h *Handler) source(writeKey string) *source {
	if s := h.keys[writeKey]; s != nil && !s.disabled {
		return s
	}
	return nil
}

// segmentIO is the settings of the Segment.io integration: where
// analytics.js sends events.
type segmentIO struct {
	APIKey                string              `json:"apiKey"`
	APIHost               string              `json:"apiHost"`
	Protocol              string              `json:"protocol"`
	UnbundledIntegrations []string            `json:"unbundledIntegrations"`
	AddBundledMetadata    bool                `json:"addBundledMetadata"`
	MaybeBundledConfigIDs map[string][]string `json:"maybeBundledConfigIds"`
	VersionSettings       struct {
		ComponentTypes []string `json:"componentTypes"`
	} `json:"versionSettings"`
}

// settings is the document analytics.js loads, in the shape and key order
// of Segment's CDN.
type settings struct {
	Integrations struct {
		SegmentIO segmentIO `json:"Segment.io"`
	} `json:"integrations"`
	Plan                 json.RawMessage `json:"plan"`
	EdgeFunction         struct{}        `json:"edgeFunction"`
	AnalyticsNextEnabled bool            `json:"analyticsNextEnabled"`
	MiddlewareSettings   struct{}        `json:"middlewareSettings"`
	EnabledMiddleware    map[string]bool `json:"enabledMiddleware"`
	Metrics              struct {
		SampleRate float64 `json:"sampleRate"`
		Host       string  `json:"host"`
	} `json:"metrics"`
	LegacyVideoPluginsEnabled bool  `json:"legacyVideoPluginsEnabled"`
	RemotePlugins             []any `json:"remotePlugins"`
}

// metricsSampleRate is the share of analytics.js's own counters that it
// posts to /v1/m, as Segment's settings set it.
const metricsSampleRate = 0.1

func (h *Handler) serveSettings(w http.ResponseWriter, r *http.Request, writeKey string) int {
	src := h.source(writeKey)
	if src == nil {
		return notFound(w)
	}
	v := h.view().bySource[src.name]
	host, protocol, fromRequest := h.apiHost(r)
	var doc settings
	sio := &doc.Integrations.SegmentIO
	sio.APIKey = writeKey
	sio.APIHost = host
	sio.Protocol = protocol
	sio.UnbundledIntegrations = []string{}
	sio.AddBundledMetadata = true
	sio.MaybeBundledConfigIDs = map[string][]string{}
	sio.VersionSettings.ComponentTypes = []string{"browser"}
	doc.Plan = v.plan
	doc.AnalyticsNextEnabled = true
	doc.EnabledMiddleware = map[string]bool{}
	if v.middleware != "" {
		doc.EnabledMiddleware[v.middleware] = true
	}
	doc.Metrics.SampleRate = metricsSampleRate
	doc.Metrics.Host = host
	doc.RemotePlugins = []any{}
	body, err := json.Marshal(&doc)
	if err != nil {
		http.Error(w, "encoding settings", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	hd := w.Header()
	hd.Set("Content-Type", "application/json; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	if fromRequest {
		// The hosts come from this request's headers: no shared cache may
		// hand them to another client.
		hd.Set("Cache-Control", "private, max-age=60")
		hd.Add("Vary", "X-Forwarded-Host, X-Forwarded-Proto")
	} else {
		hd.Set("Cache-Control", "public, max-age=60")
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return http.StatusOK
}

// apiHost returns the settings' apiHost ("events.example.com/v1") and
// protocol: from PublicURL, else from the request (fromRequest true).
func (h *Handler) apiHost(r *http.Request) (host, protocol string, fromRequest bool) {
	if h.public != nil {
		return h.public.Host + h.public.EscapedPath() + "/v1", h.public.Scheme, false
	}
	protocol, host = "http", r.Host
	if r.TLS != nil {
		protocol = "https"
	}
	if h.trustedPeer(r) {
		if p := strings.ToLower(firstValue(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
			protocol = p
		}
		if fh := firstValue(r.Header.Get("X-Forwarded-Host")); validHost(fh) {
			host = fh
		}
	}
	return host + "/v1", protocol, true
}

func (h *Handler) trustedPeer(r *http.Request) bool {
	if len(h.trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range h.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// firstValue returns the first of a header's comma-separated values.
func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// validHost reports whether s is a plain host[:port] (letters, digits,
// '.', '-', ':', '[' and ']'), so that nothing else can be written into
// the settings.
func validHost(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// serveLoader serves analytics.min.js (and analytics.js, the same file)
// for rest = "<writeKey>/analytics.min.js".
func (h *Handler) serveLoader(w http.ResponseWriter, r *http.Request, rest string) int {
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return notFound(w)
	}
	key, file := rest[:i], rest[i+1:]
	if (file != "analytics.min.js" && file != "analytics.js") || h.source(key) == nil {
		return notFound(w)
	}
	h.loaderMu.Lock()
	a := h.loaders[key]
	if a == nil {
		a = newAsset(loaderFor(key), jsType, cacheLoader)
		h.loaders[key] = a
	}
	h.loaderMu.Unlock()
	return a.serve(w, r)
}

// serveMiddleware serves a plan middleware at
// rest = "<name>/latest/<name>.js.gz", where name may be base64-encoded
// (analytics.js's obfuscate option).
func (h *Handler) serveMiddleware(w http.ResponseWriter, r *http.Request, rest string) int {
	const mid, ext = "/latest/", ".js.gz"
	n := len(rest) - len(mid) - len(ext)
	if n <= 0 || n%2 != 0 {
		return notFound(w)
	}
	name := rest[:n/2]
	if rest != name+mid+name+ext {
		return notFound(w)
	}
	if !strings.HasPrefix(name, middlewarePrefix) {
		dec, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(name, "="))
		if err != nil {
			return notFound(w)
		}
		name = string(dec)
	}
	a := h.view().middleware[name]
	if a == nil {
		return notFound(w)
	}
	return a.serve(w, r)
}

// serveMetrics accepts analytics.js's own counters (POST /v1/m) and
// discards them.
func (h *Handler) serveMetrics(w http.ResponseWriter, r *http.Request) int {
	if code := allow(w, r, "POST, OPTIONS"); code != 0 {
		return code
	}
	n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, metricsBodyLimit+1))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if n > metricsBodyLimit {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"success":false,"code":"payload_too_large","message":"metrics body over 64 KiB"}`)
		return http.StatusRequestEntityTooLarge
	}
	io.WriteString(w, `{"success":true}`)
	return http.StatusOK
}
