package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router/sources/growsurf"
)

// growsurfCase is what TestGrowSurfEquivalence reads of a GrowSurf test
// vector's case.json.
type growsurfCase struct {
	ReceivedAt string `json:"receivedAt"`
	Now        int64  `json:"now"`
	Settings   struct {
		Identifier      string            `json:"identifier"`
		AppUserIDKey    string            `json:"app_user_id_key"`
		ReferralTrigger string            `json:"referral_trigger"`
		Events          map[string]string `json:"events"`
		Traits          map[string]string `json:"traits"`
	} `json:"settings"`
}

// TestGrowSurfEquivalence runs examples/growsurf.yaml on every GrowSurf
// test vector and compares the result with the built-in growsurf source's:
// the same messages (ids, types, identities, events and bodies byte for
// byte), the same rejection reason and detail, the same delivery key where
// GrowSurf derives it from natural ids. The one difference it allows is
// documented in the package: a JSON body that is not an object is
// malformed for growsurf and goes to the rules here.
func TestGrowSurfEquivalence(t *testing.T) {
	dirs, err := filepath.Glob("../growsurf/testdata/*/request.json")
	if err != nil || len(dirs) < 15 {
		t.Fatalf("GrowSurf vectors: %v (%d)", err, len(dirs))
	}
	for _, req := range dirs {
		dir := filepath.Dir(req)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			body, err := os.ReadFile(req)
			if err != nil {
				t.Fatal(err)
			}
			var cf growsurfCase
			if b, err := os.ReadFile(filepath.Join(dir, "case.json")); err == nil {
				if err := json.Unmarshal(b, &cf); err != nil {
					t.Fatal(err)
				}
			}
			if cf.Settings.Identifier != "" || cf.Settings.AppUserIDKey != "" || len(cf.Settings.Events) > 0 || len(cf.Settings.Traits) > 0 {
				t.Fatalf("case uses settings the example does not model: %+v", cf.Settings)
			}
			receivedAt := time.UnixMilli(1772445601000).UTC()
			if cf.ReceivedAt != "" {
				if receivedAt, err = time.Parse(time.RFC3339Nano, cf.ReceivedAt); err != nil {
					t.Fatal(err)
				}
			}
			secret := "grsf_test_secret"
			if b, err := os.ReadFile(filepath.Join(dir, "secret")); err == nil {
				secret = strings.TrimSpace(string(b))
			}
			s := loadSettings(t, "examples/growsurf.yaml", map[string]string{"GROWSURF_WEBHOOK_SECRET": secret})
			if cf.Settings.ReferralTrigger == growsurf.TriggerSignup {
				for i := range s.Vars {
					if s.Vars[i].Name == "trigger_signup" {
						s.Vars[i].Value = "true"
					}
				}
			}
			src, err := Compile("referrals", s)
			if err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "headers.json")); err == nil {
				var hm map[string]string
				if err := json.Unmarshal(b, &hm); err != nil {
					t.Fatal(err)
				}
				h := http.Header{}
				for k, v := range hm {
					h.Set(k, v)
				}
				now := time.UnixMilli(cf.Now)
				if err := src.Verify(h, body, now); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if err := src.Verify(h, append(bytes.Clone(body), ' '), now); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("Verify of a changed body: %v, want ErrBadSignature", err)
				}
			}

			want, werr := growsurf.Convert(body, "referrals", growsurf.Settings{ReferralTrigger: cf.Settings.ReferralTrigger}, receivedAt)
			got, gerr := src.Convert(nil, body, receivedAt)
			if werr != nil {
				if filepath.Base(dir) == "T6-not-object" && gerr == nil {
					// Documented difference: JSON that is not an object goes to the rules.
					if got.Unmapped != "growsurf_unknown_event" {
						t.Errorf("not-object body: %+v", got)
					}
					return
				}
				if !errors.Is(gerr, ErrMalformed) {
					t.Fatalf("growsurf: %v; webhook: %v, %+v", werr, gerr, got)
				}
				return
			}
			if gerr != nil {
				t.Fatal(gerr)
			}
			if got.Unmapped != want.Unmapped || got.Detail != want.Detail {
				t.Errorf("rejection:\n got %q %q\nwant %q %q", got.Unmapped, got.Detail, want.Unmapped, want.Detail)
			}
			if !strings.Contains(want.DeliveryKey, ":sha256:") && got.DeliveryKey != want.DeliveryKey {
				t.Errorf("delivery key: got %q, want %q", got.DeliveryKey, want.DeliveryKey)
			}
			if len(got.Messages) != len(want.Messages) {
				t.Fatalf("got %d messages, want %d: %+v", len(got.Messages), len(want.Messages), got)
			}
			for i := range want.Messages {
				g, w := got.Messages[i], want.Messages[i]
				if g.ID != w.ID || g.Source != w.Source || g.Type != w.Type || g.UserID != w.UserID || g.AnonymousID != w.AnonymousID ||
					g.Event != w.Event || !g.ReceivedAt.Equal(w.ReceivedAt) {
					t.Errorf("message %d:\n got %+v\nwant %+v", i, g, w)
				}
				if !bytes.Equal(g.Body, w.Body) {
					t.Errorf("message %d body:\n got %s\nwant %s", i, g.Body, w.Body)
				}
			}
		})
	}
}
