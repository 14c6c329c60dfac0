package config

import (
	"strings"
	"testing"
)

// TestParseTrackingPlan checks the tracking_plan block, the sources'
// enforcement blocks and the destinations' accept key: values, defaults,
// and every problem reported with its key path.
func TestParseTrackingPlan(t *testing.T) {
	const base = `
tracking_plan: {path: schemas, auto_replay: true}
sources:
  web:
    type: segment
    write_keys: [k1]
    enforcement:
      track: {unplanned_events: block, unplanned_properties: omit, violations: block}
      identify: {unplanned_traits: omit, violations: omit}
      group: {unplanned_traits: allow, violations: allow}
      common_violations: block
      forward_blocked_to: fwd
      forward_violations_to: fwd
  fwd: {type: segment, write_keys: [k2]}
destinations:
  a: {type: hook, url: "http://x", accept: valid}
  b: {type: hook, url: "http://y"}
`
	cfg, err := parse([]byte(base), testRegistry(t), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Sources["web"].Enforcement
	if cfg.TrackingPlan != (TrackingPlan{Path: "schemas", AutoReplay: true, DropBlockedInBrowser: true}) || e.Track.UnplannedEvents != "block" ||
		e.Identify.UnplannedTraits != "omit" || e.CommonViolations != "block" || e.ForwardBlockedTo != "fwd" {
		t.Errorf("decoded %+v %+v", cfg.TrackingPlan, e)
	}
	if !cfg.Sources["fwd"].Enforcement.IsZero() {
		t.Errorf("fwd enforcement = %+v, want none", cfg.Sources["fwd"].Enforcement)
	}
	if cfg.Destinations["a"].Dispatch.Accept != "valid" || cfg.Destinations["b"].Dispatch.Accept != "all" {
		t.Errorf("accept = %q, %q", cfg.Destinations["a"].Dispatch.Accept, cfg.Destinations["b"].Dispatch.Accept)
	}

	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"bad modes", `
tracking_plan: {path: p}
sources:
  web: {type: segment, write_keys: [k], enforcement: {track: {unplanned_events: omit, unplanned_properties: block}, identify: {violations: drop}, common_violations: nope}}
`, []string{
			"sources.web.enforcement.track.unplanned_events: must be one of allow, block",
			"sources.web.enforcement.track.unplanned_properties: must be one of allow, omit",
			"sources.web.enforcement.identify.violations: must be one of allow, omit, block",
			"sources.web.enforcement.common_violations: must be one of allow, omit, block",
		}},
		{"unknown enforcement key", `
tracking_plan: {path: p}
sources:
  web: {type: segment, write_keys: [k], enforcement: {track: {unplanned: block}}}
`, []string{"sources.web.enforcement.track.unplanned: unknown key"}},
		{"forwarding targets", `
tracking_plan: {path: p}
sources:
  web: {type: segment, write_keys: [k], enforcement: {forward_blocked_to: web, forward_violations_to: nowhere}}
  app: {type: segment, write_keys: [k2], enforcement: {forward_blocked_to: web}}
`, []string{
			"sources.web.enforcement.forward_blocked_to: must name another source",
			`sources.web.enforcement.forward_violations_to: unknown source "nowhere"`,
			`sources.app.enforcement.forward_blocked_to: source "web" has enforcement settings`,
		}},
		{"enforcement without a plan", `
sources:
  web: {type: segment, write_keys: [k], enforcement: {track: {violations: block}}}
`, []string{"sources.web.enforcement: has no effect without tracking_plan.path"}},
		{"auto_replay without a plan", `
tracking_plan: {auto_replay: true}
sources:
  web: {type: segment, write_keys: [k]}
`, []string{"tracking_plan.auto_replay: has no effect without tracking_plan.path"}},
		{"bad accept", `
sources:
  web: {type: segment, write_keys: [k]}
destinations:
  a: {type: hook, url: "http://x", accept: clean}
`, []string{"destinations.a.accept: must be one of valid, all"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte(tt.yaml), testRegistry(t), env(nil))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
