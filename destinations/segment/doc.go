// Package segment is the "segment" destination: it forwards messages to
// the Segment Tracking API's /v1/batch (or to any Segment-compatible
// endpoint, such as another eventrouter), losslessly.
//
// # What Segment receives
//
// Each message is sent as eventrouter stored it (router.Message.Body,
// normalised Segment JSON), field by field and byte for byte: type,
// messageId, ids, event, name, category, groupId, previousId, traits,
// properties (an empty {} too), context (every key), integrations,
// originalTimestamp, channel, version, alias's anonymousId, a
// tracking-plan annotation in context.protocols and any top-level field
// Segment does not know. Numbers keep their digits (12345678901234567890,
// 1e3) and strings their characters.
//
// The exceptions are what Segment sets itself. receivedAt is not sent
// (Segment stamps its own). Segment takes a message's "timestamp" as its
// originalTimestamp and derives timestamp = receivedAt - (sentAt -
// originalTimestamp), so the destination sends "timestamp" =
// the stored originalTimestamp and "sentAt" = the time of the request
// minus the offset the stored timestamp has from originalTimestamp (the
// client's clock skew, as ingest measured it). Segment then records the
// stored originalTimestamp exactly, and derives the stored timestamp again,
// up to the skew between its clock and ours — also when the message is
// forwarded hours or days after it was accepted (an outage, a replay, a
// redrive). Forwarding the client's own sentAt instead would move every
// event's timestamp by the time it waited in the log. sentAt is by
// Segment's definition the device's clock when the request to Segment was
// made; this is that value. eventrouter's ingest notes (_ingest) stay
// behind. The request envelope is {"batch":[...],"sentAt":<now>} with no
// context, so a message without context.library arrives without one.
//
// Config.DisableIntegrations names are added to each message's
// integrations as false unless the message names them itself; set
// ["Customer.io"] when eventrouter also delivers to Customer.io, or Segment
// would deliver a second time.
//
// # Why not analytics-go
//
// Earlier versions sent through Segment's Go library,
// github.com/segmentio/analytics-go/v3. Its structs have no field for
// originalTimestamp, channel, version, alias's anonymousId, a page's
// category or unknown top-level fields, they omit empty traits and
// properties, and Enqueue refuses any other message type. So the
// destination builds the request itself, in analytics-go's shape (POST
// endpoint + "/v1/batch", Content-Type application/json, Basic auth with
// the write key as user name, no gzip, as analytics-go sends), and the
// tests keep analytics-go as the reference: the same messages sent by both
// arrive alike, the destination's carrying in addition exactly what
// analytics-go drops.
//
// # Requests
//
// A Send is split, in batch order, into requests of at most 250 messages
// (analytics-go's batch size) and 500000 bytes (analytics-go's limit, under
// Segment's 500 KB); a message whose JSON exceeds 32 KiB (Segment's limit
// per event, and eventrouter ingest's) fails permanently on its own, as it
// would make Segment refuse the whole request. Requests are sent one after
// the other, each exactly once: dispatch owns retries.
//
// # Classification
//
// Statuses are classified as by every HTTP destination (package
// destinations/internal/httpdelivery). 2xx is success. 408, 429, every 5xx,
// network errors and timeouts are retryable, after the Retry-After delay
// when the answer has one. 401 and 403 are permanent with a hint to check
// write_key; 3xx (redirects are not followed), 400, other 4xx, 1xx and
// codes outside 100-599 are permanent. The error quotes the status
// and the first 256 bytes of the answer. After a retryable failure, or
// 401/403, the rest of the batch is not sent but fails with the same
// error: a user's later message never overtakes an earlier one, and a
// Segment that is down or refuses the key is not asked again. After any
// other permanent failure (a request Segment refused for its content) the
// next request is still sent. A message that cannot be sent at all (not a
// JSON object, a field of the wrong JSON type, a field its type requires
// missing, a timestamp that does not parse, over 32 KiB) fails permanently
// on its own, before anything is sent: Segment would answer 200 and drop
// it. When every message failed alike Send returns that one error, else a
// *router.BatchError naming the failed messages. Segment deduplicates a
// resend by messageId.
package segment
