// Package segment is the "segment" destination: it sends messages to the
// Segment Tracking API (or any Segment-compatible endpoint, such as another
// eventrouter) with Segment's official Go client,
// github.com/segmentio/analytics-go/v3.
//
// # What Segment receives
//
// Each stored message (router.Message.Body, normalised Segment JSON) is
// decoded into the analytics-go struct of its type (Identify, Track, Page,
// Screen, Group, Alias) with its messageId, userId, anonymousId, timestamp,
// context, integrations and traits or properties. Numbers are kept as
// json.Number, so they are re-encoded exactly as stored. The whole context
// goes into analytics.Context.Extra rather than the typed fields: those would
// change or lose data (ScreenInfo.Density is an int while devices send 2.75,
// DeviceInfo has no adTrackingEnabled or token, CampaignInfo drops custom
// utm keys, IP must parse as an address, omitempty drops explicit false and
// 0). Extra is encoded at the top level of the context, so the context
// arrives as stored. analytics-go adds its envelope context
// {"library":{"name":"analytics-go","version":"3.0.0"}}, which Segment
// merges under the message's own context (the message wins).
//
// Timestamps: analytics-go sends the message's "timestamp" (the event time
// ingest already corrected for client clock skew) and the request's
// "sentAt" (now), so Segment records originalTimestamp = our timestamp and
// recomputes timestamp = receivedAt - (sentAt - originalTimestamp), which is
// our timestamp again up to the skew between our clock and Segment's.
//
// Not sent, because analytics-go's structs have no field for them: the
// stored originalTimestamp, sentAt and receivedAt (Segment sets its own),
// channel, version, ingest notes and unknown top-level fields; alias's
// anonymousId; empty traits or properties objects ({} is omitted). A page's
// or screen's top-level category is sent as properties.category (where
// analytics.js also puts it) unless the properties already have one.
//
// Config.DisableIntegrations names are added to each message's integrations
// as false unless the message names them itself; set ["Customer.io"] when
// eventrouter also delivers to Customer.io, or Segment would deliver a second
// time.
//
// # One attempt per Send
//
// Dispatch owns retries, but analytics-go retries a failing request 10 times
// with backoff and has no setting to stop that. Each Send therefore uses a
// client of its own whose retry delay is longer than any Send: it enqueues
// the batch, closes the client, and Close flushes, sends, and drops a failed
// request at once, reporting Failure for its messages (analytics-go drops a
// failing batch when closed). So every request is made exactly once, and
// Send returns when every message got Success or Failure. A message is
// delivered only on Success.
//
// analytics-go splits a batch into requests of at most 250 messages and
// 500 KB, sent concurrently; with dispatch's default batch_size (100) a Send
// is one request.
//
// # Classification
//
// 2xx is success. 408, 429, 5xx, network errors and timeouts are retryable,
// after the Retry-After delay when the answer has one. 401 and 403 are
// permanent with a hint to check write_key; 3xx (redirects are not
// followed), 400 and other 4xx are permanent. The error quotes the status
// and the first 256 bytes of the answer. A message that cannot be converted
// (not a JSON object, a field of the wrong JSON type, a missing field
// analytics-go requires) or whose JSON exceeds analytics-go's 32000 bytes
// fails permanently on its own. After a retryable failure of a user's
// message, that user's later messages in the batch are reported as failed
// (retryable) too, even if Segment accepted them, to keep per-user order;
// Segment deduplicates the resend by messageId.
package segment
