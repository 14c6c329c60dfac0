package config

import (
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
)

// TrackingPlan configures the tracking plan that ingest enforces.
type TrackingPlan struct {
	// Path is the plan's directory (plan.yaml, *.schema.json; see package
	// schemas), relative to the working directory (key "path"). Default
	// empty: no plan, no message is validated. A plan that does not load
	// keeps the server from starting, with every problem listed; a reload
	// (SIGHUP or POST /admin/plan/reload) that fails keeps the plan in
	// force.
	Path string `yaml:"path"`
	// AutoReplay replays the quarantine after every successful reload: the
	// messages the previous plan blocked are validated again and those that
	// now pass are stored (key "auto_replay", default false).
	AutoReplay bool `yaml:"auto_replay"`
	// DropBlockedInBrowser makes analytics.js drop, before sending them,
	// the track calls that the plan blocks for their source (an unplanned
	// event under track.unplanned_events: block), through the settings it
	// loads from this server (key "drop_blocked_in_browser", default
	// true). Dropped calls never reach the quarantine; false sends them,
	// to be quarantined and replayable. Sources that forward blocked
	// messages (forward_blocked_to) always send them.
	DropBlockedInBrowser bool `yaml:"drop_blocked_in_browser"`
}

// Enforcement holds a source's tracking-plan settings: the overrides of
// plan.yaml's enforcement block, [schemas.Enforcement], whose checks are the
// schemas package's. Every mode left out (empty) takes plan.yaml's value.
type Enforcement = schemas.Enforcement

// TrackEnforcement holds the settings for track calls.
type TrackEnforcement = schemas.TrackEnforcement

// TraitEnforcement holds the settings for identify or group calls.
type TraitEnforcement = schemas.TraitEnforcement

// checkEnforcement checks the enforcement block of the source called name.
func checkEnforcement(cfg *Config, name string, e Enforcement, ps *problems) {
	prefix := "sources." + name + ".enforcement."
	ps.addErrors(prefix[:len(prefix)-1], e.Validate())
	for _, f := range []struct{ key, to string }{
		{"forward_blocked_to", e.ForwardBlockedTo}, {"forward_violations_to", e.ForwardViolationsTo},
	} {
		switch _, ok := cfg.Sources[f.to]; {
		case f.to == "":
		case f.to == name:
			ps.add(prefix+f.key, "must name another source (a source cannot forward to itself)")
		case !ok:
			ps.add(prefix+f.key, "unknown source %q (known sources: %s)", f.to, strings.Join(cfg.SourceNames(), ", "))
		case !cfg.Sources[f.to].Enforcement.IsZero():
			ps.add(prefix+f.key, "source %q has enforcement settings; a forwarding target is not validated, so they would never apply", f.to)
		}
	}
	if !e.IsZero() && cfg.TrackingPlan.Path == "" {
		ps.add(prefix[:len(prefix)-1], "has no effect without tracking_plan.path")
	}
}

// checkTrackingPlan checks the tracking_plan block and every source's
// enforcement block.
func checkTrackingPlan(cfg *Config, ps *problems) {
	if p := cfg.TrackingPlan.Path; p != "" && strings.TrimSpace(p) != p {
		ps.add("tracking_plan.path", "must not start or end with spaces")
	}
	if cfg.TrackingPlan.AutoReplay && cfg.TrackingPlan.Path == "" {
		ps.add("tracking_plan.auto_replay", "has no effect without tracking_plan.path")
	}
	for _, name := range cfg.SourceNames() {
		checkEnforcement(cfg, name, cfg.Sources[name].Enforcement, ps)
	}
}
