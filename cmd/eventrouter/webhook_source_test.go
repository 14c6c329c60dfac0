package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// mappingsDir holds the shipped webhook mappings and fixtures.
const mappingsDir = "../../router/sources/webhook"

// shippedSigner signs a delivery as one tool's documentation says it
// signs, with a test secret, independently of the router's code.
type shippedSigner struct {
	env, secret string
	sign        func(secret string, body []byte, at time.Time, id string) http.Header
}

var shippedSigners = map[string]shippedSigner{
	"rewardful": {"REWARDFUL_WEBHOOK_SECRET", "rewardful-e2e-secret", func(secret string, body []byte, _ time.Time, _ string) http.Header {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return http.Header{"X-Rewardful-Signature": {hex.EncodeToString(m.Sum(nil))}}
	}},
	"tolt": {"TOLT_WEBHOOK_SECRET", "whsec_" + base64.StdEncoding.EncodeToString([]byte("tolt-e2e-signing-key")), func(secret string, body []byte, at time.Time, id string) http.Header {
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id + "." + ts + "."))
		m.Write(body)
		return http.Header{"Svix-Id": {id}, "Svix-Timestamp": {ts}, "Svix-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
	}},
	"affonso": {"AFFONSO_WEBHOOK_SECRET", "whsec_affonso_e2e", func(secret string, body []byte, at time.Time, _ string) http.Header {
		ts := strconv.FormatInt(at.Unix(), 10)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		return http.Header{"X-Affonso-Signature": {"t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))}}
	}},
}

// webhookSourceBlock returns the shipped mapping of tool as a source block
// of a config file, its secret written in.
func webhookSourceBlock(t *testing.T, tool string) string {
	t.Helper()
	s := shippedSigners[tool]
	text := strings.ReplaceAll(mustRead(t, filepath.Join(mappingsDir, "examples", tool+".yaml")), "${"+s.env+"}", s.secret)
	var b strings.Builder
	fmt.Fprintf(&b, "  %s:\n    type: webhook\n", tool)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// TestWebhookSourcesEndToEnd starts one server with every shipped webhook
// mapping (Rewardful, Tolt, Affonso), an unsigned webhook source and a file
// destination, and posts each mapping's fixtures signed as the tool signs:
// the file receives the golden messages (receivedAt aside), the fixtures
// no rule maps are in the rejected stream with their reason, a
// redelivery adds nothing, and deliveries with a bad, stale or missing
// signature are refused 401 and stored nowhere, while the source that says
// allow_unsigned takes an unsigned one.
func TestWebhookSourcesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	tools := []string{"affonso", "rewardful", "tolt"}
	addr, natsAddr := freeAddr(t), freeAddr(t)
	out := filepath.Join(t.TempDir(), "events.ndjson")
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "http: {listen: %q}\ndata_dir: %q\nlog: {level: warn}\nqueue: {partitions: 1, listen: %q}\nsources:\n", addr, t.TempDir(), natsAddr)
	for _, tool := range tools {
		cfg.WriteString(webhookSourceBlock(t, tool))
	}
	cfg.WriteString(`  plain:
    type: webhook
    path: /webhooks/plain
    allow_unsigned: true
    delivery_id: body.id
    rules:
      - name: ping
        emit: [{type: track, userId: body.user, event: '"pinged"'}]
`)
	fmt.Fprintf(&cfg, "destinations:\n  local: {type: file, path: %q, batch_timeout: 50ms}\n", out)
	srv := startServer(t, cfg.String(), addr)
	js := logStreams(t, natsAddr)

	deliver := func(path string, h http.Header, body []byte) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.base+path, bytes.NewReader(body))
		req.Header = h.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	want := map[string]map[string]any{} // messageId -> golden body
	wantRejected := map[string]string{} // source -> reason, for each unmapped fixture
	var redeliver func()
	for _, tool := range tools {
		s := shippedSigners[tool]
		cases, _ := filepath.Glob(filepath.Join(mappingsDir, "testdata", tool, "*.json"))
		for _, c := range cases {
			if strings.HasSuffix(c, ".golden.json") {
				continue
			}
			name := strings.TrimSuffix(filepath.Base(c), ".json")
			body := []byte(mustRead(t, c))
			var g struct {
				Unmapped string           `json:"unmapped"`
				Messages []map[string]any `json:"messages"`
			}
			if err := json.Unmarshal([]byte(mustRead(t, strings.TrimSuffix(c, ".json")+".golden.json")), &g); err != nil {
				t.Fatal(err)
			}
			for _, m := range g.Messages {
				want[m["messageId"].(string)] = m
			}
			if g.Unmapped != "" {
				wantRejected[tool] = g.Unmapped
			}
			h := s.sign(s.secret, body, time.Now(), "msg_"+name)
			path := "/webhooks/" + tool
			if code := deliver(path, h, body); code != http.StatusOK {
				t.Fatalf("%s %s: answered %d\n%s", tool, name, code, srv.logs.String())
			}
			if tool == "rewardful" && name == "referral_converted" {
				redeliver = func() {
					if code := deliver(path, h, body); code != http.StatusOK {
						t.Fatalf("redelivery answered %d", code)
					}
				}
			}
		}
	}
	if len(want) < 10 || len(wantRejected) != len(tools) {
		t.Fatalf("fixtures: %d messages, rejections %v", len(want), wantRejected)
	}

	// Refused: nothing of these may be stored anywhere.
	refused := []byte(`{"id":"evt_refused","type":"referral.converted","createdAt":"2024-01-20T08:00:00.000Z","data":{"referralId":"ref_refused","email":"refused@example.com"}}`)
	af := shippedSigners["affonso"]
	tl := shippedSigners["tolt"]
	rw := shippedSigners["rewardful"]
	for what, tc := range map[string]struct {
		path string
		h    http.Header
	}{
		"affonso bad":     {"/webhooks/affonso", af.sign("whsec_wrong", refused, time.Now(), "")},
		"affonso stale":   {"/webhooks/affonso", af.sign(af.secret, refused, time.Now().Add(-10*time.Minute), "")},
		"affonso missing": {"/webhooks/affonso", http.Header{}},
		"tolt stale":      {"/webhooks/tolt", tl.sign(tl.secret, refused, time.Now().Add(-10*time.Minute), "msg_refused")},
		"tolt missing":    {"/webhooks/tolt", http.Header{}},
		"rewardful bad":   {"/webhooks/rewardful", rw.sign("wrong", refused, time.Now(), "")},
		"rewardful none":  {"/webhooks/rewardful", http.Header{}},
	} {
		if code := deliver(tc.path, tc.h, refused); code != http.StatusUnauthorized {
			t.Errorf("%s: answered %d, want 401", what, code)
		}
	}
	if code := deliver("/webhooks/plain", http.Header{}, []byte(`{"id":"p1","user":"u-plain"}`)); code != http.StatusOK {
		t.Fatalf("unsigned delivery to the allow_unsigned source: %d", code)
	}
	want["p1:ping:0"] = nil
	redeliver()

	// The file destination receives every golden message once.
	var got map[string]map[string]any
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = readNDJSON(t, out)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a duplicate would come now
	lines := 0
	got = readNDJSON(t, out, &lines)
	if lines != len(want) || len(got) != len(want) {
		t.Errorf("file has %d lines, %d messageIds; want %d", lines, len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("message %s missing from the file", id)
			continue
		}
		if w == nil {
			continue
		}
		w["receivedAt"] = g["receivedAt"] // the only field that depends on when it was posted
		wj, _ := json.Marshal(w)
		gj, _ := json.Marshal(g)
		if !bytes.Equal(wj, gj) {
			t.Errorf("message %s:\n got %s\nwant %s", id, gj, wj)
		}
	}
	for id := range got {
		if strings.Contains(id, "refused") {
			t.Errorf("a refused delivery was stored: %s", id)
		}
	}

	// The deliveries no rule maps are in the rejected stream, raw, with
	// their reason; the refused ones are not.
	rejected := map[string]string{}
	for _, r := range streamEntries(t, js, "REJECTED") {
		rejected[r.Source] = r.Reason
		if bytes.Contains(r.Body, []byte("refused")) {
			t.Errorf("a refused delivery is in the rejected stream: %+v", r)
		}
	}
	if fmt.Sprint(rejected) != fmt.Sprint(wantRejected) {
		t.Errorf("rejected stream: %v, want %v", rejected, wantRejected)
	}

	// The redelivery was recognised by its delivery key.
	resp, err := http.Get(srv.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(metrics, []byte(`eventrouter_webhook_webhooks_total{event="referral_converted",outcome="duplicate",source="rewardful"} 1`)) {
		t.Errorf("no duplicate counted for the redelivery:\n%s", grepLines(string(metrics), "eventrouter_webhook_webhooks_total"))
	}
}

// readNDJSON reads the file destination's output by messageId; lines, when
// given, receives the number of lines.
func readNDJSON(t *testing.T, path string, lines ...*int) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		id, _ := m["messageId"].(string)
		out[id] = m
		n++
	}
	if len(lines) > 0 {
		*lines[0] = n
	}
	return out
}

// TestWebhookSourceBrokenExpression: `check` and `serve` refuse a webhook
// source whose expression does not compile, naming the file, the line and
// the key path of the expression.
func TestWebhookSourceBrokenExpression(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	cfg := fmt.Sprintf("http: {listen: %q}\ndata_dir: %q\nsources:\n", freeAddr(t), t.TempDir()) + webhookSourceBlock(t, "rewardful")
	const good = "amount: 'let c = integer(body.object.amount); c == nil ? nil : c / 100'"
	if !strings.Contains(cfg, good) {
		t.Fatal("the rewardful mapping has no commission amount expression to break")
	}
	cfg = strings.Replace(cfg, good, "amount: 'body.object.amount /'", 1)
	line := 0
	for i, l := range strings.Split(cfg, "\n") {
		if strings.Contains(l, "amount: 'body.object.amount /'") {
			line = i + 1
		}
	}
	path := filepath.Join(t.TempDir(), "eventrouter.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s:%d: sources.rewardful.rules[2].emit[0].properties.amount: ", path, line)
	for _, cmd := range []string{"check", "serve"} {
		code, out := runBinary(t, 30*time.Second, nil, cmd, "--config", path)
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, want 1 and %q in:\n%s", cmd, code, want, out)
		}
	}
}
