package router

import (
	"errors"
	"log/slog"
	"math"
	"net/http"
	"time"
)

// SourceFactory builds sources of one type, as [Factory] builds
// destinations. Each source package under router/sources has a NewFactory
// function returning its SourceFactory; sources.Builtin lists them all,
// cmd/eventrouter adds them to the [Registry] it gives the config loader,
// and the loader looks a source block's "type" up there.
//
// A source block has the keys every source takes (type, disabled,
// enforcement), which the loader keeps, and the type's own keys, which it
// decodes strictly into the struct DefaultConfig returns and checks with
// its Validate method, if it implements [Validator]. The struct may also
// implement [SourcePather], [SourceSecreter], [WriteKeyer] and [KeyRefuser]
// so that the loader can check what involves several sources or the
// server: paths served twice or on the server's own routes, write keys used
// twice, development secrets on a public listener.
type SourceFactory interface {
	// Type is the value of "type" in the config that selects this factory;
	// it equals the source's package name.
	Type() string
	// DefaultConfig returns a pointer to a new config struct holding every
	// default.
	DefaultConfig() any
	// New builds a source from a config returned by DefaultConfig and
	// filled by the loader. It checks the config again (a source is never
	// built from an invalid one) and returns every problem at once.
	New(cfg any, set SourceSettings) (Source, error)
}

// SourceSettings are what a source factory gets besides its own config.
type SourceSettings struct {
	// Name is the source's name in the config (its key under "sources");
	// it becomes [Message].Source of everything the source produces.
	Name string
	// Logger is a logger already tagged with the source's name.
	Logger *slog.Logger
}

// Source is one configured source as ingest hosts it. Ingest serves, for
// every source, the webhook routes it mounts ([Source.Routes]); a source
// that also implements [TrackingAPISource] is served on the Segment
// Tracking API (/v1/...), authenticated by its write keys. What every source
// shares (body limits, gzip, the disabled switch, the tracking plan and its
// enforcement, storage, delivery dedupe, metrics, error answers) is
// ingest's; a source only says where it listens and what a request means.
type Source interface {
	// Routes returns the webhook routes the source mounts, nil for none.
	// Ingest calls it once, when it starts.
	Routes() []SourceRoute
}

// TrackingAPISource is a [Source] that clients of the Segment Tracking API
// send to (the official Segment libraries, analytics.js, pixels).
type TrackingAPISource interface {
	Source
	// WriteKeys returns the keys with which clients authenticate for this
	// source: at least one, none empty, each unique across all sources.
	WriteKeys() []string
	// RateLimit returns the source's limit on accepted events, shared by
	// all of its write keys.
	RateLimit() RateLimit
}

// RateLimit is a token bucket on the events a source accepts: every
// message counts, so a batch of 100 items takes 100 tokens.
type RateLimit struct {
	// EventsPerSecond is the rate at which the bucket refills; 0 means
	// unlimited.
	EventsPerSecond float64 `yaml:"events_per_second"`
	// Burst is the size of the bucket, the most events accepted at once
	// after a quiet period; 0 means one second's worth (EventsPerSecond
	// rounded up). It is ignored when EventsPerSecond is 0.
	Burst int `yaml:"burst"`
}

// SourceRoute is one URL path on which a source receives webhook
// deliveries: ingest serves POST on it, reads the body (gzip allowed, at
// most MaxBody bytes decoded), calls Webhook.Verify on the raw body, then,
// unless the source is disabled, Webhook.Convert, and stores the result:
//
//   - a [WebhookResult] with Unmapped set: the raw body is kept in the rejected
//     stream under that reason, answered 200;
//   - a WebhookResult whose Key the log remembers (within its delivery dedupe
//     window): nothing is stored, answered 200;
//   - else the messages pass the tracking plan and are stored, then Key is
//     remembered, answered 200;
//   - any storage error: 503, so that the sender retries.
type SourceRoute struct {
	// Path is the URL path, such as "/webhooks/growsurf": "/" followed by
	// segments, matched case-insensitively and ignoring one trailing
	// slash. It must be no other route's.
	Path string
	// MaxBody is the largest body accepted, in decoded bytes; 0 means
	// [DefaultWebhookMaxBody].
	MaxBody int
	// SignatureHeader names the header that carries the signature, for the
	// answers to unsigned or wrongly signed requests (default
	// "signature").
	SignatureHeader string
	// Webhook verifies and converts the deliveries.
	Webhook Webhook
}

// DefaultWebhookMaxBody is the body limit of a [SourceRoute] that sets
// none: 1 MiB decoded.
const DefaultWebhookMaxBody = 1 << 20

// Webhook turns the deliveries of one [SourceRoute] into messages. Ingest
// calls it from its request goroutines, so it must be safe for concurrent
// use; it must not keep body or header beyond a call.
type Webhook interface {
	// Verify checks the delivery's signature on the raw body, before
	// anything else is done with it. It returns nil for a valid signature,
	// and for every delivery when the source accepts unsigned ones (which
	// its config must say explicitly: a missing secret fails closed, at
	// load). Otherwise it returns an error wrapping
	// [ErrMissingSignature], [ErrStaleSignature] or [ErrBadSignature]:
	// ingest answers 401 and stores nothing.
	Verify(header http.Header, body []byte, now time.Time) error
	// Convert turns a verified delivery into messages, each a complete,
	// normalised [Message] of the source. A body that cannot be read at all
	// is an error wrapping [ErrMalformedBody] (answered 400, nothing
	// stored); any other error is the source's own failure, and ingest
	// keeps the raw body in the rejected stream with reason
	// "conversion_failed".
	Convert(header http.Header, body []byte, receivedAt time.Time) (WebhookResult, error)
}

// WebhookResult is what [Webhook.Convert] makes of one delivery.
type WebhookResult struct {
	// Key identifies the delivery for the log's delivery dedupe (the
	// sender's delivery id, else a hash of the body); empty: not deduped.
	Key string
	// Event is the delivery's kind as a metric label, from a bounded set
	// (the source maps unknown kinds to "other"); may be empty.
	Event string
	// Messages are the messages to store, in order; nil when Unmapped is
	// set.
	Messages []Message
	// Unmapped, when not empty, is the reason code under which the raw
	// body is kept in the rejected stream instead (nothing maps to a
	// message).
	Unmapped string
	// Detail explains Unmapped for people.
	Detail string
}

// Errors a [Webhook] wraps to say why it refuses a delivery.
var (
	// ErrMissingSignature means the delivery carries no signature.
	ErrMissingSignature = errors.New("missing signature")
	// ErrStaleSignature means the signature matches but its timestamp is
	// outside the accepted tolerance.
	ErrStaleSignature = errors.New("stale signature")
	// ErrBadSignature means the signature is malformed or does not match
	// the body and the secret.
	ErrBadSignature = errors.New("bad signature")
	// ErrMalformedBody means the body is not what the source reads (not
	// JSON, or not the sender's envelope).
	ErrMalformedBody = errors.New("malformed body")
)

// SourcePath is a URL path a source's config serves, with the key that sets
// it.
type SourcePath struct {
	// Key is the key path in the source's block ("path", "legacy_path").
	Key string
	// Path is the URL path.
	Path string
}

// SourcePather is implemented by the config of a source type that mounts
// webhook routes, so that the loader can check, with key paths, that no path
// is served twice or falls under the server's own routes.
type SourcePather interface {
	// SourcePaths returns the paths the source would serve; a path that is
	// empty or malformed is left out (Validate reports it).
	SourcePaths() []SourcePath
}

// SourceSecret is a secret held by a source's config.
type SourceSecret struct {
	// Key is the key path in the source's block ("secret",
	// "write_keys[0]").
	Key string
	// What names the secret in messages ("write key", "signing secret").
	What string
	// Env is the environment variable the shipped configs take it from.
	Env string
	// Value is the secret.
	Value string
}

// SourceSecreter is implemented by the config of a source type that holds
// secrets, so that the loader can refuse the shipped development values
// while the server listens on an address that is not a loopback address.
type SourceSecreter interface {
	// SourceSecrets returns the secrets that are set.
	SourceSecrets() []SourceSecret
}

// WriteKeyer is implemented by the config of a source type whose clients
// authenticate with write keys, so that the loader can check that no key is
// used by two sources.
type WriteKeyer interface {
	// SourceWriteKeys returns the write keys, in the order of the block.
	SourceWriteKeys() []string
}

// KeyRefuser is implemented by the config of a source type that explains
// why a key other source types take is not one of its own: the loader then
// reports "not allowed for source type <type> (<why>)" instead of "unknown
// key".
type KeyRefuser interface {
	// RefusedKey returns why key is not allowed, or false.
	RefusedKey(key string) (why string, ok bool)
}

// maxEventsPerSecond bounds RateLimit.EventsPerSecond and RateLimit.Burst,
// so that one second's worth fits an int everywhere.
const maxEventsPerSecond = 1e9

// Validate reports what is wrong with the limit, each problem naming its key
// ("events_per_second: must be between 0 and 1e9 (0 is unlimited)").
func (r RateLimit) Validate() error {
	var errs []error
	if eps := r.EventsPerSecond; math.IsNaN(eps) || eps < 0 || eps > maxEventsPerSecond {
		errs = append(errs, errors.New("events_per_second: must be between 0 and 1e9 (0 is unlimited)"))
	}
	if r.Burst < 0 || r.Burst > maxEventsPerSecond {
		errs = append(errs, errors.New("burst: must be between 0 and 1e9 (0 is one second's worth)"))
	}
	return errors.Join(errs...)
}

// EffectiveBurst returns the size of the bucket: Burst when set, else one
// second's worth of events, EventsPerSecond rounded up (0 when
// EventsPerSecond is not a positive number).
func (r RateLimit) EffectiveBurst() int {
	if r.Burst > 0 {
		return r.Burst
	}
	if !(r.EventsPerSecond > 0) {
		return 0
	}
	return int(math.Ceil(min(r.EventsPerSecond, maxEventsPerSecond)))
}
