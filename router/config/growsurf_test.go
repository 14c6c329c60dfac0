package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/eventrouter/eventrouter/router/sources/growsurf"
)

func TestGrowSurfSource(t *testing.T) {
	tests := []struct {
		name string
		yaml string // the sources block
		env  map[string]string
		want func() *growsurf.Config
	}{
		{name: "defaults", yaml: `
  referrals: {type: growsurf, secret: s}
`, want: func() *growsurf.Config {
			g := growsurf.DefaultConfig()
			g.Secret = "s"
			return g
		}},
		{name: "every key", yaml: `
  referrals:
    type: growsurf
    path: /hooks/GrowSurf
    secret: ${GS_SECRET}
    tolerance: 72h
    identifier: app_user_id
    app_user_id_key: userId
    referral_trigger: signup
    legacy_path: true
    disabled: true
    mapping:
      events: {referral_made: Referral Made}
      traits: {total_referrals: referrals_count, email: email}
`, env: map[string]string{"GS_SECRET": "s3cret"}, want: func() *growsurf.Config {
			g := growsurf.DefaultConfig()
			g.Path = "/hooks/GrowSurf"
			g.Secret = "s3cret"
			g.Tolerance = 72 * time.Hour
			g.Identifier = "app_user_id"
			g.AppUserIDKey = "userId"
			g.ReferralTrigger = "signup"
			g.LegacyPath = true
			g.Mapping.Events["referral_made"] = "Referral Made"
			g.Mapping.Traits["total_referrals"] = "referrals_count"
			return g
		}},
		{name: "unset secret with allow_unsigned", yaml: `
  referrals: {type: growsurf, secret: "${GS_SECRET:-}", allow_unsigned: true, identifier: growsurf_id}
`, want: func() *growsurf.Config {
			g := growsurf.DefaultConfig()
			g.Identifier = "growsurf_id"
			g.AllowUnsigned = true
			return g
		}},
		{name: "null mapping keeps the defaults", yaml: `
  referrals: {type: growsurf, allow_unsigned: true, mapping: {events: ~, traits: {}}}
`, want: func() *growsurf.Config {
			g := growsurf.DefaultConfig()
			g.AllowUnsigned = true
			return g
		}},
		{name: "two sources on two paths", yaml: `
  a: {type: growsurf, path: /webhooks/growsurf/a, legacy_path: true, secret: s}
  b: {type: growsurf, path: /webhooks/growsurf/b, secret: s}
`, want: func() *growsurf.Config {
			g := growsurf.DefaultConfig()
			g.Path = "/webhooks/growsurf/a"
			g.LegacyPath = true
			g.Secret = "s"
			return g
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte("sources:"+tt.yaml), builtinSources(t), env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			name := cfg.SourceNames()[0]
			src := cfg.Sources[name]
			if src.Type != "growsurf" || src.Factory == nil || src.Factory.Type() != "growsurf" {
				t.Fatalf("source = %+v", src)
			}
			if want := strings.Contains(tt.yaml, "disabled: true"); src.Disabled != want {
				t.Errorf("disabled = %v, want %v", src.Disabled, want)
			}
			got, ok := src.Settings.(*growsurf.Config)
			if !ok {
				t.Fatalf("settings are %T, want *growsurf.Config", src.Settings)
			}
			if want := tt.want(); !reflect.DeepEqual(got, want) {
				t.Fatalf("settings\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestGrowSurfSourceInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string // the sources block
		want []string
	}{
		{name: "write keys and rate limit are not allowed", yaml: `
  referrals: {type: growsurf, secret: s, write_keys: [k1], rate_limit: {events_per_second: 5}}
`, want: []string{
			"sources.referrals.write_keys: not allowed for source type growsurf",
			"sources.referrals.rate_limit: not allowed for source type growsurf",
		}},
		{name: "unknown key lists the known ones", yaml: `
  referrals: {type: growsurf, secret: s, signing_secret: x}
`, want: []string{
			"sources.referrals.signing_secret: unknown key for source type growsurf (known keys: type, disabled, enforcement, path, secret, allow_unsigned, tolerance, identifier, app_user_id_key, referral_trigger, legacy_path, mapping)",
		}},
		{name: "path shape", yaml: `
  a: {type: growsurf, secret: s, path: webhooks/growsurf}
  b: {type: growsurf, secret: s, path: /webhooks/growsurf/}
  c: {type: growsurf, secret: s, path: "/web hooks"}
  d: {type: growsurf, secret: s, path: /webhooks/../v1/track}
  e: {type: growsurf, secret: s, path: ""}
  f: {type: growsurf, secret: s, path: /a//b}
  g: {type: growsurf, secret: s, path: "/hook?x=1"}
`, want: []string{
			`sources.a.path: must start with "/"`,
			`sources.b.path: must be "/" followed by segments`,
			`sources.c.path: must be "/" followed by segments`,
			`sources.d.path: must not have "." or ".." segments`,
			"sources.e.path: required",
			`sources.f.path: must be "/" followed by segments`,
			`sources.g.path: must be "/" followed by segments`,
		}},
		{name: "path collides with the server's routes", yaml: `
  a: {type: growsurf, secret: s, path: /v1/track}
  b: {type: growsurf, secret: s, path: /V1}
  c: {type: growsurf, secret: s, path: /beacon/v1/batch}
  d: {type: growsurf, secret: s, path: /healthz}
  e: {type: growsurf, secret: s, path: /readyz}
  f: {type: growsurf, secret: s, path: /Metrics}
  g: {type: growsurf, secret: s, path: /admin/growsurf}
  h: {type: growsurf, secret: s, path: /health}
  i: {type: growsurf, secret: s, path: /internal/health}
`, want: []string{
			"sources.a.path: collides with the server's route /v1/",
			"sources.b.path: collides with the server's route /v1",
			"sources.c.path: collides with the server's route /beacon/",
			"sources.d.path: collides with the server's route /healthz",
			"sources.e.path: collides with the server's route /readyz",
			"sources.f.path: collides with the server's route /metrics",
			"sources.g.path: collides with the server's route /admin/",
			"sources.h.path: collides with the server's route /health",
			"sources.i.path: collides with the server's route /internal/",
		}},
		{name: "paths are unique across sources", yaml: `
  a: {type: growsurf, secret: s}
  b: {type: growsurf, secret: s, path: /WEBHOOKS/growsurf}
  c: {type: growsurf, secret: s, path: /c, legacy_path: true}
  d: {type: growsurf, secret: s, path: /d, legacy_path: true}
  e: {type: growsurf, secret: s, path: /api/growsurf-to-customerio}
`, want: []string{
			"sources.b.path: same path as sources.a.path",
			"sources.d.legacy_path: same path as sources.c.legacy_path",
			"sources.e.path: same path as sources.c.legacy_path",
		}},
		{name: "values", yaml: `
  a: {type: growsurf, secret: s, tolerance: 0s, identifier: phone, app_user_id_key: " ", referral_trigger: purchase}
  b: {type: growsurf, secret: s, path: /b, tolerance: soon, identifier: [email], legacy_path: maybe}
  c: {type: growsurf, path: /c, tolerance: -1h, secret: [x]}
`, want: []string{
			"sources.a.tolerance: must be greater than zero",
			"sources.a.identifier: must be one of email, app_user_id, growsurf_id",
			"sources.a.app_user_id_key: required",
			"sources.a.referral_trigger: must be one of qualifying_action, signup",
			"sources.b.tolerance: must be a duration",
			"sources.b.identifier: must be a string",
			"sources.b.legacy_path: must be true or false",
			"sources.c.tolerance: must be greater than zero",
			"sources.c.secret: must be a string",
		}},
		{name: "mapping", yaml: `
  a:
    type: growsurf
    secret: s
    mapping:
      events: {referral_convertd: x, referral_made: "", referral_reward_earned: " padded"}
      traits: {referralCode: code, first_name: email, last_name: "` + strings.Repeat("n", 151) + `"}
  b: {type: growsurf, secret: s, path: /b, mapping: {events: [a], colour: red}}
  c: {type: growsurf, secret: s, path: /c, mapping: {events: {referral_made: referral_program_joined}, traits: {email: 7, first_name: [x]}}}
`, want: []string{
			"sources.a.mapping.events.referral_convertd: unknown key (known keys: referral_converted, referral_made, referral_program_joined, referral_reward_earned)",
			"sources.a.mapping.events.referral_made: required",
			"sources.a.mapping.events.referral_reward_earned: must not start or end with spaces",
			"sources.a.mapping.traits.referralCode: unknown key (known keys: email, first_name, last_name, last_referral_date, referral_code, referral_link, referral_program_join_date, referral_status, referred_by, total_referrals)",
			"sources.a.mapping.traits.first_name: same name as mapping.traits.email",
			"sources.a.mapping.traits.last_name: must be at most 150 bytes",
			"sources.b.mapping.events: must be a mapping",
			"sources.b.mapping.colour: unknown key (known keys: events, traits)",
			"sources.c.mapping.traits.first_name: must be a string",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parse([]byte("sources:"+tt.yaml), builtinSources(t), env(nil))
			if cfg != nil {
				t.Fatal("got a config with an error")
			}
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error = %v, want *Error", err)
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.String())
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					if strings.HasPrefix(g, w) {
						found = true
					}
				}
				if !found {
					t.Errorf("missing problem %q", w)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d problems, want %d", len(got), len(tt.want))
			}
			if t.Failed() {
				t.Logf("all problems:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}

// TestGrowSurfSecretRequired: a missing signing secret fails closed, naming
// the variable that expanded to nothing and the opt-out.
func TestGrowSurfSecretRequired(t *testing.T) {
	for _, tt := range []struct{ name, block, want string }{
		{"unset variable", `{type: growsurf, secret: "${GROWSURF_WEBHOOK_SECRET}"}`, "required (environment variable GROWSURF_WEBHOOK_SECRET is unset or empty): set the webhook's signing secret"},
		{"unset with empty default", `{type: growsurf, secret: "${GROWSURF_WEBHOOK_SECRET:-}"}`, "required (environment variable GROWSURF_WEBHOOK_SECRET is unset or empty)"},
		{"left out", `{type: growsurf}`, "required: set the webhook's signing secret as in GrowSurf (Program -> Settings -> Webhooks), or allow_unsigned: true to accept unsigned requests"},
		{"blank", `{type: growsurf, secret: "  "}`, "required: set"},
		{"allow_unsigned false", `{type: growsurf, allow_unsigned: false}`, "or allow_unsigned: true"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse([]byte("sources:\n  referrals: "+tt.block+"\n"), builtinSources(t), env(nil))
			var cerr *Error
			if !errors.As(err, &cerr) || !cerr.Has("sources.referrals.secret", tt.want) || len(cerr.Problems) != 1 {
				t.Fatalf("error = %v, want only sources.referrals.secret: %s", err, tt.want)
			}
		})
	}
	// allow_unsigned does not turn off a secret that is set.
	cfg, err := parse([]byte("sources:\n  referrals: {type: growsurf, secret: s, allow_unsigned: true}\n"), builtinSources(t), env(nil))
	if err != nil || cfg.Sources["referrals"].Settings.(*growsurf.Config).Secret != "s" {
		t.Fatalf("secret with allow_unsigned: %v", err)
	}
}

func TestGrowSurfSecretNotInErrors(t *testing.T) {
	const secret = "gs-S3CRET-value"
	data := `
sources:
  a: {type: growsurf, secret: "` + secret + `", tolerance: "` + secret + `", write_keys: ["` + secret + `"]}
  b: {type: growsurf, secret: "${S}", path: "/` + secret + `/x y"}
`
	_, err := parse([]byte(data), builtinSources(t), env(map[string]string{"S": secret}))
	if err == nil {
		t.Fatal("expected problems")
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatalf("error leaks the secret:\n%v", err)
	}
}

// TestExampleHasEveryGrowSurfKey checks that the shipped example config has
// a growsurf source setting every key, every mapping key included.
func TestExampleHasEveryGrowSurfKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "configs", "eventrouter.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Sources map[string]map[string]any `yaml:"sources"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	var block map[string]any
	for _, s := range doc.Sources {
		if s["type"] == "growsurf" {
			block = s
		}
	}
	if block == nil {
		t.Fatal("no growsurf source in the example")
	}
	var missing []string
	for _, k := range strings.Split("disabled, "+knownKeys(reflect.TypeFor[growsurf.Config]()), ", ") {
		if _, ok := block[k]; !ok {
			missing = append(missing, k)
		}
	}
	mapping, _ := block["mapping"].(map[string]any)
	for part, keys := range map[string][]string{"events": growsurf.EventKeys(), "traits": growsurf.TraitKeys()} {
		m, _ := mapping[part].(map[string]any)
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				missing = append(missing, "mapping."+part+"."+k)
			}
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the example's growsurf source lacks: %s", strings.Join(missing, ", "))
	}
}
