package customerio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	customerio "github.com/customerio/go-customerio/v3"

	"github.com/eventrouter/eventrouter/destinations/internal/httpdelivery"
	"github.com/eventrouter/eventrouter/router"
)

// MessageIDHeader is the request header carrying the messageId of the
// message a request delivers, for tracing through proxies and for the
// test server. Customer.io ignores it.
const MessageIDHeader = "X-Eventrouter-Message-Id"

// userAgent is sent with every request.
const userAgent = "eventrouter-customerio (go-customerio/v3)"

// destination is the router.Destination that sends to Customer.io.
type destination struct {
	cfg    Config
	name   string
	base   string
	log    *slog.Logger
	mapper mapper
	httpc  *http.Client
	client *customerio.CustomerIO
	now    func() time.Time
}

func newDestination(cfg Config, set router.Settings) *destination {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(cfg.Concurrency*4, 16)
	httpc := &http.Client{Transport: tr, Timeout: cfg.Timeout}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &destination{
		cfg:    cfg,
		name:   set.Name,
		base:   cfg.baseURL(),
		log:    log,
		mapper: mapper{identifier: cfg.Identifier, group: cfg.Group, groupPrefix: cfg.GroupPrefix},
		httpc:  httpc,
		now:    time.Now,
	}
	region := customerio.RegionUS
	if cfg.Region == RegionEU {
		region = customerio.RegionEU
	}
	opts := []customerio.Option{
		customerio.WithRegion(region),
		customerio.WithHTTPClient(recordingClient{httpc}),
		customerio.WithUserAgent(userAgent),
	}
	if cfg.URL != "" {
		opts = append(opts, customerio.WithURL(d.base))
	}
	d.client = customerio.NewTrackClient(cfg.SiteID, cfg.APIKey, opts...)
	return d
}

// call carries per-request facts between Send and recordingClient through
// the request's context: go-customerio does not expose response headers.
type call struct {
	messageID  string
	retryAfter string
}

type callKey struct{}

// recordingClient is the HTTPClient given to go-customerio: it tags each
// request with its messageId and records the answer's Retry-After header
// in the request's call.
type recordingClient struct{ c *http.Client }

// Do sends req, recording Retry-After in the call of req's context.
func (r recordingClient) Do(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c != nil && c.messageID != "" && !containsCtl(c.messageID) {
		req.Header.Set(MessageIDHeader, c.messageID)
	}
	resp, err := r.c.Do(req)
	if err == nil && c != nil {
		c.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, err
}

// Send delivers a batch: it maps every message (failing permanently those
// that cannot be delivered), then sends each person's messages in order,
// people in parallel up to the concurrency setting. After a retryable
// failure the person's later messages are not sent and are reported as
// retryable too. When every message failed the same way, the error is that
// failure; when some failed, a *router.BatchError names them.
func (d *destination) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending batch to customer.io %q: %w", d.name, err)
	}
	if len(batch) == 0 {
		return nil
	}
	ops := make([]op, len(batch))
	failed := make([]error, len(batch))
	// Group by person, keeping each person's messages in batch order.
	var order []string
	seqs := map[string][]int{}
	for i, m := range batch {
		o, err := d.mapper.mapMessage(m)
		if err != nil {
			failed[i] = router.Permanent(err)
		}
		ops[i] = o
		k := m.PartitionKey()
		if _, ok := seqs[k]; !ok {
			order = append(order, k)
		}
		seqs[k] = append(seqs[k], i)
	}

	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(d.cfg.Concurrency, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range work {
				d.sendSequence(ctx, batch, ops, failed, seq)
			}
		}()
	}
	for _, k := range order {
		work <- seqs[k]
	}
	close(work)
	wg.Wait()
	return summarise(failed)
}

// PacesRequests reports that Send waits for the context's router.Pacer
// before each request, so that dispatch's rate_limit spaces out requests
// rather than whole batches.
func (d *destination) PacesRequests() bool { return true }

// sendSequence sends one person's messages in order, writing each failure
// into failed (distinct indexes per goroutine).
func (d *destination) sendSequence(ctx context.Context, batch []router.Message, ops []op, failed []error, seq []int) {
	var blocked error
	for _, i := range seq {
		if failed[i] != nil { // permanent mapping failure
			continue
		}
		if blocked != nil {
			failed[i] = blocked
			continue
		}
		if err := ctx.Err(); err != nil {
			failed[i] = fmt.Errorf("sending %s %s to customer.io: %w", ops[i].what, batch[i].ID, err)
			blocked = holdBack(batch[i].ID, failed[i])
			continue
		}
		if p := router.PacerFrom(ctx); p != nil {
			if err := p.Wait(ctx); err != nil {
				failed[i] = fmt.Errorf("sending %s %s to customer.io: waiting for the rate limit: %w", ops[i].what, batch[i].ID, err)
				blocked = holdBack(batch[i].ID, failed[i])
				continue
			}
		}
		if err := d.deliver(ctx, batch[i].ID, ops[i]); err != nil {
			failed[i] = err
			if k, _ := router.Classify(err); k == router.KindRetryable {
				blocked = holdBack(batch[i].ID, err)
			}
		}
	}
}

// holdBack is the error of a message not sent because an earlier message
// of the same person failed with err (retryable): retryable, after the
// same delay.
func holdBack(id string, err error) error {
	held := fmt.Errorf("not sent to keep per-person order: earlier message %s failed: %w", id, err)
	if _, d := router.Classify(err); d > 0 {
		return router.RetryAfter(held, d)
	}
	return held
}

// summarise turns per-message errors into Send's result.
func summarise(failed []error) error {
	var n, permanent int
	var first error
	var delay time.Duration
	for _, err := range failed {
		if err == nil {
			continue
		}
		if first == nil {
			first = err
		}
		n++
		k, d := router.Classify(err)
		if k == router.KindPermanent {
			permanent++
		}
		delay = max(delay, d)
	}
	switch {
	case n == 0:
		return nil
	case n == len(failed) && permanent == n:
		return first
	case n == len(failed) && permanent == 0:
		if delay > 0 {
			var ra *router.RetryAfterError
			if errors.As(first, &ra) && ra.Delay == delay {
				return first
			}
			return router.RetryAfter(first, delay)
		}
		return first
	}
	be := &router.BatchError{Failed: make(map[int]error, n)}
	for i, err := range failed {
		if err != nil {
			be.Failed[i] = err
		}
	}
	return be
}

// deliver makes op's one request and classifies the outcome.
func (d *destination) deliver(ctx context.Context, messageID string, o op) error {
	c := &call{messageID: messageID}
	cctx := context.WithValue(ctx, callKey{}, c)
	var err error
	switch o.kind {
	case opSkip:
		return nil
	case opIdentify:
		err = d.client.IdentifyCtx(cctx, o.person, o.attrs)
	case opTrack:
		err = d.client.TrackCtx(cctx, o.person, o.name, o.data, trackOptions(o)...)
	case opTrackAnonymous:
		err = d.client.TrackAnonymousCtx(cctx, o.anonID, o.name, o.data, trackOptions(o)...)
	case opMerge:
		err = d.client.MergeCustomersCtx(cctx, o.primary, o.secondary)
	}
	if err == nil {
		return nil
	}
	return d.classify(ctx, fmt.Sprintf("sending %s %s to customer.io", o.what, messageID), err, c.retryAfter)
}

func trackOptions(o op) []customerio.TrackOption {
	opts := []customerio.TrackOption{
		customerio.WithEventID(o.eventID),
		customerio.WithEventTimestamp(o.at),
	}
	if o.eventType != "" {
		opts = append(opts, customerio.WithEventType(o.eventType))
	}
	return opts
}

// classify maps go-customerio's result to the router's error kinds.
func (d *destination) classify(ctx context.Context, prefix string, err error, retryAfterHeader string) error {
	if err == nil {
		return nil
	}
	var cerr *customerio.CustomerIOError
	if !errors.As(err, &cerr) {
		var perr customerio.ParamError
		if errors.As(err, &perr) {
			return router.Permanent(fmt.Errorf("%s: %w", prefix, err))
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", prefix, ctx.Err())
		}
		// *url.Error quotes the URL, whose path holds the person's
		// identifier: keep the operation and the cause only.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			return fmt.Errorf("%s: %s: %w", prefix, uerr.Op, uerr.Err)
		}
		return fmt.Errorf("%s: %w", prefix, err)
	}
	se := &httpdelivery.StatusError{Code: cerr.StatusCode(), Snippet: snippet(cerr.Body())}
	se.RetryAfter, se.HasRetryAfter = httpdelivery.RetryAfter(retryAfterHeader, d.now())
	// go-customerio treats every status but 200 as an error; any 2xx is
	// success (Classified returns nil for it).
	e := fmt.Errorf("%s: %w", prefix, se)
	// Customer.io documents 400, 401, 403 and 404 as not retryable, as the
	// kit classifies every 4xx; these hints name what to check.
	switch se.Code {
	case http.StatusUnauthorized:
		e = fmt.Errorf("%w (check site_id and api_key: they must be a Track API site id and key of this workspace)", e)
	case http.StatusForbidden:
		e = fmt.Errorf("%w (check that api_key is a Track API key allowed to write to this workspace, and region)", e)
	case http.StatusNotFound:
		e = fmt.Errorf("%w (check region and url: an EU workspace needs region: eu)", e)
	case http.StatusBadRequest:
		e = fmt.Errorf("%w (customer.io refused the data of this message)", e)
	}
	return se.Classified(e)
}

// Close releases idle connections. It may be called more than once.
func (d *destination) Close(context.Context) error {
	d.closeIdle()
	return nil
}

func (d *destination) closeIdle() { d.httpc.CloseIdleConnections() }

// selfCheck asks GET /api/v1/accounts/region which region the credentials
// belong to.
func (d *destination) selfCheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/api/v1/accounts/region", nil)
	if err != nil {
		return fmt.Errorf("checking customer.io credentials: url: %w", err)
	}
	req.SetBasicAuth(d.cfg.SiteID, d.cfg.APIKey)
	req.Header.Set("User-Agent", userAgent)
	resp, err := d.httpc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("checking customer.io credentials: cannot reach %s (check url and region): %w", d.base, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fmt.Errorf("checking customer.io credentials: answered %s: check site_id and api_key (a Track API key of this workspace)", httpdelivery.StatusText(resp.StatusCode))
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("checking customer.io credentials: answered %s: check url and region", httpdelivery.StatusText(resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("checking customer.io credentials: answered %s%s", httpdelivery.StatusText(resp.StatusCode), snippet(body))
	}
	var answer struct {
		Region string `json:"region"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return fmt.Errorf("checking customer.io credentials: decoding the answer: %w", err)
	}
	if got := strings.ToLower(answer.Region); got != "" && got != d.cfg.Region {
		return fmt.Errorf("checking customer.io credentials: region: the workspace is in region %q, but region is %q: set region: %s", got, d.cfg.Region, got)
	}
	d.log.Debug("customer.io credentials checked", "region", answer.Region)
	return nil
}

// snippet returns ": <quoted first bytes of body>", preferring the error
// texts of Customer.io's {"meta":{"errors":[...]}} or {"meta":{"error":...}}
// body, or "" for an empty body (quoted as httpdelivery.Snippet does).
func snippet(body []byte) string {
	var ans struct {
		Meta struct {
			Errors []string `json:"errors"`
			Error  string   `json:"error"`
		} `json:"meta"`
	}
	if json.Unmarshal(body, &ans) == nil && (len(ans.Meta.Errors) > 0 || ans.Meta.Error != "") {
		s := strings.Join(append(ans.Meta.Errors, ans.Meta.Error), "; ")
		return httpdelivery.Snippet(strings.NewReader(strings.TrimSuffix(s, "; ")))
	}
	return httpdelivery.Snippet(bytes.NewReader(body))
}
