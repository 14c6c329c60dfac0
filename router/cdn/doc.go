// Package cdn serves what analytics.js loads from Segment's CDN, so that a
// site switches to eventrouter by changing only the host it loads
// analytics.js from: the classic snippet with its cdn.segment.com host
// replaced, or AnalyticsBrowser.load({writeKey, cdnURL}) in an npm-bundled
// application.
//
// # Routes
//
//   - GET /v1/projects/<writeKey>/settings: the source's settings, in the
//     shape of Segment's CDN (below). analytics.js fetches it first and
//     sends nothing until it has it.
//   - GET /analytics.js/v1/<writeKey>/analytics.min.js (also
//     analytics.js): analytics.js itself, the standalone build of the npm
//     package @segment/analytics-next (MIT) that the snippet loads, with
//     the write key written in as Segment's CDN does. The package's files
//     are vendored in analyticsjs/ with their licence and version
//     ([AnalyticsJSVersion]) and embedded in the binary.
//   - GET /analytics-next/bundles/<chunk>: the chunks the standalone build
//     loads on demand (their names carry a content hash; cached for good).
//   - GET /next-integrations/middleware/<name>/latest/<name>.js.gz: the
//     tracking-plan middleware named in the settings (below); <name> may
//     be base64-encoded, as analytics.js's obfuscate option asks for.
//   - POST /v1/m: analytics.js's own counters (delivery and error
//     metrics), accepted with 200 and discarded, so that they do not go
//     to Segment. Bodies over 64 KiB answer 413.
//
// An unknown write key, the key of a disabled source, and any other path
// under these prefixes answer what Segment's CDN answers: 404 with the
// text "Cannot GET - Invalid path or write key provided.". analytics.js
// then rejects load() with that message. A wrong method answers 405 with
// Allow. Every answer carries the CORS headers of ingest (the request's
// Origin reflected, with credentials), and OPTIONS answers a preflight
// with 204. JavaScript is served as text/javascript, gzip-encoded when the
// client accepts it, with an ETag (If-None-Match answers 304).
//
// # Settings
//
// integrations["Segment.io"] carries apiKey (the write key), apiHost and
// protocol, which tell analytics.js where to send events: the host and
// path of [Config.PublicURL] (http.public_url) followed by /v1, and its
// scheme. Without a public URL they come from the request: its Host
// header, and https when the request came over TLS; X-Forwarded-Host and
// X-Forwarded-Proto are believed only from [Config.TrustedProxies]. Such
// settings are marked Cache-Control private, since they echo the
// request's headers; with a public URL they are public for 60 seconds.
// Set http.public_url in production: a site's settings should not depend
// on how one browser reached the server. metrics.host is the same apiHost
// (sampleRate 0.1, as Segment sets it), so analytics.js's counters come
// here instead of going to Segment. analyticsNextEnabled is true; there
// are no device-mode integrations, remote plugins or routing rules.
//
// # The tracking plan in the browser
//
// The settings' plan block is derived from the tracking plan in force
// ([Config.Plan], read at each request, so a reload shows at once), for
// the source of the write key and with the source's enforcement overrides
// applied as ingest applies them: plan.track lists every event the plan
// defines as enabled, and its __default (every other event) is
// enabled: false when the source's track.unplanned_events is block, since
// ingest blocks those events whatever they carry. Violations depend on
// each message's content, which only the server checks, so no planned
// event is disabled; identify and group are always enabled. A source the
// plan does not apply to (plan.yaml's sources lists others) gets an
// all-enabled plan.
//
// analytics.js reads plan.track for its device-mode destinations only:
// it still sends a disabled event to Segment.io, marked
// {"All": false, "Segment.io": true}, for Segment's servers to block. So
// that blocked events are dropped before they leave the browser, the
// settings also name, in enabledMiddleware, a source middleware that
// analytics.js loads from this server (analytics.js's remote middleware,
// the mechanism Segment uses for its own middlewares): it applies the
// same plan.track with analytics.js's own rule (the event's enabled, else
// __default's) and does not pass a disabled event on, so analytics.js
// drops it, marks the call as not delivered, and sends nothing. Its name
// is eventrouter-tracking-plan-<hash of plan.track>, so a plan's
// middleware is cached for good and a changed plan gets a new one.
// Events that arrive anyway (another client, an old page) are still
// quarantined by ingest. There is no middleware when
// [Config.DropBlocked] is false (tracking_plan.drop_blocked_in_browser:
// false keeps every blocked event replayable from the quarantine) or when
// the source forwards blocked messages to another source
// (forward_blocked_to), which must receive them.
//
// # Metrics
//
// With [Config.Registerer] set: eventrouter_cdn_requests_total{route,code},
// route being settings, analytics.js, bundle, middleware, metrics or
// unknown.
package cdn
