package growsurf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Vector T0: T2's payload serialised compactly, signed with grsf_test_secret.
const (
	t0Header = "ts=1772445600700,v=43c45c9b27e5e83ff1c8d54f91f7991ff57d26da0bf7c3f7101e085c4ddc5a3d"
	t0Secret = "grsf_test_secret"
	t0TS     = 1772445600700
	t0Now    = 1772445601000
	t0SHA256 = "8c8e1029af19de379e77e7f256344ebf768e2bdd750cd435701308b014dc0212"
)

func t0Body(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "T0-signature", "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1706 || sha256hex(b) != t0SHA256 {
		t.Fatalf("T0 body is not the vector's bytes: %d bytes, sha256 %s", len(b), sha256hex(b))
	}
	return b
}

func TestVerifySignatureT0(t *testing.T) {
	body := t0Body(t)
	flipped := append([]byte(nil), body...)
	flipped[len(flipped)/2] ^= 0x01
	appended := append(append([]byte(nil), body...), ' ')
	wrongV := "ts=1772445600700,v=" + strings.Repeat("0", 64)
	upperV := "ts=1772445600700,v=" + strings.ToUpper(t0Header[len("ts=1772445600700,v="):])
	now := time.UnixMilli(t0Now)
	tests := []struct {
		name      string
		header    string
		body      []byte
		secret    string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"accepted", t0Header, body, t0Secret, now, DefaultTolerance, nil},
		{"spaces around parts", " ts=1772445600700 , v=" + t0Header[len("ts=1772445600700,v="):] + " ", body, t0Secret, now, DefaultTolerance, nil},
		{"parts in other order and unknown part", "v=" + t0Header[len("ts=1772445600700,v="):] + ",x=1,ts=1772445600700", body, t0Secret, now, DefaultTolerance, nil},
		{"upper-case hex", upperV, body, t0Secret, now, DefaultTolerance, nil},
		{"second v matches", "ts=1772445600700,v=" + strings.Repeat("ab", 32) + "," + t0Header[len("ts=1772445600700,"):], body, t0Secret, now, DefaultTolerance, nil},
		{"one byte changed", t0Header, flipped, t0Secret, now, DefaultTolerance, ErrBadSignature},
		{"one byte appended", t0Header, appended, t0Secret, now, DefaultTolerance, ErrBadSignature},
		{"wrong v of the right length", wrongV, body, t0Secret, now, DefaultTolerance, ErrBadSignature},
		{"short v", "ts=1772445600700,v=43c4", body, t0Secret, now, DefaultTolerance, ErrBadSignature},
		{"wrong secret", t0Header, body, "grsf_test_secreT", now, DefaultTolerance, ErrBadSignature},
		{"no secret", t0Header, body, "", now, DefaultTolerance, ErrBadSignature},
		{"ts changed", "ts=1772445600701,v=" + t0Header[len("ts=1772445600700,v="):], body, t0Secret, now, DefaultTolerance, ErrBadSignature},
		{"missing header", "", body, t0Secret, now, DefaultTolerance, ErrMissingSignature},
		{"blank header", "   ", body, t0Secret, now, DefaultTolerance, ErrMissingSignature},
		{"no v", "ts=1772445600700", body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"no ts", "v=" + t0Header[len("ts=1772445600700,v="):], body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"ts not a number", "ts=soon,v=" + t0Header[len("ts=1772445600700,v="):], body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"negative ts", "ts=-1,v=" + t0Header[len("ts=1772445600700,v="):], body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"v not hex", "ts=1772445600700,v=zz", body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"no equals signs", "garbage", body, t0Secret, now, DefaultTolerance, ErrMalformedSignature},
		{"stale beyond tolerance", t0Header, body, t0Secret, time.UnixMilli(t0TS).Add(DefaultTolerance + time.Millisecond), DefaultTolerance, ErrStaleSignature},
		{"old but inside tolerance", t0Header, body, t0Secret, time.UnixMilli(t0TS).Add(DefaultTolerance), DefaultTolerance, nil},
		{"stale with a short tolerance", t0Header, body, t0Secret, now.Add(time.Minute), time.Minute, ErrStaleSignature},
		{"future within skew", t0Header, body, t0Secret, time.UnixMilli(t0TS).Add(-MaxFutureSkew), DefaultTolerance, nil},
		{"future beyond skew", t0Header, body, t0Secret, time.UnixMilli(t0TS).Add(-MaxFutureSkew - time.Millisecond), DefaultTolerance, ErrStaleSignature},
		{"future beyond a tolerance under the skew", t0Header, body, t0Secret, time.UnixMilli(t0TS).Add(-2 * time.Second), time.Second, ErrStaleSignature},
		{"tolerance zero disables the time check", t0Header, body, t0Secret, now.Add(365 * 24 * time.Hour), 0, nil},
		{"tolerance zero still checks the signature", t0Header, flipped, t0Secret, now.Add(365 * 24 * time.Hour), 0, ErrBadSignature},
		{"bad signature wins over stale", wrongV, body, t0Secret, now.Add(30 * 24 * time.Hour), DefaultTolerance, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.header, tt.body, []byte(tt.secret), tt.now, tt.tolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			for _, other := range []error{ErrMissingSignature, ErrMalformedSignature, ErrBadSignature, ErrStaleSignature} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("%v also matches %v", err, other)
				}
			}
		})
	}
}

// TestSignMatchesT0 checks Sign against vector T0's header.
func TestSignMatchesT0(t *testing.T) {
	if got := Sign(t0Body(t), []byte(t0Secret), time.UnixMilli(t0TS)); got != t0Header {
		t.Errorf("got %s, want %s", got, t0Header)
	}
}

// TestVerifySignatureConstantTime checks that the comparison is
// hmac.Equal's and not a byte loop that stops early. A timing
// measurement would be flaky on shared cores, so the test reads the
// source: the only comparison of the expected MAC is hmac.Equal.
func TestVerifySignatureConstantTime(t *testing.T) {
	src, err := os.ReadFile("signature.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	if !strings.Contains(s, "hmac.Equal(want, sig)") {
		t.Error("VerifySignature does not compare with hmac.Equal")
	}
	for _, bad := range []string{"bytes.Equal", "string(want)", "== sig", "hex.EncodeToString(want)"} {
		if strings.Contains(s, bad) {
			t.Errorf("signature.go contains %q: compare MACs with hmac.Equal only", bad)
		}
	}
}

// TestGoldenT0RejectsTamperedBody runs the T0 case as ingest would: a
// tampered body fails verification, so nothing is converted.
func TestGoldenT0RejectsTamperedBody(t *testing.T) {
	gc := loadCase(t, filepath.Join("testdata", "T0-signature"))
	if gc.header != t0Header || string(gc.secret) != t0Secret || gc.cf.Now != t0Now {
		t.Fatalf("T0 case files differ from the vector: %q %q %d", gc.header, gc.secret, gc.cf.Now)
	}
	body := []byte(strings.Replace(string(gc.body), `"referralCount":1`, `"referralCount":9`, 1))
	if len(body) != len(gc.body) || string(body) == string(gc.body) {
		t.Fatal("tampering changed nothing")
	}
	if err := VerifySignature(gc.header, body, gc.secret, time.UnixMilli(gc.cf.Now), DefaultTolerance); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered referralCount: got %v", err)
	}
}
