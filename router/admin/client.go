package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client talks to a running server's admin API: JSON requests, NDJSON
// long operations (with their progress lines) and the Server-Sent Events
// live stream. The request and answer types are the ones the handlers of
// this package write, so a change to one is a change to both. Its methods
// are safe for concurrent use; an answer that is not 2xx, or an operation
// that ends in an error line, is returned as an *[APIError].
type Client struct {
	base  string
	token string
	http  *http.Client
}

// NewClient returns a client of the server at base (such as
// http://127.0.0.1:8080) sending token as its bearer token; hc nil means a
// new http.Client without a timeout (long operations and the live stream
// last as long as they last; cancel their context to stop them).
func NewClient(base, token string, hc *http.Client) (*Client, error) {
	if token == "" {
		return nil, errors.New("the admin token is empty")
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("%q is not a URL such as http://127.0.0.1:8080", base)
	}
	if hc == nil {
		hc = &http.Client{}
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}, nil
}

// do sends one request; an answer that is not 2xx is returned as an
// *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encoding request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reaching %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e errorBody
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		if e.Error == nil {
			e.Error = &APIError{}
		}
		e.Error.Status = resp.StatusCode
		return nil, e.Error
	}
	return resp, nil
}

// getJSON GETs path and decodes the answer into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	resp, err := c.do(ctx, http.MethodGet, path, query, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return nil
}

// longOp POSTs body to path, reads the NDJSON answer, calling progress
// (when not nil) for each progress line, and decodes the result line into
// out; an error line is returned as an *APIError.
func (c *Client) longOp(ctx context.Context, path string, body any, progress func(Progress), out any) error {
	resp, err := c.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var line ndjsonLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("reading the answer: %w", err)
		}
		switch {
		case line.Error != nil:
			line.Error.Status = resp.StatusCode
			return line.Error
		case line.Result != nil:
			if err := json.Unmarshal(line.Result, out); err != nil {
				return fmt.Errorf("reading the result: %w", err)
			}
			return nil
		case line.Progress != nil && progress != nil:
			progress(*line.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	return errors.New("the server closed the answer before the result (see its log)")
}

// setNonEmpty sets the query parameters whose values are not empty.
func setNonEmpty(q url.Values, kv map[string]string) url.Values {
	for k, v := range kv {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// DeadLetterQuery selects dead letters for [Client.DeadLetters]; empty
// fields select everything.
type DeadLetterQuery struct {
	Destination   string
	Since         string // RFC 3339 or a duration meaning "that long ago"
	ErrorContains string
	Limit         int // 0: the server's default (100)
}

// DeadLetters returns a page of dead letters, newest first (GET
// /admin/dlq).
func (c *Client) DeadLetters(ctx context.Context, sel DeadLetterQuery) (DeadLetterPage, error) {
	q := setNonEmpty(url.Values{}, map[string]string{"destination": sel.Destination, "since": sel.Since, "error_contains": sel.ErrorContains})
	if sel.Limit > 0 {
		q.Set("limit", strconv.Itoa(sel.Limit))
	}
	var page DeadLetterPage
	err := c.getJSON(ctx, "/admin/dlq", q, &page)
	return page, err
}

// DeadLetter returns one dead letter with its message (GET
// /admin/dlq/{seq}).
func (c *Client) DeadLetter(ctx context.Context, seq uint64) (DeadLetterItem, error) {
	var it DeadLetterItem
	err := c.getJSON(ctx, "/admin/dlq/"+strconv.FormatUint(seq, 10), nil, &it)
	return it, err
}

// Redrive delivers the selected dead letters again (POST
// /admin/dlq/redrive), calling progress, when not nil, with each progress
// line.
func (c *Client) Redrive(ctx context.Context, req RedriveRequest, progress func(Progress)) (RedriveResult, error) {
	var res RedriveResult
	err := c.longOp(ctx, "/admin/dlq/redrive", req, progress, &res)
	return res, err
}

// Replay delivers the log's history again to one destination (POST
// /admin/replay), calling progress, when not nil, with each progress line.
func (c *Client) Replay(ctx context.Context, req ReplayRequest, progress func(Progress)) (LogReplayResult, error) {
	var res LogReplayResult
	err := c.longOp(ctx, "/admin/replay", req, progress, &res)
	return res, err
}

// QuarantineQuery selects quarantine entries for [Client.Quarantine];
// empty fields select everything.
type QuarantineQuery struct {
	Source string
	Event  string
	Since  string // RFC 3339 or a duration meaning "that long ago"
	Limit  int    // 0: the server's default (100)
}

// Quarantine returns a page of the quarantine, newest first (GET
// /admin/quarantine).
func (c *Client) Quarantine(ctx context.Context, sel QuarantineQuery) (QuarantinePage, error) {
	q := setNonEmpty(url.Values{}, map[string]string{"source": sel.Source, "event": sel.Event, "since": sel.Since})
	if sel.Limit > 0 {
		q.Set("limit", strconv.Itoa(sel.Limit))
	}
	var page QuarantinePage
	err := c.getJSON(ctx, "/admin/quarantine", q, &page)
	return page, err
}

// ReplayQuarantine validates the selected quarantine entries again
// against the plan in force (POST /admin/quarantine/replay), calling
// progress, when not nil, with each progress line.
func (c *Client) ReplayQuarantine(ctx context.Context, sel ReplaySelection, progress func(Progress)) (ReplayResult, error) {
	var res ReplayResult
	err := c.longOp(ctx, "/admin/quarantine/replay", sel, progress, &res)
	return res, err
}

// StreamQuery filters the live stream; empty fields select everything.
type StreamQuery struct {
	Source, Type, Event string
	// User is a userId or an anonymousId.
	User string
	// Violations selects the messages with tracking-plan violations.
	Violations bool
}

// Stream reads the live stream (GET /admin/stream) and calls fn with each
// event's name ("message": data is a [StreamMessage]; "stats": a
// [StreamStats]) and its data, until ctx is done (nil is returned), the
// stream ends or fn fails.
func (c *Client) Stream(ctx context.Context, sel StreamQuery, fn func(event string, data []byte) error) error {
	q := setNonEmpty(url.Values{}, map[string]string{"source": sel.Source, "type": sel.Type, "event": sel.Event, "user_id": sel.User})
	if sel.Violations {
		q.Set("violations", "1")
	}
	resp, err := c.do(ctx, http.MethodGet, "/admin/stream", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	event, data := "", []byte(nil)
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case len(line) == 0:
			if data != nil {
				if event == "" {
					event = "message"
				}
				if err := fn(event, data); err != nil {
					return err
				}
			}
			event, data = "", nil
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("event:")):
			event = strings.TrimSpace(string(line[len("event:"):]))
		case bytes.HasPrefix(line, []byte("data:")):
			d := bytes.TrimPrefix(line[len("data:"):], []byte(" "))
			if data != nil {
				data = append(data, '\n')
			}
			data = append(data, d...)
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading the stream: %w", err)
	}
	return errors.New("the server ended the stream")
}
