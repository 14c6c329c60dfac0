// Command ceiling is the yardstick bench/loadgen measures eventrouter's
// ingest against: the least work a durable Segment-compatible ingest server
// has to do per request, done plainly and efficiently, run on the same
// machine under the same load in the same invocation.
//
// For POST (or PUT) /v1/batch, /v1/import, /v1/track, /v1/identify,
// /v1/page, /v1/screen, /v1/group and /v1/alias it:
//
//  1. checks HTTP Basic auth: the username must be the write key (-write-key;
//     the password is ignored, as Segment does), else 401;
//  2. reads the body (gzip too), at most 500 KiB for a batch and 32 KiB for a
//     single message (Segment's limits), else 413;
//  3. fully decodes it with encoding/json into the Segment fields (ids,
//     event, name, timestamps as strings; context, properties, traits and
//     integrations as maps), a batch item by item, and checks each message:
//     a known type, userId or anonymousId, event for track, groupId for
//     group, previousId for alias (400 otherwise, nothing stored);
//  4. appends every message of the request to one NDJSON file (-dir/
//     events.ndjson), one line each: the message as received, compacted,
//     with "receivedAt" (and the route's "type" for single messages) added
//     in front;
//  5. waits until that append is on disk and only then answers 200
//     {"success":true}.
//
// Appends go through a single writer goroutine with group commit: it takes
// every append pending when it becomes free, writes them with one write and
// makes them durable with one fdatasync, then releases all their requests at
// once. The fsync cost is thus shared by everything that arrived while the
// previous one ran, as a database's write-ahead log does.
//
// Why it is a ceiling: a server that accepts Segment's API and answers 200
// only for messages it will not lose has to do at least these steps - check
// the key, parse and validate every message, store it durably - and nothing
// here does more: no partitioning, no dedupe, no normalisation beyond
// receivedAt, no tracking plan, no metrics, no delivery, no second copy.
// eventrouter does all of that on top, so its rate divided by this one's is
// the share of the machine's ingest capacity it achieves. Two caveats when
// reading the ratio: the decoder is encoding/json (eventrouter uses its own,
// faster one-pass parser, so decoding is not the part this bounds), and
// eventrouter's log does not fsync before answering unless queue.sync_always
// is set (run the ceiling with -fsync=false for that comparison).
//
// Usage:
//
//	go run ./bench/ceiling -listen 127.0.0.1:8090 -dir /tmp/ceiling -write-key bench-key
//
// It also answers GET /readyz and /healthz, and prints its counters to
// standard error when it gets SIGINT or SIGTERM.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Segment's body limits (decoded bytes).
const (
	batchLimit  = 500 << 10
	singleLimit = 32 << 10
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	dir := flag.String("dir", ".", "directory of the NDJSON file (events.ndjson)")
	writeKey := flag.String("write-key", "bench-key", "the write key (Basic auth username) requests must carry")
	fsync := flag.Bool("fsync", true, "make every group durable (fdatasync) before answering")
	flag.Parse()
	if err := run(*listen, *dir, *writeKey, *fsync); err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}

func run(listen, dir, writeKey string, fsync bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "events.ndjson"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := newGroupWriter(f, fsync)
	s := &server{key: []byte(writeKey), w: w}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/batch", "/v1/import"} {
		mux.Handle(p, s.handler(""))
	}
	for _, t := range []string{"track", "identify", "page", "screen", "group", "alias"} {
		mux.Handle("/v1/"+t, s.handler(t))
	}
	ok := func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }
	mux.HandleFunc("/readyz", ok)
	mux.HandleFunc("/healthz", ok)
	srv := &http.Server{Addr: listen, Handler: mux, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	w.close()
	if err := f.Close(); err != nil {
		return err
	}
	req, ev := s.requests.Load(), s.events.Load()
	groups := w.groups.Load()
	fmt.Fprintf(os.Stderr, "ceiling: %d requests accepted, %d events, %d rejected; %d groups committed (%.1f requests each), %.1f MB written, fdatasync mean %s\n",
		req, ev, s.rejected.Load(), groups, ratio(req, groups), float64(w.bytes.Load())/1e6, w.meanSync())
	return nil
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

type server struct {
	key                        []byte
	w                          *groupWriter
	requests, events, rejected atomic.Int64
}

// message is what a Segment message decodes into. Numbers in the maps stay
// float64 (encoding/json's default); nothing is kept beyond the request.
type message struct {
	Type              string         `json:"type"`
	MessageID         string         `json:"messageId"`
	UserID            string         `json:"userId"`
	AnonymousID       string         `json:"anonymousId"`
	Event             string         `json:"event"`
	Name              string         `json:"name"`
	Category          string         `json:"category"`
	GroupID           string         `json:"groupId"`
	PreviousID        string         `json:"previousId"`
	Timestamp         string         `json:"timestamp"`
	OriginalTimestamp string         `json:"originalTimestamp"`
	SentAt            string         `json:"sentAt"`
	WriteKey          string         `json:"writeKey"`
	Context           map[string]any `json:"context"`
	Properties        map[string]any `json:"properties"`
	Traits            map[string]any `json:"traits"`
	Integrations      map[string]any `json:"integrations"`
}

var errInvalid = errors.New("invalid message")

// check is the validation Segment's API does on a message; typ is the type
// it has (its own, or the route's).
func (m *message) check(typ string) error {
	if m.UserID == "" && m.AnonymousID == "" {
		return errInvalid
	}
	switch typ {
	case "track":
		if m.Event == "" {
			return errInvalid
		}
	case "group":
		if m.GroupID == "" {
			return errInvalid
		}
	case "alias":
		if m.PreviousID == "" {
			return errInvalid
		}
	case "identify", "page", "screen":
	default:
		return errInvalid
	}
	return nil
}

// reqState is the per-request scratch space, pooled.
type reqState struct {
	body    bytes.Buffer
	out     bytes.Buffer // the NDJSON lines of the request
	compact bytes.Buffer
	gz      *gzip.Reader
	done    chan error
}

var statePool = sync.Pool{New: func() any { return &reqState{done: make(chan error, 1)} }}

func (s *server) handler(typ string) http.Handler {
	limit := int64(singleLimit)
	if typ == "" {
		limit = batchLimit
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			answer(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		user, _, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(user), s.key) != 1 {
			answer(w, http.StatusUnauthorized, "invalid write key")
			return
		}
		st := statePool.Get().(*reqState)
		defer func() {
			if st.body.Cap() <= 1<<20 {
				st.body.Reset()
				st.out.Reset()
				st.compact.Reset()
				statePool.Put(st)
			}
		}()
		if code, msg := st.read(r, limit); code != 0 {
			s.rejected.Add(1)
			answer(w, code, msg)
			return
		}
		prefix := `{"receivedAt":"` + time.Now().UTC().Format(time.RFC3339Nano) + `",`
		var n int
		var err error
		if typ == "" {
			n, err = st.decodeBatch(prefix)
		} else {
			err = st.decodeSingle(prefix, typ)
			n = 1
		}
		if err != nil {
			s.rejected.Add(1)
			answer(w, http.StatusBadRequest, err.Error())
			return
		}
		if n > 0 {
			if err := s.w.append(st.out.Bytes(), st.done); err != nil {
				answer(w, http.StatusServiceUnavailable, "storing failed")
				return
			}
		}
		s.requests.Add(1)
		s.events.Add(int64(n))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(successBody)
	})
}

var successBody = []byte(`{"success":true}`)

func answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(map[string]any{"success": false, "message": msg})
	_, _ = w.Write(b)
}

// read reads the body into st.body, decompressing gzip, within limit.
func (st *reqState) read(r *http.Request, limit int64) (int, string) {
	var src io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > limit {
			return http.StatusRequestEntityTooLarge, "body too large"
		}
		if r.ContentLength > 0 {
			st.body.Grow(int(r.ContentLength) + 1)
		}
	case "gzip", "x-gzip":
		var err error
		if st.gz == nil {
			st.gz, err = gzip.NewReader(r.Body)
		} else {
			err = st.gz.Reset(r.Body)
		}
		if err != nil {
			return http.StatusBadRequest, "invalid gzip body"
		}
		src = st.gz
	default:
		return http.StatusUnsupportedMediaType, "unsupported Content-Encoding"
	}
	if _, err := st.body.ReadFrom(io.LimitReader(src, limit+1)); err != nil {
		return http.StatusBadRequest, "unreadable body"
	}
	if int64(st.body.Len()) > limit {
		return http.StatusRequestEntityTooLarge, "body too large"
	}
	return 0, ""
}

// decodeBatch decodes a {"batch":[...], ...} body item by item (one
// validating pass and one decoding pass per item, as json.Unmarshal makes)
// and writes each item's line to st.out.
func (st *reqState) decodeBatch(prefix string) (int, error) {
	body := st.body.Bytes()
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	n := 0
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, err
		}
		key, _ := tok.(string)
		if key != "batch" {
			// The envelope (context, integrations, sentAt, writeKey, ...) is
			// decoded too.
			var v any
			if err := dec.Decode(&v); err != nil {
				return 0, err
			}
			continue
		}
		if seen {
			return 0, errors.New("batch given twice")
		}
		seen = true
		if err := expectDelim(dec, '['); err != nil {
			return 0, err
		}
		for dec.More() {
			start := dec.InputOffset()
			var m message
			if err := dec.Decode(&m); err != nil {
				return 0, err
			}
			if err := m.check(m.Type); err != nil {
				return 0, fmt.Errorf("batch item %d: %w", n, err)
			}
			raw := bytes.TrimLeft(body[start:dec.InputOffset()], " \t\r\n,")
			if err := st.line(prefix, "", raw); err != nil {
				return 0, err
			}
			n++
		}
		if err := expectDelim(dec, ']'); err != nil {
			return 0, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return 0, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return 0, errors.New("data after the JSON object")
	}
	if !seen {
		return 0, errors.New("no batch array")
	}
	return n, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return fmt.Errorf("expected %q", d)
	}
	return nil
}

// decodeSingle decodes a single message of the route's type.
func (st *reqState) decodeSingle(prefix, typ string) error {
	body := bytes.TrimSpace(st.body.Bytes())
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		return err
	}
	if m.Type != "" && m.Type != typ {
		return errInvalid
	}
	if err := m.check(typ); err != nil {
		return err
	}
	add := ""
	if m.Type == "" {
		add = `"type":"` + typ + `",`
	}
	return st.line(prefix, add, body)
}

// line appends one NDJSON line: prefix and add, then the members of the
// object raw (compacted when it spans lines).
func (st *reqState) line(prefix, add string, raw []byte) error {
	if bytes.IndexByte(raw, '\n') >= 0 || bytes.IndexByte(raw, '\r') >= 0 {
		st.compact.Reset()
		if err := json.Compact(&st.compact, raw); err != nil {
			return err
		}
		raw = st.compact.Bytes()
	}
	// raw is a JSON object: '{' then members or '}'.
	rest := bytes.TrimLeft(raw[1:], " \t")
	st.out.WriteString(prefix)
	if len(rest) > 0 && rest[0] == '}' {
		// An empty object: drop the comma after the added members.
		st.out.Truncate(st.out.Len() - 1)
		if add != "" {
			st.out.WriteByte(',')
			st.out.WriteString(add[:len(add)-1])
		}
	} else {
		st.out.WriteString(add)
	}
	st.out.Write(rest)
	st.out.WriteByte('\n')
	return nil
}

// groupWriter appends to one file from one goroutine, committing every
// append pending when it becomes free as one group: one write, one
// fdatasync, then all of the group's waiters are released.
type groupWriter struct {
	f     *os.File
	fsync bool
	ch    chan appendReq
	wg    sync.WaitGroup

	groups, bytes, syncNanos atomic.Int64
}

type appendReq struct {
	data []byte
	done chan error
}

func newGroupWriter(f *os.File, fsync bool) *groupWriter {
	w := &groupWriter{f: f, fsync: fsync, ch: make(chan appendReq, 4096)}
	w.wg.Add(1)
	go w.loop()
	return w
}

// append stores data and returns once it is durable. done is the caller's
// own channel (buffered, 1); data must stay untouched until append returns.
func (w *groupWriter) append(data []byte, done chan error) error {
	w.ch <- appendReq{data: data, done: done}
	return <-done
}

func (w *groupWriter) close() {
	close(w.ch)
	w.wg.Wait()
}

func (w *groupWriter) loop() {
	defer w.wg.Done()
	var buf []byte
	var group []appendReq
	for first := range w.ch {
		group = append(group[:0], first)
		buf = append(buf[:0], first.data...)
	drain:
		for {
			select {
			case r, ok := <-w.ch:
				if !ok {
					break drain
				}
				group = append(group, r)
				buf = append(buf, r.data...)
			default:
				break drain
			}
		}
		_, err := w.f.Write(buf)
		if err == nil && w.fsync {
			t0 := time.Now()
			err = fdatasync(w.f)
			w.syncNanos.Add(int64(time.Since(t0)))
		}
		w.groups.Add(1)
		w.bytes.Add(int64(len(buf)))
		for _, r := range group {
			r.done <- err
		}
		if cap(buf) > 16<<20 {
			buf = nil
		}
	}
}

func (w *groupWriter) meanSync() time.Duration {
	g := w.groups.Load()
	if g == 0 || !w.fsync {
		return 0
	}
	return (time.Duration(w.syncNanos.Load()) / time.Duration(g)).Round(time.Microsecond)
}
