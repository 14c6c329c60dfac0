package growsurf

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header GrowSurf signs its deliveries in.
const SignatureHeader = "GrowSurf-Signature"

// DefaultTolerance is how old a signature's timestamp may be before
// [VerifySignature] rejects it: 7 days. GrowSurf retries a
// failed delivery with exponential backoff for several days, and it
// is not known whether a retry carries a fresh ts or the first attempt's;
// a window of minutes, as payment providers use, would turn every late
// retry of an outage into a 401 and so lose the event. Replays inside the
// window are harmless because deliveries are deduplicated for 14 days by
// [Result.DeliveryKey] and every message has a deterministic messageId.
const DefaultTolerance = 7 * 24 * time.Hour

// MaxFutureSkew is how far in the future a signature's timestamp may be
// (5 minutes), whatever the tolerance: GrowSurf's clock may run
// a little ahead of ours, but never by days.
const MaxFutureSkew = 5 * time.Minute

// The errors of [VerifySignature]; ingest answers 401 to all of them.
var (
	// ErrMissingSignature means the request has no GrowSurf-Signature header.
	ErrMissingSignature = errors.New("missing growsurf signature")
	// ErrMalformedSignature means the header is not "ts=<ms>,v=<hex>".
	ErrMalformedSignature = errors.New("malformed growsurf signature")
	// ErrBadSignature means the signature does not match the body and the
	// secret (or no secret was given).
	ErrBadSignature = errors.New("bad growsurf signature")
	// ErrStaleSignature means the signature matches but its timestamp is
	// outside the tolerance.
	ErrStaleSignature = errors.New("stale growsurf signature")
)

// VerifySignature checks the value of a GrowSurf-Signature header,
// "ts=<unix ms>,v=<hex>": v must be the HMAC-SHA256, keyed with
// secret, of ts, ".", and the raw request body, compared in constant time
// (hmac.Equal); and ts must be at most tolerance before now and at most
// min(tolerance, [MaxFutureSkew]) after it. A tolerance of zero or less
// turns the timestamp check off. Parts of the header are separated by
// commas, each split at its first "="; unknown parts are ignored, and when
// several v parts are present one matching is enough. The signature is
// checked before the timestamp, so [ErrStaleSignature] always concerns a
// genuine delivery.
func VerifySignature(header string, body []byte, secret []byte, now time.Time, tolerance time.Duration) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrMissingSignature
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "ts":
			ts = strings.TrimSpace(v)
		case "v":
			sig, err := hex.DecodeString(strings.TrimSpace(v))
			if err != nil {
				return fmt.Errorf("decoding v: %w", ErrMalformedSignature)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("reading header %q parts ts and v: %w", SignatureHeader, ErrMalformedSignature)
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || ms < 0 {
		return fmt.Errorf("parsing ts: %w", ErrMalformedSignature)
	}
	if len(secret) == 0 {
		return fmt.Errorf("checking signature without a secret: %w", ErrBadSignature)
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(want, sig) {
			match = true
		}
	}
	if !match {
		return ErrBadSignature
	}
	if tolerance <= 0 {
		return nil
	}
	age := now.Sub(time.UnixMilli(ms))
	future := min(tolerance, MaxFutureSkew)
	if age > tolerance || -age > future {
		return fmt.Errorf("checking ts %d against now %d (tolerance %s): %w", ms, now.UnixMilli(), tolerance, ErrStaleSignature)
	}
	return nil
}

// Sign returns the GrowSurf-Signature header value GrowSurf would send for
// body signed with secret at time ts; tests and tools use it to make
// signed requests.
func Sign(body []byte, secret []byte, ts time.Time) string {
	t := strconv.FormatInt(ts.UnixMilli(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(t))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "ts=" + t + ",v=" + hex.EncodeToString(mac.Sum(nil))
}
