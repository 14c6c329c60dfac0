package webhook

import (
	"reflect"
	"testing"
)

// TestFastPaths: every shape run without the VM gives what the VM gives,
// values and errors alike, on bodies where the fields are missing, null,
// strings, numbers and objects.
func TestFastPaths(t *testing.T) {
	exprs := []string{
		`body.a`, `body.a.b`, `body["a"].b`, `headers["x-a"]`, `vars.v`, `vars.v.b`,
		`"lit"`, `true`, `nil`,
		`body.a == "x"`, `"x" == body.a`, `body.a.b != "x"`,
		`lower(body.a)`, `upper(body.a.b)`, `text(body.a)`, `id(body.a)`, `integer(body.a)`, `unix(body.a)`, `unix_ms(body.a)`,
		`parse_time(body.a)`, `sha256(body.a)`, `object(body.a)`, `seconds(body.a)`,
		`body.a / 100`, `body.a.b / 2.5`, `body.a / 0`,
	}
	bodies := []string{
		`{}`, `{"a":null}`, `{"a":"x"}`, `{"a":" Ab "}`, `{"a":7}`, `{"a":-2.5}`, `{"a":1772445600}`, `{"a":"2026-03-02T10:00:00Z"}`,
		`{"a":{"b":"x"}}`, `{"a":{"b":10}}`, `{"a":[1]}`, `{"a":true}`, `[]`, `"x"`,
	}
	for _, src := range exprs {
		p, err := compileExpr(src, &checkShape{})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if p.fast.kind == 0 {
			t.Errorf("%s runs on the VM", src)
			continue
		}
		slow := *p
		slow.fast = fastExpr{}
		for _, body := range bodies {
			root, err := decodeBody([]byte(body), nil)
			if err != nil {
				t.Fatal(err)
			}
			e := &env{Body: root, ReceivedAt: testReceived, Headers: map[string]any{"x-a": "h"}, Vars: map[string]any{"v": root}}
			c := &conv{e: e, scratch: &scratch{}}
			got, gerr := c.run(p)
			want, werr := c.run(&slow)
			if !reflect.DeepEqual(got, want) || (gerr == nil) != (werr == nil) || gerr != nil && gerr.Error() != werr.Error() {
				t.Errorf("%s on %s: fast %#v (%v), VM %#v (%v)", src, body, got, gerr, want, werr)
			}
		}
	}
}
