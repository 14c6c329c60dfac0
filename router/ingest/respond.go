package ingest

import (
	"net/http"
	"strconv"
)

// apiError is a request-level failure and its answer.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

// The request-level errors: the one table mapping failures to statuses.
var (
	errInvalidJSON      = &apiError{http.StatusBadRequest, "invalid_json", "The body is not a valid JSON object."}
	errEmptyBody        = &apiError{http.StatusBadRequest, "invalid_json", "The body is empty."}
	errUnreadable       = &apiError{http.StatusBadRequest, "invalid_json", "The body could not be read."}
	errBadData          = &apiError{http.StatusBadRequest, "invalid_json", "The data parameter is not base64-encoded JSON."}
	errMalformedGzip    = &apiError{http.StatusBadRequest, "malformed_gzip", "Malformed gzip content."}
	errTooLarge         = &apiError{http.StatusBadRequest, "payload_too_large", "The decoded body exceeds the size limit of this route."}
	errItemTooLarge     = &apiError{http.StatusBadRequest, "payload_too_large", "A batch item exceeds 32 KiB."}
	errInvalidBatch     = &apiError{http.StatusBadRequest, "invalid_batch", "The body has no \"batch\" array."}
	errMissingKey       = &apiError{http.StatusUnauthorized, "missing_write_key", "No write key: send it as Basic auth username, as writeKey in the body, or as writeKey query parameter."}
	errInvalidKey       = &apiError{http.StatusUnauthorized, "invalid_write_key", "The write key matches no source."}
	errSourceDisabled   = &apiError{http.StatusForbidden, "source_disabled", "The source of this write key is disabled."}
	errEncoding         = &apiError{http.StatusUnsupportedMediaType, "unsupported_encoding", "Only gzip and identity content encodings are supported."}
	errRateLimited      = &apiError{http.StatusTooManyRequests, "rate_limited", "Too many events for this source; retry after the number of seconds in Retry-After."}
	errUnavailable      = &apiError{http.StatusServiceUnavailable, "unavailable", "The events could not be stored right now; retry later."}
	errNotFound         = &apiError{http.StatusNotFound, "not_found", "No such route."}
	errMethodNotAllowed = &apiError{http.StatusMethodNotAllowed, "method_not_allowed", "This route does not accept this method."}
)

// retryAfterSeconds is the Retry-After of a 503.
const retryAfterSeconds = "5"

var (
	okBody          = []byte(`{"success":true}`)
	jsonContentType = []string{"application/json"}
	okLength        = []string{strconv.Itoa(len(okBody))}
)

func (h *Handler) writeOK(w http.ResponseWriter, rt *route) {
	hd := w.Header()
	hd["Content-Type"] = jsonContentType
	hd["Content-Length"] = okLength
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
	h.m.request(rt, http.StatusOK)
}

func (h *Handler) writeError(w http.ResponseWriter, rt *route, e *apiError) {
	b := make([]byte, 0, 64+len(e.msg))
	b = append(b, `{"success":false,"code":`...)
	b = appendString(b, e.code)
	b = append(b, `,"message":`...)
	b = appendString(b, e.msg)
	b = append(b, '}')
	hd := w.Header()
	hd["Content-Type"] = jsonContentType
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	if e.status == http.StatusServiceUnavailable {
		hd.Set("Retry-After", retryAfterSeconds)
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
	h.m.request(rt, e.status)
}

func (h *Handler) writeStatus(w http.ResponseWriter, rt *route, status int) {
	w.WriteHeader(status)
	h.m.request(rt, status)
}
