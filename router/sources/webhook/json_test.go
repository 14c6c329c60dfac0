package webhook

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// oracleDecode is decodeBody as encoding/json does it: Decode with
// UseNumber, nothing but white space after the value, then integers that
// fit to int, other numbers to float64, numbers beyond float64 to their
// literal.
func oracleDecode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	return oracleNumbers(root), nil
}

var errTrailing = &syntaxError{msg: "oracle: data after the value"}

func oracleNumbers(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n)
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil {
			return string(v)
		}
		return f
	case map[string]any:
		for k, x := range v {
			v[k] = oracleNumbers(x)
		}
	case []any:
		for i, x := range v {
			v[i] = oracleNumbers(x)
		}
	}
	return v
}

// oracleEncode is encoding/json's encoding without HTML escaping.
func oracleEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

var jsonSeeds = []string{
	`{"id":"evt_123","event":"referral.e9","data":{"amount":1999,"currency":"usd","plan":"Pro","at":1772445600,"customer":{"email":"ada@example.com"},"affiliate":{"id":"aff_7"}}}`,
	`1`, `-0`, `-0.0`, `-0.5e+3`, `1e400`, `-1e400`, `1E-7`, `123456789012345678`, `1234567890123456789`, `9223372036854775807`,
	`9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`, `1e21`, `1e20`, `0.000001`, `0.0000001`, `1.5`,
	`01`, `1.`, `-`, `"\u12"`, `"\ud83d\ude00"`, `"\udc00\ud800"`, `[1,]`, `{"a":1,}`, `{"a" 1}`, "\"\x01\"", `tru`, `nul`,
	` [ ] `, `{"a":{"a":{"a":[[[]]]}}}`, `"\/\b\f\n\r\t"`, "\"\u2028<>&\"", "\"\xff\"", `{"a":1,"a":2}`, `{} {}`, `[1] x`,
	`{"k\u0000":"\u007f"}`, `{"":{}}`, `{"":1,"b":{"":[]}}`,
}

// internSample are field names a source's expressions might read.
var internSample = map[string]string{"a": "a", "id": "id", "event": "event", "": "", "k\u0000": "k\u0000", "é": "é"}

var fuzzMaps mapPool

// FuzzDecodeBody checks decodeBody against encoding/json: the same bodies
// accepted and the same values, also with recycled maps.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := oracleDecode(b)
		for _, keys := range []map[string]string{nil, internSample} {
			// fuzzMaps holds the maps of the inputs before: recycled
			// maps must come back empty.
			got, err := decodeInto(b, keys, &fuzzMaps)
			defer fuzzMaps.recycle()
			if (err == nil) != (werr == nil) {
				t.Fatalf("decodeBody error %v, encoding/json error %v, input %q", err, werr, b)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeBody = %#v, encoding/json = %#v", got, want)
			}
		}
	})
}

// FuzzAppendValue checks appendValue against encoding/json on every value
// a body decodes to: the same bytes.
func FuzzAppendValue(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := oracleDecode(b)
		if err != nil {
			return
		}
		if depthOf(v) >= maxDepth { // TestAppendValueDepth
			return
		}
		want, werr := oracleEncode(v)
		got, err := appendValue(nil, v, 0)
		if werr != nil || err != nil || !bytes.Equal(got, want) {
			t.Fatalf("appendValue = %s (%v), encoding/json = %s", got, err, want)
		}
	})
}

// depthOf is the nesting of v's containers (a scalar 0).
func depthOf(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, x := range v {
			d = max(d, depthOf(x))
		}
		return d + 1
	case []any:
		for _, x := range v {
			d = max(d, depthOf(x))
		}
		return d + 1
	}
	return 0
}

// TestAppendValueKinds covers the values expressions give beyond a body's:
// times, NaN and infinities, nil containers, other Go types.
func TestAppendValueKinds(t *testing.T) {
	at := time.Date(2026, 3, 2, 10, 0, 0, 123e6, time.UTC)
	for _, c := range []struct {
		name string
		v    any
		want string // "" means an error
	}{
		{"time", map[string]any{"t": at}, `{"t":"2026-03-02T10:00:00.123Z"}`},
		{"time in a list", []any{at, 1.5, 1e21, 1e-7}, `["2026-03-02T10:00:00.123Z",1.5,1e+21,1e-7]`},
		{"nil map", map[string]any{"m": map[string]any(nil), "l": []any(nil)}, `{"l":null,"m":null}`},
		{"html and separators", "<a&b>\u2028\u2029\t\x00", `"<a&b>\u2028\u2029\t\u0000"`},
		{"NaN", map[string]any{"x": math.NaN()}, ""},
		{"infinity in a list", []any{math.Inf(-1)}, ""},
		{"other type", map[string]any{"d": time.Second}, ""},
		{"string slice", []any{[]string{"a"}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := appendValue(nil, c.v, 0)
			if c.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || string(got) != c.want {
				t.Fatalf("got %s (%v), want %s", got, err, c.want)
			}
		})
	}
}

// TestAppendValueDepth: a value nested in maxDepth containers may hold
// numbers and times but nothing else, and one more container is too deep.
func TestAppendValueDepth(t *testing.T) {
	nest := func(n int, inner any) any {
		v := inner
		for range n {
			v = map[string]any{"a": v}
		}
		return v
	}
	for _, c := range []struct {
		name string
		v    any
		ok   bool
	}{
		{"string at 63", nest(maxDepth-1, "s"), true},
		{"string at 64", nest(maxDepth, "s"), false},
		{"number at 64", nest(maxDepth, 1.5), true},
		{"empty object at 64", nest(maxDepth-1, map[string]any{}), true},
		{"empty object at 65", nest(maxDepth, map[string]any{}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := appendValue(nil, c.v, 0); (err == nil) != c.ok {
				t.Fatalf("error %v, want ok=%v", err, c.ok)
			}
		})
	}
}

// TestAppendTime compares appendTime with router.FormatTime.
func TestAppendTime(t *testing.T) {
	loc := time.FixedZone("x", -7*3600-30*60)
	for _, at := range []time.Time{
		{}, time.Unix(0, 0), time.Date(2026, 3, 2, 10, 0, 1, 999_999_999, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 1e6, time.UTC),
		time.Date(2026, 1, 1, 1, 2, 3, 4e6, loc), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 9, 9, 9, 9, 9, 90e6, time.UTC),
	} {
		if got, want := string(appendTime(nil, at)), router.FormatTime(at); got != want {
			t.Errorf("appendTime(%v) = %s, want %s", at, got, want)
		}
	}
}
