// Package webhook is the "webhook" destination: it POSTs each batch of
// messages as one JSON document to a configured URL.
//
// The request body is
//
//	{"batch":[<message>, <message>, ...],"sentAt":"2024-05-01T12:00:00.000Z"}
//
// where each message is the normalised Segment message (router.Message.Body)
// verbatim, in the order dispatch delivers them, and sentAt is when the
// request was built (UTC, millisecond precision). The Content-Type is
// application/json; with gzip enabled the body is gzip-compressed and sent
// with Content-Encoding: gzip.
//
// The outcome is classified for dispatch, which retries, as every HTTP
// destination classifies it (package destinations/internal/httpdelivery):
// a 2xx answer is success; 408, 429 and every 5xx answer and network errors
// are retryable, after the delay of a Retry-After header (seconds or an
// HTTP date) when present; any other answer (other 4xx, 3xx since
// redirects are not followed, 1xx, codes outside 100-599) is permanent.
// See README.md for the settings.
package webhook
