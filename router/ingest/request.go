package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// request is the state of one request carrying messages.
type request struct {
	h          *Handler
	r          *http.Request
	rt         *route
	receivedAt time.Time
	// receivedAtStr is receivedAt formatted, once per request.
	receivedAtStr string
	src           *source
	buf           *bytes.Buffer // pooled body buffer
	clientIP      string
	ipDone        bool

	accepted []router.Message
	rejected []router.Rejected
	arena    []byte // the bodies of accepted messages
	future   int    // timestamps more than a minute ahead
	empty    bool   // an empty batch
	// budget is how many more bytes of bodies the request may store;
	// forwardPool how many more of Violation Generated events (see
	// limits.go).
	budget      int
	forwardPool int
	// extra counts the batch items past maxBatchSize that share one
	// rejected entry beyond the first (see rejectExcess), so that metrics
	// and rate limits count every item.
	extra int

	// plan is the tracking plan in force when the request started (nil:
	// none); pc collects what enforcement quarantines and forwards.
	plan *activePlan
	pc   planCheck
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var gzipPool sync.Pool // *gzip.Reader

func (h *Handler) newRequest(r *http.Request, rt *route, receivedAt time.Time) *request {
	return &request{h: h, r: r, rt: rt, receivedAt: receivedAt, plan: h.plan.Load()}
}

func (q *request) release() {
	if q.buf != nil && q.buf.Cap() <= 1<<20 {
		q.buf.Reset()
		bufPool.Put(q.buf)
	}
	q.buf = nil
}

// run authenticates, reads, decodes and normalises the request, filling
// q.accepted and q.rejected. body is the already decoded body (GET and
// pixel), or nil to read it from the request.
func (q *request) run(body []byte) *apiError {
	key := basicAuthKey(q.r.Header.Get("Authorization"))
	if key != "" && !q.h.acceptUnknown {
		// Reject bad credentials before reading the body.
		src, aerr := q.h.lookupKey(key)
		if aerr != nil {
			return aerr
		}
		q.src = src
	}
	if body == nil {
		var aerr *apiError
		if body, aerr = q.readBody(); aerr != nil {
			return aerr
		}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errEmptyBody
	}
	batch := q.rt.kind == kindBatch
	v, spans, whole, err := parseShape(body, batch)
	if err != nil {
		return errInvalidJSON
	}
	top, ok := v.(map[string]any)
	if !ok {
		return errInvalidJSON
	}
	if q.src == nil {
		if known, aerr := q.findSource(top, q.writeKey(key, top, batch)); !known {
			return aerr
		}
	}
	if !batch {
		q.single(top, body, whole)
		return nil
	}
	return q.batch(top, body, spans)
}

// writeKey returns the request's write key: the Authorization header's
// (key), else the body's writeKey, else a batch's first item's, else the
// query's ?writeKey=.
func (q *request) writeKey(key string, top map[string]any, batch bool) string {
	if key == "" {
		key = stringField(top, "writeKey")
	}
	if key == "" && batch {
		if items, ok := top["batch"].([]any); ok && len(items) > 0 {
			if first, ok := items[0].(map[string]any); ok {
				key = stringField(first, "writeKey")
			}
		}
	}
	if key == "" {
		key = q.r.URL.Query().Get("writeKey")
	}
	return key
}

// findSource sets q.src to the source of the write key, and reports
// whether it knows one (true). Otherwise it returns the request's error,
// or nil when the handler accepts unknown keys: the request is then
// rejected whole as unknown_source (top, without its writeKey, as sent).
func (q *request) findSource(top map[string]any, key string) (bool, *apiError) {
	if key == "" {
		return false, errMissingKey
	}
	src, aerr := q.h.lookupKey(key)
	if aerr == errInvalidKey && q.h.acceptUnknown {
		delete(top, "writeKey")
		q.reject("", "unknown_source", "the write key matches no source", "", appendJSON(nil, top))
		return false, nil
	}
	if aerr != nil {
		return false, aerr
	}
	q.src = src
	return true, nil
}

// single normalises the message of a single-event request (body, of the
// shape whole), within a budget of its own.
func (q *request) single(top map[string]any, body []byte, whole shape) {
	q.budget = budgetFactor*len(body) + budgetPerItem
	q.forwardPool = budgetFactor*len(body) + forwardPerRequest
	if reason, detail := shapeReason(whole); reason != "" {
		q.rejectAsSent(top, body, reason, detail)
		return
	}
	// Room for the fields normalisation adds (receivedAt, sentAt,
	// timestamps, context.library, ...), so that the body is encoded into
	// one allocation rather than grown from nothing (a twelfth of all
	// bytes allocated at 20,000 single /v1/track requests/s).
	q.arena = make([]byte, 0, min(len(body)+len(body)/4+384, q.budget))
	q.item(top, nil, body)
}

// batch normalises the items of a batch request (body, with spans the
// items' places in it when the parser recorded them): the first
// maxBatchSize one by one (batchItem), those past it together as sent
// (rejectExcess).
func (q *request) batch(top map[string]any, body []byte, spans []span) *apiError {
	items, ok := top["batch"].([]any)
	if !ok {
		return errInvalidBatch
	}
	if len(items) == 0 {
		q.empty = true
		return nil
	}
	if q.h.strictItemSize {
		for _, s := range spans {
			if s.end-s.start > itemLimit {
				return errItemTooLarge
			}
		}
	}
	env := batchEnvelope(top)
	info := newEnvelopeInfo(&env)
	// Only the items a batch may hold earn their share of the budget: the
	// ones past it are kept together as sent (rejectExcess).
	n := min(len(items), maxBatchSize)
	q.budget = budgetFactor*len(body) + budgetPerItem*n
	q.forwardPool = budgetFactor*len(body) + forwardPerRequest
	q.accepted = make([]router.Message, 0, n)
	q.arena = make([]byte, 0, min(len(body)+len(body)/4+n*160, q.budget))
	haveSpans := len(spans) == len(items)
	if len(items) > maxBatchSize {
		var excess []span
		if haveSpans {
			excess = spans[maxBatchSize:]
		}
		q.rejectExcess(items[maxBatchSize:], excess, body)
	}
	for i, it := range items[:n] {
		var raw []byte
		var sh shape
		own := 0
		if haveSpans {
			raw = body[spans[i].start:spans[i].end]
			sh = spans[i].shape
			own = len(raw)
		} else {
			sh = valueShape(it)
			own = len(appendJSON(nil, it))
		}
		// Drop the batch's reference to the item, so that what merging
		// and normalising build for it is garbage once it is stored.
		items[i] = nil
		q.batchItem(it, raw, sh, own, &env, info)
	}
	return nil
}

// batchEnvelope returns what a batch's items inherit from it: its context,
// integrations and sentAt.
func batchEnvelope(top map[string]any) envelope {
	env := envelope{}
	env.context, _ = top["context"].(map[string]any)
	env.integrations, _ = top["integrations"].(map[string]any)
	env.sentAt, env.hasSentAt = top["sentAt"]
	if env.sentAt == nil {
		env.hasSentAt = false
	}
	return env
}

// batchItem checks one batch item (it; raw its bytes in the request when
// known, sh its shape, own its size) against the limits that count the
// envelope env (info) merged into it, rejecting it as sent when it does
// not fit, and normalises it (item) when it does.
func (q *request) batchItem(it any, raw []byte, sh shape, own int, env *envelope, info envelopeInfo) {
	if own > itemLimit {
		q.rejectAsSent(it, raw, reasonTooLarge, "the item's JSON exceeds 32 KiB")
		return
	}
	m, ok := it.(map[string]any)
	if !ok {
		q.rejectAsSent(it, raw, "invalid_type", "the item is not a JSON object")
		return
	}
	if reason, detail := shapeReason(shape{depth: max(sh.depth, info.depth), nonFinite: sh.nonFinite || info.nonFinite}); reason != "" {
		if sh.depth <= maxNesting && !sh.nonFinite {
			detail = "with the batch envelope merged in, " + detail
		}
		q.rejectAsSent(m, raw, reason, detail)
		return
	}
	// The envelope counts whole against each item: the merge never
	// adds more than its size, so that nothing too large is built.
	if own+info.size > itemLimit {
		q.rejectAsSent(m, raw, reasonTooLarge, fmt.Sprintf("the item (%d bytes) with the batch envelope's context and integrations (%d bytes) exceeds 32 KiB", own, info.size))
		return
	}
	if own+info.size > q.budget {
		q.rejectAsSent(m, raw, reasonRequestTooBig, requestTooBigDetail)
		return
	}
	q.item(m, env, raw)
}

// requestTooBigDetail explains reason request_too_large.
var requestTooBigDetail = fmt.Sprintf("over the request's storage budget (%d × its size + %d bytes per item); kept as sent, without the batch envelope", budgetFactor, budgetPerItem)

// store hands what run produced to the log.
func (q *request) store() *apiError {
	h := q.h
	ctx := q.r.Context()
	if q.empty {
		h.m.emptyBatch()
	}
	if q.src == nil {
		// Nothing unauthenticated reaches the log: a pixel without a valid
		// write key, or an unknown key under UnknownKeyAccept, is counted,
		// logged at a sampled rate and kept in the sample at most.
		h.unauthenticated(ctx, q.rt, q.rejected)
		return nil
	}
	if len(q.accepted) > 0 {
		start := time.Now()
		dups, err := h.log.Append(ctx, q.accepted)
		h.m.storeDuration(time.Since(start))
		if err != nil {
			h.warn("store failed", "storing messages failed", "route", q.rt.name, "source", q.src.name, "messages", len(q.accepted), "error", err)
			return errUnavailable
		}
		h.m.addAccepted(q.src.name, len(q.accepted)-dups, dups)
	}
	if err := h.storeChecked(ctx, q.src.name, &q.pc); err != nil {
		h.warn("store failed", "storing tracking-plan outcomes failed", "route", q.rt.name, "source", q.src.name, "error", err)
		return errUnavailable
	}
	if len(q.rejected) > 0 {
		if err := h.log.Reject(ctx, q.rejected); err != nil {
			h.warn("store failed", "storing rejected messages failed", "route", q.rt.name, "source", q.src.name, "rejected", len(q.rejected), "error", err)
			return errUnavailable
		}
		for i := range q.rejected {
			h.m.rejectedReason(q.rejected[i].Reason)
		}
		h.m.rejectedN(reasonTooManyEvents, q.extra)
	}
	if q.future > 0 {
		h.m.timestampInFuture(q.future)
	}
	return nil
}

func (h *Handler) lookupKey(key string) (*source, *apiError) {
	src, ok := h.keys[key]
	if !ok {
		return nil, errInvalidKey
	}
	if src.disabled {
		return nil, errSourceDisabled
	}
	return src, nil
}

// basicAuthKey returns the write key of a Basic Authorization header: the
// username of base64(key:password), or the whole decoded value when it has
// no colon (the legacy form). Any other scheme, Bearer included, yields "".
func basicAuthKey(auth string) string {
	const prefix = "basic "
	if len(auth) <= len(prefix) || !strings.EqualFold(auth[:len(prefix)], prefix) {
		return ""
	}
	enc := strings.TrimSpace(auth[len(prefix):])
	dec, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		if dec, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "=")); err != nil {
			return ""
		}
	}
	s := string(dec)
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// errBodyLimit marks a body read stopped by a size limit.
var errBodyLimit = errors.New("body over limit")

// limitedReader is io.LimitReader that reports going over the limit.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errBodyLimit
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// trackingReader remembers the error of the underlying body, to tell a
// broken connection from malformed gzip.
type trackingReader struct {
	r   io.Reader
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// readBody reads the request body into a pooled buffer, decompressing gzip,
// and enforces the route's limit on the decoded size.
func (q *request) readBody() ([]byte, *apiError) {
	limit := int64(q.rt.limit)
	enc := strings.TrimSpace(q.r.Header.Get("Content-Encoding"))
	gz := false
	switch {
	case enc == "" || strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip") || strings.EqualFold(enc, "x-gzip"):
		gz = true
	default:
		return nil, errEncoding
	}
	if q.r.Body == nil {
		return nil, errEmptyBody
	}
	q.buf = bufPool.Get().(*bytes.Buffer)
	if !gz {
		if q.r.ContentLength > limit {
			return nil, errTooLarge
		}
		if q.r.ContentLength > 0 {
			q.buf.Grow(int(q.r.ContentLength) + 1)
		}
		_, err := q.buf.ReadFrom(&limitedReader{r: q.r.Body, n: limit + 1})
		if err != nil && err != errBodyLimit {
			return nil, errUnreadable
		}
		if int64(q.buf.Len()) > limit {
			return nil, errTooLarge
		}
		return q.buf.Bytes(), nil
	}
	// The compressed body is bounded too, so that a stream of empty gzip
	// members cannot keep the handler reading forever.
	raw := &trackingReader{r: &limitedReader{r: q.r.Body, n: 2*limit + 4096}}
	zr, _ := gzipPool.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(raw)
	} else {
		err = zr.Reset(raw)
	}
	if err != nil {
		return nil, q.gzipError(raw, err)
	}
	defer gzipPool.Put(zr)
	_, err = q.buf.ReadFrom(&limitedReader{r: zr, n: limit + 1})
	if err != nil && !(err == errBodyLimit && raw.err == nil) {
		return nil, q.gzipError(raw, err)
	}
	if int64(q.buf.Len()) > limit {
		return nil, errTooLarge
	}
	return q.buf.Bytes(), nil
}

func (q *request) gzipError(raw *trackingReader, err error) *apiError {
	switch {
	case raw.err == errBodyLimit:
		return errTooLarge
	case raw.err != nil:
		return errUnreadable
	}
	return errMalformedGzip
}

// decodeData decodes the base64 "data" parameter of GET requests: standard
// or URL alphabet, padded or not. A '+' turned into a space by query
// decoding is restored.
func decodeData(data string, limit int) ([]byte, *apiError) {
	if data == "" {
		return nil, errEmptyBody
	}
	if base64.RawStdEncoding.DecodedLen(len(data)) > limit+3 {
		return nil, errTooLarge
	}
	s := strings.TrimRight(strings.TrimSpace(data), "=")
	s = strings.ReplaceAll(s, " ", "+")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errBadData
	}
	if len(b) > limit {
		return nil, errTooLarge
	}
	return b, nil
}

// clientAddr is the client address of R3.4: the left-most X-Forwarded-For
// entry when the peer is a trusted proxy, else the peer.
func (q *request) clientAddr() string {
	if q.ipDone {
		return q.clientIP
	}
	q.ipDone = true
	host := q.r.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		q.clientIP = host
		return host
	}
	peer = peer.Unmap()
	q.clientIP = peer.String()
	if xff := q.r.Header.Get("X-Forwarded-For"); xff != "" && q.h.trustedPeer(peer) {
		first := xff
		if i := strings.IndexByte(first, ','); i >= 0 {
			first = first[:i]
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(first)); err == nil {
			q.clientIP = a.Unmap().String()
		}
	}
	return q.clientIP
}

func (h *Handler) trustedPeer(a netip.Addr) bool {
	for _, p := range h.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// authenticateQuery sets the request's source from the writeKey query
// parameter of a pixel request that failed before its key was read, when
// it is a valid key of an enabled source.
func (q *request) authenticateQuery(key string) {
	if q.src != nil || key == "" {
		return
	}
	if src, aerr := q.h.lookupKey(key); aerr == nil {
		q.src = src
	}
}

// rejectRequest records a failed pixel request as one rejected item whose
// body is the raw request data (as a JSON string when it is not JSON that
// every reader takes).
func (q *request) rejectRequest(aerr *apiError, raw []byte) {
	name := ""
	if q.src != nil {
		name = q.src.name
	}
	var body []byte
	if v, _, sh, err := parseShape(raw, false); err == nil && sh.depth <= maxNesting && !sh.nonFinite {
		if m, ok := v.(map[string]any); ok {
			delete(m, "writeKey")
		}
		body = appendJSON(nil, v)
	} else {
		body = appendString(nil, string(raw))
	}
	q.accepted = nil
	q.pc = planCheck{}
	q.rejected = q.rejected[:0]
	q.reject(name, aerr.code, aerr.msg, "", body)
}

func (q *request) reject(srcName, reason, detail, messageID string, body []byte) {
	body, note := capBody(body)
	detail += note
	q.rejected = append(q.rejected, router.Rejected{
		Source:     srcName,
		Reason:     reason,
		Detail:     detail,
		MessageID:  messageID,
		Route:      q.rt.name,
		ReceivedAt: q.receivedAt,
		Body:       body,
	})
}
