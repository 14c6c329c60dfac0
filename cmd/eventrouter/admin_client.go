package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// defaultServer is where the admin commands find the server by default.
const defaultServer = "http://127.0.0.1:8080"

// adminClient talks to a running server's admin API (ADMIN_API.md): JSON
// requests, NDJSON long operations and the Server-Sent Events stream, with
// the token from EVENTROUTER_ADMIN_TOKEN. Every admin subcommand uses it.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// serverFlag adds --server to fs.
func serverFlag(fs *flag.FlagSet) *string {
	return fs.String("server", defaultServer, "the eventrouter server's base URL")
}

// newAdminFlags returns the flag set of the admin command name, which
// writes its errors and its usage (usage, then the flags) to stderr, and
// its --server flag.
func newAdminFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage+"\nFlags:\n"); fs.PrintDefaults() }
	return fs, serverFlag(fs)
}

// newAdminClient returns a client of the server at base, with the token
// from EVENTROUTER_ADMIN_TOKEN (an error when it is not set).
func newAdminClient(base string) (*adminClient, error) {
	token := os.Getenv("EVENTROUTER_ADMIN_TOKEN")
	if token == "" {
		return nil, errors.New("set EVENTROUTER_ADMIN_TOKEN to the server's http.admin_token")
	}
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not a URL such as %s", base, defaultServer)
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{}}, nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the server answered %d", e.Status)
	}
	return fmt.Sprintf("%s (%d %s)", e.Message, e.Status, e.Code)
}

// do sends one request; an answer that is not 2xx is returned as an
// *apiError.
func (c *adminClient) do(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
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
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e)
		e.Error.Status = resp.StatusCode
		return nil, &e.Error
	}
	return resp, nil
}

// getJSON GETs path and decodes the answer into out.
func (c *adminClient) getJSON(ctx context.Context, path string, query url.Values, out any) error {
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

// opProgress is a progress line of a long operation.
type opProgress struct {
	Done    uint64 `json:"done"`
	Total   uint64 `json:"total"`
	Matched uint64 `json:"matched"`
}

// longOp POSTs body to path and reads the NDJSON answer, calling progress
// for each progress line; it returns the result line, or the error line as
// an *apiError.
func (c *adminClient) longOp(ctx context.Context, path string, body any, progress func(opProgress)) (json.RawMessage, error) {
	resp, err := c.do(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var line struct {
			Progress *opProgress     `json:"progress"`
			Result   json.RawMessage `json:"result"`
			Error    *apiError       `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		switch {
		case line.Error != nil:
			line.Error.Status = resp.StatusCode
			return nil, line.Error
		case line.Result != nil:
			return line.Result, nil
		case line.Progress != nil && progress != nil:
			progress(*line.Progress)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	return nil, errors.New("the server closed the answer before the result (see its log)")
}

// runLongOp runs an NDJSON operation with a progress bar labelled label on
// stderr and prints summary(result) on stdout. The result's numbers are
// json.Number values (they print as the server wrote them).
func runLongOp(ctx context.Context, c *adminClient, path, label string, body any, stdout, stderr io.Writer, summary func(map[string]any) string) error {
	bar := newProgressBar(stderr, label)
	var last opProgress
	raw, err := c.longOp(ctx, path, body, func(p opProgress) {
		last = p
		bar.Update(p.Done, p.Total, p.Matched)
	})
	if err != nil {
		return err
	}
	bar.Finish(last.Done, last.Total, last.Matched)
	var res map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return fmt.Errorf("reading the result: %w", err)
	}
	_, err = fmt.Fprintln(stdout, summary(res))
	return err
}

// events GETs a Server-Sent Events stream and calls fn with each event's
// name and data until ctx is done, the stream ends or fn fails.
func (c *adminClient) events(ctx context.Context, path string, query url.Values, fn func(event string, data []byte) error) error {
	resp, err := c.do(ctx, http.MethodGet, path, query, nil)
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
