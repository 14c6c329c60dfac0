package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAnalyticsNodeEndToEnd runs the real @segment/analytics-node (npm,
// installed from the lockfile by make deps) against `eventrouter serve`:
// the six calls, each with integrations (testdata/npm/analytics-node.mjs).
// Each reaches a file destination and a DuckDB warehouse exactly once,
// field by field as the library sent it (its own http_request events
// report the bodies).
func TestAnalyticsNodeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	dir := npmModules(t)
	rig := startClientRig(t, "node-key", "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "analytics-node.mjs", rig.srv.base, "node-key")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("node analytics-node.mjs: %v\n%s\n%s", err, out, stderr)
	}
	var res struct {
		Requests []struct{ URL, Method, Body string }
		Errors   []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("analytics-node output: %v\n%s", err, out)
	}
	if len(res.Errors) > 0 || len(res.Requests) == 0 {
		t.Fatalf("analytics-node: %d requests, errors %v", len(res.Requests), res.Errors)
	}
	var bodies [][]byte
	for _, r := range res.Requests {
		if r.Method != "POST" || !strings.HasSuffix(r.URL, "/v1/batch") {
			t.Errorf("analytics-node sent %s %s", r.Method, r.URL)
		}
		bodies = append(bodies, []byte(r.Body))
	}
	sent := sentBatches(t, bodies)
	ids := []string{"node-identify", "node-track", "node-page", "node-screen", "node-group", "node-alias"}
	stored := rig.waitStored(t, ids)
	for _, id := range ids {
		s := sent[id]
		if s == nil {
			t.Errorf("%s: not in the requests analytics-node sent", id)
			continue
		}
		if want := "node-" + stored[id]["type"].(string); want != id {
			t.Errorf("%s: stored with type %v", id, stored[id]["type"])
		}
		if !reflect.DeepEqual(s["integrations"], clientIntegrations) {
			t.Errorf("%s: analytics-node sent integrations %s, want %s", id, js(s["integrations"]), js(clientIntegrations))
		}
		if lib := s["context"].(map[string]any)["library"].(map[string]any); lib["name"] != "@segment/analytics-node" {
			t.Errorf("%s: sent by %v", id, lib)
		}
		checkStoredAsSent(t, id, "server", s, stored[id])
	}
	if got := stored["node-track"]["originalTimestamp"]; got != "2024-03-01T12:00:00.000Z" {
		t.Errorf("track originalTimestamp = %v, want the call's timestamp", got)
	}
	checkWarehouse(t, rig.srv.cfgPath, "web", stored)
}
