package config

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// GrowSurf holds the settings of a source of type "growsurf" (GrowSurf
// referral-program webhooks): it is the
// [Source.Settings] of such a source, as a *GrowSurf. The command maps it
// to the ingest and growsurf packages' settings.
type GrowSurf struct {
	// Path is the URL path the webhook is served on (key "path", default
	// [GrowSurfDefaultPath]). It starts with "/", is made of segments of
	// letters, digits, '.', '_', '~' and '-', matches case-insensitively,
	// must differ from every other source's path and must not fall under
	// the server's own routes (/v1/, /beacon/, /healthz, /readyz, /metrics,
	// /admin, /health, /internal/).
	Path string `yaml:"path"`
	// Secret is the webhook's signing secret as set in GrowSurf (key
	// "secret", a secret: take it from the environment; never printed). A
	// request without a valid GrowSurf-Signature header is answered 401
	// and nothing of it is stored. It is required (an empty or unset
	// secret is a configuration error) unless AllowUnsigned is set.
	Secret string `yaml:"secret"`
	// AllowUnsigned accepts unsigned requests while Secret is empty (key
	// "allow_unsigned", default false): anyone who knows the path can then
	// store referral events. It is the explicit opt-out of signatures, for
	// a program without a secret.
	AllowUnsigned bool `yaml:"allow_unsigned"`
	// Tolerance is how old a signature's timestamp may be (key
	// "tolerance", default [GrowSurfDefaultTolerance], 7 days). GrowSurf
	// retries a failed delivery for several days, and whether a retry is
	// signed anew is not documented, so a short tolerance could refuse
	// legitimate retries; replays inside the tolerance are absorbed by the
	// delivery dedupe (queue.delivery_dedupe_window).
	Tolerance time.Duration `yaml:"tolerance"`
	// Identifier selects the identity messages are keyed by (key
	// "identifier"): "email" (the default), "app_user_id" (the
	// participant's metadata user id, falling back to email) or
	// "growsurf_id" (the participant id).
	Identifier string `yaml:"identifier"`
	// AppUserIDKey is the key of the participant's GrowSurf metadata that
	// holds the product's user id, read when Identifier is "app_user_id"
	// (key "app_user_id_key", default [GrowSurfDefaultAppUserIDKey]).
	AppUserIDKey string `yaml:"app_user_id_key"`
	// ReferralTrigger says when the referral program credits a referral
	// (key "referral_trigger"): "qualifying_action" (the
	// default: later, by the product backend, which then sends
	// referral_converted through /v1/track, as GrowSurf sends no webhook
	// for it) or "signup" (at signup, so a referred participant's webhook
	// also produces referral_converted on the referrer).
	ReferralTrigger string `yaml:"referral_trigger"`
	// LegacyPath also serves the webhook on [GrowSurfLegacyPath], the path
	// of the widely copied integration guide's handler (key "legacy_path",
	// default false). Only one source may set it.
	LegacyPath bool `yaml:"legacy_path"`
	// Mapping renames the events and traits the source produces (key
	// "mapping"); keys left out keep their default names.
	Mapping GrowSurfMapping `yaml:"mapping"`
}

// GrowSurfMapping maps the internal keys of the events and traits a
// GrowSurf source produces to the names written into messages. The
// defaults name each event and trait after its key; only the keys listed
// by [GrowSurfEventKeys] and [GrowSurfTraitKeys] are allowed.
type GrowSurfMapping struct {
	// Events maps an internal event key to a track event name (key
	// "events").
	Events map[string]string `yaml:"events"`
	// Traits maps an internal trait key to a trait (and Customer.io
	// attribute) name (key "traits").
	Traits map[string]string `yaml:"traits"`
}

// Defaults of the GrowSurf source settings. They must agree with package
// router/sources/growsurf, which config may not import (router/<sub>
// imports only router); a test in the command checks that they do.
const (
	// GrowSurfDefaultPath is the default webhook path.
	GrowSurfDefaultPath = "/webhooks/growsurf"
	// GrowSurfLegacyPath is the path of the integration guide's handler,
	// served as well when legacy_path is true.
	GrowSurfLegacyPath = "/api/growsurf-to-customerio"
	// GrowSurfDefaultTolerance is the default signature timestamp
	// tolerance: 7 days, long enough for GrowSurf's
	// multi-day retries.
	GrowSurfDefaultTolerance = 7 * 24 * time.Hour
	// GrowSurfDefaultIdentifier is the default identifier.
	GrowSurfDefaultIdentifier = "email"
	// GrowSurfDefaultAppUserIDKey is the default metadata key of the
	// app_user_id identifier.
	GrowSurfDefaultAppUserIDKey = "appUserId"
	// GrowSurfDefaultReferralTrigger is the default referral trigger.
	GrowSurfDefaultReferralTrigger = "qualifying_action"
)

// GrowSurfIdentifiers returns the allowed values of the identifier key.
func GrowSurfIdentifiers() []string { return []string{"email", "app_user_id", "growsurf_id"} }

// GrowSurfReferralTriggers returns the allowed values of the
// referral_trigger key.
func GrowSurfReferralTriggers() []string { return []string{"qualifying_action", "signup"} }

// growSurfDefaultEvents and growSurfDefaultTraits are the default names of
// the internal keys: each key is its own default name.
var (
	growSurfDefaultEvents = []string{
		"referral_program_joined",
		"referral_made",
		"referral_converted",
		"referral_reward_earned",
	}
	growSurfDefaultTraits = []string{
		"email",
		"first_name",
		"last_name",
		"referral_code",
		"referral_link",
		"referral_status",
		"total_referrals",
		"referred_by",
		"referral_program_join_date",
		"last_referral_date",
	}
)

// GrowSurfEventKeys returns the internal event keys of mapping.events,
// sorted.
func GrowSurfEventKeys() []string { return sorted(growSurfDefaultEvents) }

// GrowSurfTraitKeys returns the internal trait keys of mapping.traits,
// sorted.
func GrowSurfTraitKeys() []string { return sorted(growSurfDefaultTraits) }

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// DefaultGrowSurfMapping returns the default mapping, in new maps.
func DefaultGrowSurfMapping() GrowSurfMapping {
	m := GrowSurfMapping{Events: map[string]string{}, Traits: map[string]string{}}
	for _, k := range growSurfDefaultEvents {
		m.Events[k] = k
	}
	for _, k := range growSurfDefaultTraits {
		m.Traits[k] = k
	}
	return m
}

// DefaultGrowSurf returns the settings of a growsurf source with every
// default.
func DefaultGrowSurf() *GrowSurf {
	return &GrowSurf{
		Path:            GrowSurfDefaultPath,
		Tolerance:       GrowSurfDefaultTolerance,
		Identifier:      GrowSurfDefaultIdentifier,
		AppUserIDKey:    GrowSurfDefaultAppUserIDKey,
		ReferralTrigger: GrowSurfDefaultReferralTrigger,
		Mapping:         DefaultGrowSurfMapping(),
	}
}

// growSurfPath is what a webhook path must match: one or more "/segment".
var growSurfPath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// reservedPaths are the server's own routes; a source path must be none of
// them and lie under none of those ending in "/".
var reservedPaths = []string{"/v1", "/v1/", "/beacon/", "/healthz", "/readyz", "/metrics", "/admin", "/admin/", "/health", "/internal/"}

// checkSourcePath returns what is wrong with a webhook path, or "".
func checkSourcePath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return `must start with "/"`
	}
	if !growSurfPath.MatchString(p) {
		return `must be "/" followed by segments of letters, digits, '.', '_', '~' and '-' separated by single "/" (no trailing "/")`
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if strings.Trim(seg, ".") == "" {
			return `must not have "." or ".." segments`
		}
	}
	lp := strings.ToLower(p)
	for _, r := range reservedPaths {
		if lp == strings.TrimSuffix(r, "/") || (strings.HasSuffix(r, "/") && strings.HasPrefix(lp, r)) {
			return fmt.Sprintf("collides with the server's route %s", r)
		}
	}
	return ""
}

// Validate reports every problem of the settings, each prefixed with its
// key.
func (g *GrowSurf) Validate() error {
	var errs []error
	if g.Path == "" {
		errs = append(errs, errors.New("path: required"))
	} else if msg := checkSourcePath(g.Path); msg != "" {
		errs = append(errs, fmt.Errorf("path: %s", msg))
	}
	if g.Tolerance <= 0 {
		errs = append(errs, errors.New("tolerance: must be greater than zero"))
	}
	if !slices.Contains(GrowSurfIdentifiers(), g.Identifier) {
		errs = append(errs, fmt.Errorf("identifier: must be one of %s", strings.Join(GrowSurfIdentifiers(), ", ")))
	}
	if strings.TrimSpace(g.AppUserIDKey) == "" {
		errs = append(errs, errors.New("app_user_id_key: required"))
	}
	if !slices.Contains(GrowSurfReferralTriggers(), g.ReferralTrigger) {
		errs = append(errs, fmt.Errorf("referral_trigger: must be one of %s", strings.Join(GrowSurfReferralTriggers(), ", ")))
	}
	errs = append(errs, checkMapping("mapping.events", g.Mapping.Events, GrowSurfEventKeys(), 100, false)...)
	errs = append(errs, checkMapping("mapping.traits", g.Mapping.Traits, GrowSurfTraitKeys(), 150, true)...)
	return errors.Join(errs...)
}

// checkMapping checks one map of internal keys to names: only known keys,
// names not empty, without surrounding spaces, at most maxLen bytes, and,
// when unique is set (traits), no two keys with the same name, which would
// make one overwrite the other.
func checkMapping(path string, m map[string]string, known []string, maxLen int, unique bool) []error {
	var errs []error
	owner := map[string]string{}
	for _, k := range sortedKeys(m) {
		p := path + "." + k
		if !slices.Contains(known, k) {
			errs = append(errs, fmt.Errorf("%s: unknown key (known keys: %s)", p, strings.Join(known, ", ")))
			continue
		}
		name := m[k]
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s: required", p))
		case strings.TrimSpace(name) != name:
			errs = append(errs, fmt.Errorf("%s: must not start or end with spaces", p))
		case len(name) > maxLen:
			errs = append(errs, fmt.Errorf("%s: must be at most %d bytes", p, maxLen))
		case unique && owner[name] != "":
			errs = append(errs, fmt.Errorf("%s: same name as %s.%s", p, path, owner[name]))
		default:
			owner[name] = k
		}
	}
	return errs
}
