package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var sighup = syscall.SIGHUP

// copyPlanDir copies the plan directory src (recursively) into a new temporary
// directory and returns it.
func copyPlanDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "plan")
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// byID returns the sink's messages by messageId, failing on a repeat.
func byID(t *testing.T, s *webhookSink) map[string]sinkMessage {
	t.Helper()
	out := map[string]sinkMessage{}
	for _, m := range s.messages() {
		if _, dup := out[m.MessageID]; dup {
			t.Errorf("message %s delivered twice", m.MessageID)
		}
		out[m.MessageID] = m
	}
	return out
}

// protocols returns context.protocols of a delivered message, or nil.
func protocols(m sinkMessage) map[string]any {
	ctx, _ := m.Body["context"].(map[string]any)
	p, _ := ctx["protocols"].(map[string]any)
	return p
}

// hasViolation reports whether a context.protocols carries a violation of
// type typ on field.
func hasViolation(p map[string]any, typ, field string) bool {
	vs, _ := p["violations"].([]any)
	for _, v := range vs {
		m, _ := v.(map[string]any)
		if m["violationType"] == typ && m["violationField"] == field {
			return true
		}
	}
	return false
}

type quarantineList struct {
	Messages []struct {
		Seq        uint64 `json:"seq"`
		MessageID  string `json:"message_id"`
		Source     string `json:"source"`
		Event      string `json:"event"`
		Violations []struct {
			Type  string `json:"violationType"`
			Field string `json:"violationField"`
		} `json:"violations"`
	} `json:"messages"`
	Total int `json:"total"`
}

func listQuarantine(t *testing.T, base, token string) quarantineList {
	t.Helper()
	status, body := adminCall(t, base, token, http.MethodGet, "/admin/quarantine", "")
	if status != 200 {
		t.Fatalf("GET /admin/quarantine: %d %s", status, body)
	}
	var l quarantineList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatalf("decoding %s: %v", body, err)
	}
	return l
}

// TestTrackingPlanVectors runs the tracking-plan vectors P1–P6
// through a running server with the Order Completed plan (track
// unplanned events block, unplanned properties omit, violations allow),
// forwarding of blocked events and of violations, and two destinations:
// "all" (accept: all) and "valid" (accept: valid).
func TestTrackingPlanVectors(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	plan := copyPlanDir(t, "../../schemas/testdata/order")
	writeTestFile(t, filepath.Join(plan, "plan.yaml"), `id: order-plan
name: Orders
sources: [prod-web, prod-strict]
enforcement:
  track: {unplanned_events: block, unplanned_properties: omit, violations: allow}
`)
	all, valid := newSink(t), newSink(t)
	srv := startAdminServer(t, `queue: {partitions: 2}
tracking_plan: {path: %q}
sources:
  prod-web:
    type: segment
    write_keys: [WK1]
    enforcement: {forward_blocked_to: blocked, forward_violations_to: violations}
  prod-strict:
    type: segment
    write_keys: [WK2]
    enforcement: {track: {violations: block}}
  blocked: {type: segment, write_keys: [WKB]}
  violations: {type: segment, write_keys: [WKV]}
destinations:
  all: {type: webhook, url: %q, batch_timeout: 20ms}
  valid: {type: webhook, url: %q, batch_timeout: 20ms, accept: valid}
`, plan, all.URL, valid.URL)
	ctx := context.Background()
	send := func(key, body string) {
		t.Helper()
		status, b, err := post(ctx, http.DefaultClient, srv.base+"/v1/track", key, []byte(body))
		if err != nil || status != 200 || string(b) != `{"success":true}`+"\n" && string(b) != `{"success":true}` {
			t.Fatalf("POST /v1/track %s: %d %q %v", body, status, b, err)
		}
	}
	send("WK1", `{"messageId":"p0","userId":"u1","event":"Order Completed","properties":{"order_id":"o1","revenue":10}}`)
	send("WK1", `{"messageId":"p1","userId":"u1","event":"Order Completed","properties":{"order_id":"o1","revenue":10,"coupon":"X"}}`)
	send("WK1", `{"messageId":"p2","userId":"u1","event":"Order Completed","properties":{"order_id":"o1"}}`)
	send("WK1", `{"messageId":"p3","userId":"u1","event":"order completed","properties":{"order_id":"o1","revenue":10}}`)
	send("WK2", `{"messageId":"p4","userId":"u1","event":"Order Completed","properties":{"order_id":"o1","revenue":"10"}}`)

	viol := "viol-" // prefix of Violation Generated messageIds
	all.waitForIDs(t, map[string]bool{"p0": true, "p1": true, "p2": true, "p3": true}, 30*time.Second)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for id := range byID(t, all) {
			if strings.HasPrefix(id, viol) {
				n++
			}
		}
		if n >= 2 || time.Now().After(deadline) { // p1 (UnplannedProperty) and p2 (Required)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	valid.waitForIDs(t, map[string]bool{"p0": true}, 30*time.Second)
	time.Sleep(300 * time.Millisecond) // anything else in flight
	got := byID(t, all)

	t.Run("clean", func(t *testing.T) {
		if p := protocols(got["p0"]); p != nil {
			t.Errorf("a clean message has context.protocols %v", p)
		}
	})
	t.Run("P1", func(t *testing.T) {
		m := got["p1"]
		props, _ := m.Body["properties"].(map[string]any)
		if _, ok := props["coupon"]; ok {
			t.Errorf("coupon not omitted: %v", props)
		}
		p := protocols(m)
		om, _ := p["omitted"].(map[string]any)
		omp, _ := om["properties"].(map[string]any)
		if omp["coupon"] != "X" {
			t.Errorf("context.protocols.omitted = %v, want properties.coupon X", p["omitted"])
		}
		if !hasViolation(p, "UnplannedProperty", "properties.coupon") {
			t.Errorf("violations = %v", p["violations"])
		}
		if p["tracking_plan_id"] != "order-plan" || p["tracking_plan_version"] == "" {
			t.Errorf("plan id/version = %v/%v", p["tracking_plan_id"], p["tracking_plan_version"])
		}
	})
	t.Run("P2", func(t *testing.T) {
		m := got["p2"]
		props, _ := m.Body["properties"].(map[string]any)
		if len(props) != 1 || props["order_id"] != "o1" {
			t.Errorf("properties = %v, want unchanged", props)
		}
		if !hasViolation(protocols(m), "Required", "properties.revenue") {
			t.Errorf("violations = %v", protocols(m)["violations"])
		}
	})
	t.Run("P3", func(t *testing.T) {
		// Blocked: quarantined, with the forwarded copy in the forwarding source.
		l := listQuarantine(t, srv.base, opsAdminToken)
		found := false
		for _, e := range l.Messages {
			if e.MessageID == "p3" {
				found = true
				if e.Source != "prod-web" || len(e.Violations) == 0 || e.Violations[0].Type != "Unplanned" {
					t.Errorf("quarantine entry = %+v", e)
				}
			}
		}
		if !found {
			t.Errorf("p3 not quarantined: %+v", l)
		}
		p := protocols(got["p3"])
		if p["forwarded_from"] != "prod-web" {
			t.Errorf("forwarded copy of p3: context.protocols = %v, want forwarded_from prod-web", p)
		}
		if got["p3"].Body["event"] != "order completed" {
			t.Errorf("forwarded copy changed: %v", got["p3"].Body)
		}
	})
	t.Run("P4", func(t *testing.T) {
		if _, ok := got["p4"]; ok {
			t.Fatal("p4 was delivered; violations = block must quarantine it")
		}
		l := listQuarantine(t, srv.base, opsAdminToken)
		var seq uint64
		for _, e := range l.Messages {
			if e.MessageID == "p4" {
				seq = e.Seq
				if e.Source != "prod-strict" || len(e.Violations) != 1 || e.Violations[0].Type != "Type" || e.Violations[0].Field != "properties.revenue" {
					t.Errorf("quarantine entry = %+v", e)
				}
			}
		}
		if seq == 0 {
			t.Fatalf("p4 not quarantined: %+v", l)
		}
		status, body := adminCall(t, srv.base, opsAdminToken, http.MethodGet, fmt.Sprintf("/admin/quarantine/%d", seq), "")
		var one struct {
			Reason  string         `json:"reason"`
			Message map[string]any `json:"message"`
		}
		if status != 200 || json.Unmarshal(body, &one) != nil || one.Reason != "blocked_by_tracking_plan" || one.Message["messageId"] != "p4" {
			t.Errorf("GET /admin/quarantine/%d: %d %s", seq, status, body)
		}
	})
	t.Run("P5", func(t *testing.T) {
		var found bool
		for id, m := range got {
			if !strings.HasPrefix(id, viol) {
				continue
			}
			props, _ := m.Body["properties"].(map[string]any)
			if m.Event == "Violation Generated" && m.UserID == "schema-violations" &&
				props["violationField"] == "properties.revenue" && props["eventMessageID"] == "p2" {
				found = true
			}
		}
		if !found {
			t.Errorf("no Violation Generated for p2's properties.revenue among %d messages", len(got))
		}
	})
	t.Run("P6", func(t *testing.T) {
		out, err := exec.Command(binPath, "plan", "lint", "../../schemas/testdata/p6").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("plan lint: %v, want exit 1\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("order_completed_v2")) {
			t.Errorf("lint output does not name the duplicate file:\n%s", out)
		}
	})
	t.Run("accept", func(t *testing.T) {
		vg := byID(t, valid)
		for _, id := range []string{"p1", "p2"} {
			if _, ok := vg[id]; ok {
				t.Errorf("%s (with violations) reached the accept: valid destination", id)
			}
			if _, ok := got[id]; !ok {
				t.Errorf("%s did not reach the accept: all destination", id)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(srv.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`eventrouter_tracking_plan_violations_total{event="Order Completed",field="properties.coupon",source="prod-web",type="UnplannedProperty"} 1`,
			`eventrouter_tracking_plan_violations_total{event="order completed",field="event",source="prod-web",type="Unplanned"} 1`,
			`eventrouter_tracking_plan_messages_total{outcome="blocked",source="prod-strict"} 1`,
			`eventrouter_tracking_plan_omitted_total{source="prod-web"} 1`,
			`eventrouter_dispatch_filtered_total{destination="valid",reason="violations"} 2`,
		} {
			if !bytes.Contains(b, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
}

// TestPlanReloadAndQuarantineReplay blocks unplanned events, then: a plan
// that does not load (SIGHUP, then POST /admin/plan/reload) keeps the old
// one in force; the fixed plan (with the formerly unplanned event) is
// reloaded; `eventrouter quarantine replay` (the real CLI against the real
// binary) stores the formerly blocked events, which reach the destination
// exactly once, and empties the quarantine.
func TestPlanReloadAndQuarantineReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	plan, snk, srv, send := startOrderPlanServer(t, "")
	planVersion := func() string {
		t.Helper()
		status, b := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/plan", "")
		var r struct {
			Plan struct{ ID, Version string } `json:"plan"`
		}
		if status != 200 || json.Unmarshal(b, &r) != nil || r.Plan.ID != "order-plan" {
			t.Fatalf("GET /admin/plan: %d %s", status, b)
		}
		return r.Plan.Version
	}
	send("c1", "Order Completed")
	for _, id := range []string{"r1", "r2", "r3"} {
		send(id, "Order Shipped")
	}
	snk.waitForIDs(t, map[string]bool{"c1": true}, 30*time.Second)
	if l := listQuarantine(t, srv.base, opsAdminToken); l.Total != 3 {
		t.Fatalf("quarantine holds %d, want 3: %+v", l.Total, l)
	}
	v1 := planVersion()

	// A broken plan: SIGHUP, then the admin route; the old plan stays.
	writeTestFile(t, filepath.Join(plan, "events", "order_shipped.schema.json"), `{"x-segment-type": "TRACK",`)
	if err := srv.cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.logs.String(), "tracking plan reload failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload failure logged after SIGHUP:\n%s", srv.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(srv.logs.String(), "order_shipped.schema.json") {
		t.Errorf("the reload failure does not name the broken file:\n%s", srv.logs)
	}
	status, b := adminCall(t, srv.base, opsAdminToken, http.MethodPost, "/admin/plan/reload", "")
	var fail struct {
		Error struct {
			Code     string   `json:"code"`
			Problems []string `json:"problems"`
		} `json:"error"`
	}
	if status != http.StatusUnprocessableEntity || json.Unmarshal(b, &fail) != nil || fail.Error.Code != "plan_invalid" ||
		len(fail.Error.Problems) == 0 || !strings.Contains(fail.Error.Problems[0], "order_shipped.schema.json") {
		t.Fatalf("reload of a broken plan: %d %s", status, b)
	}
	if v := planVersion(); v != v1 {
		t.Fatalf("plan version changed from %s to %s after a failed reload", v1, v)
	}
	// A plan directory that cannot be read is the server's problem, not an
	// invalid plan: 500 plan_unreadable, and the old plan stays.
	if err := os.Rename(plan, plan+".away"); err != nil {
		t.Fatal(err)
	}
	status, b = adminCall(t, srv.base, opsAdminToken, http.MethodPost, "/admin/plan/reload", "")
	if err := os.Rename(plan+".away", plan); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusInternalServerError || !bytes.Contains(b, []byte(`"code":"plan_unreadable"`)) {
		t.Fatalf("reload of a plan directory that is gone: %d %s; want 500 plan_unreadable", status, b)
	}
	if v := planVersion(); v != v1 {
		t.Fatalf("plan version changed from %s to %s after an unreadable reload", v1, v)
	}
	send("r4", "Order Shipped") // still blocked by the old plan
	if l := listQuarantine(t, srv.base, opsAdminToken); l.Total != 4 {
		t.Fatalf("quarantine holds %d after the failed reload, want 4", l.Total)
	}

	// The fixed plan plans Order Shipped.
	planOrderShipped(t, plan)
	if status, b := adminCall(t, srv.base, opsAdminToken, http.MethodPost, "/admin/plan/reload", ""); status != 200 || !bytes.Contains(b, []byte(`"auto_replay":null`)) {
		t.Fatalf("reload of the fixed plan: %d %s", status, b)
	}
	if v := planVersion(); v == v1 {
		t.Fatal("plan version unchanged after a successful reload")
	}
	code, out, errOut := runAdminCLI(t, "quarantine", "list", "--server", srv.base)
	if code != 0 || strings.Count(out, "Order Shipped") != 4 {
		t.Fatalf("quarantine list: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runAdminCLI(t, "quarantine", "replay", "--dry-run", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "would replay 4, still invalid 0") {
		t.Fatalf("quarantine replay --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runAdminCLI(t, "quarantine", "replay", "--event", "Order Shipped", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "replayed 4, still invalid 0, skipped 0") || !strings.Contains(errOut, "progress: 4/4") {
		t.Fatalf("quarantine replay: exit %d\n%s\n%s", code, out, errOut)
	}
	want := map[string]bool{"c1": true, "r1": true, "r2": true, "r3": true, "r4": true}
	snk.waitForIDs(t, want, 30*time.Second)
	code, out, errOut = runAdminCLI(t, "quarantine", "replay", "--server", srv.base)
	if code != 0 || !strings.Contains(out, "replayed 0") {
		t.Fatalf("second replay: exit %d\n%s\n%s", code, out, errOut)
	}
	if l := listQuarantine(t, srv.base, opsAdminToken); l.Total != 0 {
		t.Fatalf("quarantine holds %d after the replay, want 0", l.Total)
	}
	time.Sleep(500 * time.Millisecond)
	got := byID(t, snk) // fails on any message delivered twice
	if len(got) != len(want) {
		t.Errorf("sink has %d messages, want %d: %v", len(got), len(want), got)
	}
}

// startOrderPlanServer starts the binary with an admin token, the order
// plan of schemas/testdata/order copied to a temporary directory (returned,
// so a test can change it) whose plan.yaml blocks unplanned events, extra
// appended to the tracking_plan block (e.g. ", auto_replay: true"), a
// segment source with write key WKA and a webhook destination to the
// returned sink; send posts a track of event with messageId id.
func startOrderPlanServer(t *testing.T, extra string) (plan string, snk *webhookSink, srv *serverProc, send func(id, event string)) {
	t.Helper()
	plan = copyPlanDir(t, "../../schemas/testdata/order")
	writeTestFile(t, filepath.Join(plan, "plan.yaml"), "id: order-plan\nenforcement: {track: {unplanned_events: block}}\n")
	snk = newSink(t)
	srv = startAdminServer(t, `queue: {partitions: 2}
tracking_plan: {path: %q`+extra+`}
sources:
  app: {type: segment, write_keys: [WKA]}
destinations:
  hook: {type: webhook, url: %q, batch_timeout: 20ms}
`, plan, snk.URL)
	send = func(id, event string) {
		t.Helper()
		body := fmt.Sprintf(`{"messageId":%q,"userId":"u-%s","event":%q,"properties":{"order_id":"o","revenue":1}}`, id, id, event)
		if status, b, err := post(context.Background(), http.DefaultClient, srv.base+"/v1/track", "WKA", []byte(body)); err != nil || status != 200 {
			t.Fatalf("POST: %d %s %v", status, b, err)
		}
	}
	return plan, snk, srv, send
}

// planOrderShipped adds the rule for "Order Shipped" to the order plan in
// dir, so that a reload lets the formerly blocked event through.
func planOrderShipped(t *testing.T, dir string) {
	t.Helper()
	writeTestFile(t, filepath.Join(dir, "events", "order_shipped.schema.json"), `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "x-segment-type": "TRACK", "x-segment-key": "Order Shipped", "x-segment-version": 1,
  "type": "object",
  "properties": {"properties": {"type": "object", "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number"}}}}
}`)
}
