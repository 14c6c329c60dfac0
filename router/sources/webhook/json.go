package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/router"
)

// This file holds the source's JSON reader and writer, written by hand for
// the hot path (the design of router/ingest's parser, with this package's
// number rule).
//
// decodeBody accepts exactly what json.Valid accepts and produces what
// encoding/json produces when it decodes into an `any` (map[string]any,
// []any, string, bool, nil; invalid UTF-8 and lone surrogates become
// U+FFFD; of duplicate keys the last wins), except numbers: an integer that
// fits is an int, any other number a float64, and a number beyond
// float64's range stays the string of its literal. FuzzDecodeBody checks
// it against encoding/json. It is several times faster than
// encoding/json's Decoder with UseNumber and a second pass over the numbers
// (BenchmarkDecodeOnly), because it reads numbers straight into int or
// float64, shares the field names expressions read, and reuses maps. A
// token reader (encoding/json's Decoder.Token, or jsontext from
// github.com/go-json-experiment/json) would still leave the values to be
// built from its tokens, which is most of this file's work.
//
// appendValue writes what expressions may return as encoding/json does with
// SetEscapeHTML(false): object keys sorted, floats in encoding/json's
// format, the same string escapes; times are written in router.TimeLayout.
// Other kinds of value, NaN, infinities and nesting deeper than maxDepth are
// errors, found before anything is stored (the caller discards the buffer).

// jsonMaxDepth is encoding/json's nesting limit.
const jsonMaxDepth = 10000

// decodeBody reads one JSON value: integers that fit become int, other
// numbers float64, so that expressions do arithmetic on them.
// Object keys found in keys (the names expressions read) are shared, not
// allocated; keys may be nil.
func decodeBody(body []byte, keys map[string]string) (any, error) {
	return decodeInto(body, keys, nil)
}

// decodeInto is decodeBody taking objects from maps (emptied first) before
// it makes new ones, and adding every object it uses to maps.used.
func decodeInto(body []byte, keys map[string]string, maps *mapPool) (any, error) {
	p := parser{b: body, keys: keys, maps: maps}
	v, err := p.value()
	if err == nil {
		p.skipWS()
		if p.i != len(p.b) {
			err = p.err("invalid character after top-level value")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("decoding webhook body: %w: %v", ErrMalformed, err)
	}
	return v, nil
}

// syntaxError is a JSON syntax error at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.off)
}

type parser struct {
	b     []byte
	i     int
	depth int
	keys  map[string]string
	maps  *mapPool
}

// mapPool recycles the objects of one conversion's body for the next: the
// body is not referred to once Convert returns (messages are written out,
// and the strings they keep are not maps).
type mapPool struct {
	free, used []map[string]any
}

// maxPooledMaps and maxPooledLen bound what a pool keeps.
const (
	maxPooledMaps = 64
	maxPooledLen  = 32
)

// newMap is an empty map, recycled when there is one (recycle empties
// them).
func (p *parser) newMap() map[string]any {
	if p.maps == nil {
		return make(map[string]any, 8) // one group of slots from the start
	}
	var m map[string]any
	if n := len(p.maps.free); n > 0 {
		m = p.maps.free[n-1]
		p.maps.free = p.maps.free[:n-1]
	} else {
		m = make(map[string]any, 8)
	}
	if len(p.maps.used) < maxPooledMaps {
		p.maps.used = append(p.maps.used, m)
	}
	return m
}

// recycle makes the maps of the last conversion free for the next.
func (mp *mapPool) recycle() {
	for _, m := range mp.used {
		if len(m) <= maxPooledLen && len(mp.free) < maxPooledMaps {
			clear(m) // keeps nothing of the body alive
			mp.free = append(mp.free, m)
		}
	}
	clear(mp.used)
	mp.used = mp.used[:0]
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
		return p.array()
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

func (p *parser) object() (any, error) {
	p.depth++
	if p.depth > jsonMaxDepth {
		return nil, p.err("exceeded max depth")
	}
	p.i++ // '{'
	m := p.newMap()
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
		k, err := p.key()
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
		v, err := p.value()
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

func (p *parser) array() (any, error) {
	p.depth++
	if p.depth > jsonMaxDepth {
		return nil, p.err("exceeded max depth")
	}
	p.i++ // '['
	a := []any{}
	p.skipWS()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
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

// number reads a number literal: an int when it is an integer that fits,
// else a float64, else (beyond float64's range) the literal as a string.
func (p *parser) number() (any, error) {
	b, start := p.b, p.i
	i := p.i
	neg := b[i] == '-'
	if neg {
		i++
		if i >= len(b) {
			p.i = i
			return nil, p.eof()
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
		return nil, p.err("invalid character in numeric literal")
	}
	integral := true
	if i < len(b) && b[i] == '.' {
		integral = false
		i++
		if i >= len(b) {
			p.i = i
			return nil, p.eof()
		}
		if b[i] < '0' || b[i] > '9' {
			p.i = i
			return nil, p.err("invalid character after decimal point in numeric literal")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integral = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) {
			p.i = i
			return nil, p.eof()
		}
		if b[i] < '0' || b[i] > '9' {
			p.i = i
			return nil, p.err("invalid character in exponent of numeric literal")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	p.i = i
	lit := b[start:i]
	digits := lit
	if neg {
		digits = lit[1:]
	}
	if integral && len(digits) <= 18 { // fits in an int64 whatever the digits
		n := 0
		for _, c := range digits {
			n = n*10 + int(c-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	s := string(lit)
	if integral {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= math.MinInt && n <= math.MaxInt {
			return int(n), nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil { // out of float64's range
		return s, nil
	}
	return f, nil
}

// key parses an object key: str, shared from p.keys when it is there.
func (p *parser) key() (string, error) {
	b := p.b
	for i := p.i + 1; i < len(b); i++ {
		c := b[i]
		if c == '"' {
			if k, ok := p.keys[string(b[p.i+1:i])]; ok {
				p.i = i + 1
				return k, nil
			}
			break
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
	}
	return p.str()
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

// maxDepth bounds the nesting of what expressions return (a body nested
// deeper than ingest stores is rejected later anyway).
const maxDepth = 64

// appendValue appends v, a value inside a container at nesting depth (the
// message's own fields are at 0), as JSON, as encoding/json writes it with
// SetEscapeHTML(false), times as router.TimeLayout strings. Floats are
// checked by the container, which names the key of a non-finite one. The
// depth rule is that of the checks this writer replaced: any value but a
// number or a time below maxDepth levels is an error.
func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	switch v := v.(type) {
	case float64:
		return appendFloat(dst, v), nil
	case time.Time:
		dst = append(dst, '"')
		dst = appendTime(dst, v)
		return append(dst, '"'), nil
	case rawJSON:
		return append(dst, v...), nil
	}
	depth++
	if depth > maxDepth {
		return dst, fmt.Errorf("a value nests deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendString(dst, v), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendObject(dst, v, "", nil, depth)
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, x := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return dst, fmt.Errorf("%v is not a JSON number", f)
			}
			var err error
			if dst, err = appendValue(dst, x, depth); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case json.Number:
		b, err := json.Marshal(v)
		if err != nil {
			return dst, fmt.Errorf("encoding the message: %w", err)
		}
		return append(dst, b...), nil
	}
	return dst, fmt.Errorf("cannot write a value of type %T", v)
}

// appendObject appends m, at nesting depth, as a JSON object with sorted
// keys, and with extraKey: extra when extraKey is not empty and m has no
// such key.
func appendObject(dst []byte, m map[string]any, extraKey string, extra any, depth int) ([]byte, error) {
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	_, set := m[extraKey]
	addExtra := extraKey != "" && !set
	if addExtra {
		keys = append(keys, extraKey)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, k)
		dst = append(dst, ':')
		x := m[k]
		if addExtra && k == extraKey {
			x = extra
		}
		if f, ok := x.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return dst, fmt.Errorf("%s: %v is not a JSON number", k, f)
		}
		var err error
		if dst, err = appendValue(dst, x, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendTime appends router.FormatTime(t), written by hand for the years
// 0 to 9999 (TestAppendTime compares them).
func appendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return append(dst, router.FormatTime(t)...)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	var b [24]byte
	put := func(i, v, width int) {
		for j := i + width - 1; j >= i; j-- {
			b[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, ms, 3)
	b[23] = 'Z'
	return append(dst, b[:]...)
}

// rawJSON is JSON written as is.
type rawJSON []byte

// appendFloat writes a finite float64 as encoding/json does: like
// strconv's 'f' format, or 'e' for very small or large magnitudes, with a
// two-digit negative exponent shortened (1e-07 is 1e-7).
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
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
