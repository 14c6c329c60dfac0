package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// loadSettings reads a source's settings from a YAML file strictly (unknown
// keys are errors, as in the config loader), expanding ${VAR} from vars.
func loadSettings(t testing.TB, path string, vars map[string]string) Settings {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = envRef.ReplaceAllFunc(b, func(m []byte) []byte {
		v, ok := vars[string(envRef.FindSubmatch(m)[1])]
		if !ok {
			t.Fatalf("%s: no value for %s", path, m)
		}
		return []byte(v)
	})
	var s Settings
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// hexHMAC256 is the hex HMAC-SHA256 of body, computed as a sender's
// documentation shows (OpenSSL::HMAC.hexdigest('sha256', secret, body)).
func hexHMAC256(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
