package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func mustLoad(t testing.TB, dir string) *Plan {
	t.Helper()
	p, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s): %v", dir, err)
	}
	return p
}

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("decoding %s: %v", s, err)
	}
	return m
}

// brief is the part of a violation the table tests compare.
type brief struct {
	Type  ViolationType
	Field string
}

func briefs(vs []Violation) []brief {
	var out []brief
	for _, v := range vs {
		out = append(out, brief{v.Type, v.Field})
	}
	return out
}

func TestValidate(t *testing.T) {
	p := mustLoad(t, "testdata/order")
	tests := []struct {
		name string
		msg  string
		want []brief
	}{
		{"clean track",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":10,"currency":"EUR"}}`,
			nil},
		{"P1 unplanned property",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":10,"coupon":"X"}}`,
			[]brief{{UnplannedProperty, "properties.coupon"}}},
		{"P2 required",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1"}}`,
			[]brief{{Required, "properties.revenue"}}},
		{"P3 unplanned event (case differs)",
			`{"type":"track","event":"order completed","userId":"u1","messageId":"m","properties":{}}`,
			[]brief{{Unplanned, "event"}}},
		{"P4 type",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":"10"}}`,
			[]brief{{Type, "properties.revenue"}}},
		{"several required at once",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{}}`,
			[]brief{{Required, "properties.order_id"}, {Required, "properties.revenue"}}},
		{"missing properties object",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m"}`,
			[]brief{{Required, "properties"}}},
		{"pattern",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":1,"currency":"eur"}}`,
			[]brief{{Pattern, "properties.currency"}}},
		{"nested required in array item",
			`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":1,"products":[{"sku":"a"},{"name":"b"}]}}`,
			[]brief{{Required, "properties.products.1.sku"}}},
		{"enum",
			`{"type":"track","event":"Order Refunded","userId":"u1","messageId":"m","properties":{"order_id":"o1","reason":"bored"}}`,
			[]brief{{Enum, "properties.reason"}}},
		{"format date-time",
			`{"type":"track","event":"Order Refunded","userId":"u1","messageId":"m","properties":{"order_id":"o1","refunded_at":"yesterday"}}`,
			[]brief{{Format, "properties.refunded_at"}}},
		{"closed additionalProperties reported once",
			`{"type":"track","event":"Order Refunded","userId":"u1","messageId":"m","properties":{"order_id":"o1","note":"x"}}`,
			[]brief{{UnplannedProperty, "properties.note"}}},
		{"identify unplanned trait, enum and type",
			`{"type":"identify","userId":"u1","messageId":"m","traits":{"email":"a@x","plan":"gold","logins":"3","age":4}}`,
			[]brief{{UnplannedTrait, "traits.age"}, {Type, "traits.logins"}, {Enum, "traits.plan"}}},
		{"identify required trait",
			`{"type":"identify","userId":"u1","messageId":"m","traits":{"plan":"pro"}}`,
			[]brief{{Required, "traits.email"}}},
		{"identify integer accepts whole float",
			`{"type":"identify","userId":"u1","messageId":"m","traits":{"email":"a@x","logins":3.0}}`,
			nil},
		{"common type and required",
			`{"type":"track","event":"Order Completed","userId":7,"properties":{"order_id":"o1","revenue":1}}`,
			[]brief{{"CommonRequired", "messageId"}, {"CommonType", "userId"}}},
		{"common nested context",
			`{"type":"identify","userId":"u1","messageId":"m","context":{"app":{"version":2}},"traits":{"email":"a@x"}}`,
			[]brief{{"CommonType", "context.app.version"}}},
		{"page keyless rule",
			`{"type":"page","name":"Docs","userId":"u1","messageId":"m","properties":{"path":"docs","title":"Docs","referrer":"x"}}`,
			[]brief{{UnplannedProperty, "properties.referrer"}, {Pattern, "properties.path"}}},
		{"screen without rule is not checked",
			`{"type":"screen","name":"Home","userId":"u1","messageId":"m","properties":{"x":1}}`,
			nil},
		{"group without rule is not checked",
			`{"type":"group","groupId":"g","userId":"u1","messageId":"m","traits":{"x":1}}`,
			nil},
		{"alias is never validated",
			`{"type":"alias","previousId":"a","userId":7}`,
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := p.Validate(decode(t, tt.msg))
			got := briefs(vs)
			if !sameBriefs(got, tt.want) {
				t.Fatalf("violations = %+v, want %+v\nfull: %+v", got, tt.want, vs)
			}
			for _, v := range vs {
				if v.Description == "" || v.EventType == "" {
					t.Errorf("violation %+v lacks description or event type", v)
				}
			}
		})
	}
}

// sameBriefs compares violations ignoring order (the validator's order of
// independent keywords is not part of the contract).
func sameBriefs(got, want []brief) bool {
	if len(got) != len(want) {
		return false
	}
	left := append([]brief(nil), want...)
	for _, g := range got {
		found := false
		for i, w := range left {
			if g == w {
				left = append(left[:i], left[i+1:]...)
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func TestValidateViolationShape(t *testing.T) {
	p := mustLoad(t, "testdata/order")
	t.Run("P2 Required", func(t *testing.T) {
		vs := p.Validate(decode(t, `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1"}}`))
		want := []Violation{{Type: Required, Field: "properties.revenue", Description: "properties.revenue is required",
			EventName: "Order Completed", EventType: "track", RuleVersion: 3}}
		if !reflect.DeepEqual(vs, want) {
			t.Fatalf("got %+v, want %+v", vs, want)
		}
		b, _ := json.Marshal(vs[0])
		for _, k := range []string{`"violationType":"Required"`, `"violationField":"properties.revenue"`, `"eventName":"Order Completed"`, `"eventType":"track"`} {
			if !strings.Contains(string(b), k) {
				t.Errorf("JSON %s lacks %s", b, k)
			}
		}
	})
	t.Run("P3 Unplanned", func(t *testing.T) {
		vs := p.Validate(decode(t, `{"type":"track","event":"order completed","userId":"u1","messageId":"m"}`))
		want := []Violation{{Type: Unplanned, Field: "event", Description: "event 'order completed' is not in the tracking plan",
			EventName: "order completed", EventType: "track"}}
		if !reflect.DeepEqual(vs, want) {
			t.Fatalf("got %+v, want %+v", vs, want)
		}
	})
	t.Run("P4 Type", func(t *testing.T) {
		vs := p.Validate(decode(t, `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":"10"}}`))
		if len(vs) != 1 || vs[0].Description != "expected number, got string" {
			t.Fatalf("got %+v", vs)
		}
	})
	t.Run("common prefix", func(t *testing.T) {
		vs := p.Validate(decode(t, `{"type":"identify","userId":1,"messageId":"m","traits":{"email":"a"}}`))
		if len(vs) != 1 || !vs[0].Type.IsCommon() || vs[0].Type.Base() != Type {
			t.Fatalf("got %+v", vs)
		}
	})
	t.Run("json.Number values", func(t *testing.T) {
		dec := json.NewDecoder(strings.NewReader(`{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":10.5}}`))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		if vs := p.Validate(m); len(vs) != 0 {
			t.Fatalf("got %+v", vs)
		}
	})
}

func TestDefaultPlan(t *testing.T) {
	p := mustLoad(t, ".")
	if p.ID != "referral-program" || p.Enforcement != DefaultEnforcement() {
		t.Errorf("plan %q enforcement %+v, want referral-program with the allow-everything defaults", p.ID, p.Enforcement)
	}
	var keys []string
	for k := range p.Tracks {
		keys = append(keys, k)
	}
	for _, k := range []string{"referral_program_joined", "referral_made", "referral_converted", "referral_reward_earned"} {
		if p.Tracks[k] == nil {
			t.Errorf("no rule for %s (have %v)", k, keys)
		}
	}
	if p.Identify == nil || p.Common == nil || p.Group == nil {
		t.Fatal("default plan lacks common, identify or group rule")
	}
	if len(p.Hash) != 64 {
		t.Errorf("hash %q", p.Hash)
	}
	if fs := Lint("."); len(fs) != 0 {
		t.Errorf("Lint(default plan) = %v", fs)
	}
	if fs := TestFixtures("."); len(fs) != 0 {
		t.Errorf("TestFixtures(default plan) = %v", fs)
	}
	// The fixtures must actually exercise both outcomes for every rule.
	for _, dir := range []string{"track/referral_program_joined", "track/referral_made", "track/referral_converted", "track/referral_reward_earned", "identify"} {
		for _, outcome := range []string{"valid", "invalid"} {
			m, _ := filepath.Glob(filepath.Join("fixtures", dir, outcome, "*.json"))
			if len(m) == 0 {
				t.Errorf("no %s fixtures in fixtures/%s", outcome, dir)
			}
		}
	}
}

// TestGrowSurfGoldenMessages validates every message the GrowSurf source
// produces in its golden files: all must be clean under the default plan.
func TestGrowSurfGoldenMessages(t *testing.T) {
	p := mustLoad(t, ".")
	files, err := filepath.Glob("../router/sources/growsurf/testdata/*/expected.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	seen := map[string]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var msgs []struct {
			Body map[string]any `json:"body"`
		}
		if err := json.Unmarshal(data, &msgs); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, m := range msgs {
			typ, _ := m.Body["type"].(string)
			ev, _ := m.Body["event"].(string)
			seen[typ+" "+ev]++
			if vs := p.Validate(m.Body); len(vs) != 0 {
				t.Errorf("%s[%d] (%s %s): %+v", f, i, typ, ev, vs)
			}
		}
	}
	for _, k := range []string{"identify ", "track referral_program_joined", "track referral_made", "track referral_converted", "track referral_reward_earned"} {
		if seen[k] == 0 {
			t.Errorf("golden files hold no %q message (saw %v)", k, seen)
		}
	}
}

func TestLoadIsWholeOrNothing(t *testing.T) {
	p, err := Load("testdata/broken")
	if p != nil {
		t.Fatal("Load returned a plan for a broken directory")
	}
	le, ok := err.(*LoadError)
	if !ok {
		t.Fatalf("error %T %v, want *LoadError", err, err)
	}
	want := []Finding{
		{File: "events/kind.schema.json", Line: 2, Pointer: "/x-segment-type"},
		{File: "events/kind.schema.json", Line: 4, Pointer: "/x-segment-version"},
		{File: "events/meta.schema.json", Line: 9, Pointer: "/properties/properties/properties/revenue/type"},
		{File: "events/syntax.schema.json", Line: 5},
		{File: "identify.schema.json", Line: 1},
		{File: "identify.schema.json", Line: 2, Pointer: "/$schema"},
		{File: "identify.schema.json", Line: 4, Pointer: "/x-segment-key"},
		{File: "plan.yaml", Line: 1, Pointer: "/id"},
		{File: "plan.yaml", Line: 4, Pointer: "/enforcement/track/unplanned_events"},
	}
	if len(le.Problems) != len(want) {
		t.Fatalf("%d problems, want %d:\n%v", len(le.Problems), len(want), le)
	}
	for i, w := range want {
		g := le.Problems[i]
		if g.File != w.File || g.Line != w.Line || g.Pointer != w.Pointer || g.Message == "" || g.Severity != SeverityError {
			t.Errorf("problem %d = %+v, want %+v", i, g, w)
		}
	}
	if _, err := Load("testdata/does-not-exist"); err == nil {
		t.Error("Load of a missing directory succeeded")
	}
}

func BenchmarkValidate(b *testing.B) {
	p := mustLoad(b, ".")
	msg := decode(b, `{"type":"track","event":"referral_made","userId":"richard@piedpiper.com","anonymousId":null,
		"messageId":"growsurf:ct8f71:referral_made:x9a7uu:p88y0a:track","channel":"server","version":2,
		"timestamp":"2026-03-02T10:00:00.456Z","originalTimestamp":"2026-03-02T10:00:00.456Z","receivedAt":"2026-03-02T10:00:01.000Z",
		"context":{"integration":{"name":"growsurf"}},
		"properties":{"campaign_id":"ct8f71","campaign_name":"Pied Piper Referral Program","referee_email":"gavin.belson@hooli.com",
		"referee_first_name":"Gavin","referee_participant_id":"p88y0a","total_referrals":1}}`)
	if vs := p.Validate(msg); len(vs) != 0 {
		b.Fatalf("benchmark message has violations: %+v", vs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if vs := p.Validate(msg); vs != nil {
			b.Fatal(vs)
		}
	}
}

func TestValidateConcurrent(t *testing.T) {
	p := mustLoad(t, "testdata/order")
	msgs := []map[string]any{
		decode(t, `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1","revenue":10}}`),
		decode(t, `{"type":"track","event":"Order Completed","userId":"u1","messageId":"m","properties":{"order_id":"o1"}}`),
	}
	done := make(chan int)
	for g := 0; g < 4; g++ {
		go func() {
			n := 0
			for i := 0; i < 200; i++ {
				n += len(p.Validate(msgs[i%2]))
			}
			done <- n
		}()
	}
	for g := 0; g < 4; g++ {
		if n := <-done; n != 100 {
			t.Errorf("goroutine saw %d violations, want 100", n)
		}
	}
}
