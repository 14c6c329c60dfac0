package growsurf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

var update = flag.Bool("update", false, "rewrite testdata/*/expected.json and result.json from the code's output")

// defaultReceivedAt is when golden requests arrive unless case.json says
// otherwise: the clock of vector T0.
var defaultReceivedAt = time.UnixMilli(1772445601000).UTC()

const testSource = "referrals"

// caseFile is testdata/<case>/case.json, the optional inputs of a case.
type caseFile struct {
	Comment    string       `json:"comment"`
	ReceivedAt string       `json:"receivedAt"`
	Now        int64        `json:"now"` // clock for the signature check, unix ms
	Settings   caseSettings `json:"settings"`
}

type caseSettings struct {
	Identifier      string            `json:"identifier"`
	AppUserIDKey    string            `json:"app_user_id_key"`
	ReferralTrigger string            `json:"referral_trigger"`
	Events          map[string]string `json:"events"`
	Traits          map[string]string `json:"traits"`
}

// goldenMessage is one element of expected.json.
type goldenMessage struct {
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	UserID      string          `json:"userId"`
	AnonymousID string          `json:"anonymousId"`
	Event       string          `json:"event"`
	ReceivedAt  string          `json:"receivedAt"`
	Body        json.RawMessage `json:"body"`
}

// goldenResult is result.json: the rest of the Result, or the error.
type goldenResult struct {
	DeliveryKey string `json:"deliveryKey,omitempty"`
	Event       string `json:"event,omitempty"`
	Legacy      bool   `json:"legacy,omitempty"`
	Unmapped    string `json:"unmapped,omitempty"`
	Detail      string `json:"detail,omitempty"`
	Error       string `json:"error,omitempty"`
}

type goldenCase struct {
	name       string
	dir        string
	body       []byte
	cf         caseFile
	settings   Settings
	receivedAt time.Time
	header     string // GrowSurf-Signature, when headers.json exists
	secret     []byte // when the file secret exists
}

func loadCase(t testing.TB, dir string) goldenCase {
	t.Helper()
	gc := goldenCase{name: filepath.Base(dir), dir: dir, receivedAt: defaultReceivedAt}
	var err error
	if gc.body, err = os.ReadFile(filepath.Join(dir, "request.json")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "case.json")); err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&gc.cf); err != nil {
			t.Fatalf("%s/case.json: %v", dir, err)
		}
	}
	if gc.cf.ReceivedAt != "" {
		if gc.receivedAt, err = time.Parse(time.RFC3339Nano, gc.cf.ReceivedAt); err != nil {
			t.Fatal(err)
		}
	}
	cs := gc.cf.Settings
	gc.settings = Settings{Identifier: cs.Identifier, AppUserIDKey: cs.AppUserIDKey, ReferralTrigger: cs.ReferralTrigger,
		Mapping: Mapping{Events: cs.Events, Traits: cs.Traits}}
	if b, err := os.ReadFile(filepath.Join(dir, "headers.json")); err == nil {
		var h map[string]string
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatalf("%s/headers.json: %v", dir, err)
		}
		gc.header = h[SignatureHeader]
	}
	if b, err := os.ReadFile(filepath.Join(dir, "secret")); err == nil {
		gc.secret = bytes.TrimSpace(b)
	}
	return gc
}

func caseDirs(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "request.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for i, d := range dirs {
		dirs[i] = filepath.Dir(d)
	}
	return dirs
}

func toGolden(msgs []router.Message) []goldenMessage {
	out := make([]goldenMessage, len(msgs))
	for i, m := range msgs {
		out[i] = goldenMessage{ID: m.ID, Source: m.Source, Type: m.Type, UserID: m.UserID, AnonymousID: m.AnonymousID,
			Event: m.Event, ReceivedAt: router.FormatTime(m.ReceivedAt), Body: m.Body}
	}
	return out
}

// encodeIndent writes v as indented JSON without HTML escaping, so that a
// body compacted back from the file is byte for byte the message's Body.
func encodeIndent(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestGolden runs every testdata case: the signature (when the case has
// one), then Convert, compared with expected.json and result.json.
func TestGolden(t *testing.T) {
	for _, dir := range caseDirs(t) {
		gc := loadCase(t, dir)
		t.Run(gc.name, func(t *testing.T) {
			if err := gc.settings.Validate(); err != nil {
				t.Fatalf("case settings: %v", err)
			}
			if gc.header != "" || gc.secret != nil {
				now := time.UnixMilli(gc.cf.Now)
				if err := VerifySignature(gc.header, gc.body, gc.secret, now, DefaultTolerance); err != nil {
					t.Fatalf("VerifySignature: %v", err)
				}
			}
			res, err := Convert(gc.body, testSource, gc.settings, gc.receivedAt)
			gotRes := goldenResult{DeliveryKey: res.DeliveryKey, Event: res.Event, Legacy: res.Legacy, Unmapped: res.Unmapped, Detail: res.Detail}
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Convert error %v does not wrap ErrMalformed", err)
				}
				gotRes = goldenResult{Error: "malformed"}
			}
			gotMsgs := toGolden(res.Messages)
			checkMessages(t, res)
			resPath := filepath.Join(dir, "result.json")
			expPath := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(resPath, encodeIndent(t, gotRes), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(expPath, encodeIndent(t, gotMsgs), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			var wantRes goldenResult
			readJSON(t, resPath, &wantRes)
			if gotRes != wantRes {
				t.Errorf("result:\n got %+v\nwant %+v", gotRes, wantRes)
			}
			var want []goldenMessage
			readJSON(t, expPath, &want)
			if len(want) != len(gotMsgs) {
				t.Fatalf("got %d messages, want %d", len(gotMsgs), len(want))
			}
			for i := range want {
				w, g := want[i], gotMsgs[i]
				var compact bytes.Buffer
				if err := json.Compact(&compact, w.Body); err != nil {
					t.Fatal(err)
				}
				w.Body, g.Body = nil, nil
				if !sameMeta(w, g) {
					t.Errorf("message %d:\n got %+v\nwant %+v", i, g, w)
				}
				if !bytes.Equal(compact.Bytes(), gotMsgs[i].Body) {
					t.Errorf("message %d body:\n got %s\nwant %s", i, gotMsgs[i].Body, compact.Bytes())
				}
			}
		})
	}
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkMessages asserts what must hold for every Result: unmapped results
// carry no messages; every message has an ID, a JSON object Body with
// the normalised fields matching the Message's copies, and per person no
// identify after a track.
func checkMessages(t testing.TB, res Result) {
	t.Helper()
	if res.Unmapped != "" && len(res.Messages) > 0 {
		t.Errorf("unmapped %q with %d messages", res.Unmapped, len(res.Messages))
	}
	if res.Unmapped == "" && len(res.Messages) > 0 && res.DeliveryKey == "" {
		t.Error("messages without a DeliveryKey")
	}
	tracked := map[string]bool{}
	seen := map[string]bool{}
	for i, m := range res.Messages {
		if m.ID == "" || m.UserID == "" || m.Source != testSource {
			t.Errorf("message %d: empty ID or userId or wrong source: %+v", i, m)
		}
		if seen[m.ID] {
			t.Errorf("message %d: duplicate ID %q", i, m.ID)
		}
		seen[m.ID] = true
		var body map[string]any
		if err := json.Unmarshal(m.Body, &body); err != nil {
			t.Errorf("message %d: body is not a JSON object: %v", i, err)
			continue
		}
		if body["messageId"] != m.ID || body["type"] != m.Type || body["userId"] != m.UserID ||
			body["version"] != float64(2) || body["channel"] != "server" || body["receivedAt"] != router.FormatTime(m.ReceivedAt) {
			t.Errorf("message %d: body disagrees with the message: %s", i, m.Body)
		}
		for _, k := range []string{"timestamp", "originalTimestamp"} {
			if s, _ := body[k].(string); s == "" {
				t.Errorf("message %d: no %s", i, k)
			} else if _, err := time.Parse(router.TimeLayout, s); err != nil {
				t.Errorf("message %d: %s: %v", i, k, err)
			}
		}
		switch m.Type {
		case router.TypeIdentify:
			if tracked[m.UserID] {
				t.Errorf("message %d: identify of %q after its track", i, m.UserID)
			}
			if _, ok := body["traits"].(map[string]any); !ok {
				t.Errorf("message %d: identify without traits", i)
			}
		case router.TypeTrack:
			tracked[m.UserID] = true
			if m.Event == "" || body["event"] != m.Event {
				t.Errorf("message %d: track event %q, body %v", i, m.Event, body["event"])
			}
			if _, ok := body["properties"].(map[string]any); !ok {
				t.Errorf("message %d: track without properties", i)
			}
		default:
			t.Errorf("message %d: type %q", i, m.Type)
		}
	}
}

// TestGoldenFilesAreUsed guards against a case directory with a typo'd
// file name, which TestGolden would silently ignore.
func TestGoldenFilesAreUsed(t *testing.T) {
	known := map[string]bool{"request.json": true, "expected.json": true, "result.json": true, "case.json": true, "headers.json": true, "secret": true}
	for _, dir := range caseDirs(t) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !known[e.Name()] {
				t.Errorf("%s: unexpected file %s", dir, e.Name())
			}
		}
		if !strings.Contains(dir, "testdata") {
			t.Errorf("odd case dir %s", dir)
		}
	}
}

func sameMeta(a, b goldenMessage) bool {
	return a.ID == b.ID && a.Source == b.Source && a.Type == b.Type && a.UserID == b.UserID &&
		a.AnonymousID == b.AnonymousID && a.Event == b.Event && a.ReceivedAt == b.ReceivedAt
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
