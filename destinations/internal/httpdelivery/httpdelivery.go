package httpdelivery

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/router"
)

// SnippetLen is how many bytes of an answer's body [Snippet] quotes.
const SnippetLen = 256

// MaxRetryAfter caps the delay a remote may ask for with Retry-After.
const MaxRetryAfter = 24 * time.Hour

// DrainLimit is how much of a successful answer's body [Read] reads before
// the body is closed, so that the connection can be reused.
const DrainLimit = 64 << 10

// Classify returns what an answer with the HTTP status code means for
// delivery: [router.KindOK] for 2xx, [router.KindRetryable] for 408, 429
// and every 5xx, [router.KindPermanent] for anything else (other 4xx, 1xx,
// 3xx, codes outside 100-599). The package documentation says why.
func Classify(code int) router.Kind {
	switch {
	case code >= 200 && code < 300:
		return router.KindOK
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return router.KindRetryable
	case code >= 500 && code < 600:
		return router.KindRetryable
	}
	return router.KindPermanent
}

// StatusError is a remote's answer other than 2xx: its status, the quoted
// start of its body and its Retry-After delay.
type StatusError struct {
	// Code is the HTTP status.
	Code int
	// Snippet is the start of the body as [Snippet] quotes it, or "".
	Snippet string
	// RetryAfter is the delay of the Retry-After header; HasRetryAfter
	// reports whether the answer had a usable one.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

// Error returns "answered <status>" and the quoted start of the body, for
// example `answered 400 Bad Request: "bad field"`.
func (e *StatusError) Error() string {
	return "answered " + StatusText(e.Code) + e.Snippet
}

// Classified returns err, an error that describes the answer e (usually
// wrapping it, with the destination's prefix and hints), marked with the
// kind [Classify] gives e.Code: nil for 2xx, err after the Retry-After
// delay when retryable ([router.RetryAfter] when the answer had one, else
// err itself), [router.Permanent](err) otherwise.
func (e *StatusError) Classified(err error) error {
	switch Classify(e.Code) {
	case router.KindOK:
		return nil
	case router.KindRetryable:
		if e.HasRetryAfter {
			return router.RetryAfter(err, e.RetryAfter)
		}
		return err
	}
	return router.Permanent(err)
}

// Read returns nil for a 2xx answer, after reading up to [DrainLimit]
// bytes of its body so that the connection can be reused; for any other
// answer it returns a *StatusError with the status, a snippet of the body
// and the Retry-After delay counted from now. The caller still closes
// resp.Body.
func Read(resp *http.Response, now time.Time) *StatusError {
	if Classify(resp.StatusCode) == router.KindOK {
		_, _ = io.CopyN(io.Discard, resp.Body, DrainLimit)
		return nil
	}
	e := &StatusError{Code: resp.StatusCode, Snippet: Snippet(resp.Body)}
	e.RetryAfter, e.HasRetryAfter = RetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

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
// date (RFC 9110, section 10.2.3). A date in the past means no delay; delays are
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
