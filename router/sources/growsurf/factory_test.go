package growsurf

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestDefaultConfig pins the defaults of a growsurf block.
func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	c.AllowUnsigned = true // no secret by default, so the block needs one or this
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults are invalid: %v", err)
	}
	if c.Path != "/webhooks/growsurf" || c.Tolerance != 168*time.Hour || c.Identifier != "email" || c.Secret != "" || c.LegacyPath ||
		c.AppUserIDKey != "appUserId" || c.ReferralTrigger != "qualifying_action" {
		t.Fatalf("defaults = %+v", c)
	}
	if !reflect.DeepEqual(c.Settings(), DefaultSettings()) {
		t.Fatalf("Settings() = %+v, want DefaultSettings()", c.Settings())
	}
	// Each call returns new maps.
	DefaultConfig().Mapping.Events[EventReferralMade] = "changed"
	if DefaultConfig().Mapping.Events[EventReferralMade] != EventReferralMade {
		t.Error("DefaultConfig shares its maps")
	}
}

// TestNewRefusesInvalidConfig: the factory never builds a source from a
// block the loader would refuse, and names every problem.
func TestNewRefusesInvalidConfig(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want []string
	}{
		{"no secret", func(c *Config) { c.Secret = "" }, []string{"secret: required: set the webhook's signing secret"}},
		{"blank secret", func(c *Config) { c.Secret = "  " }, []string{"secret: required"}},
		{"negative tolerance", func(c *Config) { c.Tolerance = -time.Second }, []string{"tolerance: must be greater than zero"}},
		{"invalid settings", func(c *Config) { c.Identifier = "phone" }, []string{"identifier: must be one of email, app_user_id, growsurf_id"}},
		{"relative path", func(c *Config) { c.Path = "hooks" }, []string{`path: must start with "/"`}},
		{"no path", func(c *Config) { c.Path = "" }, []string{"path: required"}},
		{"every problem at once", func(c *Config) { c.Secret, c.Tolerance, c.ReferralTrigger = "", 0, "" },
			[]string{"secret: required", "tolerance: must be greater than zero", "referral_trigger: must be one of"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Secret = "s"
			tt.edit(c)
			_, err := NewFactory().New(c, router.SourceSettings{Name: "referrals"})
			if err == nil {
				t.Fatal("New accepted the block")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := NewFactory().New(struct{}{}, router.SourceSettings{Name: "x"}); err == nil {
		t.Error("New accepted a config of another type")
	}
}

// TestSourceRoutes: a source mounts its path, and the legacy path when
// asked, both served by one webhook that verifies GrowSurf's signature and
// converts with the block's settings.
func TestSourceRoutes(t *testing.T) {
	c := DefaultConfig()
	c.Secret, c.Path, c.LegacyPath = "grsf_test_secret", "/hooks/gs", true
	c.Mapping.Events[EventReferralProgramJoined] = "Joined"
	src, err := NewFactory().New(c, router.SourceSettings{Name: "referrals"})
	if err != nil {
		t.Fatal(err)
	}
	routes := src.Routes()
	if len(routes) != 2 || routes[0].Path != "/hooks/gs" || routes[1].Path != LegacyPath {
		t.Fatalf("routes = %+v", routes)
	}
	for _, r := range routes {
		if r.MaxBody != MaxBody || r.SignatureHeader != SignatureHeader || r.Webhook == nil {
			t.Fatalf("route = %+v", r)
		}
	}
	if _, ok := src.(router.TrackingAPISource); ok {
		t.Error("a growsurf source takes write keys")
	}
	hook := routes[0].Webhook
	body, err := os.ReadFile(filepath.Join("testdata", "T1-direct-signup", "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1772445601000)
	h := http.Header{}
	if err := hook.Verify(h, body, now); !errors.Is(err, router.ErrMissingSignature) {
		t.Errorf("unsigned: %v, want router.ErrMissingSignature", err)
	}
	h.Set(SignatureHeader, Sign(body, []byte("wrong"), now))
	if err := hook.Verify(h, body, now); !errors.Is(err, router.ErrBadSignature) {
		t.Errorf("wrong secret: %v, want router.ErrBadSignature", err)
	}
	h.Set(SignatureHeader, Sign(body, []byte(c.Secret), now.Add(-8*24*time.Hour)))
	if err := hook.Verify(h, body, now); !errors.Is(err, router.ErrStaleSignature) {
		t.Errorf("8 days old: %v, want router.ErrStaleSignature", err)
	}
	h.Set(SignatureHeader, Sign(body, []byte(c.Secret), now))
	if err := hook.Verify(h, body, now); err != nil {
		t.Fatalf("signed: %v", err)
	}
	res, err := hook.Convert(h, body, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Event != EventNewParticipantAdded || res.Key == "" || res.Unmapped != "" || len(res.Messages) != 2 {
		t.Fatalf("result = %+v", res)
	}
	if m := res.Messages[1]; m.Event != "Joined" || m.Source != "referrals" || m.UserID != "richard@piedpiper.com" {
		t.Errorf("track = %+v, want event Joined from referrals", m)
	}
	if _, err := hook.Convert(h, []byte(`[1]`), now); !errors.Is(err, router.ErrMalformedBody) {
		t.Errorf("array body: %v, want router.ErrMalformedBody", err)
	}
	res, err = hook.Convert(h, []byte(`{"event":"SOMETHING_NEW","data":{}}`), now)
	if err != nil || res.Unmapped != ReasonUnknownEvent || res.Event != "other" || len(res.Messages) != 0 {
		t.Errorf("unknown event = %+v, %v; want unmapped %s, event other", res, err, ReasonUnknownEvent)
	}
}

// TestUnsignedSource: with allow_unsigned and no secret every delivery
// passes Verify.
func TestUnsignedSource(t *testing.T) {
	c := DefaultConfig()
	c.AllowUnsigned = true
	src, err := NewFactory().New(c, router.SourceSettings{Name: "referrals"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Routes()[0].Webhook.Verify(http.Header{}, []byte(`{}`), time.Now()); err != nil {
		t.Fatalf("unsigned source refused an unsigned delivery: %v", err)
	}
}
