package config

import "strings"

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

// Enforcement holds a source's tracking-plan settings, with the
// keys of plan.yaml's enforcement block. Every value is a string; empty
// means "as plan.yaml says".
type Enforcement struct {
	// Track holds the settings for track calls (page and screen calls
	// follow them too).
	Track TrackEnforcement `yaml:"track"`
	// Identify holds the settings for identify calls.
	Identify TraitEnforcement `yaml:"identify"`
	// Group holds the settings for group calls.
	Group TraitEnforcement `yaml:"group"`
	// CommonViolations is what happens to a message that breaks the
	// common schema: allow, omit or block.
	CommonViolations string `yaml:"common_violations"`
	// ForwardBlockedTo names another source that receives an unmodified
	// copy of every blocked message (same messageId, annotated with
	// context.protocols.forwarded_from); that source's messages are not
	// validated. Default empty: none.
	ForwardBlockedTo string `yaml:"forward_blocked_to"`
	// ForwardViolationsTo names another source that receives one track
	// "Violation Generated" per violation. Default empty: none.
	ForwardViolationsTo string `yaml:"forward_violations_to"`
}

// TrackEnforcement holds the settings for track calls.
type TrackEnforcement struct {
	// UnplannedEvents is allow or block: an event with no rule in the plan.
	UnplannedEvents string `yaml:"unplanned_events"`
	// UnplannedProperties is allow or omit: properties the event's rule
	// does not declare (omit removes them, keeping them in
	// context.protocols.omitted).
	UnplannedProperties string `yaml:"unplanned_properties"`
	// Violations is allow, omit (remove the offending properties) or block.
	Violations string `yaml:"violations"`
}

// TraitEnforcement holds the settings for identify or group calls.
type TraitEnforcement struct {
	// UnplannedTraits is allow or omit.
	UnplannedTraits string `yaml:"unplanned_traits"`
	// Violations is allow, omit or block.
	Violations string `yaml:"violations"`
}

// IsZero reports whether e sets nothing.
func (e Enforcement) IsZero() bool { return e == Enforcement{} }

// checkEnforcement checks the enforcement block of the source called name.
func checkEnforcement(cfg *Config, name string, e Enforcement, ps *problems) {
	prefix := "sources." + name + ".enforcement."
	mode := func(v, key string, allowed ...string) {
		if v == "" {
			return
		}
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		ps.add(prefix+key, "must be one of %s (or left out: plan.yaml's setting)", strings.Join(allowed, ", "))
	}
	mode(e.Track.UnplannedEvents, "track.unplanned_events", "allow", "block")
	mode(e.Track.UnplannedProperties, "track.unplanned_properties", "allow", "omit")
	mode(e.Track.Violations, "track.violations", "allow", "omit", "block")
	mode(e.Identify.UnplannedTraits, "identify.unplanned_traits", "allow", "omit")
	mode(e.Identify.Violations, "identify.violations", "allow", "omit", "block")
	mode(e.Group.UnplannedTraits, "group.unplanned_traits", "allow", "omit")
	mode(e.Group.Violations, "group.violations", "allow", "omit", "block")
	mode(e.CommonViolations, "common_violations", "allow", "omit", "block")
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
