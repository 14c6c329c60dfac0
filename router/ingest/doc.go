// Package ingest is eventrouter's Segment HTTP Tracking API: the [Handler] that accepts what the official
// Segment libraries, analytics.js, tracking pixels and hand-written clients
// send, authenticates it by write key against the configured sources,
// normalises every message to the Segment spec and stores it in a [Log]
// before it answers 200.
//
// # Routes
//
// POST/PUT /v1/identify|track|page|screen|group|alias (one message, the route
// decides its type), POST/PUT /v1/batch and /v1/import (a batch envelope),
// the analytics.js short paths /v1/i|t|p|s|g|a (also GET with a base64
// "data" query parameter and an optional JSONP "callback") and /v1/b (a
// batch), GET /v1/pixel/<type> (always answered with a 1×1 GIF), POST
// /beacon/v1/batch, OPTIONS on all of them (CORS preflight), and GET
// /internal/health and /health (liveness, 200 with an empty body). Paths
// match case-insensitively and ignoring one trailing slash. Anything else is
// 404 not_found; a known path with a wrong method is 405
// method_not_allowed.
//
// # Sources and their webhooks
//
// Ingest hosts sources built by their factories ([Hosted], a router.Source
// each; package sources lists the types) without knowing any type: a
// source that is a router.TrackingAPISource is served on the routes above
// for its write keys, like a [Source]; every route a source mounts
// (router.SourceRoute) is served on its own path, matched like the routes
// above. What the sources share is ingest's; a source only says where it
// listens and what a delivery means. On a source's route only POST is
// allowed (405 otherwise, Allow: POST); the body may be up to the route's
// MaxBody decoded (1 MiB by default; gzip is accepted, the signature is
// then over the decoded bytes). In order:
//
//   - the route's Webhook.Verify checks the signature on the raw body (a
//     source without a secret is a configuration error of its type unless
//     it allows unsigned deliveries explicitly): 401 missing_signature,
//     invalid_signature (malformed or not matching) or stale_signature
//     (timestamp outside the tolerance), and nothing stored;
//   - a Disabled source answers 403 source_disabled, storing nothing;
//   - Webhook.Convert turns the body into messages; a body the source
//     cannot read (router.ErrMalformedBody) answers 400 invalid_json,
//     storing nothing;
//   - a delivery that maps to no message answers 200 and is kept raw with
//     [Log.Reject], reason = the source's reason code, so that it can be
//     loaded or replayed;
//   - a delivery whose key [Log.Seen] knows answers 200 and stores nothing
//     (senders such as GrowSurf retry for days);
//   - otherwise the messages pass the tracking plan and are stored with
//     [Log.Append], then the delivery key with [Log.Remember], and the
//     answer is 200 {"success":true}. A converted message over the nesting
//     or number limits (see Limits) is rejected with its reason instead,
//     the others stored. A crash between the two only lets a redelivery
//     be stored again, and the log drops its repeated messageIds.
//
// Any storage error answers 503 unavailable, which the sender retries.
//
// # Answers
//
// Success is exactly 200 with Content-Type application/json and the body
// {"success":true}. Every other answer has a JSON body
// {"success":false,"code":"<code>","message":"<text>"} with the status of
// Segment's API: 400 invalid_json, malformed_gzip,
// payload_too_large (the limits apply to the decoded body), invalid_batch;
// 401 missing_write_key, invalid_write_key; 403 source_disabled; 415
// unsupported_encoding; 404; 405; 429 rate_limited (see Rate limits); and
// 503 unavailable (with Retry-After) when the log cannot store. 200 is sent
// only after [Log.Append] and [Log.Reject] returned without error for every
// message of the request.
//
// Messages that are well-formed at request level but invalid on their own
// (no userId/anonymousId, a track without event, a batch item over 32 KiB,
// the 2 501st item of a batch, ...) are answered 200 and handed to
// [Log.Reject] with a reason code, after the batch envelope
// merge (or as sent, see Limits). The same holds for failed pixel requests
// with a valid write key (reason = the error code); without one, and for
// an unknown write key under [Config.UnknownKey] "accept" (reason
// unknown_source), see Unauthenticated requests. Besides Segment's codes,
// ingest rejects a message whose context or integrations is present
// but not an object (context_not_object, integrations_not_object), since
// neither can then be merged or enriched; a JSON null counts as absent for
// context, integrations, properties, traits, name, category, timestamp and
// sentAt.
//
// # Limits
//
// Every limit holds for the messages as stored — after the batch
// envelope's merge, normalisation, ingest notes and tracking-plan
// annotations — not only for what arrived, so that a request can never
// store much more than it sent (limits.go):
//
//   - the body: 32 KiB decoded for single messages, 500 KiB for batches,
//     a source route's MaxBody for its webhooks, 1 MiB by default (400
//     payload_too_large);
//   - an item as sent: 32 KiB (message_too_large); a batch's 2 501st item
//     and later ones: batch_too_many_events, all of them in one rejected
//     entry whose body is a JSON array of them as sent (a single one is
//     kept like any rejected item), and counted one by one in the metrics
//     and the rate limit; an entry each would store a few hundred bytes of
//     record per item of two bytes ("0,"), and they earn no share of the
//     request's budget;
//   - an item with the batch envelope: its own size plus the whole size of
//     the envelope's context and integrations (and its sentAt when that is
//     unparseable, since it is then copied into every item's notes) must be
//     at most 32 KiB (message_too_large); the envelope counts whole, so the
//     check needs no merge, and nothing too large is ever built;
//   - a message as stored: 36 KiB, the room above 32 KiB being for the
//     fields ingest sets and for annotations (message_too_large);
//   - a request: the bodies it stores (accepted, rejected after the merge,
//     quarantined, copies for forward_blocked_to) add up to at most 4 × its
//     decoded size + 512 bytes per item (of the first 2,500), + 256 bytes
//     per tracking-plan violation of a message (at most 20 per message: the
//     room for its annotation in context.protocols or the quarantine's
//     list); the items past that are rejected with request_too_large (the
//     512 bytes cover what ingest adds to a message itself, so legitimate
//     batches never reach it);
//   - Violation Generated events (forward_violations_to): a pool of their
//     own per request, 4 × its decoded size + 2 KiB; those that do not fit
//     are not stored and are counted in
//     eventrouter_tracking_plan_forwards_dropped_total{source}, while the
//     message they derive from is stored with its annotations: a message is
//     never refused for its forwarded violations (each of which is some 700
//     bytes, so that 20 unplanned properties of 6 bytes each would
//     otherwise store 14 KB for 120 sent);
//   - nesting: at most 64 levels, the message object being level 1
//     (nesting_too_deep); numbers: finite IEEE 754 doubles, so not 1e400
//     nor a 400-digit integer (number_not_finite). The request parser still
//     takes encoding/json's 10,000 levels, so that such an item is rejected
//     alone and the rest of its batch accepted.
//
// An item rejected for one of these limits is kept as sent, without the
// batch envelope (its writeKey and _metadata removed), so what it stores is
// part of the decoded size; an item over the nesting or number limits, for
// whatever reason it is rejected, is kept as a JSON string of its text,
// which any reader can decode. Each rejected entry is one message of the
// log, which NATS refuses over its max_payload (1 MiB by default): a body
// over 768 KiB (a webhook delivery near its 1 MiB limit, text that grew
// when escaped) is cut to a JSON string of its beginning, and its detail
// says so, rather than make the request fail with 503 on every retry.
// StrictBatchItemSize answers 400 for an item over 32 KiB as sent instead.
//
// # Unauthenticated requests
//
// Nothing without a valid write key reaches the log: a pixel request
// without a key, with an unknown one or with an undecodable body and no
// valid ?writeKey=, and any request with an unknown key under
// UnknownKeyAccept, are answered as usual (the GIF, or 200) but stored
// nowhere except, at most [Config.SampleRate] requests per second
// ([Config.SampleBurst] at once), one entry each in the [Sampler], bodies
// cut at [SampleBodyLimit]. *eventlog.Log keeps the sample in a stream of its
// own whose size cap drops its oldest entries, and a failing sample is only
// counted: the sample can never make ingest answer 503. Every such item is
// counted in eventrouter_ingest_unauthenticated_total{route,reason}, and
// the warning about them is logged at most once every 10 seconds, with the
// number held back since the previous one, like every per-request warning
// of ingest (failed stores, pixels not stored).
//
// # Rate limits
//
// A source with [Source.RateLimit] > 0 has one token bucket
// (golang.org/x/time/rate), shared by all its write keys, that refills at
// RateLimit events per second and holds at most [Source.Burst] events.
// Events are counted, not requests: after authentication and decoding, a
// request takes one token per message it carries (a /v1/batch of 100 items
// takes 100; items rejected at event level count too, since they are
// stored as well; an empty batch takes none), capped at Burst, so that a
// batch larger than the bucket is still admitted when the bucket is full.
// When the bucket holds too few tokens the request is answered 429 with
// code rate_limited, Retry-After and X-RateLimit-Reset both set to the
// whole number of seconds (at least 1) until it will hold enough —
// X-RateLimit-Reset is a number of seconds, not a timestamp —
// and the CORS headers of every /v1 answer. Nothing of a refused request is
// stored and it takes no tokens: the client keeps the events and retries
// them, which every official Segment library does on 429. A
// request admitted by the limiter whose storing then fails (503) has used
// its tokens.
//
// The limit applies to every route that carries events and answers with a
// status, including the GET (JSONP) form of the short routes, which answers
// its other errors with their status too. It does not apply to pixel routes
// (/v1/pixel/*): they always answer 200 with a GIF, so a pixel
// request cannot be told to come back, and limiting it would lose the
// event; pixel traffic (one event per image load) is stored whatever the
// source's limit. Requests with an unknown write key accepted under
// [UnknownKeyAccept] belong to no source and are not limited either.
//
// # The stored message
//
// [router.Message.Body] is the normalised message as a JSON object with
// sorted keys: the client's fields (unknown ones included) with the batch
// envelope's context and integrations deep-merged in (the item wins),
// writeKey and _metadata removed, type set, messageId generated ("api-" +
// UUIDv4) when absent, userId/anonymousId/groupId/previousId coerced to
// trimmed strings (numbers to their decimal form), context.protocols removed
// (it is reserved for tracking-plan annotations), context.ip set from the
// client address on browser routes or when context.direct is true, channel
// ("server" or "browser"), version 2, and receivedAt, sentAt (only if the
// client sent one), originalTimestamp and the skew-corrected timestamp of
// Segment's rules, all in [router.TimeLayout].
//
// Ingest notes go into the top-level key "_ingest", which eventrouter
// reserves (a client-supplied "_ingest" is dropped): it is present only when
// there is something to note, as {"notes":[{"code":..., "field":...,
// "value":...}]}, where value is the client's original, unusable value.
// Codes: timestamp_unparseable (the client's timestamp could not be parsed;
// it is treated as absent) and sent_at_unparseable (likewise for sentAt).
// Keeping notes out of context keeps them out of the Segment fields that
// destinations and warehouse columns read.
//
// # Metrics
//
// With [Config.Registerer] set: eventrouter_http_requests_total{route,code}
// (route is the canonical path, "unknown" for 404s),
// eventrouter_events_accepted_total{source},
// eventrouter_events_duplicate_total{source},
// eventrouter_events_rejected_total{reason},
// eventrouter_empty_batches_total,
// eventrouter_events_timestamp_in_future_total (corrected timestamp more
// than a minute after receivedAt; such timestamps are kept, not clamped),
// eventrouter_ingest_rate_limited_total{source} (requests answered 429),
// eventrouter_ingest_store_duration_seconds (Log.Append latency),
// eventrouter_ingest_unauthenticated_total{route,reason} and
// eventrouter_ingest_sample_total{outcome} (stored, dropped over the rate,
// failed, off; see Unauthenticated requests) and
// eventrouter_<type>_webhooks_total{source,event,outcome} for each type of
// the sources that mount routes, such as eventrouter_growsurf_webhooks_total
// (deliveries; event is the label the source gives, such as GrowSurf's
// event type, "other" for an unknown one, empty when the body was not
// read; outcome is accepted, duplicate, unmapped or the error code
// answered).
//
// # Decoding
//
// Numbers keep their exact text; invalid UTF-8 in strings becomes U+FFFD;
// for a duplicate key the last one wins. The request decoder (json.go) is a
// single-pass parser equivalent to encoding/json with UseNumber, checked
// against it by FuzzParse.
package ingest
