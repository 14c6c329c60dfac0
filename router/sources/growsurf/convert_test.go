package growsurf

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func readCase(t *testing.T, name string) []byte {
	t.Helper()
	return loadCase(t, filepath.Join("testdata", name)).body
}

func convert(t *testing.T, body []byte, s Settings) Result {
	t.Helper()
	res, err := Convert(body, testSource, s, defaultReceivedAt)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	checkMessages(t, res)
	return res
}

// decodeBody returns a message's body as a map.
func decodeBody(t *testing.T, m router.Message) map[string]any {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal(m.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

func field(t *testing.T, m router.Message, section string) map[string]any {
	t.Helper()
	v, _ := decodeBody(t, m)[section].(map[string]any)
	return v
}

// editJSON decodes body, lets f change it and encodes it again.
func editJSON(t *testing.T, body []byte, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		m = m[p].(map[string]any)
	}
	return m
}

// TestDuplicateDelivery is vector T2-dup: GrowSurf delivering T2 again (as
// the compact bytes of T0, as the pretty bytes of T2, with a changed
// envelope createdAt three days later) yields the same DeliveryKey and the
// same messageIds; apart from receivedAt, the same bodies.
func TestDuplicateDelivery(t *testing.T) {
	first := convert(t, readCase(t, "T2-referred-signup"), Settings{})
	later := defaultReceivedAt.Add(72 * time.Hour)
	for _, name := range []string{"T2-referred-signup", "T0-signature", "T2-dup"} {
		t.Run(name, func(t *testing.T) {
			res, err := Convert(readCase(t, name), testSource, Settings{}, later)
			if err != nil {
				t.Fatal(err)
			}
			if res.DeliveryKey != first.DeliveryKey {
				t.Errorf("DeliveryKey %q, want %q", res.DeliveryKey, first.DeliveryKey)
			}
			if len(res.Messages) != len(first.Messages) {
				t.Fatalf("%d messages, want %d", len(res.Messages), len(first.Messages))
			}
			for i, m := range res.Messages {
				if m.ID != first.Messages[i].ID {
					t.Errorf("message %d: ID %q, want %q", i, m.ID, first.Messages[i].ID)
				}
				a := strings.ReplaceAll(string(m.Body), router.FormatTime(later), "R")
				b := strings.ReplaceAll(string(first.Messages[i].Body), router.FormatTime(defaultReceivedAt), "R")
				if a != b {
					t.Errorf("message %d body differs beyond receivedAt:\n%s\n%s", i, a, b)
				}
			}
		})
	}
	// A pending and an approved delivery of one reward are different
	// deliveries; two approved ones are the same.
	t3 := convert(t, readCase(t, "T3-reward-approved"), Settings{})
	t3b := convert(t, readCase(t, "T3b-reward-pending"), Settings{})
	again := convert(t, editJSON(t, readCase(t, "T3-reward-approved"), func(m map[string]any) { m["createdAt"] = 1772800000000 }), Settings{})
	if t3.DeliveryKey == t3b.DeliveryKey || t3.DeliveryKey != again.DeliveryKey || t3.Messages[1].ID != again.Messages[1].ID {
		t.Errorf("reward keys: approved %q, pending %q, again %q", t3.DeliveryKey, t3b.DeliveryKey, again.DeliveryKey)
	}
	// Deliveries without natural ids (fraud status) are keyed by their
	// bytes: a byte-identical retry shares the key, another event does not.
	t5 := readCase(t, "T5-fraud-status")
	if convert(t, t5, Settings{}).DeliveryKey != convert(t, t5, Settings{}).DeliveryKey {
		t.Error("fraud status retry: different keys")
	}
	other := editJSON(t, t5, func(m map[string]any) { obj(m, "data", "participant")["fraudRiskLevel"] = "LOW" })
	if convert(t, t5, Settings{}).DeliveryKey == convert(t, other, Settings{}).DeliveryKey {
		t.Error("different fraud status updates share a key")
	}
}

// TestMappingEventOverrides renames each event and finds the new name.
func TestMappingEventOverrides(t *testing.T) {
	tests := []struct {
		key, vector string
		settings    Settings
	}{
		{"referral_program_joined", "T1-direct-signup", Settings{}},
		{"referral_made", "T2-referred-signup", Settings{}},
		{"referral_converted", "T2-referred-signup", Settings{ReferralTrigger: TriggerSignup}},
		{"referral_converted", "L3-legacy-converted", Settings{}},
		{"referral_reward_earned", "T3-reward-approved", Settings{}},
		{"referral_reward_earned", "L4-legacy-reward", Settings{}},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.vector, func(t *testing.T) {
			s := tt.settings
			s.Mapping.Events = map[string]string{tt.key: "Renamed " + tt.key}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			res := convert(t, readCase(t, tt.vector), s)
			found := false
			for _, m := range res.Messages {
				if m.Event == tt.key {
					t.Errorf("default name %q still emitted", tt.key)
				}
				if m.Event == "Renamed "+tt.key {
					found = true
					if decodeBody(t, m)["event"] != "Renamed "+tt.key {
						t.Errorf("body event %s", m.Body)
					}
				}
			}
			if !found {
				t.Errorf("renamed event not emitted")
			}
		})
	}
}

// TestMappingTraitOverrides renames each trait and finds the new name in
// the identify that carries it.
func TestMappingTraitOverrides(t *testing.T) {
	tests := []struct {
		key, vector string
		identify    int // index of the message carrying the trait
		settings    Settings
	}{
		{"email", "T2-referred-signup", 0, Settings{}},
		{"email", "T2-referred-signup", 2, Settings{Identifier: IdentifierGrowSurfID}}, // the referrer's identify
		{"first_name", "T2-referred-signup", 0, Settings{}},
		{"last_name", "T2-referred-signup", 0, Settings{}},
		{"referral_code", "T2-referred-signup", 0, Settings{}},
		{"referral_link", "T2-referred-signup", 0, Settings{}},
		{"referral_status", "T2-referred-signup", 0, Settings{}},
		{"total_referrals", "T2-referred-signup", 0, Settings{}},
		{"total_referrals", "T2-referred-signup", 2, Settings{}},
		{"total_referrals", "T3-reward-approved", 0, Settings{}},
		{"referred_by", "T2-referred-signup", 0, Settings{}},
		{"referral_program_join_date", "T2-referred-signup", 0, Settings{}},
		{"last_referral_date", "T2-referred-signup", 2, Settings{}},
	}
	for _, tt := range tests {
		t.Run(tt.key+"/"+tt.vector, func(t *testing.T) {
			s := tt.settings
			s.Mapping.Traits = map[string]string{tt.key: "x_" + tt.key}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			def := convert(t, readCase(t, tt.vector), tt.settings)
			res := convert(t, readCase(t, tt.vector), s)
			want := field(t, def.Messages[tt.identify], "traits")[tt.key]
			if want == nil {
				t.Fatalf("default output has no trait %s", tt.key)
			}
			traits := field(t, res.Messages[tt.identify], "traits")
			if _, ok := traits[tt.key]; ok {
				t.Errorf("default name still present: %v", traits)
			}
			if traits["x_"+tt.key] != want {
				t.Errorf("renamed trait = %v, want %v (%v)", traits["x_"+tt.key], want, traits)
			}
		})
	}
}

// TestIdentifiers covers each identifier choice.
func TestIdentifiers(t *testing.T) {
	noMetadata := func(b []byte) []byte {
		return editJSON(t, b, func(m map[string]any) {
			d := obj(m, "data")
			delete(d, "metadata")
			delete(obj(d, "referrer"), "metadata")
		})
	}
	tests := []struct {
		name          string
		settings      Settings
		body          []byte
		users         []string // userId of each message
		referrerEmail bool     // whether the referrer's identify carries email
		fallback      bool     // whether messages note the identifier fallback
	}{
		{"email", Settings{Identifier: IdentifierEmail}, readCase(t, "T2-referred-signup"),
			[]string{"gavin.belson@hooli.com", "gavin.belson@hooli.com", "richard@piedpiper.com", "richard@piedpiper.com"}, false, false},
		{"empty means email", Settings{}, readCase(t, "T2-referred-signup"),
			[]string{"gavin.belson@hooli.com", "gavin.belson@hooli.com", "richard@piedpiper.com", "richard@piedpiper.com"}, false, false},
		{"app_user_id", Settings{Identifier: IdentifierAppUserID}, readCase(t, "T2-referred-signup"),
			[]string{"usr_2002", "usr_2002", "usr_1001", "usr_1001"}, true, false},
		{"app_user_id falls back to email", Settings{Identifier: IdentifierAppUserID}, noMetadata(readCase(t, "T2-referred-signup")),
			[]string{"gavin.belson@hooli.com", "gavin.belson@hooli.com", "richard@piedpiper.com", "richard@piedpiper.com"}, true, true},
		{"app_user_id with another key", Settings{Identifier: IdentifierAppUserID, AppUserIDKey: "uid"},
			editJSON(t, readCase(t, "T2-referred-signup"), func(m map[string]any) {
				obj(m, "data", "metadata")["uid"] = 42
				obj(m, "data", "referrer", "metadata")["uid"] = "u-7"
			}),
			[]string{"42", "42", "u-7", "u-7"}, true, false},
		{"growsurf_id", Settings{Identifier: IdentifierGrowSurfID}, readCase(t, "T2-referred-signup"),
			[]string{"p88y0a", "p88y0a", "x9a7uu", "x9a7uu"}, true, false},
		{"growsurf_id reward", Settings{Identifier: IdentifierGrowSurfID}, readCase(t, "T3-reward-approved"),
			[]string{"x9a7uu", "x9a7uu"}, false, false},
		{"app_user_id reward", Settings{Identifier: IdentifierAppUserID}, readCase(t, "T3-reward-approved"),
			[]string{"usr_1001", "usr_1001"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.body, tt.settings)
			if len(res.Messages) != len(tt.users) {
				t.Fatalf("%d messages, want %d", len(res.Messages), len(tt.users))
			}
			for i, m := range res.Messages {
				if m.UserID != tt.users[i] {
					t.Errorf("message %d userId %q, want %q", i, m.UserID, tt.users[i])
				}
				_, noted := decodeBody(t, m)["_ingest"]
				if noted != tt.fallback {
					t.Errorf("message %d: fallback note %v, want %v", i, noted, tt.fallback)
				}
				if m.Type == router.TypeIdentify {
					// traits.email is always known — from userId
					// with the email identifier, else as a trait.
					email, has := field(t, m, "traits")["email"]
					first := i == 0 && len(tt.users) == 4
					want := first || (tt.settings.Identifier != "" && tt.settings.Identifier != IdentifierEmail)
					if has != want {
						t.Errorf("message %d: traits.email present %v, want %v", i, has, want)
					}
					if i == 2 && has != tt.referrerEmail {
						t.Errorf("referrer identify email %v", email)
					}
				}
			}
			// Message ids do not depend on the identifier.
			def := convert(t, tt.body, Settings{})
			for i := range res.Messages {
				if res.Messages[i].ID != def.Messages[i].ID {
					t.Errorf("message %d id %q differs from the email identifier's %q", i, res.Messages[i].ID, def.Messages[i].ID)
				}
			}
		})
	}
}

// TestUnmappedAndInvalid covers deliveries that map to nothing.
func TestUnmappedAndInvalid(t *testing.T) {
	t1 := readCase(t, "T1-direct-signup")
	t2 := readCase(t, "T2-referred-signup")
	t3 := readCase(t, "T3-reward-approved")
	tests := []struct {
		name     string
		body     []byte
		settings Settings
		reason   string
		detail   string
	}{
		{"affiliate commission", []byte(`{"event":"NEW_COMMISSION_ADDED","createdAt":1,"data":{"participant":{"id":"a"},"campaign":{"id":"c"}}}`), Settings{}, ReasonUnmappedEvent, "no mapping for NEW_COMMISSION_ADDED"},
		{"affiliate adjustment", []byte(`{"event":"COMMISSION_ADJUSTED","data":{}}`), Settings{}, ReasonUnmappedEvent, "no mapping for COMMISSION_ADJUSTED"},
		{"affiliate payout", []byte(`{"event":"NEW_PAYOUT_ISSUED","data":{}}`), Settings{}, ReasonUnmappedEvent, "no mapping for NEW_PAYOUT_ISSUED"},
		{"no event", []byte(`{"data":{}}`), Settings{}, ReasonUnknownEvent, "event: missing or not a string"},
		{"event not a string", []byte(`{"event":7}`), Settings{}, ReasonUnknownEvent, "event: missing or not a string"},
		{"empty object", []byte(`{}`), Settings{}, ReasonUnknownEvent, "event: missing or not a string"},
		{"event in lower case", []byte(`{"event":"new_participant_added","data":{}}`), Settings{}, ReasonUnknownEvent, `unknown event type "new_participant_added"`},
		{"legacy pending reward", []byte(`{"event":"PARTICIPANT_REACHED_REWARD","participant":{"id":"a","email":"a@b.c"},"reward":{"id":"prew_1","approved":false}}`), Settings{}, ReasonRewardNotApproved, `reward "prew_1" is pending approval`},
		{"missing participant id and shareUrl", editJSON(t, t1, func(m map[string]any) { delete(obj(m, "data"), "id") }), Settings{}, ReasonInvalidPayload, "data.id: missing"},
		{"missing shareUrl", editJSON(t, t1, func(m map[string]any) { delete(obj(m, "data"), "shareUrl") }), Settings{}, ReasonInvalidPayload, "data.shareUrl: missing"},
		{"missing participant createdAt", editJSON(t, t1, func(m map[string]any) { delete(obj(m, "data"), "createdAt") }), Settings{}, ReasonInvalidPayload, "data.createdAt: missing or not a unix time in milliseconds"},
		{"participant createdAt a string", editJSON(t, t1, func(m map[string]any) { obj(m, "data")["createdAt"] = "2026-02-10" }), Settings{}, ReasonInvalidPayload, "data.createdAt: missing or not a unix time in milliseconds"},
		{"missing campaign id", editJSON(t, t1, func(m map[string]any) { delete(obj(m, "data", "campaign"), "id") }), Settings{}, ReasonInvalidPayload, "data.campaign.id: missing"},
		{"missing envelope createdAt", editJSON(t, t1, func(m map[string]any) { delete(m, "createdAt") }), Settings{}, ReasonInvalidPayload, "createdAt: missing or not a unix time in milliseconds"},
		{"email identifier, referrer without email", editJSON(t, t2, func(m map[string]any) { delete(obj(m, "data", "referrer"), "email") }), Settings{}, ReasonInvalidPayload, "data.referrer.email: missing"},
		{"referrer without id", editJSON(t, t2, func(m map[string]any) {
			r := obj(m, "data", "referrer")
			delete(r, "id")
			delete(r, "shareUrl")
		}), Settings{}, ReasonInvalidPayload, "data.referrer.id: missing"},
		{"app_user_id, no metadata and no email", editJSON(t, t1, func(m map[string]any) {
			delete(obj(m, "data"), "email")
			delete(obj(m, "data"), "metadata")
		}), Settings{Identifier: IdentifierAppUserID}, ReasonInvalidPayload, "data.email: missing"},
		{"reward without approved", editJSON(t, t3, func(m map[string]any) { delete(obj(m, "data", "reward"), "approved") }), Settings{}, ReasonInvalidPayload, "data.reward.approved: missing or not a boolean"},
		{"reward without isReferrer", editJSON(t, t3, func(m map[string]any) { delete(obj(m, "data", "reward"), "isReferrer") }), Settings{}, ReasonInvalidPayload, "data.reward.isReferrer: missing or not a boolean"},
		{"reward without id", editJSON(t, t3, func(m map[string]any) { delete(obj(m, "data", "reward"), "id") }), Settings{}, ReasonInvalidPayload, "data.reward.id: missing"},
		{"reward participant without email", editJSON(t, t3, func(m map[string]any) { delete(obj(m, "data", "participant"), "email") }), Settings{}, ReasonInvalidPayload, "data.participant.email: missing"},
		{"reward without reward", editJSON(t, t3, func(m map[string]any) { delete(obj(m, "data"), "reward") }), Settings{}, ReasonInvalidPayload, "data.reward: missing or not an object"},
		{"legacy without participant", []byte(`{"event":"PARTICIPANT_CREATED","referrer":{"id":"a"}}`), Settings{}, ReasonInvalidPayload, "participant: missing or not an object"},
		{"legacy converted without referrer", []byte(`{"event":"CAMPAIGN_REFERRAL_CONVERTED","participant":{"id":"a","email":"a@b.c"}}`), Settings{}, ReasonInvalidPayload, "referrer: missing or not an object"},
		{"legacy participant without email", []byte(`{"event":"PARTICIPANT_CREATED","participant":{"id":"a"}}`), Settings{}, ReasonInvalidPayload, "participant.email: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := convert(t, tt.body, tt.settings)
			if res.Unmapped != tt.reason || res.Detail != tt.detail || len(res.Messages) != 0 {
				t.Errorf("got %q %q (%d messages), want %q %q", res.Unmapped, res.Detail, len(res.Messages), tt.reason, tt.detail)
			}
			if res.DeliveryKey == "" || !strings.HasPrefix(res.DeliveryKey, "growsurf:") {
				t.Errorf("DeliveryKey %q", res.DeliveryKey)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, body := range []string{``, ` `, `nul`, `null`, `"x"`, `42`, `[]`, `[{"event":"NEW_PARTICIPANT_ADDED"}]`, `{"event":`, `{} {}`, `{}x`, "\xff"} {
		_, err := Convert([]byte(body), testSource, Settings{}, defaultReceivedAt)
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrMalformed", body, err)
		}
	}
	if _, err := Convert([]byte("{}\n\t "), testSource, Settings{}, defaultReceivedAt); err != nil {
		t.Errorf("trailing whitespace: %v", err)
	}
}

// TestNormalisationRules covers the trait and property rules the vectors
// do not reach.
func TestNormalisationRules(t *testing.T) {
	t1 := readCase(t, "T1-direct-signup")
	t3 := readCase(t, "T3-reward-approved")
	identify := func(body []byte) map[string]any {
		return field(t, convert(t, body, Settings{}).Messages[0], "traits")
	}
	t.Run("null and empty names are omitted", func(t *testing.T) {
		tr := identify(editJSON(t, t1, func(m map[string]any) {
			obj(m, "data")["firstName"] = nil
			obj(m, "data")["lastName"] = "  "
		}))
		if _, ok := tr["first_name"]; ok {
			t.Errorf("first_name %v", tr)
		}
		if _, ok := tr["last_name"]; ok {
			t.Errorf("last_name %v", tr)
		}
	})
	t.Run("vanity referral code from shareUrl", func(t *testing.T) {
		tr := identify(editJSON(t, t1, func(m map[string]any) {
			obj(m, "data")["shareUrl"] = "https://piedpiper.com/r?utm=x&grsf=richard-h#top"
		}))
		if tr["referral_code"] != "richard-h" || tr["referral_link"] != "https://piedpiper.com/r?utm=x&grsf=richard-h#top" {
			t.Errorf("%v", tr)
		}
	})
	t.Run("referral code falls back to the id", func(t *testing.T) {
		tr := identify(editJSON(t, t1, func(m map[string]any) { obj(m, "data")["shareUrl"] = "https://piedpiper.com/" }))
		if tr["referral_code"] != "x9a7uu" {
			t.Errorf("%v", tr)
		}
	})
	t.Run("total_referrals is a number", func(t *testing.T) {
		for in, want := range map[any]any{"3": float64(3), 4: float64(4), 5.0: float64(5), "x": nil, 1.5: nil, true: nil} {
			tr := identify(editJSON(t, t1, func(m map[string]any) { obj(m, "data")["referralCount"] = in }))
			if tr["total_referrals"] != want {
				t.Errorf("referralCount %v: total_referrals %v, want %v", in, tr["total_referrals"], want)
			}
		}
	})
	t.Run("join date in unix seconds, floored", func(t *testing.T) {
		tr := identify(editJSON(t, t1, func(m map[string]any) { obj(m, "data")["createdAt"] = 1770714000999 }))
		if tr["referral_program_join_date"] != float64(1770714000) {
			t.Errorf("%v", tr["referral_program_join_date"])
		}
	})
	t.Run("no referred_by when not referred", func(t *testing.T) {
		res := convert(t, t1, Settings{})
		if _, ok := field(t, res.Messages[0], "traits")["referred_by"]; ok {
			t.Error("referred_by on a direct signup")
		}
		if _, ok := field(t, res.Messages[1], "properties")["referred_by"]; ok {
			t.Error("referred_by property on a direct signup")
		}
	})
	t.Run("reward for the referee names the referrer", func(t *testing.T) {
		body := editJSON(t, t3, func(m map[string]any) {
			p := obj(m, "data", "participant")
			ref := p["referee"]
			delete(p, "referee")
			p["referrer"] = ref
			obj(m, "data", "reward")["isReferrer"] = false
			obj(m, "data", "reward")["couponCode"] = nil
		})
		props := field(t, convert(t, body, Settings{}).Messages[1], "properties")
		if props["is_referrer"] != false || props["referrer_participant_id"] != "p88y0a" || props["referrer_email"] != "gavin.belson@hooli.com" {
			t.Errorf("%v", props)
		}
		for _, k := range []string{"referee_participant_id", "referee_email", "coupon_code"} {
			if _, ok := props[k]; ok {
				t.Errorf("unexpected %s: %v", k, props)
			}
		}
	})
	t.Run("reward time falls back to the envelope", func(t *testing.T) {
		res := convert(t, editJSON(t, t3, func(m map[string]any) { obj(m, "data", "reward")["approvedAt"] = nil }), Settings{})
		if ts := decodeBody(t, res.Messages[1])["timestamp"]; ts != "2026-03-02T10:00:01.250Z" {
			t.Errorf("timestamp %v", ts)
		}
	})
	t.Run("legacy without times uses receivedAt", func(t *testing.T) {
		res := convert(t, []byte(`{"event":"PARTICIPANT_CREATED","participant":{"id":"a1","email":"a@b.c"}}`), Settings{})
		b := decodeBody(t, res.Messages[1])
		if b["timestamp"] != router.FormatTime(defaultReceivedAt) || b["originalTimestamp"] != b["timestamp"] {
			t.Errorf("%v", b)
		}
		if _, ok := field(t, res.Messages[0], "traits")["referral_program_join_date"]; ok {
			t.Error("join date without createdAt")
		}
	})
	t.Run("legacy names inside the real envelope", func(t *testing.T) {
		body := editJSON(t, t1, func(m map[string]any) { m["event"] = "PARTICIPANT_CREATED" })
		res := convert(t, body, Settings{})
		if res.Legacy || len(res.Messages) != 2 || res.Messages[1].ID != "growsurf:ct8f71:participant_joined:x9a7uu:track" {
			t.Errorf("%+v", res)
		}
	})
	t.Run("legacy created and referred share messageIds", func(t *testing.T) {
		l2 := readCase(t, "L2-legacy-referred")
		created := convert(t, editJSON(t, l2, func(m map[string]any) { m["event"] = "PARTICIPANT_CREATED" }), Settings{})
		referred := convert(t, l2, Settings{})
		if created.DeliveryKey == referred.DeliveryKey || len(created.Messages) != 4 {
			t.Fatalf("created %+v", created)
		}
		for i := range created.Messages {
			if created.Messages[i].ID != referred.Messages[i].ID {
				t.Errorf("message %d: %s vs %s", i, created.Messages[i].ID, referred.Messages[i].ID)
			}
		}
	})
	t.Run("no HTML escaping, like ingest", func(t *testing.T) {
		res := convert(t, editJSON(t, t1, func(m map[string]any) { obj(m, "data", "campaign")["name"] = "A & B <Refer>" }), Settings{})
		if !strings.Contains(string(res.Messages[1].Body), `"campaign_name":"A & B <Refer>"`) {
			t.Errorf("%s", res.Messages[1].Body)
		}
	})
	t.Run("long ids give hashed messageIds", func(t *testing.T) {
		long := strings.Repeat("v", 120)
		res := convert(t, editJSON(t, t1, func(m map[string]any) { obj(m, "data")["id"] = long }), Settings{})
		for _, m := range res.Messages {
			if len(m.ID) > 100 || !strings.HasPrefix(m.ID, "growsurf:sha256:") {
				t.Errorf("id %q", m.ID)
			}
		}
		if res.Messages[0].ID == res.Messages[1].ID {
			t.Error("identify and track share an id")
		}
	})
	t.Run("message fields", func(t *testing.T) {
		res := convert(t, t1, Settings{})
		for _, m := range res.Messages {
			if m.Source != testSource || m.AnonymousID != "" || !m.ReceivedAt.Equal(defaultReceivedAt) {
				t.Errorf("%+v", m)
			}
			b := decodeBody(t, m)
			if ctx := b["context"]; !jsonEqual(t, mustJSON(t, ctx), `{"integration":{"name":"growsurf"}}`) {
				t.Errorf("context %v", ctx)
			}
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSelfReferral: when referrer and referee resolve to one person, the
// referrer's identify still precedes that person's tracks.
func TestSelfReferral(t *testing.T) {
	body := editJSON(t, readCase(t, "T2-referred-signup"), func(m map[string]any) {
		obj(m, "data", "referrer")["email"] = "gavin.belson@hooli.com"
	})
	var ids []string
	for _, m := range convert(t, body, Settings{}).Messages {
		ids = append(ids, m.ID)
	}
	want := []string{
		"growsurf:ct8f71:participant_joined:p88y0a:identify",
		"growsurf:ct8f71:referral_made:x9a7uu:p88y0a:identify",
		"growsurf:ct8f71:participant_joined:p88y0a:track",
		"growsurf:ct8f71:referral_made:x9a7uu:p88y0a:track",
	}
	if strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("order\n%s\nwant\n%s", strings.Join(ids, "\n"), strings.Join(want, "\n"))
	}
}
