package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"gopkg.in/yaml.v3"
)

var testReceived = time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)

func mustSettings(t testing.TB, src string) Settings {
	t.Helper()
	var s Settings
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCompile(t testing.TB, src string) *Source {
	t.Helper()
	s, err := Compile("hooks", mustSettings(t, src))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const issueExample = `
path: /webhooks/rewardful
allow_unsigned: true
delivery_id: body.id
rules:
  - when: body.event == "referral.converted"
    emit:
      - type: identify
        userId: body.data.customer.email
        traits: { referral_source: '"rewardful"', affiliate_id: body.data.affiliate.id }
      - type: track
        userId: body.data.customer.email
        event: '"referral_converted"'
        properties: { amount: body.data.amount / 100 }
`

// TestConvertIssueExample converts a delivery with the rules of the
// issue's example and checks every field of both messages.
func TestConvertIssueExample(t *testing.T) {
	src := mustCompile(t, issueExample)
	res, err := src.Convert(nil, []byte(`{"id":"evt_1","event":"referral.converted","data":{"amount":1999,"customer":{"email":" ada@example.com "},"affiliate":{"id":"aff_7"}}}`), testReceived)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unmapped != "" || res.DeliveryKey != "evt_1" || res.Rule != "rules[0]" || len(res.Messages) != 2 {
		t.Fatalf("%+v", res)
	}
	want := []string{
		`{"channel":"server","context":{"integration":{"name":"hooks"}},"messageId":"evt_1:rules[0]:0","originalTimestamp":"2026-03-02T10:00:01.000Z","receivedAt":"2026-03-02T10:00:01.000Z","timestamp":"2026-03-02T10:00:01.000Z","traits":{"affiliate_id":"aff_7","referral_source":"rewardful"},"type":"identify","userId":"ada@example.com","version":2}`,
		`{"channel":"server","context":{"integration":{"name":"hooks"}},"event":"referral_converted","messageId":"evt_1:rules[0]:1","originalTimestamp":"2026-03-02T10:00:01.000Z","properties":{"amount":19.99},"receivedAt":"2026-03-02T10:00:01.000Z","timestamp":"2026-03-02T10:00:01.000Z","type":"track","userId":"ada@example.com","version":2}`,
	}
	for i, m := range res.Messages {
		if string(m.Body) != want[i] {
			t.Errorf("message %d:\n got %s\nwant %s", i, m.Body, want[i])
		}
		if m.Source != "hooks" || m.UserID != "ada@example.com" || !m.ReceivedAt.Equal(testReceived) {
			t.Errorf("message %d: %+v", i, m)
		}
	}
	if res.Messages[1].Event != "referral_converted" || res.Messages[0].Event != "" {
		t.Errorf("events: %q %q", res.Messages[0].Event, res.Messages[1].Event)
	}
}

// TestConvertOutcomes covers the results other than messages: every
// reason a delivery is kept as rejected, with its detail.
func TestConvertOutcomes(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
delivery_id: body.id
rules:
  - name: ignored
    when: body.kind == "ping"
    reject: ping_ignored
    detail: '"ping " + body.id'
  - name: conditional
    when: body.kind == "maybe"
    emit:
      - when: body.go
        type: track
        userId: body.user
        event: '"x"'
  - name: main
    when: body.kind == "signup"
    emit:
      - type: track
        userId: body.user
        event: body.event
        timestamp: body.at
        properties: { n: body.n + 1, t: unix(body.secs) }
  - name: dup
    when: body.kind == "dup"
    emit:
      - { type: track, userId: '"u"', event: '"a"', messageId: '"same"' }
      - { type: track, userId: '"u"', event: '"b"', messageId: '"same"' }
`)
	cases := []struct {
		name, body, reason, detail string
		msgs                       int
	}{
		{"no rule", `{"kind":"other"}`, ReasonNoRuleMatched, "no rule matches this delivery", 0},
		{"rule rejects", `{"kind":"ping","id":"p1"}`, "ping_ignored", "ping p1", 0},
		{"emit skipped", `{"kind":"maybe","go":false,"user":"u"}`, ReasonNoMessages, "rule conditional emitted no message (every emit's when was false)", 0},
		{"emit kept", `{"kind":"maybe","go":true,"user":"u"}`, "", "", 1},
		{"no identity", `{"kind":"signup","event":"e","n":1}`, ReasonInvalidMessage, "rules[2].emit[0]: the message has neither userId nor anonymousId (the expressions gave none)", 0},
		{"no event", `{"kind":"signup","user":"u","n":1}`, ReasonInvalidMessage, "rules[2].emit[0].event: a track needs an event (the expression gave none)", 0},
		{"event not a string", `{"kind":"signup","user":"u","event":5,"n":1}`, ReasonInvalidMessage, "rules[2].emit[0].event: must be a non-empty string, not a number", 0},
		{"userId an object", `{"kind":"signup","user":{},"event":"e","n":1}`, ReasonInvalidMessage, "rules[2].emit[0].userId: must be a string or a number, not an object", 0},
		{"arithmetic on a string", `{"kind":"signup","user":"u","event":"e","n":"1"}`, ReasonExpressionFailed, "rules[2].emit[0].properties.n: invalid operation: string + int (column 8)", 0},
		{"bad timestamp", `{"kind":"signup","user":"u","event":"e","n":1,"at":"yesterday"}`, ReasonInvalidMessage, `rules[2].emit[0].timestamp: "yesterday" is not an RFC 3339 time between 1970 and 9999`, 0},
		{"numeric timestamp", `{"kind":"signup","user":"u","event":"e","n":1,"at":5}`, ReasonInvalidMessage, "rules[2].emit[0].timestamp: must be a time or an RFC 3339 string, not a number (use unix() or unix_ms() for numbers)", 0},
		{"duplicate ids", `{"kind":"dup"}`, ReasonInvalidMessage, `rules[3].emit[1].messageId: "same" is also the messageId of dup.emit[0]; one would be dropped as a duplicate`, 0},
		{"good", `{"kind":"signup","user":42,"event":"e","n":1,"at":"2026-01-02T03:04:05.678+01:00","secs":1700000000}`, "", "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := src.Convert(nil, []byte(tc.body), testReceived)
			if err != nil {
				t.Fatal(err)
			}
			if res.Unmapped != tc.reason || res.Detail != tc.detail || len(res.Messages) != tc.msgs {
				t.Errorf("got %q %q (%d messages), want %q %q (%d)", res.Unmapped, res.Detail, len(res.Messages), tc.reason, tc.detail, tc.msgs)
			}
			if res.DeliveryKey == "" {
				t.Error("no delivery key")
			}
			if tc.name == "good" {
				var m map[string]any
				if err := json.Unmarshal(res.Messages[0].Body, &m); err != nil {
					t.Fatal(err)
				}
				if m["userId"] != "42" || m["timestamp"] != "2026-01-02T02:04:05.678Z" || m["messageId"] != "p:main:0" && m["messageId"] != "sha256:" {
					if !strings.HasPrefix(m["messageId"].(string), "sha256:") {
						t.Errorf("%s", res.Messages[0].Body)
					}
				}
				props := m["properties"].(map[string]any)
				if props["n"] != float64(2) || props["t"] != "2023-11-14T22:13:20.000Z" {
					t.Errorf("properties %v", props)
				}
			}
		})
	}
	if _, err := src.Convert(nil, []byte(`{"kind":`), testReceived); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated body: %v", err)
	}
	if _, err := src.Convert(nil, []byte(`{} {}`), testReceived); !errors.Is(err, ErrMalformed) {
		t.Errorf("two values: %v", err)
	}
}

// TestDeliveryKeyAndIDs: without delivery_id the key is the body's hash,
// equal for byte-identical retries; default messageIds derive from it,
// the rule's name and the emit index; long ids are hashed.
func TestDeliveryKeyAndIDs(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
rules:
  - name: r
    emit:
      - { type: identify, anonymousId: body.a }
      - { type: track, anonymousId: body.a, event: '"e"', messageId: body.long }
`)
	body := []byte(`{"a":"anon","long":"` + strings.Repeat("x", 120) + `"}`)
	r1, _ := src.Convert(nil, body, testReceived)
	r2, _ := src.Convert(nil, body, testReceived.Add(time.Hour))
	if !strings.HasPrefix(r1.DeliveryKey, "sha256:") || len(r1.DeliveryKey) != 39 || r1.DeliveryKey != r2.DeliveryKey {
		t.Fatalf("keys %q %q", r1.DeliveryKey, r2.DeliveryKey)
	}
	if r1.Messages[0].ID != r1.DeliveryKey+":r:0" || r1.Messages[0].ID != r2.Messages[0].ID {
		t.Errorf("ids %q %q", r1.Messages[0].ID, r2.Messages[0].ID)
	}
	if id := r1.Messages[1].ID; !strings.HasPrefix(id, "sha256:") || len(id) > maxIDLength {
		t.Errorf("long id %q", id)
	}
	if r1.Messages[0].AnonymousID != "anon" || r1.Messages[0].UserID != "" {
		t.Errorf("%+v", r1.Messages[0])
	}
}

// TestHeadersAndVars: expressions read request headers (lower-case names)
// and vars.
func TestHeadersAndVars(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
delivery_id: headers["x-delivery"]
vars:
  - { name: who, value: lower(body.email) }
  - { name: tag, value: 'vars.who + "!"' }
rules:
  - emit:
      - { type: track, userId: vars.who, event: '"e"', properties: { tag: vars.tag, agent: 'headers["user-agent"]', none: 'headers["x-none"]' } }
`)
	h := http.Header{}
	h.Set("X-Delivery", "d-1")
	h.Set("User-Agent", "tool/1")
	res, err := src.Convert(h, []byte(`{"email":"ADA@X.IO"}`), testReceived)
	if err != nil || res.Unmapped != "" {
		t.Fatal(err, res)
	}
	if res.DeliveryKey != "d-1" || res.Messages[0].UserID != "ada@x.io" ||
		!strings.Contains(string(res.Messages[0].Body), `"properties":{"agent":"tool/1","tag":"ada@x.io!"}`) {
		t.Errorf("%+v %s", res, res.Messages[0].Body)
	}
}

// TestFunctions exercises each function of the language as a mapping uses
// it.
func TestFunctions(t *testing.T) {
	cases := []struct{ expr, body, want string }{
		{`text(body.a)`, `{"a":"  x "}`, `"x"`},
		{`text(body.a)`, `{"a":"  "}`, `null`},
		{`text(body.a)`, `{"a":5}`, `null`},
		{`id(body.a)`, `{"a":12345678901}`, `"12345678901"`},
		{`id(body.a)`, `{"a":1.5}`, `"1.5"`},
		{`integer(body.a)`, `{"a":"7"}`, `7`},
		{`integer(body.a)`, `{"a":7.5}`, `null`},
		{`object(body.a)`, `{"a":[1]}`, `null`},
		{`lower(body.a) ?? "none"`, `{}`, `"none"`},
		{`upper(body.a)`, `{"a":"ab"}`, `"AB"`},
		{`trim(body.a)`, `{"a":" ab "}`, `"ab"`},
		{`unix(body.a)`, `{"a":1700000000}`, `"2023-11-14T22:13:20.000Z"`},
		{`unix_ms(body.a)`, `{"a":"1700000000123"}`, `"2023-11-14T22:13:20.123Z"`},
		{`unix_ms(body.a)`, `{"a":-1}`, `null`},
		{`parse_time(body.a)`, `{"a":"2026-01-02T03:04:05+02:00"}`, `"2026-01-02T01:04:05.000Z"`},
		{`seconds(parse_time(body.a))`, `{"a":"2026-01-02T03:04:05.9Z"}`, `1767323045`},
		{`millis(unix(body.a))`, `{"a":2}`, `2000`},
		{`query(body.u, "grsf")`, `{"u":"https://x.io/?grsf=abc&b=1"}`, `"abc"`},
		{`query(body.u, "none")`, `{"u":"https://x.io/?grsf=abc"}`, `null`},
		{`sha256(body.a)[:8]`, `{"a":"abc"}`, `"ba7816bf"`},
		{`body.a.b.c`, `{"a":"str"}`, `null`},
		{`body.a[0].b ?? "d"`, `{"a":[{"b":null}]}`, `"d"`},
		{`body.data.amount / 100`, `{"data":{"amount":1999}}`, `19.99`},
		{`body.n * 2 + 1`, `{"n":4}`, `9`},
		{`"a" + string(body.n)`, `{"n":4}`, `"a4"`},
		{`len(filter(body.xs, # > 1))`, `{"xs":[1,2,3]}`, `2`},
		{`body.big`, `{"big":9007199254740993}`, `9007199254740993`},
		{`seconds(received_at)`, `{}`, `1772445601`},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			src := mustCompile(t, fmt.Sprintf(`
path: /h
allow_unsigned: true
rules:
  - emit:
      - type: track
        anonymousId: '"a"'
        event: '"e"'
        properties: { v: %q }
`, tc.expr))
			res, err := src.Convert(nil, []byte(tc.body), testReceived)
			if err != nil || res.Unmapped != "" {
				t.Fatalf("%v %+v", err, res)
			}
			var m struct {
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(res.Messages[0].Body, &m); err != nil {
				t.Fatal(err)
			}
			got := string(m.Properties["v"])
			if got == "" {
				got = "null"
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCompileErrors: every problem is reported at once, each with its key
// path, and an expression error says where in the expression.
func TestCompileErrors(t *testing.T) {
	_, err := Compile("rewardful", mustSettings(t, `
path: webhooks
delivery_id: body.id +
vars:
  - { name: 1x, value: body }
rules:
  - emit:
      - type: identify
        traits: { a: bdy.x }
  - name: second
    when: body.event == "x"
    emit:
      - type: track
        userId: body.email
        properties: { amount: body.amount / , nested: { deep: [ok, 'lower('] } }
        traits: { a: body.a }
      - type: tracks
        anonymousId: '"a"'
      - type: page
        userId: '"u"'
        groupId: '"g"'
  - name: second
    when: 'any(body.a, any(body.b, # == 1))'
    reject: Bad-Reason
`))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"path: must start with \"/\"",
		"signature: required unless allow_unsigned is true",
		"vars[0].name: must be letters",
		"rules[2].name: \"second\" is already the name of rules[1]",
		"rules[2].reject: a reason code is lower-case letters",
		"rules[0].when: a rule without when matches everything",
		"delivery_id: unexpected token EOF",
		"rules[0].emit[0]: a identify message needs userId or anonymousId",
		"rules[0].emit[0].traits.a: unknown name bdy (column 1)",
		"rules[1].emit[0].properties.amount: unexpected token EOF",
		"rules[1].emit[0].properties.nested.deep[1]: unexpected token EOF",
		"rules[1].emit[0].traits: a track message has no traits",
		"rules[1].emit[0].event: required for a track message",
		"rules[1].emit[1].type: must be one of identify, track, page, screen, group, alias, not \"tracks\"",
		"rules[1].emit[2].groupId: a page message has no groupId",
		"rules[2].when: a predicate (map, filter, all, ...) inside another's closure is not allowed",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	fes := FieldErrors(err)
	if len(fes) != strings.Count(msg, "\n")+1 {
		t.Errorf("FieldErrors found %d of %d problems", len(fes), strings.Count(msg, "\n")+1)
	}
	for _, fe := range fes {
		if fe.Path == "" || strings.Contains(fe.Msg, "\n") {
			t.Errorf("bad FieldError %+v", fe)
		}
	}
	if err := mustSettings(t, issueExample).Validate(); err != nil {
		t.Errorf("the issue's example: %v", err)
	}
}

// TestLimits: a runaway expression fails with expression_failed instead
// of exhausting memory, and expressions cannot read the clock.
func TestLimits(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
rules:
  - emit:
      - { type: track, anonymousId: '"a"', event: '"e"', properties: { n: 'len(0..body.n)' } }
`)
	res, _ := src.Convert(nil, []byte(`{"n":1000000000}`), testReceived)
	if res.Unmapped != ReasonExpressionFailed || !strings.Contains(res.Detail, "memory budget exceeded") {
		t.Errorf("%+v", res)
	}
	res, _ = src.Convert(nil, []byte(`{"n":10}`), testReceived)
	if res.Unmapped != "" {
		t.Errorf("%+v", res)
	}
	if _, err := Compile("x", mustSettings(t, "path: /h\nallow_unsigned: true\nrules: [{emit: [{type: track, anonymousId: now(), event: '\"e\"'}]}]")); err == nil {
		t.Error("now() compiled")
	}
	big := strings.Repeat("1 + ", MaxNodes) + "1"
	if _, err := Compile("x", Settings{Path: "/h", AllowUnsigned: true, Rules: []Rule{{Emit: []Emit{{Type: router.TypeTrack, AnonymousID: big, Event: `"e"`}}}}}); err == nil {
		t.Error("an expression beyond MaxNodes compiled")
	}
}
