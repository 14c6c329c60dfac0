package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds a Chromium or Chrome binary. Without one the browser
// test skips, loudly, except under CI, where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("EVENTROUTER_CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}
	for _, c := range candidates {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	msg := "no Chromium found: the debugger browser test needs it; install it with `apt-get install -y chromium` " +
		"(or point EVENTROUTER_CHROMIUM at a Chrome binary)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING THE BROWSER TEST: " + msg)
	return ""
}

// browser drives one headless Chromium tab for a test.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string // uncaught JavaScript exceptions
	// artifacts is where screenshots go, chosen at the first one.
	artifacts string
}

func newBrowser(t *testing.T, execPath string) *browser {
	t.Helper()
	return newBrowserWith(t, execPath, nil)
}

// newBrowserWith is newBrowser that also hands every DevTools event to
// listen (when not nil; it must not block) and starts Chromium with the
// extra options.
func newBrowserWith(t *testing.T, execPath string, listen func(ev any), extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.NoSandbox, // the test may run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1440, 1000),
	)
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t}
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithListener(func(ev any) {
		if listen != nil {
			listen(ev)
		}
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.mu.Lock()
			b.errs = append(b.errs, msg)
			b.mu.Unlock()
		}
	}))
	b.ctx = ctx
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, on the long-lived context, so that no step's
	// timeout can end it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium (%s): %v", execPath, err)
	}
	return b
}

// do runs steps with a timeout and fails the test, with what the page
// showed, if they fail.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.fail("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it is true.
func (b *browser) waitFor(what, predicate string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+predicate+")"))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.fail("waiting %s for %s (%s): last error %v", timeout, what, predicate, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fail stops the test and shows what the page displayed.
func (b *browser) fail(format string, args ...any) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 3*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if len(text) > 4000 {
		text = text[:4000] + "…"
	}
	b.t.Fatalf(format+"\n--- the page showed:\n%s\n--- JavaScript exceptions: %v", append(args, text, b.exceptions())...)
}

func (b *browser) exceptions() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...)
}

// jsString quotes s for use inside a JavaScript expression.
func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// rowSel is the CSS selector of a message's row in the live stream.
func rowSel(messageID string) string {
	return `#stream-list tr[data-message-id=` + jsString(messageID) + `]`
}

// TestDebuggerInBrowser runs the real binary and drives the debugger page in
// headless Chromium: the token prompt, the live stream and its filter and
// pause, a message's detail with a destination's failed attempt, resending
// dead letters from the list and from the detail, the log panel, and the
// page under a load of a few thousand events, of which it saves a
// screenshot.
func TestDebuggerInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)

	sink := newSink(t)
	var healthy atomic.Bool
	sink.setRespond(func() (int, http.Header) {
		if healthy.Load() {
			return http.StatusOK, nil
		}
		return http.StatusServiceUnavailable, nil
	})
	const (
		token    = "debugger-browser-token"
		writeKey = "debugger-key"
	)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q, admin_token: %q}
data_dir: %q
log: {level: warn}
sources:
  web: {type: segment, write_keys: [%q]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 100, batch_timeout: 50ms, initial_backoff: 50ms, max_backoff: 200ms, max_attempts: 1}
`, addr, token, t.TempDir(), writeKey, sink.URL+"/in")
	srv := startServer(t, cfg, addr)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The shell loads without a token; every data endpoint answers 401
	// without it or with a wrong one.
	t.Run("token guard", func(t *testing.T) {
		resp, err := client.Get(srv.base + "/debugger")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /debugger without a token: %d, want 200", resp.StatusCode)
		}
		for _, ep := range []struct{ method, path string }{
			{"GET", "/admin/stream"},
			{"GET", "/admin/destinations"},
			{"GET", "/admin/log"},
			{"GET", "/admin/messages/web/any-id"},
			{"GET", "/admin/dlq?destination=hook"},
			{"POST", "/admin/dlq/redrive"},
			{"GET", "/admin/quarantine"},
		} {
			for _, auth := range []string{"", "Bearer wrong-token"} {
				req, _ := http.NewRequestWithContext(ctx, ep.method, srv.base+ep.path, strings.NewReader(`{"destination":"hook"}`))
				if auth != "" {
					req.Header.Set("Authorization", auth)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s with auth %q: %d, want 401", ep.method, ep.path, auth, resp.StatusCode)
				}
			}
		}
	})

	send := func(events ...string) {
		t.Helper()
		body := `{"batch":[` + strings.Join(events, ",") + `]}`
		status, out, err := post(ctx, client, srv.base+"/v1/batch", writeKey, []byte(body))
		if err != nil || status != http.StatusOK {
			t.Fatalf("sending events: status %d, body %s, err %v", status, out, err)
		}
	}
	track := func(id, user, event string) string {
		return fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":%q,"properties":{"plan":"pro","amount":42}}`, id, user, event)
	}

	b := newBrowser(t, chrome)
	start := time.Now()

	// Without a token the page shows only the prompt.
	b.do("opening the page", chromedp.Navigate(srv.base+"/debugger"), chromedp.WaitVisible(chromedp.ID("token-input")))
	if !eval[bool](b, `document.getElementById('app').hidden && document.getElementById('topstats').hidden && !document.getElementById('login').hidden`) {
		b.fail("without a token the page shows more than the token prompt")
	}
	if txt := eval[string](b, `document.body.innerText`); strings.Contains(txt, "Dead letters") || strings.Contains(txt, "Incoming messages") {
		b.fail("without a token the page shows its views")
	}

	// A wrong token is refused; the right one opens the debugger.
	b.do("entering a wrong token",
		chromedp.SendKeys(chromedp.ID("token-input"), "not-the-token"),
		chromedp.Click(chromedp.ID("token-submit")),
		chromedp.WaitVisible(chromedp.ID("token-error")))
	if txt := eval[string](b, `document.getElementById('token-error').textContent`); !strings.Contains(txt, "refused") {
		b.fail("the wrong token's message is %q", txt)
	}
	if v := eval[string](b, `document.getElementById('token-input').value`); v != "" {
		b.fail("the refused token is still in the input: %q", v)
	}
	b.do("entering the token",
		chromedp.SendKeys(chromedp.ID("token-input"), token),
		chromedp.Click(chromedp.ID("token-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
	b.waitFor("the stream to connect", `document.getElementById('conn-status').dataset.state === 'live'`, 10*time.Second)
	b.waitFor("the empty state", `!document.getElementById('stream-empty').hidden && document.getElementById('stream-empty').innerText.includes('No events yet')`, 5*time.Second)
	b.waitFor("the destinations panel", `document.querySelector('#dest-list tr[data-destination="hook"]') !== null`, 5*time.Second)

	// The token survives a reload of the tab (sessionStorage) and is not
	// kept anywhere that outlives it.
	b.do("reloading", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("app")))
	if n := eval[int](b, `localStorage.length + document.cookie.length`); n != 0 {
		b.fail("the page stored something outside sessionStorage (%d)", n)
	}
	b.waitFor("the stream to reconnect", `document.getElementById('conn-status').dataset.state === 'live'`, 10*time.Second)

	// Events appear in the stream; the sink fails them, and with
	// max_attempts 1 they are dead-lettered at once.
	send(track("dbg-1", "alice", "Signed Up"), track("dbg-2", "bob", "Signed Up"), track("dbg-3", "carol", "Order Completed"))
	for _, id := range []string{"dbg-1", "dbg-2", "dbg-3"} {
		b.waitFor(id+" in the stream", `document.querySelector(`+jsString(rowSel(id))+`) !== null`, 10*time.Second)
	}
	if !eval[bool](b, `document.getElementById('stream-empty').hidden`) {
		b.fail("the empty state is still shown with messages in the list")
	}

	// The detail shows the raw body, the normalised message and the
	// destination's failed attempt with its status and error.
	hookBox := `document.querySelector('[data-testid="attempts"][data-destination="hook"]')`
	b.do("opening dbg-1", chromedp.Click(chromedp.CSS(rowSel("dbg-1"))), chromedp.WaitVisible(chromedp.ID("detail-body")))
	b.waitFor("dbg-1's failed attempt at hook", hookBox+` !== null && `+hookBox+`.dataset.status === 'dead_lettered'`, 15*time.Second)
	box := eval[string](b, hookBox+`.innerText`)
	if !strings.Contains(box, "503") {
		b.fail("hook's attempts do not show the sink's 503: %q", box)
	}
	if !eval[bool](b, hookBox+`.querySelector('[data-testid="attempt"][data-status="failed"], [data-testid="attempt"][data-status="dead_lettered"]') !== null`) {
		b.fail("hook's attempts show no failed attempt: %q", box)
	}
	if raw := eval[string](b, `document.getElementById('detail-raw').textContent`); !strings.Contains(raw, `"dbg-1"`) {
		b.fail("the raw body does not hold the request: %q", raw)
	}
	if msg := eval[string](b, `document.getElementById('detail-message').textContent`); !strings.Contains(msg, "Signed Up") || !strings.Contains(msg, "alice") {
		b.fail("the normalised message is not shown: %q", msg)
	}
	b.screenshot("debugger-failed-attempt.png")

	// The sink recovers; resend dbg-1 from the dead-letter list.
	healthy.Store(true)
	b.do("opening the dead letters", chromedp.Click(chromedp.ID("tab-dlq")), chromedp.WaitVisible(chromedp.ID("view-dlq")))
	dlqRow := `#dlq-list tr[data-message-id="dbg-1"]`
	deadline := time.Now().Add(15 * time.Second)
	for !eval[bool](b, `document.querySelector(`+jsString(dlqRow)+`) !== null`) {
		if time.Now().After(deadline) {
			b.fail("dbg-1 never showed up in hook's dead letters")
		}
		b.do("refreshing the dead letters", chromedp.Click(chromedp.ID("dlq-refresh")))
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot("debugger-dead-letters.png")
	b.do("resending dbg-1", chromedp.Click(chromedp.CSS(dlqRow+` button[data-testid="dlq-resend"]`)))
	b.waitFor("the resend's result", `document.getElementById('dlq-result').dataset.state === 'done'`, 15*time.Second)
	if txt := eval[string](b, `document.getElementById('dlq-result').textContent`); !strings.Contains(txt, "Resent 1 message") {
		b.fail("the resend reported %q", txt)
	}
	sink.waitForIDs(t, map[string]bool{"dbg-1": true}, 15*time.Second)

	// Resend dbg-2 from its detail, and see it delivered there.
	b.do("back to the stream", chromedp.Click(chromedp.ID("tab-stream")), chromedp.WaitVisible(chromedp.CSS(rowSel("dbg-2"))))
	b.do("opening dbg-2", chromedp.Click(chromedp.CSS(rowSel("dbg-2"))))
	b.waitFor("dbg-2's resend button", hookBox+` !== null && `+hookBox+`.dataset.status === 'dead_lettered' && document.querySelector('[data-testid="detail-resend"][data-destination="hook"]') !== null`, 15*time.Second)
	b.do("resending dbg-2", chromedp.Click(chromedp.CSS(`[data-testid="detail-resend"][data-destination="hook"]`)))
	b.waitFor("the detail's resend result", `document.getElementById('detail-action').textContent.includes('Resent 1 message')`, 15*time.Second)
	sink.waitForIDs(t, map[string]bool{"dbg-2": true}, 15*time.Second)
	b.waitFor("dbg-2 delivered in its detail", hookBox+` !== null && `+hookBox+`.dataset.status === 'delivered'`, 15*time.Second)

	// Exactly the selected messages were delivered, once each.
	time.Sleep(500 * time.Millisecond)
	got := deliveryCounts(sink)
	if got["dbg-1"] != 1 || got["dbg-2"] != 1 || got["dbg-3"] != 0 {
		t.Fatalf("the sink received dbg-1 %d, dbg-2 %d, dbg-3 %d times; want 1, 1, 0", got["dbg-1"], got["dbg-2"], got["dbg-3"])
	}

	// Filters go to the server: only the matching event shows.
	b.do("filtering on an event",
		chromedp.SendKeys(chromedp.ID("filter-event"), "Filtered In"),
		chromedp.Click(chromedp.ID("filter-apply")))
	b.waitFor("the filtered stream", `document.getElementById('conn-status').dataset.state === 'live' && document.getElementById('stream-list').childElementCount === 0`, 10*time.Second)
	send(track("flt-out", "dave", "Filtered Out"), track("flt-in", "dave", "Filtered In"))
	b.waitFor("the matching event", `document.querySelector(`+jsString(rowSel("flt-in"))+`) !== null`, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if eval[bool](b, `document.querySelector(`+jsString(rowSel("flt-out"))+`) !== null`) {
		b.fail("the filtered stream shows an event that does not match")
	}
	b.do("clearing the filter", chromedp.Click(chromedp.ID("filter-clear")))
	b.waitFor("the unfiltered stream", `document.getElementById('conn-status').dataset.state === 'live' && document.getElementById('filter-event').value === ''`, 10*time.Second)

	// Pause holds new rows back; resume shows them.
	b.do("pausing", chromedp.Click(chromedp.ID("pause")))
	send(track("paused-1", "erin", "While Paused"))
	b.waitFor("the paused counter", `document.getElementById('pause').textContent.includes('1 new')`, 10*time.Second)
	if eval[bool](b, `document.querySelector(`+jsString(rowSel("paused-1"))+`) !== null`) {
		b.fail("a message was added to the list while paused")
	}
	b.do("resuming", chromedp.Click(chromedp.ID("pause")))
	b.waitFor("the held-back row", `document.querySelector(`+jsString(rowSel("paused-1"))+`) !== null`, 5*time.Second)

	// The log panel shows retention and size.
	b.do("opening the log panel", chromedp.Click(chromedp.ID("tab-log")))
	b.waitFor("the log's retention", `document.querySelector('[data-testid="log-retention"]') !== null && document.querySelector('[data-testid="log-retention"]').textContent !== '–'`, 10*time.Second)
	b.screenshot("debugger-log.png")
	b.do("back to the stream", chromedp.Click(chromedp.ID("tab-stream")))

	// Load: a few thousand events while the page is open. The list stays
	// capped, the counts are exact.
	const loadBatches, perBatch = 40, 100
	sentBefore := 6 // dbg-1..3, flt-out, flt-in, paused-1
	total := sentBefore + loadBatches*perBatch
	events := []string{"Page Viewed", "Product Added", "Checkout Started", "Order Completed", "Signed Up"}
	loadDone := make(chan error, 1)
	go func() {
		for i := 0; i < loadBatches; i++ {
			batch := make([]string, 0, perBatch)
			for j := 0; j < perBatch; j++ {
				n := i*perBatch + j
				batch = append(batch, track(fmt.Sprintf("load-%05d", n), fmt.Sprintf("user-%03d", n%137), events[n%len(events)]))
			}
			status, out, err := post(ctx, client, srv.base+"/v1/batch", writeKey, []byte(`{"batch":[`+strings.Join(batch, ",")+`]}`))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("status %d: %s", status, out)
			}
			if err != nil {
				loadDone <- err
				return
			}
			time.Sleep(60 * time.Millisecond)
		}
		loadDone <- nil
	}()
	received := `Number(document.getElementById('stat-received-total').textContent.replace(/[^0-9]/g, '') || 0)`
	b.waitFor("load in the stream", received+` >= 1500 && document.getElementById('stream-list').childElementCount >= 50`, 20*time.Second)
	b.do("opening a message under load", chromedp.Click(chromedp.CSS(`#stream-list tr[data-id]`)), chromedp.WaitVisible(chromedp.ID("detail-body")))
	b.waitFor("its attempts", hookBox+` !== null`, 10*time.Second)
	saveDocsScreenshot(t, b.screenshot("debugger.png"))
	if err := <-loadDone; err != nil {
		t.Fatalf("sending the load: %v", err)
	}
	b.waitFor(fmt.Sprintf("the exact count of %d received", total), received+` === `+strconv.Itoa(total), 10*time.Second)
	if n := eval[int](b, `document.getElementById('stream-list').childElementCount`); n > 500 || n < 50 {
		b.fail("the stream list holds %d rows under load; want between 50 and 500", n)
	}
	if errs := b.exceptions(); len(errs) > 0 {
		t.Fatalf("the page threw JavaScript exceptions: %v", errs)
	}
	t.Logf("browser part took %s", time.Since(start).Round(time.Millisecond))
}

// screenshot saves the viewport as a test artefact named name, in
// $TEST_ARTIFACTS or else the test's temporary directory.
func (b *browser) screenshot(name string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.fail("taking the screenshot %s: %v", name, err)
	}
	if b.artifacts == "" {
		b.artifacts = os.Getenv("TEST_ARTIFACTS")
		if b.artifacts == "" {
			b.artifacts = b.t.TempDir()
		}
		if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
			b.t.Fatal(err)
		}
	}
	art := filepath.Join(b.artifacts, name)
	if err := os.WriteFile(art, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", art)
	return png
}

// saveDocsScreenshot writes the screenshot of README.md and docs/operating.md to docs/ when
// UPDATE_SCREENSHOT=1 or when docs/debugger.png is absent, so ordinary runs
// leave the tree clean.
func saveDocsScreenshot(t *testing.T, png []byte) {
	t.Helper()
	docs := filepath.Join("..", "..", "docs", "debugger.png")
	_, err := os.Stat(docs)
	if os.Getenv("UPDATE_SCREENSHOT") != "1" && !errors.Is(err, os.ErrNotExist) {
		return
	}
	if err := os.MkdirAll(filepath.Dir(docs), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docs, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", docs)
}

// signIn opens the debugger at base and enters token.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.do("signing in",
		chromedp.Navigate(base+"/debugger"),
		chromedp.SendKeys(chromedp.ID("token-input"), token),
		chromedp.Click(chromedp.ID("token-submit")),
		chromedp.WaitVisible(chromedp.ID("app")))
	b.waitFor("the stream to connect", `document.getElementById('conn-status').dataset.state === 'live'`, 10*time.Second)
}

// TestDebuggerQuarantineInBrowser runs the real binary with a tracking plan
// that blocks unplanned events and drives the page: a message's violations
// in the stream and its detail, the "violations only" filter, and resending
// a quarantined message from the quarantine list once the plan is fixed.
func TestDebuggerQuarantineInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	plan := copyPlanDir(t, "../../schemas/testdata/order")
	writeTestFile(t, filepath.Join(plan, "plan.yaml"), "id: order-plan\nenforcement: {track: {unplanned_events: block}}\n")
	sink := newSink(t)
	const (
		token    = "debugger-quarantine-token"
		writeKey = "debugger-q-key"
	)
	addr := freeAddr(t)
	cfg := fmt.Sprintf(`http: {listen: %q, admin_token: %q}
data_dir: %q
log: {level: warn}
tracking_plan: {path: %q}
sources:
  shop: {type: segment, write_keys: [%q]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 20ms}
`, addr, token, t.TempDir(), plan, writeKey, sink.URL+"/in")
	srv := startServer(t, cfg, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	send := func(id, event, props string) {
		t.Helper()
		body := fmt.Sprintf(`{"messageId":%q,"userId":"u-%s","event":%q,"properties":%s}`, id, id, event, props)
		if status, out, err := post(ctx, http.DefaultClient, srv.base+"/v1/track", writeKey, []byte(body)); err != nil || status != http.StatusOK {
			t.Fatalf("sending %s: %d %s %v", id, status, out, err)
		}
	}

	b := newBrowser(t, chrome)
	b.signIn(srv.base, token)
	send("q-valid", "Order Completed", `{"order_id":"o1","revenue":10}`)
	send("q-norevenue", "Order Completed", `{"order_id":"o2"}`)
	send("q-ship", "Order Shipped", `{"order_id":"o3","revenue":5}`)
	for _, id := range []string{"q-valid", "q-norevenue", "q-ship"} {
		b.waitFor(id+" in the stream", `document.querySelector(`+jsString(rowSel(id))+`) !== null`, 10*time.Second)
	}
	if st := eval[string](b, `document.querySelector(`+jsString(rowSel("q-ship"))+`).dataset.status`); st != "quarantined" {
		b.fail("the unplanned event's row has status %q, want quarantined", st)
	}
	if txt := eval[string](b, `document.querySelector(`+jsString(rowSel("q-norevenue"))+`).innerText`); !strings.Contains(txt, "violation") {
		b.fail("the row of a message with a violation does not say so: %q", txt)
	}

	// The detail lists the violation.
	b.do("opening q-norevenue", chromedp.Click(chromedp.CSS(rowSel("q-norevenue"))))
	b.waitFor("its violation", `[...document.querySelectorAll('#detail-violations [data-testid="violation"]')].some(v => v.textContent.includes('revenue'))`, 10*time.Second)

	// "Violations only" shows (also from the recent list) only the
	// messages with violations.
	b.do("filtering on violations", chromedp.Click(chromedp.ID("filter-violations")), chromedp.Click(chromedp.ID("filter-apply")))
	b.waitFor("the filtered list", `document.getElementById('conn-status').dataset.state === 'live' && document.querySelector(`+jsString(rowSel("q-norevenue"))+`) !== null`, 10*time.Second)
	if eval[bool](b, `document.querySelector(`+jsString(rowSel("q-valid"))+`) !== null`) {
		b.fail("the violations-only list shows a valid message")
	}

	// The quarantine lists the blocked event; once the plan plans it,
	// Resend delivers it, once.
	b.do("opening the quarantine", chromedp.Click(chromedp.ID("tab-quarantine")), chromedp.WaitVisible(chromedp.ID("view-quarantine")))
	qRow := `#quarantine-list tr[data-message-id="q-ship"]`
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](b, `document.querySelector(`+jsString(qRow)+`) !== null`) {
		if time.Now().After(deadline) {
			b.fail("q-ship never showed up in the quarantine")
		}
		b.do("refreshing the quarantine", chromedp.Click(chromedp.ID("quarantine-refresh")))
		time.Sleep(300 * time.Millisecond)
	}
	b.screenshot("debugger-quarantine.png")
	// The row shows the violation's field and description (the page reads
	// the Segment-style names every admin route uses).
	if txt := eval[string](b, `document.querySelector(`+jsString(qRow+` td.err`)+`).textContent`); txt != "event: event 'Order Shipped' is not in the tracking plan" {
		b.fail("the quarantine row's violation reads %q", txt)
	}
	planOrderShipped(t, plan)
	if status, body := adminCall(t, srv.base, token, http.MethodPost, "/admin/plan/reload", ""); status != http.StatusOK {
		t.Fatalf("reloading the fixed plan: %d %s", status, body)
	}
	b.do("resending q-ship", chromedp.Click(chromedp.CSS(qRow+` button[data-testid="quarantine-resend"]`)))
	b.waitFor("the resend's result", `document.getElementById('quarantine-result').dataset.state === 'done'`, 15*time.Second)
	if txt := eval[string](b, `document.getElementById('quarantine-result').textContent`); !strings.Contains(txt, "Resent 1;") {
		b.fail("the resend reported %q", txt)
	}
	sink.waitForIDs(t, map[string]bool{"q-ship": true}, 15*time.Second)
	b.waitFor("the empty quarantine", `!document.getElementById('quarantine-empty').hidden && document.getElementById('quarantine-list').childElementCount === 0`, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := deliveryCounts(sink)["q-ship"]; n != 1 {
		t.Fatalf("the sink received q-ship %d times, want 1", n)
	}
	if errs := b.exceptions(); len(errs) > 0 {
		t.Fatalf("the page threw JavaScript exceptions: %v", errs)
	}
}
