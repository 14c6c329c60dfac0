package growsurf

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The identifier strategies: which participant field becomes
// the Segment userId (and so the Customer.io customer id).
const (
	// IdentifierEmail uses the participant's email address as received
	// (the default).
	IdentifierEmail = "email"
	// IdentifierAppUserID uses the value stored under [Settings.AppUserIDKey]
	// in the participant's metadata, falling back to the email address when
	// it is absent.
	IdentifierAppUserID = "app_user_id"
	// IdentifierGrowSurfID uses GrowSurf's participant id.
	IdentifierGrowSurfID = "growsurf_id"
)

// The referral triggers: when GrowSurf credits a referral.
const (
	// TriggerQualifyingAction means a referral is credited later, by the
	// product backend (the default); GrowSurf sends no webhook for it, so
	// referral_converted must come through /v1/track.
	TriggerQualifyingAction = "qualifying_action"
	// TriggerSignup means the program credits a referral at signup, so a
	// referred NEW_PARTICIPANT_ADDED also emits referral_converted on the
	// referrer, right after referral_made.
	TriggerSignup = "signup"
)

// DefaultAppUserIDKey is the metadata key read by the app_user_id
// identifier when [Settings.AppUserIDKey] is empty.
const DefaultAppUserIDKey = "appUserId"

// The internal keys of [Mapping.Events].
const (
	EventReferralProgramJoined = "referral_program_joined"
	EventReferralMade          = "referral_made"
	EventReferralConverted     = "referral_converted"
	EventReferralRewardEarned  = "referral_reward_earned"
)

// The internal keys of [Mapping.Traits].
const (
	TraitEmail                   = "email"
	TraitFirstName               = "first_name"
	TraitLastName                = "last_name"
	TraitReferralCode            = "referral_code"
	TraitReferralLink            = "referral_link"
	TraitReferralStatus          = "referral_status"
	TraitTotalReferrals          = "total_referrals"
	TraitReferredBy              = "referred_by"
	TraitReferralProgramJoinDate = "referral_program_join_date"
	TraitLastReferralDate        = "last_referral_date"
)

var (
	eventKeys = []string{EventReferralProgramJoined, EventReferralMade, EventReferralConverted, EventReferralRewardEarned}
	traitKeys = []string{TraitEmail, TraitFirstName, TraitLastName, TraitReferralCode, TraitReferralLink,
		TraitReferralStatus, TraitTotalReferrals, TraitReferredBy, TraitReferralProgramJoinDate, TraitLastReferralDate}
)

// Settings configure one growsurf source. The zero value is valid and means
// [DefaultSettings].
type Settings struct {
	// Identifier chooses which participant field becomes userId: "email"
	// (default), "app_user_id" or "growsurf_id". Empty means
	// "email".
	Identifier string `yaml:"identifier"`
	// AppUserIDKey is the participant metadata key that holds the product's
	// user id, read when Identifier is "app_user_id" (default "appUserId").
	AppUserIDKey string `yaml:"app_user_id_key"`
	// ReferralTrigger says when the program credits a referral:
	// "qualifying_action" (default; no referral_converted from webhooks) or
	// "signup" (a referred signup also emits referral_converted).
	ReferralTrigger string `yaml:"referral_trigger"`
	// Mapping holds the event and trait names; keys left out take the names
	// of [DefaultMapping].
	Mapping Mapping `yaml:"mapping"`
}

// Mapping names the Segment events and traits the source emits. Users edit
// the values; the keys are fixed and listed by [EventKeys] and [TraitKeys].
type Mapping struct {
	// Events maps an internal key ("referral_program_joined",
	// "referral_made", "referral_converted", "referral_reward_earned") to
	// the Segment event name.
	Events map[string]string `yaml:"events"`
	// Traits maps an internal key ("email", "first_name", "last_name",
	// "referral_code", "referral_link", "referral_status",
	// "total_referrals", "referred_by", "referral_program_join_date",
	// "last_referral_date") to the identify trait name.
	Traits map[string]string `yaml:"traits"`
}

// EventKeys returns the internal keys of [Mapping.Events].
func EventKeys() []string { return slices.Clone(eventKeys) }

// TraitKeys returns the internal keys of [Mapping.Traits].
func TraitKeys() []string { return slices.Clone(traitKeys) }

// DefaultMapping returns the default names: every event and trait is
// named after its internal key.
func DefaultMapping() Mapping {
	m := Mapping{Events: make(map[string]string, len(eventKeys)), Traits: make(map[string]string, len(traitKeys))}
	for _, k := range eventKeys {
		m.Events[k] = k
	}
	for _, k := range traitKeys {
		m.Traits[k] = k
	}
	return m
}

// DefaultSettings returns the settings of a growsurf source with nothing
// configured: identifier "email", app user id key "appUserId", referral
// trigger "qualifying_action" and [DefaultMapping].
func DefaultSettings() Settings {
	return Settings{
		Identifier:      IdentifierEmail,
		AppUserIDKey:    DefaultAppUserIDKey,
		ReferralTrigger: TriggerQualifyingAction,
		Mapping:         DefaultMapping(),
	}
}

// Validate reports every problem of s at once (joined with errors.Join),
// each naming its key, such as "mapping.events.referral_made: required".
// Empty Identifier, AppUserIDKey and ReferralTrigger, and mapping keys left
// out, take their defaults and are not problems. A name is at most
// [MaxEventNameLength] bytes for events and [MaxTraitNameLength] for traits,
// and no two traits share a name (one would overwrite the other).
func (s Settings) Validate() error {
	var errs []error
	switch s.Identifier {
	case "", IdentifierEmail, IdentifierAppUserID, IdentifierGrowSurfID:
	default:
		errs = append(errs, fmt.Errorf("identifier: must be one of email, app_user_id, growsurf_id, not %q", s.Identifier))
	}
	switch s.ReferralTrigger {
	case "", TriggerQualifyingAction, TriggerSignup:
	default:
		errs = append(errs, fmt.Errorf("referral_trigger: must be one of qualifying_action, signup, not %q", s.ReferralTrigger))
	}
	if s.AppUserIDKey != "" && strings.TrimSpace(s.AppUserIDKey) == "" {
		errs = append(errs, errors.New("app_user_id_key: required"))
	}
	errs = append(errs, validateNames("mapping.events", s.Mapping.Events, eventKeys, MaxEventNameLength, false)...)
	errs = append(errs, validateNames("mapping.traits", s.Mapping.Traits, traitKeys, MaxTraitNameLength, true)...)
	return errors.Join(errs...)
}

// The longest event and trait names of a [Mapping], in bytes.
const (
	MaxEventNameLength = 100
	MaxTraitNameLength = 150
)

// validateNames checks one mapping block: known keys, no blank names, none
// longer than maxLen, and (for traits) no two keys sharing a name, which
// would make one trait overwrite the other.
func validateNames(path string, names map[string]string, known []string, maxLen int, unique bool) []error {
	var errs []error
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sortedKnown := slices.Sorted(slices.Values(known))
	for _, k := range keys {
		v := names[k]
		switch {
		case !slices.Contains(known, k):
			errs = append(errs, fmt.Errorf("%s.%s: unknown key (known keys: %s)", path, k, strings.Join(sortedKnown, ", ")))
		case strings.TrimSpace(v) == "":
			errs = append(errs, fmt.Errorf("%s.%s: required", path, k))
		case v != strings.TrimSpace(v):
			errs = append(errs, fmt.Errorf("%s.%s: must not start or end with spaces", path, k))
		case len(v) > maxLen:
			errs = append(errs, fmt.Errorf("%s.%s: must be at most %d bytes", path, k, maxLen))
		}
	}
	if !unique {
		return errs
	}
	// Effective names, defaults included, so that renaming first_name to
	// "last_name" is caught too.
	owner := make(map[string]string, len(known))
	for _, k := range known {
		name := k
		if v, ok := names[k]; ok && strings.TrimSpace(v) != "" {
			name = v
		}
		if prev, dup := owner[name]; dup {
			errs = append(errs, fmt.Errorf("%s.%s: same name as %s.%s", path, k, path, prev))
			continue
		}
		owner[name] = k
	}
	return errs
}

// resolved is Settings with every default applied, as Convert uses it.
type resolved struct {
	identifier, appUserIDKey, trigger string
	events, traits                    map[string]string
}

func (s Settings) resolve() resolved {
	r := resolved{
		identifier:   s.Identifier,
		appUserIDKey: strings.TrimSpace(s.AppUserIDKey),
		trigger:      s.ReferralTrigger,
		events:       make(map[string]string, len(eventKeys)),
		traits:       make(map[string]string, len(traitKeys)),
	}
	switch r.identifier {
	case IdentifierEmail, IdentifierAppUserID, IdentifierGrowSurfID:
	default:
		r.identifier = IdentifierEmail
	}
	if r.appUserIDKey == "" {
		r.appUserIDKey = DefaultAppUserIDKey
	}
	if r.trigger != TriggerSignup {
		r.trigger = TriggerQualifyingAction
	}
	for _, k := range eventKeys {
		r.events[k] = nameOr(s.Mapping.Events[k], k)
	}
	for _, k := range traitKeys {
		r.traits[k] = nameOr(s.Mapping.Traits[k], k)
	}
	return r
}

func nameOr(v, def string) string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	return v
}
