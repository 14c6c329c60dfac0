package ingest

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// maxDefaultBurst caps the default burst (one second's worth) of a huge
// rate, so that it fits an int.
const maxDefaultBurst = math.MaxInt32

// admit takes the request's events from its source's token bucket, reading
// the clock only when the source is limited. It returns 0 when the request
// may be stored, else the seconds to wait. Every message of the request
// counts, rejected ones included (they are stored too). Requests of an
// unknown source (UnknownKeyAccept) and empty batches take nothing.
func (q *request) admit() int {
	if q.src == nil || q.src.limiter == nil {
		return 0
	}
	return q.src.take(q.h.now(), len(q.accepted)+len(q.rejected)+q.extra)
}

// take takes n events, but never more than the burst, so that any request
// fits into a full bucket. It returns 0 when they were taken, else the whole
// number of seconds (at least 1) until the bucket will hold enough.
//
// A refused request takes nothing. Limiter.AllowN checks and takes
// atomically and leaves the bucket alone when it refuses; ReserveN followed
// by Cancel would not do: a cancel restores nothing while a later
// reservation is outstanding, so concurrent refused requests would leave the
// bucket in debt. The wait is then computed from the tokens present, which
// may have changed in between; it is advice to the client.
func (s *source) take(now time.Time, n int) int {
	if s.limiter == nil {
		return 0
	}
	n = min(n, s.burst)
	if n == 0 || s.limiter.AllowN(now, n) {
		return 0
	}
	missing := float64(n) - s.limiter.TokensAt(now)
	wait := math.Ceil(missing / float64(s.limiter.Limit()))
	if !(wait >= 1) { // also NaN
		return 1
	}
	return int(min(wait, math.MaxInt32))
}

// writeRateLimited answers 429 rate_limited. Retry-After and
// X-RateLimit-Reset both carry the seconds to wait (not an epoch
// time).
func (h *Handler) writeRateLimited(w http.ResponseWriter, rt *route, srcName string, wait int) {
	s := strconv.Itoa(wait)
	hd := w.Header()
	hd.Set("Retry-After", s)
	hd.Set("X-RateLimit-Reset", s)
	h.m.rateLimitedRequest(srcName)
	h.writeError(w, rt, errRateLimited)
}
