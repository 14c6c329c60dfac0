package segment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/destinations/internal/httpx"
	"github.com/eventrouter/eventrouter/router"
	analytics "github.com/segmentio/analytics-go/v3"
)

// maxBatchMessages is how many messages analytics-go puts in one request at
// most (its default); it also splits requests that would exceed 500 KB.
const maxBatchMessages = analytics.DefaultBatchSize

// never is the retry delay given to analytics-go: longer than any Send, so
// that a failed request is never retried by the client but dropped (and
// reported as Failure) when Send closes it.
const never = 24 * time.Hour

// segment is the router.Destination that sends messages to the Segment
// Tracking API through analytics-go.
type segment struct {
	cfg       Config
	name      string
	endpoint  string
	logger    *slog.Logger
	transport *http.Transport
	now       func() time.Time // for Retry-After dates
	closeOnce sync.Once
}

func newSegment(cfg Config, set router.Settings) *segment {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Dispatch sends from one goroutine per partition; keep enough idle
	// connections to reuse them.
	tr.MaxIdleConnsPerHost = 32
	logger := set.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &segment{
		cfg:       cfg,
		name:      set.Name,
		endpoint:  strings.TrimRight(cfg.Endpoint, "/"),
		logger:    logger,
		transport: tr,
		now:       time.Now,
	}
}

// Send delivers the batch with a client of its own that makes one attempt
// per request: it enqueues every message, closes the client, and so waits
// until analytics-go reported Success or Failure for each. It returns nil
// when every message got Success, else a *router.BatchError (or, when
// nothing was delivered because ctx ended, an error wrapping ctx.Err()).
func (s *segment) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending batch to segment %q: %w", s.name, err)
	}
	if len(batch) == 0 {
		return nil
	}
	st := &sendState{
		pending: make(map[string][]int, len(batch)),
		results: make([]error, len(batch)),
		done:    make([]bool, len(batch)),
		s:       s,
		ctx:     ctx,
	}
	msgs := make([]analytics.Message, len(batch))
	ids := make([]string, len(batch))
	for i, m := range batch {
		am, id, err := toAnalytics(m, s.cfg.DisableIntegrations)
		if err == nil {
			err = am.Validate()
		}
		if err != nil {
			st.settle(i, router.Permanent(fmt.Errorf("converting message %s for segment %q: %w", m.ID, s.name, err)))
			continue
		}
		msgs[i], ids[i] = am, id
	}

	client, err := analytics.NewWithConfig(s.cfg.WriteKey, analytics.Config{
		Endpoint:   s.endpoint,
		Interval:   never,
		BatchSize:  maxBatchMessages,
		Transport:  &attempt{base: s.transport, ctx: ctx, timeout: s.cfg.Timeout, now: s.now},
		Logger:     clientLogger{s.logger},
		Callback:   st,
		RetryAfter: func(int) time.Duration { return never },
	})
	if err != nil {
		return fmt.Errorf("creating segment client for %q: %w", s.name, err)
	}
	for i, am := range msgs {
		if am == nil {
			continue
		}
		st.expect(ids[i], i)
		if err := client.Enqueue(am); err != nil {
			st.unexpect(ids[i], i)
			st.settle(i, fmt.Errorf("enqueueing message %s for segment %q: %w", batch[i].ID, s.name, err))
		}
	}
	// Close flushes what is queued and waits for every request; a request
	// that failed is not retried but reported as Failure (see never).
	_ = client.Close()
	return st.outcome(batch)
}

// Close releases idle connections. It may be called more than once.
func (s *segment) Close(context.Context) error {
	s.closeOnce.Do(s.transport.CloseIdleConnections)
	return nil
}

// sendState collects the callbacks of one Send; it is the client's
// analytics.Callback.
type sendState struct {
	s   *segment
	ctx context.Context

	mu sync.Mutex
	// pending maps a messageId to the indices still waiting for a
	// callback, in batch order.
	pending map[string][]int
	results []error
	done    []bool
}

// expect registers that index i, with messageId id, waits for a callback.
func (st *sendState) expect(id string, i int) {
	st.mu.Lock()
	st.pending[id] = append(st.pending[id], i)
	st.mu.Unlock()
}

// unexpect undoes expect for a message the client refused.
func (st *sendState) unexpect(id string, i int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	idx := st.pending[id]
	for n, j := range idx {
		if j == i {
			st.pending[id] = append(idx[:n:n], idx[n+1:]...)
			return
		}
	}
}

func (st *sendState) settle(i int, err error) {
	st.mu.Lock()
	st.results[i], st.done[i] = err, true
	st.mu.Unlock()
}

// take returns the index of the next message waiting for a callback with
// messageId id.
func (st *sendState) take(m analytics.Message) (int, bool) {
	id := messageID(m)
	idx := st.pending[id]
	if len(idx) == 0 {
		return 0, false
	}
	st.pending[id] = idx[1:]
	return idx[0], true
}

// Success implements analytics.Callback: the message was accepted.
func (st *sendState) Success(m analytics.Message) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.take(m); ok {
		st.results[i], st.done[i] = nil, true
	}
}

// Failure implements analytics.Callback: the message's request failed.
func (st *sendState) Failure(m analytics.Message, err error) {
	cerr := st.s.classify(st.ctx, err)
	st.mu.Lock()
	defer st.mu.Unlock()
	if i, ok := st.take(m); ok {
		st.results[i], st.done[i] = cerr, true
	}
}

// outcome turns the per-message results into Send's error. It keeps per-user
// order: after a retryable failure of a user's message, that user's later
// messages of the batch are reported as failed (retryable) too, even if
// Segment accepted them (a resend is deduplicated by messageId).
func (st *sendState) outcome(batch []router.Message) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	failed := make(map[int]error)
	var blocked map[string]string // partition key -> messageId that failed
	allCtx := true
	for i := range batch {
		err := st.results[i]
		if !st.done[i] {
			err = fmt.Errorf("sending message %s to segment %q: analytics-go reported neither success nor failure", batch[i].ID, st.s.name)
		}
		key := batch[i].PartitionKey()
		if first, ok := blocked[key]; ok && err == nil {
			err = fmt.Errorf("holding back message %s for segment %q: earlier message %s of the same user failed", batch[i].ID, st.s.name, first)
		}
		if err == nil {
			allCtx = false
			continue
		}
		if kind, _ := router.Classify(err); kind == router.KindRetryable {
			if blocked == nil {
				blocked = make(map[string]string)
			}
			if _, ok := blocked[key]; !ok {
				blocked[key] = batch[i].ID
			}
		}
		if st.ctx.Err() == nil || !errors.Is(err, st.ctx.Err()) {
			allCtx = false
		}
		failed[i] = err
	}
	if len(failed) == 0 {
		return nil
	}
	if len(failed) < len(batch) {
		return &router.BatchError{Failed: failed}
	}
	if allCtx {
		return fmt.Errorf("sending batch to segment %q: %w", st.s.name, st.ctx.Err())
	}
	// Every message failed: when they failed alike (one request, one
	// answer), return that one error so that dispatch classifies the whole
	// batch by it.
	kind, delay := router.Classify(failed[0])
	for _, err := range failed {
		if k, d := router.Classify(err); k != kind || d != delay {
			return &router.BatchError{Failed: failed}
		}
	}
	if len(batch) > 1 {
		return fmt.Errorf("%w (all %d messages of the batch)", failed[0], len(batch))
	}
	return failed[0]
}

func messageID(m analytics.Message) string {
	switch m := m.(type) {
	case analytics.Identify:
		return m.MessageId
	case analytics.Track:
		return m.MessageId
	case analytics.Page:
		return m.MessageId
	case analytics.Screen:
		return m.MessageId
	case analytics.Group:
		return m.MessageId
	case analytics.Alias:
		return m.MessageId
	}
	return ""
}

// classify turns the error analytics-go passes to Callback.Failure into a
// classified error for dispatch.
func (s *segment) classify(ctx context.Context, err error) error {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.classified(s.name)
	case errors.Is(err, analytics.ErrMessageTooBig):
		return router.Permanent(fmt.Errorf("sending message to segment %q: %w (analytics-go refuses messages over 32000 bytes of JSON)", s.name, err))
	case ctx.Err() != nil:
		return fmt.Errorf("sending message to segment %q: %w", s.name, ctx.Err())
	}
	// Network errors, timeouts, too many requests in flight: retryable.
	// *url.Error quotes the endpoint only; keep the cause.
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return fmt.Errorf("sending message to segment %q: %w", s.name, err)
}

// statusError is a non-2xx answer of the endpoint, recorded by attempt so
// that the status, the answer's first bytes and Retry-After reach the
// classification (analytics-go's own error has only the status line).
type statusError struct {
	code    int
	snippet string
	delay   time.Duration
	hasWait bool
}

// Error returns "answered <status>" and the quoted start of the answer.
func (e *statusError) Error() string {
	return "answered " + httpx.StatusText(e.code) + e.snippet
}

// classified applies the classification table of the package documentation.
func (e *statusError) classified(name string) error {
	err := fmt.Errorf("sending message to segment %q: %w", name, e)
	switch code := e.code; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return router.Permanent(fmt.Errorf("%w (check write_key: it must be the write key of an enabled source of this Segment workspace and region)", err))
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		if e.hasWait {
			return router.RetryAfter(err, e.delay)
		}
		return err
	case code >= 300 && code < 400:
		return router.Permanent(fmt.Errorf("%w (redirects are not followed: set endpoint to the final address)", err))
	case code >= 400:
		return router.Permanent(err)
	}
	return err
}

// attempt is the http.RoundTripper of one Send's client: it binds the
// requests to Send's context and the configured timeout, and turns a non-2xx
// answer into a *statusError (so that the client's redirect following never
// sees it).
type attempt struct {
	base    http.RoundTripper
	ctx     context.Context
	timeout time.Duration
	now     func() time.Time
}

// RoundTrip sends one request.
func (a *attempt) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(req.Context(), a.timeout)
	stop := context.AfterFunc(a.ctx, cancel)
	release := func() { stop(); cancel() }
	resp, err := a.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		release()
		if cerr := a.ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("%w (%v)", cerr, err)
		}
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		resp.Body = &releaseBody{ReadCloser: resp.Body, release: release}
		return resp, nil
	}
	se := &statusError{code: resp.StatusCode, snippet: httpx.Snippet(resp.Body)}
	se.delay, se.hasWait = httpx.RetryAfter(resp.Header.Get("Retry-After"), a.now())
	_ = resp.Body.Close()
	release()
	return nil, se
}

// drainLimit is how much of a successful answer's body is read before it is
// closed (analytics-go does not read it), so that the connection is reused.
const drainLimit = 64 << 10

// releaseBody releases the request's context when the body is closed.
type releaseBody struct {
	io.ReadCloser
	release func()
	once    sync.Once
}

// Close drains up to drainLimit bytes of the body, closes it and releases
// the request's context.
func (b *releaseBody) Close() error {
	_, _ = io.CopyN(io.Discard, b.ReadCloser, drainLimit)
	err := b.ReadCloser.Close()
	b.once.Do(b.release)
	return err
}

// clientLogger sends analytics-go's log lines to the destination's logger at
// debug level: every failure also reaches dispatch as Send's error, which
// dispatch logs. analytics-go never logs the write key.
type clientLogger struct{ l *slog.Logger }

// Logf logs one of analytics-go's informational lines at debug level.
func (c clientLogger) Logf(format string, args ...any) {
	c.l.Debug("analytics-go: " + fmt.Sprintf(format, args...))
}

// Errorf logs one of analytics-go's error lines at debug level.
func (c clientLogger) Errorf(format string, args ...any) {
	c.l.Debug("analytics-go error: " + fmt.Sprintf(format, args...))
}
