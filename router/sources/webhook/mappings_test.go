package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden results of the shipped mappings (testdata/<tool>/*.golden.json)")

// shippedMapping is what the tests know of a mapping in examples/: the
// variable its secret comes from, a test secret, and how the tool signs a
// delivery, written from the tool's documentation independently of
// [Sign], so that the mapping's signature block is checked against the
// real scheme.
type shippedMapping struct {
	secretEnv, secret, wrongSecret string
	sign                           func(secret string, body []byte, at time.Time, id string) http.Header
}

var shippedMappings = map[string]shippedMapping{
	// X-Rewardful-Signature: OpenSSL::HMAC.hexdigest('sha256', secret, raw_body).
	"rewardful": {"REWARDFUL_WEBHOOK_SECRET", "rewardful-test-signing-secret", "another-secret", func(secret string, body []byte, _ time.Time, _ string) http.Header {
		return http.Header{"X-Rewardful-Signature": {hexHMAC256(secret, body)}}
	}},
	// Svix: svix-id, svix-timestamp (unix s), svix-signature "v1,<base64 of
	// HMAC-SHA256(base64-decoded secret after whsec_, "<id>.<ts>.<body>")>".
	"tolt": {"TOLT_WEBHOOK_SECRET", "whsec_" + base64.StdEncoding.EncodeToString([]byte("tolt-test-signing-key-32-bytes!!")),
		"whsec_" + base64.StdEncoding.EncodeToString([]byte("another-signing-key")), func(secret string, body []byte, at time.Time, id string) http.Header {
			key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
			if err != nil {
				panic(err)
			}
			ts := strconv.FormatInt(at.Unix(), 10)
			m := hmac.New(sha256.New, key)
			m.Write([]byte(id + "." + ts + "."))
			m.Write(body)
			return http.Header{"Svix-Id": {id}, "Svix-Timestamp": {ts}, "Svix-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
		}},
	// X-Affonso-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>.
	"affonso": {"AFFONSO_WEBHOOK_SECRET", "whsec_affonso_test_secret", "whsec_another", func(secret string, body []byte, at time.Time, _ string) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		return http.Header{"X-Affonso-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))}}
	}},
}

// golden is a shipped mapping's result on one fixture.
type golden struct {
	DeliveryKey string            `json:"delivery_key"`
	Rule        string            `json:"rule,omitempty"`
	Unmapped    string            `json:"unmapped,omitempty"`
	Detail      string            `json:"detail,omitempty"`
	Messages    []json.RawMessage `json:"messages"`
}

// TestShippedMappings runs every mapping in examples/ (but growsurf.yaml,
// which TestGrowSurfEquivalence covers) on its fixtures,
// testdata/<tool>/<case>.json: each is signed as the tool signs it and
// verified by the mapping's signature block (and refused once a byte of
// the body changes), then converted; the result (delivery key, rule,
// rejection, messages byte for byte) must equal <case>.golden.json
// (go test -run TestShippedMappings -update rewrites them).
func TestShippedMappings(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tools := 0
	for _, f := range files {
		tool := strings.TrimSuffix(filepath.Base(f), ".yaml")
		if tool == "growsurf" {
			continue
		}
		tools++
		t.Run(tool, func(t *testing.T) {
			sm, ok := shippedMappings[tool]
			if !ok {
				t.Fatalf("no signing helper for %s: add it to shippedMappings", tool)
			}
			src, err := Compile(tool, loadSettings(t, f, map[string]string{sm.secretEnv: sm.secret}))
			if err != nil {
				t.Fatal(err)
			}
			cases, _ := filepath.Glob(filepath.Join("testdata", tool, "*.json"))
			n := 0
			for _, c := range cases {
				if strings.HasSuffix(c, ".golden.json") {
					continue
				}
				n++
				name := strings.TrimSuffix(filepath.Base(c), ".json")
				t.Run(name, func(t *testing.T) {
					body, err := os.ReadFile(c)
					if err != nil {
						t.Fatal(err)
					}
					h := sm.sign(sm.secret, body, testReceived, "msg_"+name)
					if err := src.Verify(h, body, testReceived); err != nil {
						t.Fatalf("Verify of the signed fixture: %v", err)
					}
					if err := src.Verify(h, append(bytes.Clone(body), '\n'), testReceived); !errors.Is(err, ErrBadSignature) {
						t.Fatalf("Verify of a changed body: %v, want ErrBadSignature", err)
					}
					if err := src.Verify(sm.sign(sm.wrongSecret, body, testReceived, "msg_"+name), body, testReceived); err == nil {
						t.Fatal("Verify accepts another secret's signature")
					}
					res, err := src.Convert(h, body, testReceived)
					if err != nil {
						t.Fatal(err)
					}
					got := golden{DeliveryKey: res.DeliveryKey, Rule: res.Rule, Unmapped: res.Unmapped, Detail: res.Detail, Messages: []json.RawMessage{}}
					for _, m := range res.Messages {
						got.Messages = append(got.Messages, m.Body)
					}
					out, err := json.MarshalIndent(got, "", "  ")
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, '\n')
					gf := strings.TrimSuffix(c, ".json") + ".golden.json"
					if *update {
						if err := os.WriteFile(gf, out, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					want, err := os.ReadFile(gf)
					if err != nil {
						t.Fatalf("%v (run with -update to create it)", err)
					}
					if !bytes.Equal(out, want) {
						t.Errorf("result differs from %s:\n got %s\nwant %s", gf, out, want)
					}
				})
			}
			if n < 3 {
				t.Errorf("%s has %d fixtures, want at least 3", tool, n)
			}
		})
	}
	if tools < 3 {
		t.Errorf("%d shipped mappings besides growsurf, want at least 3", tools)
	}
}
