package growsurf

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the source type of GrowSurf referral webhooks: the value of
// "type" in a source block.
const Type = "growsurf"

// DefaultPath is the URL path the webhook is served on by default.
const DefaultPath = "/webhooks/growsurf"

// LegacyPath is the path of the widely copied integration guide's handler,
// served as well by a source that sets legacy_path.
const LegacyPath = "/api/growsurf-to-customerio"

// Config is the block of a source of type growsurf in the config file (the
// yaml tags are its keys; [DefaultConfig] holds the defaults, and
// [Config.Validate] the checks). Besides these the block takes the keys of
// every source: type, disabled and enforcement.
type Config struct {
	// Path is the URL path the webhook is served on (key "path", default
	// [DefaultPath]). It starts with "/", is made of segments of letters,
	// digits, '.', '_', '~' and '-', matches case-insensitively, must
	// differ from every other source's path and must not fall under the
	// server's own routes (/v1/, /beacon/, /healthz, /readyz, /metrics,
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
	// "tolerance", default [DefaultTolerance], 7 days). GrowSurf retries a
	// failed delivery for several days, and whether a retry is signed anew
	// is not documented, so a short tolerance could refuse legitimate
	// retries; replays inside the tolerance are absorbed by the delivery
	// dedupe (queue.delivery_dedupe_window).
	Tolerance time.Duration `yaml:"tolerance"`
	// Identifier selects the identity messages are keyed by (key
	// "identifier"): "email" (the default), "app_user_id" (the
	// participant's metadata user id, falling back to email) or
	// "growsurf_id" (the participant id); see [Settings.Identifier].
	Identifier string `yaml:"identifier"`
	// AppUserIDKey is the key of the participant's GrowSurf metadata that
	// holds the product's user id, read when Identifier is "app_user_id"
	// (key "app_user_id_key", default [DefaultAppUserIDKey]).
	AppUserIDKey string `yaml:"app_user_id_key"`
	// ReferralTrigger says when the referral program credits a referral
	// (key "referral_trigger"): "qualifying_action" (the default: later,
	// by the product backend, which then sends referral_converted through
	// /v1/track, as GrowSurf sends no webhook for it) or "signup" (at
	// signup, so a referred participant's webhook also produces
	// referral_converted on the referrer).
	ReferralTrigger string `yaml:"referral_trigger"`
	// LegacyPath also serves the webhook on [LegacyPath] (key
	// "legacy_path", default false). Only one source may set it.
	LegacyPath bool `yaml:"legacy_path"`
	// Mapping renames the events and traits the source produces (key
	// "mapping"); keys left out keep their default names.
	Mapping Mapping `yaml:"mapping"`
}

// DefaultConfig returns the block of a growsurf source with every default
// (and no secret).
func DefaultConfig() *Config {
	d := DefaultSettings()
	return &Config{
		Path:            DefaultPath,
		Tolerance:       DefaultTolerance,
		Identifier:      d.Identifier,
		AppUserIDKey:    d.AppUserIDKey,
		ReferralTrigger: d.ReferralTrigger,
		Mapping:         d.Mapping,
	}
}

// Settings returns the conversion settings of the block.
func (c *Config) Settings() Settings {
	return Settings{Identifier: c.Identifier, AppUserIDKey: c.AppUserIDKey, ReferralTrigger: c.ReferralTrigger, Mapping: c.Mapping}
}

// Validate reports every problem of the block at once, joined with
// errors.Join, each naming its key ("tolerance: must be greater than
// zero"). A missing secret fails closed: it is a problem unless
// AllowUnsigned is set. The shape of Path and whether it collides with
// another route are the config loader's to check (it knows every route).
func (c *Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("path: required"))
	}
	if strings.TrimSpace(c.Secret) == "" && !c.AllowUnsigned {
		errs = append(errs, errors.New("secret: required: set the webhook's signing secret as in GrowSurf (Program -> Settings -> Webhooks), or allow_unsigned: true to accept unsigned requests"))
	}
	if c.Tolerance <= 0 {
		errs = append(errs, errors.New("tolerance: must be greater than zero"))
	}
	// In the block every key has its default, so an empty value was
	// written: for Settings it would mean the default.
	s := c.Settings()
	if s.Identifier == "" {
		errs = append(errs, errors.New("identifier: must be one of email, app_user_id, growsurf_id"))
	}
	if strings.TrimSpace(s.AppUserIDKey) == "" {
		errs = append(errs, errors.New("app_user_id_key: required"))
		s.AppUserIDKey = ""
	}
	if s.ReferralTrigger == "" {
		errs = append(errs, errors.New("referral_trigger: must be one of qualifying_action, signup"))
	}
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// SourcePaths returns the paths the source serves: Path, and [LegacyPath]
// when LegacyPath is set.
func (c *Config) SourcePaths() []router.SourcePath {
	var out []router.SourcePath
	if c.Path != "" {
		out = append(out, router.SourcePath{Key: "path", Path: c.Path})
	}
	if c.LegacyPath {
		out = append(out, router.SourcePath{Key: "legacy_path", Path: LegacyPath})
	}
	return out
}

// SourceSecrets returns the signing secret, when set.
func (c *Config) SourceSecrets() []router.SourceSecret {
	if c.Secret == "" {
		return nil
	}
	return []router.SourceSecret{{Key: "secret", What: "signing secret", Env: "GROWSURF_WEBHOOK_SECRET", Value: c.Secret}}
}

// RefusedKey explains why a growsurf source takes no write keys and no rate
// limit.
func (c *Config) RefusedKey(key string) (string, bool) {
	switch key {
	case "write_keys":
		return "GrowSurf cannot send a write key; set secret to have requests signed", true
	case "rate_limit":
		return "GrowSurf retries refused deliveries for days; it is not a client to slow down", true
	}
	return "", false
}

// check is Validate with the paths' basic shape, for New: a source is
// never built from a block that did not pass the loader.
func (c *Config) check() error {
	err := c.Validate()
	for _, p := range c.SourcePaths() {
		if !strings.HasPrefix(p.Path, "/") || len(p.Path) < 2 {
			err = errors.Join(err, fmt.Errorf("%s: must start with \"/\"", p.Key))
		}
	}
	return err
}
