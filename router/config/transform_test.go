package config

import (
	"errors"
	"testing"
	"time"
)

// TestDestinationTransform: a destination's transform and suppress blocks
// are decoded, and their broken expressions reported with key path and
// line.
func TestDestinationTransform(t *testing.T) {
	good := minimal + `
destinations:
  cio:
    type: fake
    transform:
      - set: {properties.plan: upper(message.properties.plan)}
        when: message.type == "track"
      - rename: {traits.email_address: traits.email}
      - remove: [context.ip]
      - drop: internal_user
        when: message.userId endsWith "@example.com"
    suppress: {key: 'message.userId + ":" + message.event', window: 24h}
`
	cfg, err := Parse([]byte(good), testRegistry(t))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Destinations["cio"].Dispatch
	if len(d.Transform) != 4 || d.Transform[3].Drop != "internal_user" || d.Suppress == nil || d.Suppress.Window != 24*time.Hour {
		t.Fatalf("dispatch = %+v", d)
	}

	bad := minimal + `
destinations:
  cio:
    type: fake
    transform:
      - set: {properties.plan: upper(message.properties.plan}
      - drop: internal_user
      - rename: {a: b}
        remov: [x]
    suppress: {key: 'message.userId +', window: 24h}
`
	_, err = Parse([]byte(bad), testRegistry(t))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	want := map[string]int{ // the line of the value, or of its rule when missing
		"destinations.cio.transform[0].set.properties.plan": 9,
		"destinations.cio.transform[1].when":                10,
		"destinations.cio.transform[2].remov":               12,
		"destinations.cio.suppress.key":                     13,
	}
	for _, p := range ce.Problems {
		if line, ok := want[p.Path]; ok {
			if p.Line != line {
				t.Errorf("%s: line %d, want %d", p.Path, p.Line, line)
			}
			delete(want, p.Path)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing %v in:\n%v", want, err)
	}
}
