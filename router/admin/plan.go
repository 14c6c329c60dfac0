package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/eventrouter/eventrouter/schemas"
)

// PlanInfo describes the tracking plan in force.
type PlanInfo struct {
	// ID and Name come from plan.yaml.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Path is the plan directory of the config (tracking_plan.path).
	Path string `json:"path"`
	// Events is the number of track rules.
	Events int `json:"events"`
	// LoadedAt is when the plan was loaded.
	LoadedAt time.Time `json:"loaded_at"`
	// Version is the plan's content hash (recorded in
	// context.protocols.tracking_plan_version).
	Version string `json:"version"`
	// LastAutoReplay is the latest quarantine replay run by itself after
	// a reload (tracking_plan.auto_replay); nil when none ran since the
	// server started.
	LastAutoReplay *AutoReplay `json:"last_auto_replay"`
}

// AutoReplay is the state of a quarantine replay run in the background
// after a plan reload.
type AutoReplay struct {
	// StartedAt is when it started.
	StartedAt time.Time `json:"started_at"`
	// FinishedAt is when it ended; nil while it runs.
	FinishedAt *time.Time `json:"finished_at"`
	// Replayed, StillInvalid and Skipped are [ReplayResult]'s counts, set
	// when it finishes.
	Replayed     int `json:"replayed"`
	StillInvalid int `json:"still_invalid"`
	Skipped      int `json:"skipped"`
	// Error is what stopped it early; "" when it ran to the end.
	Error string `json:"error"`
}

// PlanInfoOf describes p, loaded from path at loadedAt.
func PlanInfoOf(p *schemas.Plan, path string, loadedAt time.Time) PlanInfo {
	return PlanInfo{ID: p.ID, Name: p.Name, Path: path, Events: len(p.Tracks), LoadedAt: loadedAt.UTC(), Version: p.Hash}
}

// PlanReloader is the tracking plan as the admin API sees it;
// cmd/eventrouter implements it. Its methods are called from request
// goroutines and must be safe for concurrent use.
type PlanReloader interface {
	// PlanInfo returns the plan in force; false when no plan is configured.
	PlanInfo() (PlanInfo, bool)
	// ReloadPlan loads the plan directory again and, when it loads, puts it
	// in force atomically and returns it. With auto_replay on it starts a
	// quarantine replay in the background and returns at once, with the
	// replay's starting state (nil otherwise); its outcome is logged and
	// shown by PlanInfo's LastAutoReplay. When the plan does not load,
	// the plan in force stays and the error is returned: a
	// *schemas.LoadError lists the problems of a plan that was read but is
	// invalid; any other error means the directory could not be read. It
	// returns ErrNoPlan when no plan is configured.
	ReloadPlan(ctx context.Context) (PlanInfo, *AutoReplay, error)
}

// ErrNoPlan is returned by [PlanReloader.ReloadPlan] when the config sets
// no tracking plan.
var ErrNoPlan = errors.New("no tracking plan is configured (tracking_plan.path)")

// MountPlan registers the tracking-plan routes:
//
//	GET  /admin/plan         {"plan":{id,name,path,events,loaded_at,version}} ({"plan":null} without a plan)
//	GET  /admin/plan         ... "last_auto_replay":{started_at,finished_at,replayed,still_invalid,skipped,error}|null
//	POST /admin/plan/reload  {"plan":{...},"auto_replay":{started_at,...}|null}, answered right after the
//	                         swap (the auto replay runs in the background); 422 plan_invalid with
//	                         "problems" when the plan is read but invalid, 500 plan_unreadable when the
//	                         directory cannot be read (the old plan stays in both), 409 no_plan without a plan
func (s *Server) MountPlan(p PlanReloader) {
	s.HandleFunc("GET /admin/plan", func(w http.ResponseWriter, r *http.Request) {
		info, ok := p.PlanInfo()
		if !ok {
			WriteJSON(w, http.StatusOK, map[string]any{"plan": nil})
			return
		}
		WriteJSON(w, http.StatusOK, map[string]any{"plan": info})
	})
	s.HandleFunc("POST /admin/plan/reload", func(w http.ResponseWriter, r *http.Request) {
		info, auto, err := p.ReloadPlan(r.Context())
		var le *schemas.LoadError
		switch {
		case err == nil:
			WriteJSON(w, http.StatusOK, map[string]any{"plan": info, "auto_replay": auto})
		case errors.Is(err, ErrNoPlan):
			WriteError(w, http.StatusConflict, "no_plan", err.Error())
		case errors.As(err, &le):
			problems := make([]string, len(le.Problems))
			for i, f := range le.Problems {
				problems[i] = f.String()
			}
			WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
				"code":     "plan_invalid",
				"message":  "the tracking plan does not load; the plan in force is kept",
				"problems": problems,
			}})
		default:
			// Not a plan that loads but is invalid: the directory (or a
			// file in it) could not be read at all. A server-side problem
			// (permissions, a missing mount), not the plan's content.
			s.logger.Warn("reloading the tracking plan", "error", err.Error())
			WriteError(w, http.StatusInternalServerError, "plan_unreadable",
				"the tracking plan could not be read: "+err.Error()+"; the plan in force is kept")
		}
	})
}
