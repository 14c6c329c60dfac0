package segment

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/destinations/internal/httpdelivery"
	"github.com/eventrouter/eventrouter/router"
)

// userAgent is the User-Agent of every request.
const userAgent = "eventrouter-segment"

// segment is the router.Destination that sends messages to the Segment
// Tracking API's /v1/batch.
type segment struct {
	cfg       Config
	name      string
	url       string // endpoint + "/v1/batch"
	auth      string // the Authorization header
	logger    *slog.Logger
	transport *http.Transport
	client    *http.Client
	now       func() time.Time // send time (sentAt) and Retry-After dates
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
		url:       strings.TrimRight(cfg.Endpoint, "/") + "/v1/batch",
		auth:      "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.WriteKey+":")),
		logger:    logger,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is answered, not followed (see post).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		now: time.Now,
	}
}

// Send delivers the batch in requests of at most maxBatchMessages messages
// and maxBatchBytes bytes, one after the other, each tried once. A message
// that cannot be sent fails on its own (permanently). A request answered
// with a permanent error other than 401/403 fails its own messages and the
// next request is sent; after a retryable failure (or 401/403, or ctx
// ending) the messages not yet sent fail with the same error, unsent, so
// that a user's messages stay in order and a Segment that is down or
// refuses the write key is not asked again. Send returns nil when every
// message was delivered, the one error when all failed alike, else a
// *router.BatchError (or, when nothing was delivered because ctx ended, an
// error wrapping ctx.Err()).
func (s *segment) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending batch to segment %q: %w", s.name, err)
	}
	if len(batch) == 0 {
		return nil
	}
	results := make([]error, len(batch))
	wires := make([]*wire, len(batch))
	for i, m := range batch {
		w, err := newWire(m, s.cfg.DisableIntegrations)
		if err != nil {
			results[i] = router.Permanent(fmt.Errorf("converting message %s for segment %q: %w", m.ID, s.name, err))
			continue
		}
		wires[i] = w
	}

	var (
		body    []byte
		members []int
		stop    error // set once nothing more is to be sent
	)
	flush := func() {
		if len(members) == 0 {
			return
		}
		body = appendEnvelopeEnd(body, s.now())
		err := s.post(ctx, body, len(members))
		for _, i := range members {
			results[i] = err
		}
		if err != nil && stopsSend(err) {
			stop = err
		}
		// A new buffer: the transport may still read the old one after
		// the answer came (a server may answer before reading it all).
		body, members = nil, members[:0]
	}
	for i, w := range wires {
		if w == nil {
			continue
		}
		if stop != nil {
			results[i] = notSent(batch[i], stop)
			continue
		}
		item, err := w.encode(s.now())
		if err != nil {
			results[i] = router.Permanent(fmt.Errorf("converting message %s for segment %q: %w", batch[i].ID, s.name, err))
			continue
		}
		if len(item) > maxMessageBytes {
			results[i] = router.Permanent(fmt.Errorf("sending message %s to segment %q: its JSON is %d bytes, over Segment's limit of %d per message", batch[i].ID, s.name, len(item), maxMessageBytes))
			continue
		}
		if len(members) == maxBatchMessages || len(body)+1+len(item)+envelopeEndLen > maxBatchBytes {
			flush()
			if stop != nil {
				results[i] = notSent(batch[i], stop)
				continue
			}
			// Stamped again: time went by while the request was sent.
			if item, err = w.encode(s.now()); err != nil {
				results[i] = router.Permanent(fmt.Errorf("converting message %s for segment %q: %w", batch[i].ID, s.name, err))
				continue
			}
		}
		if len(members) == 0 {
			body = append(body, envelopeStart...)
		} else {
			body = append(body, ',')
		}
		body = append(body, item...)
		members = append(members, i)
	}
	flush()
	return s.outcome(ctx, batch, results)
}

// The request body is {"batch":[...],"sentAt":"<now>"}.
const (
	envelopeStart = `{"batch":[`
	// envelopeEndLen is len(`],"sentAt":"2006-01-02T15:04:05.000Z"}`).
	envelopeEndLen = len(`],"sentAt":""}`) + len(router.TimeLayout)
)

func appendEnvelopeEnd(b []byte, now time.Time) []byte {
	b = append(b, `],"sentAt":"`...)
	b = append(b, router.FormatTime(now)...)
	return append(b, `"}`...)
}

// stopsSend reports whether a request's failure ends the Send: a
// retryable one (Segment is down, overloaded or asked to wait), 401/403
// (the write key is refused), or the end of ctx.
func stopsSend(err error) bool {
	if kind, _ := router.Classify(err); kind == router.KindRetryable {
		return true
	}
	var se *httpdelivery.StatusError
	return errors.As(err, &se) && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden)
}

// notSent is the error of a message left unsent after err stopped the
// Send: err's class, and its delay, with a message saying why.
func notSent(m router.Message, err error) error {
	return &heldBack{id: m.ID, err: err}
}

// heldBack is the error of a message that was not sent because an earlier
// request of its Send failed with err; it classifies as err does.
type heldBack struct {
	id  string
	err error
}

func (h *heldBack) Error() string {
	return fmt.Sprintf("message %s not sent: an earlier request of the batch failed: %v", h.id, h.err)
}

func (h *heldBack) Unwrap() error { return h.err }

// post sends one request body of n messages, once, and classifies the
// outcome: nil on 2xx.
func (s *segment) post(ctx context.Context, body []byte, n int) error {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return router.Permanent(fmt.Errorf("sending batch to segment %q: %w", s.name, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", s.auth)
	resp, err := s.client.Do(req)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("sending batch of %d to segment %q: %w (%v)", n, s.name, cerr, err)
		}
		// *url.Error quotes the URL only; keep the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("sending batch of %d to segment %q: %w", n, s.name, err)
	}
	defer resp.Body.Close()
	se := httpdelivery.Read(resp, s.now())
	if se == nil {
		return nil
	}
	err = fmt.Errorf("sending batch to segment %q: %w", s.name, se)
	switch {
	case se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden:
		// Permanent as every 4xx; the hint names the setting to fix, and
		// stopsSend does not ask again with a refused key.
		err = fmt.Errorf("%w (check write_key: it must be the write key of an enabled source of this Segment workspace and region)", err)
	case se.Code >= 300 && se.Code < 400:
		err = fmt.Errorf("%w (redirects are not followed: set endpoint to the final address)", err)
	}
	return se.Classified(err)
}

// Close releases idle connections. It may be called more than once.
func (s *segment) Close(context.Context) error {
	s.closeOnce.Do(s.transport.CloseIdleConnections)
	return nil
}

// outcome turns the per-message results into Send's error.
func (s *segment) outcome(ctx context.Context, batch []router.Message, results []error) error {
	failed := make(map[int]error)
	allCtx := true
	for i, err := range results {
		if err == nil {
			allCtx = false
			continue
		}
		if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
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
		return fmt.Errorf("sending batch to segment %q: %w", s.name, ctx.Err())
	}
	// Every message failed: when they failed alike (one request, one
	// answer), return that one error so that dispatch classifies the whole
	// batch by it.
	first := results[0]
	var hb *heldBack
	if errors.As(first, &hb) {
		first = hb.err
	}
	kind, delay := router.Classify(first)
	for _, err := range failed {
		if k, d := router.Classify(err); k != kind || d != delay {
			return &router.BatchError{Failed: failed}
		}
	}
	if len(batch) > 1 {
		return fmt.Errorf("%w (all %d messages of the batch)", first, len(batch))
	}
	return first
}
