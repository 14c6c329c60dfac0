package transform

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func msg(body string) *router.Message {
	var v struct {
		Type, MessageID, UserID, AnonymousID, Event string
	}
	_ = json.Unmarshal([]byte(body), &v)
	return &router.Message{ID: v.MessageID, Source: "web", Type: v.Type, UserID: v.UserID, AnonymousID: v.AnonymousID, Event: v.Event, Body: json.RawMessage(body), ReceivedAt: time.Now()}
}

func TestApply(t *testing.T) {
	const in = `{"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"plan":"pro","total":3},"type":"track","userId":"u1"}`
	tests := []struct {
		name    string
		rules   []Rule
		want    string // body; "" means unchanged
		dropped string
		wantErr string
	}{
		{name: "no rule fires", rules: []Rule{{When: `message.type == "identify"`, Remove: []string{"context"}}}},
		{name: "set from an expression", rules: []Rule{{Set: map[string]string{"properties.plan": `upper(message.properties.plan)`, "traits.email": `"a@b.c"`}}},
			want: `{"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"plan":"PRO","total":3},"traits":{"email":"a@b.c"},"type":"track","userId":"u1"}`},
		{name: "set sees the message before the rule", rules: []Rule{{Set: map[string]string{"a": `message.properties.total + 1`, "properties.total": `10`}}},
			want: `{"a":4,"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"plan":"pro","total":10},"type":"track","userId":"u1"}`},
		{name: "set null removes", rules: []Rule{{Set: map[string]string{"context.ip": `nil`}}},
			want: `{"context":{"library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"plan":"pro","total":3},"type":"track","userId":"u1"}`},
		{name: "a copied object is not tied to its source", rules: []Rule{{Set: map[string]string{"traits": `message.properties`}}, {Remove: []string{"properties.plan"}}},
			want: `{"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"total":3},"traits":{"plan":"pro","total":3},"type":"track","userId":"u1"}`},
		{name: "rename and remove, each seeing the one before", rules: []Rule{
			{Rename: map[string]string{"properties.total": "properties.value", "missing.field": "x"}},
			{When: `message.properties.value == 3`, Remove: []string{"context.ip", "context.nothing.here"}},
		}, want: `{"context":{"library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"plan":"pro","value":3},"type":"track","userId":"u1"}`},
		{name: "event renamed: the routing field follows", rules: []Rule{{Set: map[string]string{"event": `"signup"`}}},
			want: `{"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"signup","messageId":"m1","properties":{"plan":"pro","total":3},"type":"track","userId":"u1"}`},
		{name: "drop", rules: []Rule{{Remove: []string{"context"}}, {When: `message.userId startsWith "u"`, Drop: "internal_user"}, {Set: map[string]string{"x": "1"}}}, dropped: "internal_user"},
		{name: "run-time error names the rule", rules: []Rule{{Set: map[string]string{"properties.n": `message.properties.plan / 2`}}}, wantErr: "transform[0].set.properties.n: invalid operation"},
		{name: "a set through a scalar", rules: []Rule{{Set: map[string]string{"properties.plan.tier": `1`}}}, wantErr: "properties.plan is a string, not an object"},
		{name: "a condition that is not a boolean", rules: []Rule{{When: `message.userId`, Remove: []string{"x"}}}, wantErr: "transform[0].when: invalid operation: bool(string)"},
		{name: "no identity left", rules: []Rule{{Remove: []string{"userId"}}}, wantErr: "neither userId nor anonymousId"},
		{name: "no event left", rules: []Rule{{Remove: []string{"event"}}}, wantErr: "track message has no event"},
		{name: "times are written in the router's layout", rules: []Rule{{Set: map[string]string{"properties.at": `unix(1700000000)`}}},
			want: `{"context":{"ip":"203.0.113.9","library":{"name":"x"}},"event":"Signed Up","messageId":"m1","properties":{"at":"2023-11-14T22:13:20.000Z","plan":"pro","total":3},"type":"track","userId":"u1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			m := msg(in)
			before := string(m.Body)
			res, err := p.Apply(m)
			if string(m.Body) != before {
				t.Fatalf("the input message changed: %s", m.Body)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Dropped != tt.dropped {
				t.Fatalf("dropped = %q, want %q", res.Dropped, tt.dropped)
			}
			want := tt.want
			if want == "" {
				want = in
			}
			if tt.dropped == "" && string(res.Message.Body) != want {
				t.Fatalf("body\n got %s\nwant %s", res.Message.Body, want)
			}
			if tt.dropped == "" && tt.want == "" && res.Changed {
				t.Fatal("Changed with no rule applied")
			}
			if res.Message.ID != "m1" || res.Message.Source != "web" {
				t.Fatalf("identity changed: %+v", res.Message)
			}
		})
	}
}

func TestApplyKeepsUntouchedNumbers(t *testing.T) {
	p, err := Compile([]Rule{{Set: map[string]string{"x": `1`}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Apply(msg(`{"messageId":"m","n":{"big":123456789012345678,"f":1.5,"e":1e400},"type":"identify","userId":"u"}`))
	if err != nil {
		t.Fatal(err)
	}
	// An untouched value is copied as it was, numbers and key order too.
	if got, want := string(res.Message.Body), `{"messageId":"m","n":{"big":123456789012345678,"f":1.5,"e":1e400},"type":"identify","userId":"u","x":1}`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestCompileErrors(t *testing.T) {
	rules := []Rule{
		{Set: map[string]string{"properties.plan": `lower(message.properties.plan`}},
		{When: `len(message)`, Remove: []string{"context.ip"}},
		{Rename: map[string]string{"messageId": "id"}},
		{Drop: "internal_user"},
		{Drop: "Bad Reason", When: "true"},
		{Drop: "suppressed", When: "true"},
		{},
		{Set: map[string]string{"a": "1"}, Remove: []string{"b"}},
		{Remove: []string{"a..b"}},
		{Set: map[string]string{"x": `map(message.a, map(message.b, #))`}},
		{Set: map[string]string{"x": `nosuchname`}},
		{Rename: map[string]string{"properties": "properties.old"}},
	}
	_, err := Compile(rules)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"transform[0].set.properties.plan: unexpected token EOF",
		"transform[1].when: expected bool",
		"transform[2].rename.messageId: messageId cannot be changed",
		"transform[3].when: required",
		"transform[4].drop: the reason must be a lower-case name",
		`transform[5].drop: "suppressed" is a reason dispatch gives itself`,
		"transform[6]: needs one of set, rename, remove or drop",
		"transform[7]: has set and remove",
		`transform[8].remove[0]: bad field path "a..b"`,
		"transform[9].set.x: a predicate (map, filter, all, ...) inside another's closure",
		"transform[10].set.x: unknown name nosuchname",
		"transform[11].rename.properties: cannot rename properties to properties.old",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestSuppressKey(t *testing.T) {
	if _, err := CompileSuppress(&Suppress{Key: "message.userId +", Window: 0}); err == nil ||
		!strings.Contains(err.Error(), "suppress.key: ") || !strings.Contains(err.Error(), "suppress.window: required") {
		t.Fatalf("err = %v", err)
	}
	if _, err := CompileSuppress(&Suppress{Key: "message.userId", Window: 500 * 24 * time.Hour}); err == nil || !strings.Contains(err.Error(), "suppress.window: must be between") {
		t.Fatalf("err = %v", err)
	}
	s, err := CompileSuppress(&Suppress{Key: `message.userId + ":" + message.event`, Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	k, ok, err := s.Key(msg(`{"event":"e","messageId":"m","type":"track","userId":"u"}`))
	if err != nil || !ok || k != "u:e" {
		t.Fatalf("key = %q %v %v", k, ok, err)
	}
	s, _ = CompileSuppress(&Suppress{Key: `message.properties.n`, Window: time.Hour})
	for body, want := range map[string]string{
		`{"properties":{"n":12},"type":"track"}`:   "12",
		`{"properties":{"n":null},"type":"track"}`: "",
		`{"properties":{"n":" "},"type":"track"}`:  "",
		`{"type":"track"}`:                         "",
	} {
		k, ok, err := s.Key(msg(body))
		if err != nil || k != want || ok != (want != "") {
			t.Errorf("%s: key = %q %v %v", body, k, ok, err)
		}
	}
	if _, _, err := s.Key(msg(`{"properties":{"n":{"a":1}},"type":"track"}`)); err == nil || !strings.Contains(err.Error(), "an object, not a string or a number") {
		t.Fatalf("err = %v", err)
	}
}

// TestApplyReadsAndWritesLazily covers the ways expressions read the
// message (a field, a whole object, the message itself, a computed key)
// and the ways rules change nested objects.
func TestApplyReadsAndWritesLazily(t *testing.T) {
	const in = `{"context":{"traits":{"b":2,"a":1}},"list":[{"n":1},{"n":2}],"messageId":"m","type":"identify","userId":"u","weird":"a\"b<>"}`
	tests := []struct {
		name string
		rule Rule
		want string
	}{
		{"whole message", Rule{Set: map[string]string{"n": `len(keys(message))`}},
			`{"context":{"traits":{"b":2,"a":1}},"list":[{"n":1},{"n":2}],"messageId":"m","n":6,"type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"computed key", Rule{Set: map[string]string{"k": `message["user" + "Id"]`}},
			`{"context":{"traits":{"b":2,"a":1}},"k":"u","list":[{"n":1},{"n":2}],"messageId":"m","type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"an object read whole", Rule{Set: map[string]string{"traits": `message.context.traits`}},
			`{"context":{"traits":{"b":2,"a":1}},"list":[{"n":1},{"n":2}],"messageId":"m","traits":{"a":1,"b":2},"type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"an array", Rule{Set: map[string]string{"sum": `sum(message.list, #.n)`}},
			`{"context":{"traits":{"b":2,"a":1}},"list":[{"n":1},{"n":2}],"messageId":"m","sum":3,"type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"nested set: the changed object is sorted", Rule{Set: map[string]string{"context.traits.c": `message.weird`}},
			`{"context":{"traits":{"a":1,"b":2,"c":"a\"b<>"}},"list":[{"n":1},{"n":2}],"messageId":"m","type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"rename an object", Rule{Rename: map[string]string{"context.traits": "traits"}},
			`{"context":{},"list":[{"n":1},{"n":2}],"messageId":"m","traits":{"b":2,"a":1},"type":"identify","userId":"u","weird":"a\"b<>"}`},
		{"set through a missing object", Rule{Set: map[string]string{"context.traits.x.y": `true`}},
			`{"context":{"traits":{"a":1,"b":2,"x":{"y":true}}},"list":[{"n":1},{"n":2}],"messageId":"m","type":"identify","userId":"u","weird":"a\"b<>"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]Rule{tt.rule})
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.Apply(msg(in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(res.Message.Body); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
			if !json.Valid(res.Message.Body) {
				t.Fatal("invalid JSON")
			}
		})
	}
	p, _ := Compile([]Rule{{Set: map[string]string{"a": "1"}}})
	for _, bad := range []string{`[1]`, `{"a":}`, `{"a":1} x`, `{"a":"x`, `{"a":tru}`, `{"a":1,}`} {
		if _, err := p.Apply(msg(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}
