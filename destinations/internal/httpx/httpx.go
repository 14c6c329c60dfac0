// Package httpx holds what the HTTP destinations share to describe and
// classify a remote's answer: its status text, a short quoted snippet of its
// body, and the delay of its Retry-After header.
package httpx

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SnippetLen is how many bytes of an answer's body [Snippet] quotes.
const SnippetLen = 256

// MaxRetryAfter caps the delay a remote may ask for with Retry-After.
const MaxRetryAfter = 24 * time.Hour

// StatusText returns "429 Too Many Requests", or the bare code when Go does
// not know its text.
func StatusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return strconv.Itoa(code)
}

// Snippet returns ": <first SnippetLen bytes of the body, quoted>" with
// control characters replaced and a cut rune dropped, or "" for an empty
// body. It reads at most SnippetLen+1 bytes of r.
func Snippet(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, SnippetLen+1))
	truncated := len(b) > SnippetLen
	if truncated {
		b = b[:SnippetLen]
		// Do not end in the middle of a rune.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "\uFFFD"))
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if s == "" {
		return ""
	}
	if truncated {
		s += "…"
	}
	return ": " + strconv.Quote(s)
}

// RetryAfter parses a Retry-After header: a number of seconds or an HTTP
// date (RFC 9110 §10.2.3). A date in the past means no delay; delays are
// capped at MaxRetryAfter. ok is false when the header is absent or
// unusable.
func RetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter), true
}
