// Package customerio is the "customerio" destination: it delivers Segment
// messages to Customer.io's Track API v1 with the official client
// github.com/customerio/go-customerio/v3.
//
// One message becomes at most one request:
//
//	identify         PUT  /api/v1/customers/{person}          traits as attributes
//	track            POST /api/v1/customers/{person}/events   {name, id, timestamp, data}
//	anonymous track  POST /api/v1/events                      {name, id, timestamp, data, anonymous_id}
//	page, screen     as track, with "type":"page" / "screen"
//	alias            POST /api/v1/merge_customers             previousId merged into userId
//	group            PUT  /api/v1/customers/{person}          traits under a prefix (or skipped)
//
// The event id is a ULID derived from the message (see EventID), so a
// message delivered twice is one event in Customer.io. Customer.io's data
// limits are checked before anything is sent; a message over a limit
// fails permanently with an error naming the field and the limit.
//
// Send groups a batch by person ([router.Message.PartitionKey]), sends the
// people concurrently (up to the concurrency setting) and each person's
// messages in order; after a retryable failure the person's later messages
// are held back and reported as failed too, so per-person order holds.
// Outcomes are classified for dispatch as by every HTTP destination
// (package destinations/internal/httpdelivery): 2xx ok; 408, 429, every 5xx
// and network errors retryable (after Retry-After when given); other
// answers permanent, with a hint of what to check for 400, 401, 403 and
// 404. See README.md for the settings and the mapping.
package customerio
