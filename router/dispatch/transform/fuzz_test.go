package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// FuzzApply checks the lazy reader against encoding/json: any body is
// read without a panic; one JSON object is never refused, and setting a
// field gives the object encoding/json reads with that field set, as
// valid JSON. (The log's bodies are valid JSON, written by ingest: the
// reader checks what it skips only as far as finding its end, so some
// malformed bodies are read.)
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		`{"type":"identify","userId":"u","a":{"b":[1,2,{"c":"d\"}"}]}}`,
		`{"a":1,"a":2}`, `{"z":1,"a":{"y":2,"x":null}}`, `{ "a" : "\u00e9\\" , "b":-0.5e+3 }`,
		`{"a":01}`, `{"a":1.}`, `{"a":"x}`, `[{}]`, `{"a":[}`, `{}`, `{"a":"\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	p, err := Compile([]Rule{
		{When: `message.a != nil || true`, Set: map[string]string{"added.n": `1`}},
		{Remove: []string{"a.x"}},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m := &router.Message{Type: "identify", UserID: "u", Body: body}
		var want map[string]any
		r := bytes.NewReader(body)
		dec := json.NewDecoder(r)
		dec.UseNumber()
		werr := dec.Decode(&want)
		if werr == nil {
			rest, _ := io.ReadAll(io.MultiReader(dec.Buffered(), r))
			if len(bytes.Trim(rest, " \t\r\n")) > 0 || want == nil {
				werr = errors.New("trailing data, or null")
			}
		}
		_, err := newObject(body, nil)
		if werr != nil {
			_, _ = p.Apply(m) // no panic
			return
		}
		if err != nil {
			t.Fatalf("%q: valid JSON object refused: %v", body, err)
		}
		res, err := p.Apply(m)
		if err != nil {
			return // e.g. no userId left, or a field on the way that is not an object
		}
		if !json.Valid(res.Message.Body) {
			t.Fatalf("%q: invalid output %q", body, res.Message.Body)
		}
		var got map[string]any
		dec = json.NewDecoder(bytes.NewReader(res.Message.Body))
		dec.UseNumber()
		if err := dec.Decode(&got); err != nil {
			t.Fatal(err)
		}
		if a, ok := want["added"].(map[string]any); ok {
			a["n"] = json.Number("1")
		} else {
			want["added"] = map[string]any{"n": json.Number("1")}
		}
		if a, ok := want["a"].(map[string]any); ok {
			delete(a, "x")
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %v\nwant %v", body, got, want)
		}
	})
}
