package webhook

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// Settings configure one webhook source: where it listens, how its
// deliveries are signed, what identifies a delivery, and the rules that
// turn a body into Segment messages. The YAML keys are those of a source of
// type webhook (`sources.<name>` in the config file). Expressions are
// strings in the language described in the package documentation; they
// are compiled by [Compile] (and so checked by [Settings.Validate]).
type Settings struct {
	// Path is the URL path the source is served on (key "path"), e.g.
	// "/webhooks/rewardful". Required; it starts with "/".
	Path string `yaml:"path"`
	// Signature says how deliveries are signed (key "signature"). Absent
	// means unsigned, which AllowUnsigned must then say explicitly.
	Signature *Signature `yaml:"signature"`
	// AllowUnsigned accepts deliveries without checking any signature
	// (key "allow_unsigned", default false): anyone who knows the path can
	// then store events. It must be true when Signature is absent and false
	// when it is present.
	AllowUnsigned bool `yaml:"allow_unsigned"`
	// DeliveryID is an expression giving the sender's id of a delivery
	// (key "delivery_id", e.g. "body.event.id" or `headers["svix-id"]`),
	// remembered for the delivery dedupe and the base of default
	// messageIds. Empty, or an expression that yields null, means the
	// SHA-256 of the raw body, which recognises byte-identical retries.
	DeliveryID string `yaml:"delivery_id"`
	// Vars are named expressions evaluated once per delivery, in order,
	// before the rules (key "vars"); expressions read them as vars.<name>,
	// and each may use the ones before it. They keep long mappings short.
	Vars []Var `yaml:"vars"`
	// Integration is the name written to context.integration.name of every
	// message (key "integration", default the source's name).
	Integration string `yaml:"integration"`
	// Rules are tried in order; the first whose When is true decides what
	// the delivery becomes (key "rules", at least one).
	Rules []Rule `yaml:"rules"`
}

// Var is one named expression of [Settings.Vars].
type Var struct {
	// Name is how expressions refer to it: vars.<name> (key "name",
	// letters, digits and '_').
	Name string `yaml:"name"`
	// Value is the expression (key "value").
	Value string `yaml:"value"`
}

// Rule is one case of a webhook source: a condition and what a delivery
// meeting it becomes, either messages (Emit) or a rejection (Reject).
type Rule struct {
	// Name identifies the rule in results, metrics and default messageIds
	// (key "name", default "rules[<index>]"). Naming rules keeps the
	// messageIds of redeliveries stable when rules are reordered.
	Name string `yaml:"name"`
	// When is a boolean expression (key "when"); empty means always, which
	// makes the rule a catch-all. A null result counts as false.
	When string `yaml:"when"`
	// DeliveryID overrides the source's delivery_id for deliveries this
	// rule matches (key "delivery_id", optional).
	DeliveryID string `yaml:"delivery_id"`
	// Emit lists the messages the rule produces, in order (key "emit").
	Emit []Emit `yaml:"emit"`
	// Reject, instead of Emit, keeps the delivery in the rejected stream
	// with this reason code (key "reject", lower-case letters, digits and
	// "_"), like an event the source knows but does not map.
	Reject string `yaml:"reject"`
	// Detail is an expression giving the human explanation of Reject (key
	// "detail", optional).
	Detail string `yaml:"detail"`
}

// Emit describes one Segment message. Type is a literal; every other field
// is an expression. The keys are the Segment field names (camelCase), so
// that a rule reads like the message it makes.
type Emit struct {
	// When skips this message when false or null (key "when", optional).
	When string `yaml:"when"`
	// Type is the Segment type: identify, track, page, screen, group or
	// alias (key "type", required).
	Type string `yaml:"type"`
	// MessageID is the messageId (key "messageId", optional; by default
	// "<delivery id>:<rule name>:<emit index>", see the package docs).
	MessageID string `yaml:"messageId"`
	// UserID and AnonymousID are the identities (keys "userId",
	// "anonymousId"); strings are trimmed, numbers become their decimal
	// form, and at least one must be non-empty (userId for alias).
	UserID      string `yaml:"userId"`
	AnonymousID string `yaml:"anonymousId"`
	// Event is the track event name (key "event", required for track).
	Event string `yaml:"event"`
	// Name and Category are a page's or screen's (keys "name",
	// "category").
	Name     string `yaml:"name"`
	Category string `yaml:"category"`
	// GroupID is a group's id (key "groupId", required for group).
	GroupID string `yaml:"groupId"`
	// PreviousID is an alias's previous id (key "previousId", required for
	// alias).
	PreviousID string `yaml:"previousId"`
	// Timestamp is when the event happened (key "timestamp"): a time (from
	// unix(), unix_ms(), parse_time()) or an RFC 3339 string. Null means
	// the time the delivery was received.
	Timestamp string `yaml:"timestamp"`
	// Traits (identify, group), Properties (track, page, screen), Context
	// and Integrations are either one expression giving an object, or a
	// YAML mapping whose values are expressions (nested mappings and
	// lists allowed); a key whose expression yields null is left out.
	Traits       any `yaml:"traits"`
	Properties   any `yaml:"properties"`
	Context      any `yaml:"context"`
	Integrations any `yaml:"integrations"`
}

// Signature says how a sender signs its deliveries. The schemes:
//
//   - "body" (default): Header holds the HMAC of the raw body, encoded
//     with Encoding after an optional Prefix (Rewardful:
//     X-Rewardful-Signature, hex; GitHub: X-Hub-Signature-256 with prefix
//     "sha256=").
//   - "ts.body": Header holds comma-separated "key=value" parts, a
//     timestamp under TimestampKey and one or more signatures under
//     SignatureKey; the HMAC covers "<timestamp>.<raw body>" (Stripe:
//     Stripe-Signature, t and v1, seconds; GrowSurf: GrowSurf-Signature, ts
//     and v, milliseconds).
//   - "standard-webhooks": the Standard Webhooks scheme that Svix sends
//     (and so Tolt): headers webhook-id, webhook-timestamp and
//     webhook-signature (or their svix- forms); the signature header holds
//     space-separated "v1,<base64>" values of the HMAC-SHA256 of
//     "<id>.<timestamp>.<raw body>", keyed with the base64 secret after
//     its "whsec_" prefix. Header, Algorithm, Encoding, Prefix and the
//     keys are fixed by the scheme and must be left out.
//
// Algorithm "token" is not an HMAC: Header must equal Secret (for senders
// that can only add a fixed header, such as a bearer token).
type Signature struct {
	// Scheme is "body" (default), "ts.body" or "standard-webhooks" (key
	// "scheme").
	Scheme string `yaml:"scheme"`
	// Header is the request header carrying the signature (key "header";
	// required but for standard-webhooks).
	Header string `yaml:"header"`
	// Algorithm is "hmac-sha256" (default), "hmac-sha1" or "token" (key
	// "algorithm").
	Algorithm string `yaml:"algorithm"`
	// Encoding is how the digest is written: "hex" (default) or "base64"
	// (key "encoding").
	Encoding string `yaml:"encoding"`
	// Prefix is removed from the header value before decoding (key
	// "prefix", e.g. "sha256="); body scheme only.
	Prefix string `yaml:"prefix"`
	// Secret is the signing secret (key "secret", required; take it from
	// the environment; never printed).
	Secret string `yaml:"secret"`
	// TimestampKey and SignatureKey name the header's parts in the ts.body
	// scheme (keys "timestamp_key", default "t", and "signature_key",
	// default "v1").
	TimestampKey string `yaml:"timestamp_key"`
	SignatureKey string `yaml:"signature_key"`
	// TimestampUnit is the unit of the ts.body timestamp: "s" (default) or
	// "ms" (key "timestamp_unit").
	TimestampUnit string `yaml:"timestamp_unit"`
	// Tolerance is how far a signed timestamp may lie from now, before or
	// after (key "tolerance", default 5m; ts.body and standard-webhooks
	// only). A sender that retries for days with the first attempt's
	// timestamp (GrowSurf) needs days; replays inside the window are
	// absorbed by the delivery dedupe.
	Tolerance time.Duration `yaml:"tolerance"`
}

// The signature schemes, algorithms and encodings of [Signature].
const (
	SchemeBody             = "body"
	SchemeTimestampBody    = "ts.body"
	SchemeStandardWebhooks = "standard-webhooks"

	AlgorithmHMACSHA256 = "hmac-sha256"
	AlgorithmHMACSHA1   = "hmac-sha1"
	AlgorithmToken      = "token"

	EncodingHex    = "hex"
	EncodingBase64 = "base64"
)

// DefaultTolerance is the default [Signature.Tolerance]: 5 minutes, as
// Stripe and Standard Webhooks use.
const DefaultTolerance = 5 * time.Minute

// Validate reports every problem of s at once, as [Compile] does: each an
// error naming its key path relative to the source, such as
// "rules[0].emit[1].properties.amount: ...".
func (s Settings) Validate() error {
	_, err := Compile("webhook", s)
	return err
}

// validateSettings checks everything but the expressions.
func (s Settings) validateSettings() []error {
	var errs []error
	switch {
	case s.Path == "":
		errs = append(errs, fieldErr("path", "required"))
	case !strings.HasPrefix(s.Path, "/"):
		errs = append(errs, fieldErr("path", "must start with \"/\", not %q", s.Path))
	}
	if s.Signature == nil && !s.AllowUnsigned {
		errs = append(errs, fieldErr("signature", "required unless allow_unsigned is true (anyone who knows the path could store events)"))
	}
	if s.Signature != nil {
		if s.AllowUnsigned {
			errs = append(errs, fieldErr("allow_unsigned", "must not be true when signature is set"))
		}
		errs = append(errs, s.Signature.validate()...)
	}
	if len(s.Rules) == 0 {
		errs = append(errs, fieldErr("rules", "at least one rule is required"))
	}
	vars := map[string]bool{}
	for i, v := range s.Vars {
		p := fmt.Sprintf("vars[%d]", i)
		switch {
		case !validVar(v.Name):
			errs = append(errs, fieldErr(p+".name", "must be letters, digits and '_', not starting with a digit, not %q", v.Name))
		case vars[v.Name]:
			errs = append(errs, fieldErr(p+".name", "%q is defined twice", v.Name))
		}
		vars[v.Name] = true
		if strings.TrimSpace(v.Value) == "" {
			errs = append(errs, fieldErr(p+".value", "required"))
		}
	}
	names := map[string]int{}
	for i, r := range s.Rules {
		p := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			if !validName(r.Name) {
				errs = append(errs, fieldErr(p+".name", "must be letters, digits, '_', '-' or '.', not %q", r.Name))
			}
			if j, dup := names[r.Name]; dup {
				errs = append(errs, fieldErr(p+".name", "%q is already the name of rules[%d]", r.Name, j))
			}
			names[r.Name] = i
		}
		switch {
		case r.Reject != "" && len(r.Emit) > 0:
			errs = append(errs, fieldErr(p, "a rule either emits or rejects, not both"))
		case r.Reject == "" && len(r.Emit) == 0:
			errs = append(errs, fieldErr(p, "a rule needs emit (messages) or reject (a reason code)"))
		case r.Reject != "" && !validReason(r.Reject):
			errs = append(errs, fieldErr(p+".reject", "a reason code is lower-case letters, digits and '_', not %q", r.Reject))
		}
		if r.Detail != "" && r.Reject == "" {
			errs = append(errs, fieldErr(p+".detail", "only a rule that rejects has a detail"))
		}
		if r.When == "" && i < len(s.Rules)-1 {
			errs = append(errs, fieldErr(p+".when", "a rule without when matches everything, so the rules after it would never run"))
		}
	}
	return errs
}

func (g *Signature) validate() []error {
	var errs []error
	p := "signature."
	scheme := g.scheme()
	switch scheme {
	case SchemeBody, SchemeTimestampBody:
		if strings.TrimSpace(g.Header) == "" {
			errs = append(errs, fieldErr(p+"header", "required"))
		}
	case SchemeStandardWebhooks:
		for k, v := range map[string]string{"header": g.Header, "algorithm": g.Algorithm, "encoding": g.Encoding, "prefix": g.Prefix,
			"timestamp_key": g.TimestampKey, "signature_key": g.SignatureKey, "timestamp_unit": g.TimestampUnit} {
			if v != "" {
				errs = append(errs, fieldErr(p+k, "is fixed by the standard-webhooks scheme; leave it out"))
			}
		}
		if _, err := standardKey(g.Secret); g.Secret != "" && err != nil {
			errs = append(errs, fieldErr(p+"secret", "%v", err))
		}
	default:
		errs = append(errs, fieldErr(p+"scheme", "must be one of body, ts.body, standard-webhooks, not %q", g.Scheme))
	}
	switch g.Algorithm {
	case "", AlgorithmHMACSHA256, AlgorithmHMACSHA1:
	case AlgorithmToken:
		if scheme != SchemeBody {
			errs = append(errs, fieldErr(p+"algorithm", "token works with the body scheme only"))
		}
		if g.Encoding != "" {
			errs = append(errs, fieldErr(p+"encoding", "a token is compared as sent; leave encoding out"))
		}
	default:
		errs = append(errs, fieldErr(p+"algorithm", "must be one of hmac-sha256, hmac-sha1, token, not %q", g.Algorithm))
	}
	switch g.Encoding {
	case "", EncodingHex, EncodingBase64:
	default:
		errs = append(errs, fieldErr(p+"encoding", "must be hex or base64, not %q", g.Encoding))
	}
	if scheme != SchemeTimestampBody {
		for k, v := range map[string]string{"timestamp_key": g.TimestampKey, "signature_key": g.SignatureKey, "timestamp_unit": g.TimestampUnit} {
			if v != "" && scheme != SchemeStandardWebhooks {
				errs = append(errs, fieldErr(p+k, "only the ts.body scheme has it"))
			}
		}
	}
	if g.Prefix != "" && scheme != SchemeBody {
		errs = append(errs, fieldErr(p+"prefix", "only the body scheme has it"))
	}
	switch g.TimestampUnit {
	case "", "s", "ms":
	default:
		errs = append(errs, fieldErr(p+"timestamp_unit", "must be s or ms, not %q", g.TimestampUnit))
	}
	if g.Tolerance < 0 {
		errs = append(errs, fieldErr(p+"tolerance", "must not be negative"))
	}
	if g.Tolerance != 0 && scheme == SchemeBody {
		errs = append(errs, fieldErr(p+"tolerance", "the body scheme signs no timestamp"))
	}
	if g.Secret == "" {
		errs = append(errs, fieldErr(p+"secret", "required (an unset ${VAR} included); set allow_unsigned instead of signature to accept unsigned requests"))
	}
	return errs
}

func (g *Signature) scheme() string {
	if g.Scheme == "" {
		return SchemeBody
	}
	return g.Scheme
}

// FieldError is one problem of a source's settings, at a key path relative
// to the source (e.g. "rules[0].emit[1].properties.amount"), so that the
// config loader can prefix "sources.<name>." and find the line. It is the
// router's [router.KeyError], which the loader recognises.
type FieldError = router.KeyError

func fieldErr(path, format string, args ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// FieldErrors returns the FieldErrors joined in err (as [Compile] and
// [Settings.Validate] return them), in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if fe, ok := e.(*FieldError); ok {
			out = append(out, fe)
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		walk(errors.Unwrap(e))
	}
	walk(err)
	return out
}

func validName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return s != ""
}

func validReason(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

func validVar(s string) bool {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
