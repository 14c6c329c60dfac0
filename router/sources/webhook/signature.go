package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The errors of [Source.Verify]; ingest answers 401 to all of them.
var (
	// ErrMissingSignature means the request lacks the signature header (or,
	// for standard-webhooks, one of its three headers).
	ErrMissingSignature = errors.New("missing webhook signature")
	// ErrMalformedSignature means the header cannot be read in the
	// configured scheme and encoding.
	ErrMalformedSignature = errors.New("malformed webhook signature")
	// ErrBadSignature means no signature in the request matches the body
	// and the secret.
	ErrBadSignature = errors.New("bad webhook signature")
	// ErrStaleSignature means the signature matches but its timestamp is
	// outside the tolerance.
	ErrStaleSignature = errors.New("stale webhook signature")
)

// verifier is a compiled [Signature].
type verifier struct {
	scheme, header, prefix string
	newHash                func() hash.Hash
	token                  bool
	base64                 bool
	secret                 []byte
	tsKey, sigKey          string
	unit                   time.Duration
	tolerance              time.Duration
}

func newVerifier(g *Signature) *verifier {
	v := &verifier{
		scheme:    g.scheme(),
		header:    g.Header,
		prefix:    g.Prefix,
		newHash:   sha256.New,
		token:     g.Algorithm == AlgorithmToken,
		base64:    g.Encoding == EncodingBase64,
		secret:    []byte(g.Secret),
		tsKey:     g.TimestampKey,
		sigKey:    g.SignatureKey,
		unit:      time.Second,
		tolerance: g.Tolerance,
	}
	if g.Algorithm == AlgorithmHMACSHA1 {
		v.newHash = sha1.New
	}
	if v.tsKey == "" {
		v.tsKey = "t"
	}
	if v.sigKey == "" {
		v.sigKey = "v1"
	}
	if g.TimestampUnit == "ms" {
		v.unit = time.Millisecond
	}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.scheme == SchemeStandardWebhooks {
		v.secret, _ = standardKey(g.Secret)
		v.base64 = true
	}
	return v
}

// standardKey decodes a Standard Webhooks secret: base64 after an
// optional "whsec_" prefix.
func standardKey(secret string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(k) == 0 {
		return nil, errors.New(`a standard-webhooks secret is "whsec_" followed by base64`)
	}
	return k, nil
}

// Verify checks a delivery's signature on its raw body, before anything
// is parsed, comparing in constant time; the timestamp (ts.body and
// standard-webhooks) is checked after the signature, so that
// [ErrStaleSignature] always concerns a genuine delivery. It returns nil
// for a source without a signature (allow_unsigned).
func (s *Source) Verify(h http.Header, body []byte, now time.Time) error {
	if s.sig == nil {
		return nil
	}
	return s.sig.verify(h, body, now)
}

func (v *verifier) verify(h http.Header, body []byte, now time.Time) error {
	switch v.scheme {
	case SchemeTimestampBody:
		return v.verifyTimestamped(h, body, now)
	case SchemeStandardWebhooks:
		return v.verifyStandard(h, body, now)
	}
	val := strings.TrimSpace(h.Get(v.header))
	if val == "" {
		return ErrMissingSignature
	}
	if v.token {
		a, b := sha256.Sum256([]byte(val)), sha256.Sum256(v.secret)
		if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
			return ErrBadSignature
		}
		return nil
	}
	if v.prefix != "" {
		rest, ok := strings.CutPrefix(val, v.prefix)
		if !ok {
			return fmt.Errorf("reading header %s: no prefix %q: %w", v.header, v.prefix, ErrMalformedSignature)
		}
		val = rest
	}
	sig, err := v.decode(val)
	if err != nil {
		return err
	}
	if !hmac.Equal(v.mac(body), sig) {
		return ErrBadSignature
	}
	return nil
}

func (v *verifier) decode(s string) ([]byte, error) {
	var b []byte
	var err error
	if v.base64 {
		b, err = base64.StdEncoding.DecodeString(s)
	} else {
		b, err = hex.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("decoding the signature: %w", ErrMalformedSignature)
	}
	return b, nil
}

func (v *verifier) mac(parts ...[]byte) []byte {
	m := hmac.New(v.newHash, v.secret)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// verifyTimestamped checks "k=v,k=v" headers signing "<ts>.<body>".
func (v *verifier) verifyTimestamped(h http.Header, body []byte, now time.Time) error {
	val := strings.TrimSpace(h.Get(v.header))
	if val == "" {
		return ErrMissingSignature
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(val, ",") {
		k, x, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case v.tsKey:
			ts = strings.TrimSpace(x)
		case v.sigKey:
			sig, err := v.decode(strings.TrimSpace(x))
			if err != nil {
				return err
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("reading header %s parts %s and %s: %w", v.header, v.tsKey, v.sigKey, ErrMalformedSignature)
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < 0 || n > 1<<53 {
		return fmt.Errorf("parsing %s: %w", v.tsKey, ErrMalformedSignature)
	}
	want := v.mac([]byte(ts), []byte{'.'}, body)
	if !anyEqual(want, sigs) {
		return ErrBadSignature
	}
	return v.fresh(time.Unix(0, 0).Add(time.Duration(n)*v.unit), now)
}

// verifyStandard checks the Standard Webhooks scheme (Svix).
func (v *verifier) verifyStandard(h http.Header, body []byte, now time.Time) error {
	get := func(name string) string {
		if x := strings.TrimSpace(h.Get("webhook-" + name)); x != "" {
			return x
		}
		return strings.TrimSpace(h.Get("svix-" + name))
	}
	id, ts, val := get("id"), get("timestamp"), get("signature")
	if id == "" || ts == "" || val == "" {
		return ErrMissingSignature
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return fmt.Errorf("parsing webhook-timestamp: %w", ErrMalformedSignature)
	}
	var sigs [][]byte
	for part := range strings.FieldsSeq(val) {
		ver, sig, ok := strings.Cut(part, ",")
		if !ok || ver != "v1" {
			continue // other versions (v1a: asymmetric) are not ours
		}
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			return fmt.Errorf("decoding webhook-signature: %w", ErrMalformedSignature)
		}
		sigs = append(sigs, b)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("reading webhook-signature: no v1 signature: %w", ErrMalformedSignature)
	}
	want := v.mac([]byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)
	if !anyEqual(want, sigs) {
		return ErrBadSignature
	}
	return v.fresh(time.Unix(n, 0), now)
}

func (v *verifier) fresh(at, now time.Time) error {
	d := now.Sub(at)
	if d > v.tolerance || -d > v.tolerance {
		return fmt.Errorf("checking timestamp %s against now %s (tolerance %s): %w", at.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.tolerance, ErrStaleSignature)
	}
	return nil
}

func anyEqual(want []byte, sigs [][]byte) bool {
	match := false
	for _, s := range sigs {
		if hmac.Equal(want, s) {
			match = true
		}
	}
	return match
}

// Sign returns the headers a sender configured as s would add to body at
// time at; tests and tools use it to make signed requests. id is the
// delivery id of the standard-webhooks scheme (ignored otherwise).
func Sign(g Signature, body []byte, at time.Time, id string) http.Header {
	v := newVerifier(&g)
	h := http.Header{}
	enc := func(b []byte) string {
		if v.base64 {
			return base64.StdEncoding.EncodeToString(b)
		}
		return hex.EncodeToString(b)
	}
	switch v.scheme {
	case SchemeTimestampBody:
		ts := strconv.FormatInt(at.UnixNano()/int64(v.unit), 10)
		h.Set(v.header, v.tsKey+"="+ts+","+v.sigKey+"="+enc(v.mac([]byte(ts), []byte{'.'}, body)))
	case SchemeStandardWebhooks:
		ts := strconv.FormatInt(at.Unix(), 10)
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", "v1,"+enc(v.mac([]byte(id), []byte{'.'}, []byte(ts), []byte{'.'}, body)))
	default:
		if v.token {
			h.Set(v.header, g.Secret)
		} else {
			h.Set(v.header, v.prefix+enc(v.mac(body)))
		}
	}
	return h
}
