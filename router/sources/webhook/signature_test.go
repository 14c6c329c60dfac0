package webhook

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func sigSource(t *testing.T, g Signature) *Source {
	t.Helper()
	s, err := Compile("s", Settings{Path: "/h", Signature: &g, Rules: []Rule{{Reject: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// TestVerify: good, bad, stale and missing signatures in every scheme,
// checked against signatures computed independently of Sign (the Standard
// Webhooks specification's published example included).
func TestVerify(t *testing.T) {
	body := []byte(`{"event":"referral.converted"}`)
	now := time.Unix(1772445600, 0)

	sha1mac := hmac.New(sha1.New, []byte("k"))
	sha1mac.Write(body)
	b64sha1 := base64.StdEncoding.EncodeToString(sha1mac.Sum(nil))

	std := sigSource(t, Signature{Scheme: SchemeStandardWebhooks, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	stdBody := []byte(`{"test": 2432232314}`)
	stdHeaders := header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp", "1614265330",
		"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	stdNow := time.Unix(1614265330, 0)

	ts := sigSource(t, Signature{Scheme: SchemeTimestampBody, Header: "Stripe-Signature", Secret: "whsec_x"})
	tsHeader := Sign(Signature{Scheme: SchemeTimestampBody, Header: "Stripe-Signature", Secret: "whsec_x"}, body, now.Add(-time.Minute), "")

	cases := []struct {
		name string
		src  *Source
		h    http.Header
		body []byte
		now  time.Time
		want error
	}{
		{"body hex good", sigSource(t, Signature{Header: "X-Rewardful-Signature", Secret: "my-rewardful-signing-secret"}),
			header("X-Rewardful-Signature", hexHMAC256("my-rewardful-signing-secret", body)), body, now, nil},
		{"body hex wrong secret", sigSource(t, Signature{Header: "X-Rewardful-Signature", Secret: "other"}),
			header("X-Rewardful-Signature", hexHMAC256("my-rewardful-signing-secret", body)), body, now, ErrBadSignature},
		{"body missing", sigSource(t, Signature{Header: "X-Sig", Secret: "k"}), header(), body, now, ErrMissingSignature},
		{"body not hex", sigSource(t, Signature{Header: "X-Sig", Secret: "k"}), header("X-Sig", "zz"), body, now, ErrMalformedSignature},
		{"sha1 base64 prefix good", sigSource(t, Signature{Header: "X-Sig", Algorithm: AlgorithmHMACSHA1, Encoding: EncodingBase64, Prefix: "sha1=", Secret: "k"}),
			header("X-Sig", "sha1="+b64sha1), body, now, nil},
		{"prefix missing", sigSource(t, Signature{Header: "X-Sig", Algorithm: AlgorithmHMACSHA1, Encoding: EncodingBase64, Prefix: "sha1=", Secret: "k"}),
			header("X-Sig", b64sha1), body, now, ErrMalformedSignature},
		{"token good", sigSource(t, Signature{Header: "Authorization", Algorithm: AlgorithmToken, Secret: "Bearer t0k"}),
			header("Authorization", "Bearer t0k"), body, now, nil},
		{"token bad", sigSource(t, Signature{Header: "Authorization", Algorithm: AlgorithmToken, Secret: "Bearer t0k"}),
			header("Authorization", "Bearer t0"), body, now, ErrBadSignature},
		{"ts.body good", ts, tsHeader, body, now, nil},
		{"ts.body stale", ts, tsHeader, body, now.Add(time.Hour), ErrStaleSignature},
		{"ts.body future", ts, tsHeader, body, now.Add(-time.Hour), ErrStaleSignature},
		{"ts.body changed body", ts, tsHeader, []byte(`{}`), now, ErrBadSignature},
		{"ts.body no parts", ts, header("Stripe-Signature", "v1=abcd"), body, now, ErrMalformedSignature},
		{"standard webhooks spec example", std, stdHeaders, stdBody, stdNow, nil},
		{"standard webhooks svix headers", std, header("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek", "svix-timestamp", "1614265330",
			"svix-signature", "v1a,xxx v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), stdBody, stdNow, nil},
		{"standard webhooks stale", std, stdHeaders, stdBody, stdNow.Add(6 * time.Minute), ErrStaleSignature},
		{"standard webhooks other id", std, header("webhook-id", "msg_other", "webhook-timestamp", "1614265330",
			"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), stdBody, stdNow, ErrBadSignature},
		{"standard webhooks missing id", std, header("webhook-timestamp", "1614265330", "webhook-signature", "v1,AAAA"), stdBody, stdNow, ErrMissingSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.src.Verify(tc.h, tc.body, tc.now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
	unsigned, err := Compile("u", Settings{Path: "/h", AllowUnsigned: true, Rules: []Rule{{Reject: "x"}}})
	if err != nil || unsigned.Signed() || unsigned.Verify(header(), body, now) != nil {
		t.Errorf("allow_unsigned: %v", err)
	}
	for _, g := range []Signature{
		{Header: "X", Secret: "k", Algorithm: AlgorithmHMACSHA1},
		{Header: "X", Secret: "k", Encoding: EncodingBase64, Prefix: "v0="},
		{Scheme: SchemeTimestampBody, Header: "GrowSurf-Signature", TimestampKey: "ts", SignatureKey: "v", TimestampUnit: "ms", Secret: "k", Tolerance: 168 * time.Hour},
		{Scheme: SchemeStandardWebhooks, Secret: "whsec_" + base64.StdEncoding.EncodeToString([]byte("key"))},
	} {
		s := sigSource(t, g)
		if err := s.Verify(Sign(g, body, now, "msg_1"), body, now); err != nil {
			t.Errorf("%+v: Sign then Verify: %v", g, err)
		}
	}
}

// TestSignatureSettings: what a signature block must and must not say.
func TestSignatureSettings(t *testing.T) {
	cases := []struct {
		g    Signature
		want string
	}{
		{Signature{Secret: "k"}, "signature.header: required"},
		{Signature{Header: "X"}, "signature.secret: required"},
		{Signature{Header: "X", Secret: "k", Scheme: "hmac"}, "signature.scheme: must be one of body, ts.body, standard-webhooks"},
		{Signature{Header: "X", Secret: "k", Algorithm: "md5"}, "signature.algorithm: must be one of"},
		{Signature{Header: "X", Secret: "k", Encoding: "b32"}, "signature.encoding: must be hex or base64"},
		{Signature{Header: "X", Secret: "k", Tolerance: time.Minute}, "signature.tolerance: the body scheme signs no timestamp"},
		{Signature{Header: "X", Secret: "k", TimestampKey: "t"}, "signature.timestamp_key: only the ts.body scheme has it"},
		{Signature{Scheme: SchemeStandardWebhooks, Header: "X", Secret: "whsec_a2V5"}, "signature.header: is fixed by the standard-webhooks scheme"},
		{Signature{Scheme: SchemeStandardWebhooks, Secret: "whsec_!!"}, "signature.secret: a standard-webhooks secret is"},
		{Signature{Scheme: SchemeTimestampBody, Header: "X", Secret: "k", Algorithm: AlgorithmToken}, "signature.algorithm: token works with the body scheme only"},
	}
	for _, tc := range cases {
		err := Settings{Path: "/h", Signature: &tc.g, Rules: []Rule{{Reject: "x"}}}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: got %v, want %q", tc.g, err, tc.want)
		}
	}
	err := Settings{Path: "/h", AllowUnsigned: true, Signature: &Signature{Header: "X", Secret: "k"}, Rules: []Rule{{Reject: "x"}}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "allow_unsigned: must not be true when signature is set") {
		t.Errorf("allow_unsigned with a signature: %v", err)
	}
}
