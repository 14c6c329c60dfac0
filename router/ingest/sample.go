package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/eventrouter/eventrouter/router"
)

// Sampler keeps a small sample of the requests ingest refused or kept
// without authentication (a pixel without a valid write key, a request
// with an unknown key under [UnknownKeyAccept]), for debugging. *eventlog.Log
// implements it with a stream of its own whose size cap drops the oldest
// entries, so that it never fills.
//
// Ingest calls Sample from its request goroutines, at most at the rate of
// [Config.SampleRate]; an error is counted and logged (sampled), never
// answered: the sample can never make ingest answer 503.
type Sampler interface {
	Sample(ctx context.Context, sampled []router.Rejected) error
}

// Defaults of the sample, which the command's configuration uses; a zero
// [Config.SampleRate] keeps no sample.
const (
	DefaultSampleRate  = 1.0
	DefaultSampleBurst = 10
	// SampleBodyLimit is the most of a request's body kept in the sample;
	// a longer one is kept as a JSON string of its first SampleBodyLimit
	// bytes.
	SampleBodyLimit = 4 << 10
	// sampleTimeout bounds storing a sample, which a request waits for.
	sampleTimeout = time.Second
	// logEvery is how often at most each kind of per-request warning is
	// logged; the lines in between are counted in the next one.
	logEvery = 10 * time.Second
)

// The outcome label values of eventrouter_ingest_sample_total.
const (
	sampleStored  = "stored"
	sampleDropped = "dropped" // over the sample's rate
	sampleFailed  = "failed"  // the store failed
	sampleOff     = "off"     // no sample configured or no Sampler
)

// sampler is the handler's sample of unauthenticated requests.
type sampler struct {
	store   Sampler       // nil: off
	limiter *rate.Limiter // nil: off
}

func newSampler(store Sampler, perSecond float64, burst int) (*sampler, error) {
	if perSecond < 0 || perSecond != perSecond || perSecond > 1e6 {
		return nil, fmt.Errorf("sample_rate: %v is not a number between 0 and 1e6", perSecond)
	}
	if burst < 0 {
		return nil, fmt.Errorf("sample_burst: %d is negative", burst)
	}
	s := &sampler{store: store}
	if store != nil && perSecond > 0 {
		if burst == 0 {
			burst = 1
		}
		s.limiter = rate.NewLimiter(rate.Limit(perSecond), burst)
	}
	return s, nil
}

// unauthenticated handles what a request without a valid write key would
// have stored: it is counted, logged at a sampled rate, and kept in the
// sample when the sample's rate allows; nothing else of it is stored.
func (h *Handler) unauthenticated(ctx context.Context, rt *route, rejected []router.Rejected) {
	for i := range rejected {
		h.m.unauthenticated(rt, rejected[i].Reason)
	}
	if len(rejected) == 0 {
		return
	}
	h.warn("unauthenticated", "requests without a valid write key refused (not stored; a sample is kept)",
		"route", rt.name, "reason", rejected[0].Reason)
	s := h.sample
	if s.limiter == nil {
		h.m.sampled(sampleOff, len(rejected))
		return
	}
	if !s.limiter.AllowN(h.now(), 1) {
		h.m.sampled(sampleDropped, len(rejected))
		return
	}
	// One request is one sample entry at most: its first item.
	entry := rejected[0]
	if len(entry.Body) > SampleBodyLimit {
		// A rune cut in two becomes U+FFFD in the JSON string.
		cut := entry.Body[:SampleBodyLimit]
		entry.Detail += fmt.Sprintf(" (body truncated from %d bytes)", len(entry.Body))
		entry.Body = appendString(nil, string(cut))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sampleTimeout)
	defer cancel()
	if err := s.store.Sample(ctx, []router.Rejected{entry}); err != nil {
		h.m.sampled(sampleFailed, 1)
		h.warn("sample failed", "storing the sample of unauthenticated requests failed (the requests were answered as usual)", "error", err)
		h.m.sampled(sampleDropped, len(rejected)-1)
		return
	}
	h.m.sampled(sampleStored, 1)
	h.m.sampled(sampleDropped, len(rejected)-1)
}

// logSampler lets each kind of warning through at most once per logEvery,
// counting the ones it holds back.
type logSampler struct {
	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	last       time.Time
	suppressed int
}

// allow reports whether a warning of kind may be logged at now, and how
// many were held back since the last one.
func (s *logSampler) allow(kind string, now time.Time) (bool, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds == nil {
		s.kinds = make(map[string]*logKind)
	}
	k := s.kinds[kind]
	if k == nil {
		k = &logKind{}
		s.kinds[kind] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < logEvery {
		k.suppressed++
		return false, 0
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	return true, n
}

// warn logs a per-request warning of kind at a sampled rate: at most one
// line per kind every logEvery (10s), carrying the number of lines held back
// since the previous one ("suppressed"). Metrics count every occurrence.
func (h *Handler) warn(kind, msg string, args ...any) {
	ok, suppressed := h.logs.allow(kind, time.Now())
	if !ok {
		return
	}
	args = append(args, slog.Int("suppressed", suppressed), slog.Duration("sampled_every", logEvery))
	h.logger.Warn(msg, args...)
}
