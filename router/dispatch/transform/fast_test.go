package transform

import (
	"reflect"
	"testing"
)

// TestFastPaths compares each expression evaluated without the VM with the
// VM's result, on messages where the fields are present, missing, null or
// of other types, and after a rule set an object.
func TestFastPaths(t *testing.T) {
	exprs := []struct {
		src    string
		asBool bool
		fast   bool
	}{
		{`message.type`, false, true},
		{`message.properties.plan`, false, true},
		{`message.properties.plan.tier`, false, true},
		{`message.a.b.c`, false, true},
		{`"x"`, false, true},
		{`12`, false, true},
		{`nil`, false, true},
		{`message.type == "track"`, true, true},
		{`"track" == message.type`, true, true},
		{`message.properties.plan != "pro"`, true, true},
		{`upper(message.properties.plan)`, false, true},
		{`integer(message.properties.n)`, false, true},
		{`text(message.a.b.c)`, false, true},
		{`message.type == message.event`, true, false},
		{`message.properties.plan`, true, false},
		{`upper(message.properties.plan ?? "x")`, false, true},
		{`integer(message.properties.n ?? 0)`, false, true},
		{`text(message.a.b.c ?? nil)`, false, true},
		{`upper(message.properties.plan ?? message.type)`, false, false},
		{`message.properties.plan ?? "x"`, false, false},
		{`message.type endsWith "ck"`, true, true},
		{`message.properties.plan startsWith "p"`, true, true},
		{`message.a.b.c startsWith " "`, true, true},
		{`message.type endsWith message.event`, true, false},
	}
	bodies := []string{
		`{"type":"track","event":"track","properties":{"plan":"pro","n":"42"},"a":{"b":{"c":" x "}}}`,
		`{"type":"identify","properties":{"plan":7,"n":1.5},"a":{"b":[1]}}`,
		`{"type":null,"properties":null,"a":"s"}`,
		`{"properties":{"plan":{"tier":"gold"}}}`,
		`{}`,
	}
	for _, e := range exprs {
		p, err := compileExpr(e.src, e.asBool)
		if err != nil {
			t.Fatalf("%s: %v", e.src, err)
		}
		if (p.fast != nil) != e.fast {
			t.Errorf("%s: fast path %v, want %v", e.src, p.fast != nil, e.fast)
		}
		if p.fast == nil {
			continue
		}
		slow := *p
		slow.fast = nil
		for _, b := range bodies {
			for _, setA := range []bool{false, true} {
				run := func(p *program) (any, error) {
					o, err := newObject([]byte(b), nil)
					if err != nil {
						t.Fatal(err)
					}
					if setA {
						_ = o.put(fieldPath{"a"}, member{val: map[string]any{"b": map[string]any{"c": "set"}}})
					}
					return p.run(o, &env{})
				}
				fv, ferr := run(p)
				sv, serr := run(&slow)
				if (ferr != nil) != (serr != nil) || !reflect.DeepEqual(fv, sv) {
					t.Errorf("%s on %s (a set: %v): fast %#v, %v; VM %#v, %v", e.src, b, setA, fv, ferr, sv, serr)
				}
			}
		}
	}
}
