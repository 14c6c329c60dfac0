package webhook

import (
	"reflect"
	"testing"
)

// TestRuleIndex: a source whose rules choose by body.kind indexes them,
// and converts every body exactly as trying the rules one by one does
// (the same source with its index removed): the first matching rule wins
// also when two rules test one literal, non-strings match nothing, and the
// rules after the run still run.
func TestRuleIndex(t *testing.T) {
	src := mustCompile(t, `
path: /h
allow_unsigned: true
rules:
  - {name: a, when: 'body.kind == "a"', emit: [{type: track, userId: '"u"', event: '"a"'}]}
  - {name: b, when: '"b" == body.kind', emit: [{type: track, userId: '"u"', event: '"b"'}]}
  - {name: a2, when: 'body.kind == "a"', emit: [{type: track, userId: '"u"', event: '"a2"'}]}
  - {name: c, when: 'body.kind == "c"', reject: not_mapped}
  - {name: other-path, when: 'body.type == "d"', emit: [{type: track, userId: '"u"', event: '"d"'}]}
  - {name: n, when: 'body.kind == "n"', emit: [{type: track, userId: '"u"', event: '"n"'}]}
  - {name: rest, when: 'body.kind != nil', reject: other}
`)
	if src.groups == nil || src.groups[0] == nil || src.groups[0].end != 4 {
		t.Fatalf("rules a..c are not indexed: %+v", src.groups)
	}
	plain := *src
	plain.groups = nil
	for _, body := range []string{
		`{"kind":"a"}`, `{"kind":"b"}`, `{"kind":"c"}`, `{"kind":"n"}`, `{"kind":"x"}`, `{"type":"d","kind":"z"}`,
		`{"kind":1}`, `{"kind":null}`, `{"kind":{"a":1}}`, `{}`, `[]`, `"a"`,
	} {
		got, err := src.Convert(nil, []byte(body), testReceived)
		want, werr := plain.Convert(nil, []byte(body), testReceived)
		if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: indexed %+v (%v), one by one %+v (%v)", body, got, err, want, werr)
		}
	}
	if res, _ := src.Convert(nil, []byte(`{"kind":"a"}`), testReceived); res.Rule != "a" {
		t.Errorf(`{"kind":"a"} matched %q, want a`, res.Rule)
	}
}
