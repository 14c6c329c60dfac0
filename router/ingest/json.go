package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small JSON decoder and encoder for the hot path. The
// decoder produces exactly what encoding/json produces when it decodes into
// an `any` with UseNumber (map[string]any, []any, string, json.Number, bool,
// nil; invalid UTF-8 and lone surrogates become U+FFFD; duplicate keys: the
// last one wins), accepts exactly what json.Valid accepts, and in one pass
// also records the byte span of every item of a top-level "batch" array, so
// that the per-item size limit is measured on the item's own encoding without
// a second decode. FuzzParse checks it against encoding/json.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.off)
}

// span is the byte range [start, end) of a value in the parsed input, with
// its shape.
type span struct {
	start, end int
	shape
}

// shape is what the parser noticed about a value: how deeply it nests (a
// scalar 0, {} or [] 1, {"a":{}} 2, ...) and whether it holds a number that
// is not a finite IEEE 754 double (such as 1e400).
type shape struct {
	depth     int
	nonFinite bool
}

type parser struct {
	b     []byte
	i     int
	depth int
	// batchSpans, when wanted, receives the spans of the items of the
	// top-level object's "batch" array (of the last one, if repeated).
	wantSpans  bool
	batchSpans []span
	// deepest is the deepest nesting reached so far; nonFinite is set by a
	// number that is not a finite double.
	deepest   int
	nonFinite bool
	// item is set while a record (an item of the "batch" array) is
	// parsed, until its object is made.
	item bool
}

// messageMapHint sizes the map of a message (a top-level object, or an
// item of "batch") for 14 keys, one table of 16 slots: a typical message's
// fields and the ones normalisation adds (receivedAt, sentAt,
// originalTimestamp, channel, version) then fit without the map growing
// from its first 8 slots, which was ingest's largest allocation
// (BenchmarkIngestBatch: 7 % fewer bytes per batch).
const messageMapHint = 14

// parseTop parses b, which must hold exactly one JSON value. When wantSpans
// is set and the value is an object with a "batch" array, it also returns
// the span of each item of that array.
func parseTop(b []byte, wantSpans bool) (any, []span, error) {
	v, spans, _, err := parseShape(b, wantSpans)
	return v, spans, err
}

// parseShape is parseTop that also returns the shape of the whole value.
func parseShape(b []byte, wantSpans bool) (any, []span, shape, error) {
	p := parser{b: b, wantSpans: wantSpans}
	v, err := p.value()
	if err != nil {
		return nil, nil, shape{}, err
	}
	p.skipWS()
	if p.i != len(p.b) {
		return nil, nil, shape{}, p.err("invalid character after top-level value")
	}
	return v, p.batchSpans, shape{depth: p.deepest, nonFinite: p.nonFinite}, nil
}

func (p *parser) err(msg string) error { return &syntaxError{off: p.i, msg: msg} }

func (p *parser) eof() error { return &syntaxError{off: p.i, msg: "unexpected end of JSON input"} }

func (p *parser) skipWS() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) value() (any, error) {
	p.skipWS()
	if p.i >= len(p.b) {
		return nil, p.eof()
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array(false)
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.lit("true")
	case c == 'f':
		return false, p.lit("false")
	case c == 'n':
		return nil, p.lit("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.err("invalid character looking for beginning of value")
}

func (p *parser) lit(word string) error {
	if len(p.b)-p.i < len(word) {
		if string(p.b[p.i:]) == word[:len(p.b)-p.i] {
			return p.eof()
		}
		return p.err("invalid literal")
	}
	if string(p.b[p.i:p.i+len(word)]) != word {
		return p.err("invalid literal")
	}
	p.i += len(word)
	return nil
}

func (p *parser) object() (map[string]any, error) {
	p.depth++
	if p.depth > maxDepth {
		return nil, p.err("exceeded max depth")
	}
	p.deepest = max(p.deepest, p.depth)
	p.i++ // '{'
	hint := 0
	if p.depth == 1 || p.item {
		hint = messageMapHint
	}
	p.item = false
	m := make(map[string]any, hint)
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		p.depth--
		return m, nil
	}
	for {
		p.skipWS()
		if p.i >= len(p.b) {
			return nil, p.eof()
		}
		if p.b[p.i] != '"' {
			return nil, p.err("invalid character looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.i >= len(p.b) {
			return nil, p.eof()
		}
		if p.b[p.i] != ':' {
			return nil, p.err("invalid character after object key")
		}
		p.i++
		var v any
		if p.wantSpans && p.depth == 1 && k == "batch" {
			p.skipWS()
			if p.i < len(p.b) && p.b[p.i] == '[' {
				v, err = p.array(true)
			} else {
				v, err = p.value()
			}
		} else {
			v, err = p.value()
		}
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.skipWS()
		if p.i >= len(p.b) {
			return nil, p.eof()
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			p.depth--
			return m, nil
		default:
			return nil, p.err("invalid character after object key:value pair")
		}
	}
}

func (p *parser) array(record bool) ([]any, error) {
	p.depth++
	if p.depth > maxDepth {
		return nil, p.err("exceeded max depth")
	}
	p.deepest = max(p.deepest, p.depth)
	p.i++ // '['
	if record {
		p.batchSpans = p.batchSpans[:0]
	}
	a := []any{}
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return a, nil
	}
	for {
		p.skipWS()
		start := p.i
		// An item's shape is measured on its own: save what the rest of
		// the input reached and merge it back after the item.
		deepest, nonFinite := p.deepest, p.nonFinite
		if record {
			p.deepest, p.nonFinite = p.depth, false
		}
		p.item = record
		v, err := p.value()
		p.item = false
		if err != nil {
			return nil, err
		}
		if record {
			p.batchSpans = append(p.batchSpans, span{start, p.i, shape{depth: p.deepest - p.depth, nonFinite: p.nonFinite}})
			p.deepest, p.nonFinite = max(deepest, p.deepest), nonFinite || p.nonFinite
		}
		a = append(a, v)
		p.skipWS()
		if p.i >= len(p.b) {
			return nil, p.eof()
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return a, nil
		default:
			return nil, p.err("invalid character after array element")
		}
	}
}

func (p *parser) number() (json.Number, error) {
	b, start := p.b, p.i
	i := p.i
	if b[i] == '-' {
		i++
		if i >= len(b) {
			p.i = i
			return "", p.eof()
		}
	}
	switch {
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		p.i = i
		return "", p.err("invalid character in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) {
			p.i = i
			return "", p.eof()
		}
		if b[i] < '0' || b[i] > '9' {
			p.i = i
			return "", p.err("invalid character after decimal point in numeric literal")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	hasExp := false
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		hasExp = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			p.i = i
			return "", p.eof()
		}
		if b[i] < '0' || b[i] > '9' {
			p.i = i
			return "", p.err("invalid character in exponent of numeric literal")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	p.i = i
	lit := b[start:i]
	// Only a literal with an exponent, or with more digits than the
	// largest double has (309), can overflow to ±Inf.
	if (hasExp || len(lit) > 309) && !p.nonFinite {
		if f, _ := strconv.ParseFloat(string(lit), 64); math.IsInf(f, 0) {
			p.nonFinite = true
		}
	}
	return json.Number(lit), nil
}

// str parses a string starting at its opening quote.
func (p *parser) str() (string, error) {
	p.i++ // '"'
	start := p.i
	b := p.b
	for i := start; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			p.i = i + 1
			return string(b[start:i]), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			p.i = i
			return p.strSlow(start)
		}
	}
	p.i = len(b)
	return "", p.eof()
}

func hex4(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

func (p *parser) strSlow(start int) (string, error) {
	b := p.b
	out := make([]byte, 0, p.i-start+16)
	out = append(out, b[start:p.i]...)
	i := p.i
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			p.i = i + 1
			return string(out), nil
		case c == '\\':
			i++
			if i >= len(b) {
				p.i = i
				return "", p.eof()
			}
			switch b[i] {
			case '"', '\\', '/':
				out = append(out, b[i])
				i++
			case 'b':
				out = append(out, '\b')
				i++
			case 'f':
				out = append(out, '\f')
				i++
			case 'n':
				out = append(out, '\n')
				i++
			case 'r':
				out = append(out, '\r')
				i++
			case 't':
				out = append(out, '\t')
				i++
			case 'u':
				i++
				r := hex4(b[i:])
				if r < 0 {
					p.i = i
					if len(b)-i < 4 && validHexPrefix(b[i:]) {
						return "", p.eof()
					}
					return "", p.err("invalid character in \\u hexadecimal character escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if i+1 < len(b) && b[i] == '\\' && b[i+1] == 'u' {
						if r2 := hex4(b[i+2:]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				p.i = i
				return "", p.err("invalid character in string escape code")
			}
		case c < 0x20:
			p.i = i
			return "", p.err("invalid character in string literal")
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, b[i:i+size]...)
			}
			i += size
		}
	}
	p.i = i
	return "", p.eof()
}

func validHexPrefix(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// appendJSON appends the JSON encoding of v, a value built by the parser
// (or of the same kinds), to dst. Object keys are sorted, so the output is
// deterministic; HTML characters are not escaped.
func appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		if v {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case string:
		return appendString(dst, v)
	case json.Number:
		if v == "" {
			return append(dst, '0')
		}
		return append(dst, v...)
	case map[string]any:
		var arr [24]string
		keys := arr[:0]
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendJSON(dst, v[k])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	case float64:
		return strconv.AppendFloat(dst, v, 'g', -1, 64)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json
// without HTML escaping; invalid UTF-8 becomes U+FFFD.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
