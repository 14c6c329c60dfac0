package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPlanSighupReloadAutoReplay starts the binary with
// tracking_plan.auto_replay: true and a plan that blocks an unplanned
// event, sends that event (quarantined), fixes the plan on disk and sends
// SIGHUP: the plan in force changes (GET /admin/plan shows the new version)
// and the quarantine is replayed by itself, in the background, so the
// blocked event reaches the destination exactly once without anyone
// running a replay; GET /admin/plan shows the replay's outcome. POST
// /admin/plan/reload answers as soon as the plan is swapped, before its
// replay ends.
func TestPlanSighupReloadAutoReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	plan, snk, srv, send := startOrderPlanServer(t, ", auto_replay: true")
	type autoReplay struct {
		StartedAt    time.Time  `json:"started_at"`
		FinishedAt   *time.Time `json:"finished_at"`
		Replayed     int        `json:"replayed"`
		StillInvalid int        `json:"still_invalid"`
		Error        string     `json:"error"`
	}
	type planInfo struct {
		ID             string      `json:"id"`
		Version        string      `json:"version"`
		Events         int         `json:"events"`
		LastAutoReplay *autoReplay `json:"last_auto_replay"`
	}
	getPlan := func() planInfo {
		t.Helper()
		status, b := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/plan", "")
		var r struct {
			Plan planInfo `json:"plan"`
		}
		if status != 200 || json.Unmarshal(b, &r) != nil || r.Plan.ID != "order-plan" {
			t.Fatalf("GET /admin/plan: %d %s", status, b)
		}
		return r.Plan
	}
	// finishedReplay waits for GET /admin/plan to show an auto replay
	// started after after that has finished.
	finishedReplay := func(after time.Time) autoReplay {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if ar := getPlan().LastAutoReplay; ar != nil && ar.FinishedAt != nil && !ar.StartedAt.Before(after) {
				return *ar
			}
			if time.Now().After(deadline) {
				t.Fatalf("no finished auto replay in GET /admin/plan: %+v", getPlan().LastAutoReplay)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	send("c1", "Order Completed")
	send("s1", "Order Shipped") // not in the plan: blocked
	snk.waitForIDs(t, map[string]bool{"c1": true}, 30*time.Second)
	if l := listQuarantine(t, srv.base, opsAdminToken); l.Total != 1 || l.Messages[0].MessageID != "s1" {
		t.Fatalf("quarantine: %+v, want s1 only", l)
	}
	if _, ok := byID(t, snk)["s1"]; ok {
		t.Fatal("s1 was delivered while the plan blocks it")
	}
	v1 := getPlan()
	if v1.LastAutoReplay != nil {
		t.Fatalf("GET /admin/plan before any reload: last_auto_replay %+v, want null", v1.LastAutoReplay)
	}

	// Fix the plan on disk and signal the process.
	signalled := time.Now().Add(-time.Second)
	planOrderShipped(t, plan)
	if err := srv.cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	snk.waitForIDs(t, map[string]bool{"c1": true, "s1": true}, 30*time.Second)
	if ar := finishedReplay(signalled); ar.Replayed != 1 || ar.StillInvalid != 0 || ar.Error != "" {
		t.Errorf("last_auto_replay after SIGHUP: %+v, want 1 replayed", ar)
	}

	v2 := getPlan()
	if v2.Version == v1.Version || v2.Events != v1.Events+1 {
		t.Errorf("GET /admin/plan after SIGHUP: %+v; before: %+v; want a new version with one more event", v2, v1)
	}
	if logs := srv.logs.String(); !strings.Contains(logs, "tracking plan reloaded") || !strings.Contains(logs, "quarantine replayed after reload") {
		t.Errorf("the reload and its replay are not logged:\n%s", logs)
	}
	if l := listQuarantine(t, srv.base, opsAdminToken); l.Total != 0 {
		t.Errorf("quarantine holds %d after the automatic replay, want 0", l.Total)
	}
	// A second SIGHUP (same plan) replays nothing more.
	if err := srv.cmd.Process.Signal(sighup); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(srv.logs.String(), "tracking plan reloaded") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the second SIGHUP was not handled:\n%s", srv.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The admin route answers with the replay it started, still running.
	reloaded := time.Now().Add(-time.Second)
	status, b := adminCall(t, srv.base, opsAdminToken, http.MethodPost, "/admin/plan/reload", "")
	var rl struct {
		AutoReplay *autoReplay `json:"auto_replay"`
	}
	if status != 200 || json.Unmarshal(b, &rl) != nil || rl.AutoReplay == nil || rl.AutoReplay.FinishedAt != nil {
		t.Fatalf("POST /admin/plan/reload with auto_replay: %d %s; want the started replay, not finished", status, b)
	}
	if ar := finishedReplay(reloaded); ar.Replayed != 0 || ar.Error != "" {
		t.Errorf("last_auto_replay after the admin reload: %+v, want 0 replayed", ar)
	}
	time.Sleep(500 * time.Millisecond)
	got := byID(t, snk) // fails on any message delivered twice
	if len(got) != 2 {
		t.Errorf("sink has %d messages, want c1 and s1 once each: %v", len(got), got)
	}
	if p := protocols(got["s1"]); p != nil {
		t.Errorf("s1 replayed with violations: %v", p)
	}
}
