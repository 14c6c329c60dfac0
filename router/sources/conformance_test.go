package sources

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/sources/growsurf"
	"github.com/eventrouter/eventrouter/router/sources/segment"
	"github.com/eventrouter/eventrouter/router/sources/webhook"
)

// harness is what the conformance suite needs to know of a source type
// beyond its factory.
type harness struct {
	// valid returns a block that passes Validate, holding secret as its
	// secret (write key or signing secret).
	valid func(secret string) any
	// broken makes a valid block invalid without touching its secret.
	broken func(cfg any)
	// delivery returns a delivery to one of the source's webhook routes
	// and the headers that sign it at now with secret; nil for a source
	// without routes.
	delivery func(t *testing.T, secret string, now time.Time) (http.Header, []byte)
}

// harnesses has one entry per type of Builtin; the suite fails for a type
// without one, so a new source type cannot skip the suite.
var harnesses = map[string]harness{
	segment.Type: {
		valid: func(secret string) any {
			c := segment.DefaultConfig()
			c.WriteKeys = []string{secret, "second-key"}
			c.RateLimit = router.RateLimit{EventsPerSecond: 10}
			return c
		},
		broken: func(cfg any) { cfg.(*segment.Config).RateLimit.EventsPerSecond = -1 },
	},
	growsurf.Type: {
		valid: func(secret string) any {
			c := growsurf.DefaultConfig()
			c.Secret = secret
			return c
		},
		broken: func(cfg any) { cfg.(*growsurf.Config).Tolerance = 0 },
		delivery: func(t *testing.T, secret string, now time.Time) (http.Header, []byte) {
			body, err := os.ReadFile(filepath.Join("growsurf", "testdata", "T2-referred-signup", "request.json"))
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set(growsurf.SignatureHeader, growsurf.Sign(body, []byte(secret), now))
			return h, body
		},
	},
	webhook.Type: {
		valid: func(secret string) any {
			c := webhook.DefaultConfig()
			c.Path = "/webhooks/any"
			c.Signature = &webhook.Signature{Header: "X-Signature", Secret: secret}
			c.DeliveryID = "body.id"
			c.Rules = []webhook.Rule{{Name: "converted", When: `body.type == "referral.converted"`, Emit: []webhook.Emit{
				{Type: "identify", UserID: "lower(text(body.email))", Traits: map[string]any{"plan": "body.plan"}},
				{Type: "track", UserID: "lower(text(body.email))", Event: `"Referral Converted"`, Properties: map[string]any{"amount": "body.amount / 100"}},
			}}}
			return c
		},
		broken: func(cfg any) { cfg.(*webhook.Settings).Rules[0].Emit[1].Event = "" },
		delivery: func(t *testing.T, secret string, now time.Time) (http.Header, []byte) {
			body := []byte(`{"id":"evt_1","type":"referral.converted","email":"Ada@Example.com","plan":"pro","amount":4900}`)
			return webhook.Sign(webhook.Signature{Header: "X-Signature", Secret: secret}, body, now, ""), body
		},
	},
}

// typeName is what a source type must look like: it names the type's
// package, and ingest names a metric after it.
var typeName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// segmentRoutes are paths of the Tracking API a webhook route must not
// take.
var segmentRoutes = []string{"/v1", "/v1/track", "/v1/batch", "/beacon/v1/batch", "/health"}

// TestConformance runs the contract of router.SourceFactory and
// router.Source over every built-in source type.
func TestConformance(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Builtin() {
		typ := f.Type()
		t.Run(typ, func(t *testing.T) {
			if !typeName.MatchString(typ) {
				t.Fatalf("type %q must be lower-case letters, digits and '_'", typ)
			}
			if seen[typ] {
				t.Fatalf("type %q listed twice", typ)
			}
			seen[typ] = true
			h, ok := harnesses[typ]
			if !ok {
				t.Fatalf("no conformance harness for source type %q: add one to harnesses", typ)
			}
			t.Run("config", func(t *testing.T) { checkConfig(t, f, h) })
			t.Run("new", func(t *testing.T) { checkNew(t, f, h) })
			t.Run("webhook", func(t *testing.T) { checkWebhook(t, f, h) })
		})
	}
}

// checkConfig: DefaultConfig returns a new pointer to a struct whose every
// exported field is a YAML key, the struct validates itself, a valid block
// passes, a broken one fails naming its key, and no error shows a secret.
func checkConfig(t *testing.T, f router.SourceFactory, h harness) {
	a, b := f.DefaultConfig(), f.DefaultConfig()
	v := reflect.ValueOf(a)
	if a == nil || v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		t.Fatalf("DefaultConfig() = %T, want a non-nil pointer to a struct", a)
	}
	if a == b || reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() {
		t.Fatal("DefaultConfig returns the same value twice")
	}
	st := v.Elem().Type()
	for i := 0; i < st.NumField(); i++ {
		if fl := st.Field(i); fl.IsExported() && fl.Tag.Get("yaml") == "" {
			t.Errorf("field %s has no yaml tag", fl.Name)
		}
	}
	if _, ok := a.(router.Validator); !ok {
		t.Fatal("the config does not implement router.Validator")
	}
	const secret = "conformance-S3CRET-value"
	valid := h.valid(secret)
	if reflect.TypeOf(valid) != reflect.TypeOf(a) {
		t.Fatalf("the harness's block is %T, DefaultConfig's %T", valid, a)
	}
	if err := valid.(router.Validator).Validate(); err != nil {
		t.Fatalf("valid block: %v", err)
	}
	if ss, ok := valid.(router.SourceSecreter); ok {
		if !slices.ContainsFunc(ss.SourceSecrets(), func(s router.SourceSecret) bool { return s.Value == secret }) {
			t.Errorf("SourceSecrets() does not list the secret")
		}
	}
	broken := h.valid(secret)
	h.broken(broken)
	err := broken.(router.Validator).Validate()
	if err == nil {
		t.Fatal("broken block passes Validate")
	}
	keyed := regexp.MustCompile(`^[a-z_]+(\[[0-9]+\])*(\.[a-zA-Z_]+(\[[0-9]+\])*)*: `)
	for _, line := range strings.Split(err.Error(), "\n") {
		if !keyed.MatchString(line) {
			t.Errorf("problem %q does not start with its key", line)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("Validate's error shows the secret: %v", err)
	}
}

// checkNew: New builds a source from a valid block, refuses a broken one
// and a config of another type; the routes it mounts are the paths its
// config declares, none a route of the Tracking API; a Tracking API source
// returns its write keys and a valid rate limit.
func checkNew(t *testing.T, f router.SourceFactory, h harness) {
	const secret = "conformance-secret"
	set := router.SourceSettings{Name: "src"}
	if _, err := f.New(struct{}{}, set); err == nil {
		t.Error("New accepted a config of another type")
	}
	broken := h.valid(secret)
	h.broken(broken)
	if _, err := f.New(broken, set); err == nil {
		t.Error("New accepted a broken block")
	}
	cfg := h.valid(secret)
	src, err := f.New(cfg, set)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	var declared []string
	if sp, ok := cfg.(router.SourcePather); ok {
		for _, p := range sp.SourcePaths() {
			declared = append(declared, p.Path)
		}
	}
	var mounted []string
	for _, r := range src.Routes() {
		mounted = append(mounted, r.Path)
		if !strings.HasPrefix(r.Path, "/") || len(r.Path) < 2 || r.Webhook == nil || r.MaxBody < 0 {
			t.Errorf("route %+v", r)
		}
		for _, s := range segmentRoutes {
			if strings.EqualFold(r.Path, s) {
				t.Errorf("route %s is a route of the Tracking API", r.Path)
			}
		}
	}
	if !slices.Equal(declared, mounted) {
		t.Errorf("routes %v, but the config declares %v (SourcePaths)", mounted, declared)
	}
	ts, isAPI := src.(router.TrackingAPISource)
	wk, hasKeys := cfg.(router.WriteKeyer)
	if isAPI != hasKeys {
		t.Fatalf("TrackingAPISource %t but the config's WriteKeyer %t", isAPI, hasKeys)
	}
	if isAPI {
		if !slices.Equal(ts.WriteKeys(), wk.SourceWriteKeys()) || len(ts.WriteKeys()) == 0 {
			t.Errorf("WriteKeys() = %v, config's %v", ts.WriteKeys(), wk.SourceWriteKeys())
		}
		if err := ts.RateLimit().Validate(); err != nil {
			t.Errorf("RateLimit(): %v", err)
		}
	}
	if len(mounted) == 0 && !isAPI {
		t.Error("the source mounts no route and takes no write key: nothing can reach it")
	}
}

// checkWebhook: every route's webhook refuses an unsigned or wrongly
// signed delivery and a body that is not JSON, and turns a signed delivery
// into the same messages every time, each of the source, with an id, a
// known type and a JSON object body, and a delivery key.
func checkWebhook(t *testing.T, f router.SourceFactory, h harness) {
	const secret = "conformance-secret"
	src, err := f.New(h.valid(secret), router.SourceSettings{Name: "src"})
	if err != nil {
		t.Fatal(err)
	}
	if len(src.Routes()) == 0 {
		if h.delivery != nil {
			t.Fatal("the harness has a delivery but the source mounts no route")
		}
		return
	}
	if h.delivery == nil {
		t.Fatal("the source mounts routes but the harness has no delivery")
	}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	for _, r := range src.Routes() {
		header, body := h.delivery(t, secret, now)
		signatureErr := func(err error) bool {
			return errors.Is(err, router.ErrMissingSignature) || errors.Is(err, router.ErrBadSignature) || errors.Is(err, router.ErrStaleSignature)
		}
		if err := r.Webhook.Verify(http.Header{}, body, now); !signatureErr(err) {
			t.Errorf("%s: unsigned delivery: Verify = %v, want a router signature error", r.Path, err)
		}
		wrong, _ := h.delivery(t, "another-secret", now)
		if err := r.Webhook.Verify(wrong, body, now); !signatureErr(err) {
			t.Errorf("%s: delivery signed with another secret: Verify = %v, want a router signature error", r.Path, err)
		}
		if err := r.Webhook.Verify(header, body, now); err != nil {
			t.Fatalf("%s: signed delivery: Verify = %v", r.Path, err)
		}
		if _, err := r.Webhook.Convert(header, []byte(`{"not json`), now); !errors.Is(err, router.ErrMalformedBody) {
			t.Errorf("%s: body that is not JSON: Convert = %v, want router.ErrMalformedBody", r.Path, err)
		}
		res, err := r.Webhook.Convert(header, body, now)
		if err != nil {
			t.Fatalf("%s: Convert: %v", r.Path, err)
		}
		if res.Unmapped != "" || len(res.Messages) == 0 || res.Key == "" {
			t.Fatalf("%s: the harness's delivery gives %+v, want messages and a delivery key", r.Path, res)
		}
		ids := map[string]bool{}
		for _, m := range res.Messages {
			var obj map[string]any
			if m.Source != "src" || m.ID == "" || !router.IsType(m.Type) || json.Unmarshal(m.Body, &obj) != nil {
				t.Errorf("%s: message %+v", r.Path, m)
			}
			if ids[m.ID] {
				t.Errorf("%s: two messages with id %s", r.Path, m.ID)
			}
			ids[m.ID] = true
		}
		again, err := r.Webhook.Convert(header, body, now)
		if err != nil || !reflect.DeepEqual(again, res) {
			t.Errorf("%s: converting the delivery again gives another result", r.Path)
		}
	}
}
