package growsurf

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	m := DefaultMapping()
	// Event names and trait names: each its own key.
	wantEvents := map[string]string{
		"referral_program_joined": "referral_program_joined",
		"referral_made":           "referral_made",
		"referral_converted":      "referral_converted",
		"referral_reward_earned":  "referral_reward_earned",
	}
	if !reflect.DeepEqual(m.Events, wantEvents) {
		t.Errorf("events %v", m.Events)
	}
	wantTraits := []string{"email", "first_name", "last_name", "referral_code", "referral_link", "referral_status",
		"total_referrals", "referred_by", "referral_program_join_date", "last_referral_date"}
	if len(m.Traits) != len(wantTraits) {
		t.Errorf("traits %v", m.Traits)
	}
	for _, k := range wantTraits {
		if m.Traits[k] != k {
			t.Errorf("trait %s = %q", k, m.Traits[k])
		}
	}
	s := DefaultSettings()
	if s.Identifier != "email" || s.AppUserIDKey != "appUserId" || s.ReferralTrigger != "qualifying_action" || !reflect.DeepEqual(s.Mapping, m) {
		t.Errorf("DefaultSettings %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
	// Returned maps are fresh: changing one does not change the next.
	m.Events["referral_made"] = "x"
	if DefaultMapping().Events["referral_made"] != "referral_made" {
		t.Error("DefaultMapping shares its maps")
	}
	if !slices.Equal(EventKeys(), []string{"referral_program_joined", "referral_made", "referral_converted", "referral_reward_earned"}) ||
		!slices.Equal(TraitKeys(), wantTraits) {
		t.Error("EventKeys/TraitKeys")
	}
}

func TestValidate(t *testing.T) {
	with := func(f func(*Settings)) Settings {
		s := DefaultSettings()
		f(&s)
		return s
	}
	tests := []struct {
		name string
		s    Settings
		want []string // each a line of the error; nil = valid
	}{
		{"defaults", DefaultSettings(), nil},
		{"zero value", Settings{}, nil},
		{"identifier app_user_id", with(func(s *Settings) { s.Identifier = "app_user_id" }), nil},
		{"identifier growsurf_id", with(func(s *Settings) { s.Identifier = "growsurf_id" }), nil},
		{"referral trigger signup", with(func(s *Settings) { s.ReferralTrigger = "signup" }), nil},
		{"partial mapping", Settings{Mapping: Mapping{Events: map[string]string{"referral_made": "Referral Made"}}}, nil},
		{"renamed trait", with(func(s *Settings) { s.Mapping.Traits["referred_by"] = "referrer_email" }), nil},
		{"unknown identifier", with(func(s *Settings) { s.Identifier = "phone" }),
			[]string{`identifier: must be one of email, app_user_id, growsurf_id, not "phone"`}},
		{"identifier in capitals", with(func(s *Settings) { s.Identifier = "Email" }),
			[]string{`identifier: must be one of email, app_user_id, growsurf_id, not "Email"`}},
		{"unknown trigger", with(func(s *Settings) { s.ReferralTrigger = "purchase" }),
			[]string{`referral_trigger: must be one of qualifying_action, signup, not "purchase"`}},
		{"blank app user id key", with(func(s *Settings) { s.AppUserIDKey = "  " }),
			[]string{"app_user_id_key: required"}},
		{"empty event name", with(func(s *Settings) { s.Mapping.Events["referral_made"] = "" }),
			[]string{"mapping.events.referral_made: required"}},
		{"blank trait name", with(func(s *Settings) { s.Mapping.Traits["email"] = " " }),
			[]string{"mapping.traits.email: required"}},
		{"padded event name", with(func(s *Settings) { s.Mapping.Events["referral_made"] = " referral_made" }),
			[]string{"mapping.events.referral_made: must not start or end with spaces"}},
		{"unknown event key", with(func(s *Settings) { s.Mapping.Events["referal_made"] = "x" }),
			[]string{"mapping.events.referal_made: unknown key (known keys: referral_converted, referral_made, referral_program_joined, referral_reward_earned)"}},
		{"unknown trait key", with(func(s *Settings) { s.Mapping.Traits["phone"] = "phone" }),
			[]string{"mapping.traits.phone: unknown key (known keys: email, first_name, last_name, last_referral_date, referral_code, referral_link, referral_program_join_date, referral_status, referred_by, total_referrals)"}},
		{"long event name", with(func(s *Settings) { s.Mapping.Events["referral_made"] = strings.Repeat("e", 101) }),
			[]string{"mapping.events.referral_made: must be at most 100 bytes"}},
		{"long trait name", with(func(s *Settings) { s.Mapping.Traits["email"] = strings.Repeat("t", 151) }),
			[]string{"mapping.traits.email: must be at most 150 bytes"}},
		{"two traits with one name", with(func(s *Settings) { s.Mapping.Traits["last_name"] = "first_name" }),
			[]string{"mapping.traits.last_name: same name as mapping.traits.first_name"}},
		{"every problem at once", Settings{
			Identifier:      "phone",
			ReferralTrigger: "never",
			Mapping: Mapping{
				Events: map[string]string{"referral_made": "", "referral_converted": "", "bogus": "x"},
				Traits: map[string]string{"email": ""},
			},
		}, []string{
			`identifier: must be one of email, app_user_id, growsurf_id, not "phone"`,
			`referral_trigger: must be one of qualifying_action, signup, not "never"`,
			"mapping.events.bogus: unknown key (known keys: referral_converted, referral_made, referral_program_joined, referral_reward_earned)",
			"mapping.events.referral_converted: required",
			"mapping.events.referral_made: required",
			"mapping.traits.email: required",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got nil, want %q", tt.want)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}
