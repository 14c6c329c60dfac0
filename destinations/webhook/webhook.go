package webhook

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/destinations/internal/httpdelivery"
	"github.com/eventrouter/eventrouter/router"
)

// webhook is the router.Destination that sends batches to one URL.
type webhook struct {
	cfg    Config
	name   string
	client *http.Client
	header http.Header      // the headers of every request, built once
	now    func() time.Time // for sentAt and Retry-After dates
	bufs   sync.Pool        // *bytes.Buffer
	gzips  sync.Pool        // *gzip.Writer
}

func newWebhook(cfg Config, name string) *webhook {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Dispatch sends from one goroutine per partition; keep enough idle
	// connections to reuse them.
	tr.MaxIdleConnsPerHost = 32
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set("User-Agent", "eventrouter-webhook")
	for k, v := range cfg.Headers {
		header.Set(k, v)
	}
	if cfg.Gzip {
		header.Set("Content-Encoding", "gzip")
	}
	return &webhook{
		cfg:  cfg,
		name: name,
		client: &http.Client{
			Transport: tr,
			// A redirect would turn a POST into a GET (301, 302, 303) or
			// hide a misconfigured URL; report it instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		header: header,
		now:    time.Now,
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// Send makes one request carrying the whole batch and classifies the
// answer as httpdelivery.Classify does: nil for 2xx; retryable (with the
// Retry-After delay when given) for 408, 429, 5xx and network errors;
// permanent for anything else. A message
// with an empty body is left out of the request and reported as a permanent
// failure in a *router.BatchError.
func (w *webhook) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sending batch to webhook %q: %w", w.name, err)
	}
	buf := w.bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 8<<20 {
			buf.Reset()
			w.bufs.Put(buf)
		}
	}()
	buf.Reset()
	failed, err := w.encode(buf, batch)
	if err != nil {
		return router.Permanent(fmt.Errorf("encoding batch for webhook %q: %w", w.name, err))
	}
	if len(failed) == len(batch) {
		return &router.BatchError{Failed: failed}
	}

	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, w.cfg.Method, w.cfg.URL, bytes.NewReader(buf.Bytes()))
	if err != nil {
		// Validate accepted the URL, so this does not happen; never quote it.
		return router.Permanent(fmt.Errorf("building request for webhook %q: invalid url or method", w.name))
	}
	req.Header = w.header.Clone()

	resp, err := w.client.Do(req)
	if err != nil {
		// *url.Error quotes the URL, which may hold credentials: keep only
		// the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("sending batch to webhook %q: %w", w.name, err)
	}
	defer resp.Body.Close()

	se := httpdelivery.Read(resp, w.now())
	if se == nil {
		if len(failed) > 0 {
			return &router.BatchError{Failed: failed}
		}
		return nil
	}
	err = fmt.Errorf("sending batch to webhook %q: %w", w.name, se)
	if se.Code >= 300 && se.Code < 400 {
		err = fmt.Errorf("%w (redirects are not followed: set url to the final address)", err)
	}
	return se.Classified(err)
}

// encode writes {"batch":[...],"sentAt":"..."} to buf, gzipped if
// configured. Messages with an empty body cannot be sent: they are left out
// and returned as permanent failures, by index.
func (w *webhook) encode(buf *bytes.Buffer, batch []router.Message) (map[int]error, error) {
	var out io.Writer = buf
	var zw *gzip.Writer
	if w.cfg.Gzip {
		// A gzip.Writer holds about a megabyte of compressor state: reuse it.
		if zw, _ = w.gzips.Get().(*gzip.Writer); zw != nil {
			zw.Reset(buf)
		} else {
			zw = gzip.NewWriter(buf)
		}
		defer w.gzips.Put(zw)
		out = zw
	}
	var failed map[int]error
	if _, err := io.WriteString(out, `{"batch":[`); err != nil {
		return nil, err
	}
	first := true
	for i, m := range batch {
		if len(bytes.TrimSpace(m.Body)) == 0 {
			if failed == nil {
				failed = map[int]error{}
			}
			failed[i] = router.Permanent(fmt.Errorf("message %s has an empty body", m.ID))
			continue
		}
		if !first {
			if _, err := io.WriteString(out, ","); err != nil {
				return nil, err
			}
		}
		first = false
		if _, err := out.Write(m.Body); err != nil {
			return nil, err
		}
	}
	if _, err := io.WriteString(out, `],"sentAt":"`+router.FormatTime(w.now())+`"}`); err != nil {
		return nil, err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return failed, nil
}

// Close releases idle connections. It may be called more than once.
func (w *webhook) Close(context.Context) error {
	w.client.CloseIdleConnections()
	return nil
}
