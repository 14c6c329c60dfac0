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
	// in force atomically and returns it, with the result of the
	// quarantine replay that follows when auto_replay is on (nil
	// otherwise). When it does not load, the plan in force stays and the
	// error is returned: a *schemas.LoadError lists the problems. It
	// returns ErrNoPlan when no plan is configured.
	ReloadPlan(ctx context.Context) (PlanInfo, *ReplayResult, error)
}

// ErrNoPlan is returned by [PlanReloader.ReloadPlan] when the config sets
// no tracking plan.
var ErrNoPlan = errors.New("no tracking plan is configured (tracking_plan.path)")

// MountPlan registers the tracking-plan routes:
//
//	GET  /admin/plan         {"plan":{id,name,path,events,loaded_at,version}} ({"plan":null} without a plan)
//	POST /admin/plan/reload  {"plan":{...},"replay":{...}|null}; 422 plan_invalid with "problems" when
//	                         the plan does not load (the old one stays), 409 no_plan without a plan
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
		info, replay, err := p.ReloadPlan(r.Context())
		var le *schemas.LoadError
		switch {
		case err == nil:
			WriteJSON(w, http.StatusOK, map[string]any{"plan": info, "replay": replay})
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
			// The directory itself could not be read, or the replay failed.
			WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{
				"code":     "plan_invalid",
				"message":  err.Error() + "; the plan in force is kept",
				"problems": []string{err.Error()},
			}})
		}
	})
}
