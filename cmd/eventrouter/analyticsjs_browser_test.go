package main

// analytics.js, the real one, in headless Chromium against `eventrouter
// serve`, loaded the ways sites load it: (a) an npm-bundled application
// calling AnalyticsBrowser.load({writeKey, cdnURL}), (b) Segment's classic
// snippet with its CDN host changed, (c) a tracking plan whose blocked
// events analytics.js drops in the browser. The page is served from a
// second origin. DevTools' network events report every request the page
// made, with its body, so each message is checked field by field as sent.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/eventrouter/eventrouter/router/cdn"
)

// netRequest is one request the page made.
type netRequest struct {
	Method, URL string
	Body        []byte
}

// netLog collects the requests of a browser tab from DevTools' network
// events.
type netLog struct {
	mu   sync.Mutex
	reqs []netRequest
}

func (l *netLog) listen(ev any) {
	e, ok := ev.(*network.EventRequestWillBeSent)
	if !ok || e.Request == nil {
		return
	}
	var body []byte
	for _, p := range e.Request.PostDataEntries {
		body = append(body, p.Bytes...)
	}
	l.mu.Lock()
	l.reqs = append(l.reqs, netRequest{Method: e.Request.Method, URL: e.Request.URL, Body: body})
	l.mu.Unlock()
}

func (l *netLog) requests() []netRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]netRequest(nil), l.reqs...)
}

// sent returns the messages the page posted to the Tracking API at base
// (/v1/i, /v1/t, /v1/p, ...), by messageId, and fails if one was posted
// twice or if the page sent a request anywhere but to origins.
func (l *netLog) sent(t *testing.T, base string, origins ...string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, r := range l.requests() {
		u, err := url.Parse(r.URL)
		if err != nil {
			t.Fatalf("the page requested %q", r.URL)
		}
		if u.Scheme == "data" || u.Scheme == "blob" {
			continue
		}
		known := false
		for _, o := range origins {
			known = known || strings.HasPrefix(r.URL, o+"/")
		}
		if !known {
			t.Errorf("the page sent %s %s: to none of %v", r.Method, r.URL, origins)
		}
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL, base+"/v1/") || len(u.Path) != len("/v1/x") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatalf("POST %s: body %q is not JSON: %v", r.URL, r.Body, err)
		}
		id, _ := m["messageId"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("analytics.js posted %s twice", id)
		}
		out[id] = m
	}
	return out
}

// fetched reports whether the page sent a GET for the URL.
func (l *netLog) fetched(u string) bool {
	for _, r := range l.requests() {
		if r.Method == http.MethodGet && r.URL == u {
			return true
		}
	}
	return false
}

// pageServer serves the test page, as the site, from its own origin.
func pageServer(t *testing.T, html string, static string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	})
	if static != "" {
		mux.Handle("/app/", http.StripPrefix("/app/", http.FileServer(http.Dir(static))))
	}
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

var (
	bundleOnce sync.Once
	bundleDir  string
	bundleErr  error
)

// npmBundle builds testdata/npm/app.js with esbuild, as an application's
// build bundles @segment/analytics-next (ES modules, code splitting: the
// chunks analytics.js imports on demand are files of the application).
func npmBundle(t *testing.T, npm string) string {
	t.Helper()
	bundleOnce.Do(func() {
		// Beside the test binary's build, which TestMain removes.
		bundleDir = filepath.Join(filepath.Dir(binPath), "npm-app")
		cmd := exec.Command(filepath.Join(npm, "node_modules", ".bin", "esbuild"), "app.js",
			"--bundle", "--splitting", "--format=esm", "--platform=browser", "--log-level=warning", "--outdir="+bundleDir)
		cmd.Dir = npm
		if out, err := cmd.CombinedOutput(); err != nil {
			bundleErr = fmt.Errorf("esbuild: %v\n%s", err, out)
		}
	})
	if bundleErr != nil {
		t.Fatal(bundleErr)
	}
	return bundleDir
}

// browserCalls are analytics.js calls a page makes in order, awaiting each
// (npm style): method and arguments.
type browserCall struct {
	Method string `json:"method"`
	Args   []any  `json:"args"`
}

// webIntegrations are the integrations the pages set on their calls.
var webIntegrations = map[string]any{"All": true, "Mixpanel": false, "Customer.io": map[string]any{"sendToInbox": true}}

func standardCalls() []browserCall {
	opts := map[string]any{"integrations": webIntegrations}
	return []browserCall{
		{"identify", []any{"web-u1", map[string]any{"email": "ada@example.com", "plan": "pro", "logins": 3, "vip": true}, opts}},
		{"track", []any{"Order Completed", map[string]any{"order_id": "o-1", "revenue": 19.5, "currency": "EUR", "coupon": map[string]any{"code": "SPRING"}}, opts}},
		{"page", []any{"Docs", "Getting Started", map[string]any{"section": "install"}, opts}},
	}
}

// npmPage is the page of an npm-bundled application: it loads analytics.js
// with cdnURL, makes the calls one after the other and publishes, in
// window.__done, for each call the event's type, name and messageId and
// whether analytics.js delivered it (else why not).
func npmPage(writeKey, cdnURL string, calls []browserCall) string {
	return npmPageLoading(fmt.Sprintf(`{ writeKey: %s, cdnURL: %s }`, jsString(writeKey), jsString(cdnURL)), calls)
}

// npmPageLoading is npmPage with the given AnalyticsBrowser.load settings
// (a JavaScript expression).
func npmPageLoading(load string, calls []browserCall) string {
	c, _ := json.Marshal(calls)
	return fmt.Sprintf(`<!doctype html><html><head><title>Shop</title></head><body><h1>npm application</h1>
<script type="module">
import { AnalyticsBrowser } from "/app/app.js";
const analytics = AnalyticsBrowser.load(%s);
const calls = %s;
(async () => {
  const out = [];
  for (const c of calls) {
    const ctx = await analytics[c.method](...c.args);
    const failed = ctx.failedDelivery();
    out.push({ method: c.method, type: ctx.event.type, event: ctx.event.event || ctx.event.name || "", messageId: ctx.event.messageId,
      delivered: !failed, reason: failed ? String(failed.reason && (failed.reason.type || failed.reason.reason || failed.reason)) : "" });
  }
  window.__done = out;
})().catch((e) => { window.__error = String(e && e.stack || e); });
</script></body></html>`, load, c)
}

// callResult is one entry of window.__done.
type callResult struct {
	Method, Type, Event, MessageID, Reason string
	Delivered                              bool
}

func waitCalls(b *browser) []callResult {
	b.t.Helper()
	b.waitFor("analytics.js to finish the calls", `window.__done || window.__error`, 30*time.Second)
	if e := eval[string](b, `window.__error || ""`); e != "" {
		b.fail("the page failed: %s", e)
	}
	raw := eval[string](b, `JSON.stringify(window.__done)`)
	var out []callResult
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		b.fail("window.__done %s: %v", raw, err)
	}
	return out
}

// checkBrowserMessages checks what analytics.js sent against what the
// file destination and the warehouse hold: every field as sent, the
// library's name and version, the integrations of calls that set them,
// and exactly once.
func checkBrowserMessages(t *testing.T, rig *clientRig, sent map[string]map[string]any, libVersion string, withIntegrations map[string]bool) {
	t.Helper()
	ids := []string{}
	types := map[string]int{}
	for id, m := range sent {
		ids = append(ids, id)
		typ, _ := m["type"].(string)
		types[typ]++
	}
	if !reflect.DeepEqual(types, map[string]int{"identify": 1, "track": 1, "page": 1}) {
		t.Fatalf("analytics.js sent %v, want one identify, track and page", types)
	}
	stored := rig.waitStored(t, ids)
	for id, s := range sent {
		typ := s["type"].(string)
		lib := s["context"].(map[string]any)["library"].(map[string]any)
		if lib["name"] != "analytics.js" || lib["version"] != libVersion {
			t.Errorf("%s %s: sent by %v, want analytics.js %s", typ, id, lib, libVersion)
		}
		if withIntegrations[typ] && !reflect.DeepEqual(s["integrations"], webIntegrations) {
			t.Errorf("%s %s: sent integrations %s, want %s", typ, id, js(s["integrations"]), js(webIntegrations))
		}
		if typ != "identify" && s["userId"] != "web-u1" {
			t.Errorf("%s %s: userId %v, want the identified web-u1", typ, id, s["userId"])
		}
		if s["anonymousId"] == nil {
			t.Errorf("%s %s: no anonymousId", typ, id)
		}
		checkStoredAsSent(t, typ+" "+id, "browser", s, stored[id])
	}
	checkWarehouse(t, rig.srv.cfgPath, "web", stored)
}

// TestAnalyticsJSNPMInBrowser (a): an npm-bundled application loads
// analytics.js (the npm package, bundled by esbuild) with
// AnalyticsBrowser.load({writeKey, cdnURL}) pointing at eventrouter, which
// serves the settings (apiHost taken from the request, no public_url);
// identify, track and page reach the file destination and the warehouse,
// field by field, exactly once, and nothing goes to Segment.
func TestAnalyticsJSNPMInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	npm := npmModules(t)
	app := npmBundle(t, npm)
	const key = "npm-web-key"
	rig := startClientRig(t, key, "", "")
	page := pageServer(t, npmPage(key, rig.srv.base, standardCalls()), app)

	var nl netLog
	b := newBrowserWith(t, chrome, nl.listen)
	start := time.Now()
	b.do("opening the page", chromedp.Navigate(page.URL+"/"))
	results := waitCalls(b)
	for _, r := range results {
		if !r.Delivered {
			t.Errorf("analytics.js did not deliver the %s call: %s", r.Method, r.Reason)
		}
	}
	if !nl.fetched(rig.srv.base + "/v1/projects/" + key + "/settings") {
		t.Errorf("analytics.js did not load its settings from eventrouter")
	}
	sent := nl.sent(t, rig.srv.base, page.URL, rig.srv.base, "https://"+strings.TrimPrefix(rig.srv.base, "http://"))
	if errs := b.exceptions(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
	t.Logf("browser part took %s", time.Since(start).Round(time.Millisecond))
	checkBrowserMessages(t, rig, sent, "npm:next-"+cdn.AnalyticsJSVersion, map[string]bool{"identify": true, "track": true, "page": true})
}

// TestAnalyticsJSInlineSettingsInBrowser: a page that passes its settings
// to AnalyticsBrowser.load (cdnSettings, with Segment.io's apiHost at
// eventrouter) fetches nothing from a CDN and sends straight to
// eventrouter; identify, track and page arrive field by field, exactly
// once.
func TestAnalyticsJSInlineSettingsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	npm := npmModules(t)
	app := npmBundle(t, npm)
	const key = "inline-web-key"
	rig := startClientRig(t, key, "", "")
	host := strings.TrimPrefix(rig.srv.base, "http://")
	load := fmt.Sprintf(`{ writeKey: %s, cdnSettings: { integrations: { "Segment.io": { apiKey: %s, apiHost: %s, protocol: "http" } } } }`,
		jsString(key), jsString(key), jsString(host+"/v1"))
	page := pageServer(t, npmPageLoading(load, standardCalls()), app)
	var nl netLog
	b := newBrowserWith(t, chrome, nl.listen)
	b.do("opening the page", chromedp.Navigate(page.URL+"/"))
	for _, r := range waitCalls(b) {
		if !r.Delivered {
			t.Errorf("analytics.js did not deliver the %s call: %s", r.Method, r.Reason)
		}
	}
	for _, r := range nl.requests() {
		if strings.Contains(r.URL, "/settings") {
			t.Errorf("the page fetched settings: %s", r.URL)
		}
	}
	sent := nl.sent(t, rig.srv.base, page.URL, rig.srv.base, "https://"+host)
	if errs := b.exceptions(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
	checkBrowserMessages(t, rig, sent, "npm:next-"+cdn.AnalyticsJSVersion, map[string]bool{"identify": true, "track": true, "page": true})
}

// tlsFront is a TLS-terminating reverse proxy in front of base, as sites
// run eventrouter behind one: analytics.js recognises its CDN in the
// snippet's script address only over https.
func tlsFront(t *testing.T, base string) *httptest.Server {
	t.Helper()
	target, _ := url.Parse(base)
	s := httptest.NewTLSServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.SetXForwarded()
	}})
	t.Cleanup(s.Close)
	return s
}

// classicSnippet renders Segment's snippet (@segment/snippet, as Segment's
// app shows it: it loads analytics.js and calls analytics.page()) for
// writeKey, and changes only its host to host.
func classicSnippet(t *testing.T, npm, writeKey, host string) string {
	t.Helper()
	cmd := exec.Command("node", "-e", `process.stdout.write(require("@segment/snippet").min({apiKey: process.argv[1], page: true}))`, writeKey)
	cmd.Dir = npm
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("rendering the snippet: %v", err)
	}
	if n := bytes.Count(out, []byte("cdn.segment.com")); n != 1 {
		t.Fatalf("the snippet names cdn.segment.com %d times, want once:\n%s", n, out)
	}
	return strings.Replace(string(out), "cdn.segment.com", host, 1)
}

// TestAnalyticsJSSnippetInBrowser (b): the page embeds Segment's classic
// snippet with the CDN host changed to eventrouter's (behind TLS, with
// http.public_url set to it). eventrouter serves analytics.min.js (the
// vendored build, the write key written in), its chunks and the settings;
// the snippet's page call and an identify and a track made before
// analytics.js loaded reach the file destination and the warehouse, field
// by field, exactly once, and nothing goes to Segment.
func TestAnalyticsJSSnippetInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	npm := npmModules(t)
	const key = "snippet-web-key"
	addr := freeAddr(t)
	front := tlsFront(t, "http://"+addr)
	rig := startClientRigAt(t, addr, key, fmt.Sprintf(", public_url: %q", front.URL), "")
	snippet := classicSnippet(t, npm, key, strings.TrimPrefix(front.URL, "https://"))
	opts, _ := json.Marshal(map[string]any{"integrations": webIntegrations})
	html := fmt.Sprintf(`<!doctype html><html><head><title>Classic site</title>
<script>%s</script>
<script>
analytics.identify("web-u1", {email: "ada@example.com", plan: "pro", logins: 3, vip: true}, %s);
analytics.track("Order Completed", {order_id: "o-1", revenue: 19.5, currency: "EUR", coupon: {code: "SPRING"}}, %s);
</script></head><body><h1>classic site</h1></body></html>`, snippet, opts, opts)
	page := pageServer(t, html, "")

	var nl netLog
	b := newBrowserWith(t, chrome, nl.listen, chromedp.Flag("ignore-certificate-errors", true))
	start := time.Now()
	// ajs_aid (a link that sets the anonymous id) makes analytics.js load
	// its queryString chunk.
	b.do("opening the page", chromedp.Navigate(page.URL+"/?ajs_aid=anon-from-link"))
	b.waitFor("analytics.js to load", `window.analytics && window.analytics.initialized === true`, 20*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for len(nl.sent(t, front.URL, page.URL, front.URL)) < 3 {
		if time.Now().After(deadline) {
			b.fail("analytics.js sent %d of the 3 calls in 20s", len(nl.sent(t, front.URL, page.URL, front.URL)))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, u := range []string{
		front.URL + "/analytics.js/v1/" + key + "/analytics.min.js",
		front.URL + "/v1/projects/" + key + "/settings",
	} {
		if !nl.fetched(u) {
			t.Errorf("the page did not load %s", u)
		}
	}
	chunks := 0
	for _, r := range nl.requests() {
		if strings.HasPrefix(r.URL, front.URL+"/analytics-next/bundles/queryString.bundle.") {
			chunks++
		}
	}
	if chunks != 1 {
		t.Errorf("analytics.js loaded its queryString chunk from eventrouter %d times, want once", chunks)
	}
	if v := eval[string](b, `window.analyticsWriteKey || ""`); v != key {
		t.Errorf("analytics.min.js carries the write key %q, want %q", v, key)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate post would show up
	sent := nl.sent(t, front.URL, page.URL, front.URL)
	if errs := b.exceptions(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
	t.Logf("browser part took %s", time.Since(start).Round(time.Millisecond))
	for _, s := range sent {
		if s["type"] == "page" {
			props, _ := s["properties"].(map[string]any)
			if props["url"] != page.URL+"/?ajs_aid=anon-from-link" || props["title"] != "Classic site" {
				t.Errorf("the snippet's page call has properties %v", props)
			}
		}
	}
	for id, s := range sent {
		if s["anonymousId"] != "anon-from-link" {
			t.Errorf("%s: anonymousId %v, want the link's anon-from-link", id, s["anonymousId"])
		}
	}
	checkBrowserMessages(t, rig, sent, "next-"+cdn.AnalyticsJSVersion, map[string]bool{"identify": true, "track": true})
}

// TestAnalyticsJSTrackingPlanInBrowser (c): with a tracking plan that
// blocks unplanned events, the settings' plan disables them and name the
// plan middleware; analytics.js drops an unplanned track in the browser
// (it is never sent, and the call resolves as not delivered) while
// identify, a planned track and page arrive field by field, exactly once.
// The same event sent to the server directly is still quarantined.
func TestAnalyticsJSTrackingPlanInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	npm := npmModules(t)
	app := npmBundle(t, npm)
	plan := filepath.Join(t.TempDir(), "plan")
	writeTestFile(t, filepath.Join(plan, "plan.yaml"), "id: shop-plan\nenforcement: {track: {unplanned_events: block}}\n")
	writeTestFile(t, filepath.Join(plan, "events", "order_completed.schema.json"), `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "x-segment-type": "TRACK", "x-segment-key": "Order Completed", "x-segment-version": 1,
  "type": "object",
  "properties": {"properties": {"type": "object", "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number"}, "currency": {"type": "string"}, "coupon": {"type": "object"}}, "required": ["order_id"]}}
}`)
	const (
		key   = "plan-web-key"
		token = "plan-browser-token"
	)
	rig := startClientRig(t, key, fmt.Sprintf(", admin_token: %q", token), fmt.Sprintf("tracking_plan: {path: %q}\n", plan))

	// The settings carry the plan: planned events enabled, the rest not,
	// and the middleware that drops them.
	resp, err := http.Get(rig.srv.base + "/v1/projects/" + key + "/settings")
	if err != nil {
		t.Fatal(err)
	}
	var settings struct {
		Plan struct {
			Track map[string]struct {
				Enabled bool `json:"enabled"`
			} `json:"track"`
		} `json:"plan"`
		EnabledMiddleware map[string]bool `json:"enabledMiddleware"`
	}
	err = json.NewDecoder(resp.Body).Decode(&settings)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if tr := settings.Plan.Track; len(tr) != 2 || !tr["Order Completed"].Enabled || tr["__default"].Enabled {
		t.Fatalf("settings plan.track = %+v, want Order Completed enabled and __default disabled", tr)
	}
	if len(settings.EnabledMiddleware) != 1 {
		t.Fatalf("settings enabledMiddleware = %v, want the plan middleware", settings.EnabledMiddleware)
	}

	calls := standardCalls()
	calls = append(calls[:2], browserCall{"track", []any{"Order Shipped", map[string]any{"order_id": "o-1"}, map[string]any{"integrations": webIntegrations}}}, calls[2])
	page := pageServer(t, npmPage(key, rig.srv.base, calls), app)
	var nl netLog
	b := newBrowserWith(t, chrome, nl.listen)
	b.do("opening the page", chromedp.Navigate(page.URL+"/"))
	results := waitCalls(b)
	if len(results) != 4 {
		t.Fatalf("the page made %d calls: %+v", len(results), results)
	}
	for _, r := range results {
		blocked := r.Event == "Order Shipped"
		if r.Delivered == blocked {
			t.Errorf("%s %q: delivered %v (%s), want %v", r.Method, r.Event, r.Delivered, r.Reason, !blocked)
		}
		if blocked && r.Reason != "middleware_cancellation" {
			t.Errorf("the blocked track was dropped for %q, want by the plan middleware", r.Reason)
		}
	}
	for name := range settings.EnabledMiddleware {
		if u := rig.srv.base + "/next-integrations/middleware/" + name + "/latest/" + name + ".js.gz"; !nl.fetched(u) {
			t.Errorf("analytics.js did not load the plan middleware %s", u)
		}
	}
	for _, r := range nl.requests() {
		if bytes.Contains(r.Body, []byte("Order Shipped")) {
			t.Errorf("the blocked event left the browser: %s %s %s", r.Method, r.URL, r.Body)
		}
	}
	sent := nl.sent(t, rig.srv.base, page.URL, rig.srv.base, "https://"+strings.TrimPrefix(rig.srv.base, "http://"))
	if errs := b.exceptions(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}

	// Nothing from the browser is in the quarantine; the blocked event
	// sent by another client is.
	if q := listQuarantine(t, rig.srv.base, token); q.Total != 0 {
		t.Errorf("the quarantine holds %d messages after the browser's calls, want 0", q.Total)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if status, body, err := post(ctx, http.DefaultClient, rig.srv.base+"/v1/track", key,
		[]byte(`{"messageId":"direct-shipped","userId":"web-u1","event":"Order Shipped","properties":{"order_id":"o-1"}}`)); err != nil || status != 200 {
		t.Fatalf("posting the blocked event: %d %s %v", status, body, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		q := listQuarantine(t, rig.srv.base, token)
		if q.Total == 1 && q.Messages[0].MessageID == "direct-shipped" && q.Messages[0].Event == "Order Shipped" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the directly sent blocked event is not quarantined: %+v", q)
		}
		time.Sleep(100 * time.Millisecond)
	}
	checkBrowserMessages(t, rig, sent, "npm:next-"+cdn.AnalyticsJSVersion, map[string]bool{"identify": true, "track": true, "page": true})
}

// TestVendoredAnalyticsJSIsTheNPMPackage checks that the analytics.js that
// the binary embeds (router/cdn/analyticsjs) is, file for file, the one in
// the lockfile's @segment/analytics-next, which the browser tests drive.
func TestVendoredAnalyticsJSIsTheNPMPackage(t *testing.T) {
	npm := npmModules(t)
	pkg := filepath.Join(npm, "node_modules", "@segment", "analytics-next")
	var meta struct{ Version, License string }
	b, err := os.ReadFile(filepath.Join(pkg, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Version != cdn.AnalyticsJSVersion || meta.License != "MIT" {
		t.Errorf("the npm package is %s (%s); the binary embeds %s", meta.Version, meta.License, cdn.AnalyticsJSVersion)
	}
	vendored, _ := filepath.Glob("../../router/cdn/analyticsjs/*.js")
	upstream, _ := filepath.Glob(filepath.Join(pkg, "dist", "umd", "*.bundle.*.js"))
	upstream = append(upstream, filepath.Join(pkg, "dist", "umd", "standalone.js"))
	if len(vendored) != len(upstream) {
		t.Errorf("vendored %d files, the package has %d (standalone.js and its chunks)", len(vendored), len(upstream))
	}
	for _, u := range append(upstream, filepath.Join(pkg, "LICENSE.MD")) {
		want, _ := os.ReadFile(u)
		got, err := os.ReadFile(filepath.Join("../../router/cdn/analyticsjs", filepath.Base(u)))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("router/cdn/analyticsjs/%s differs from the npm package's (%v): run scripts/vendor-analytics-js", filepath.Base(u), err)
		}
	}
}
