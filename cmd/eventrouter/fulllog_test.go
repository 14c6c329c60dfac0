package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestFullLogAnswers503 gives the log a tiny disk cap and fills it: ingest
// must answer 503 with a JSON error and Retry-After once the log refuses to
// store, never 200 for a message it could not keep.
func TestFullLogAnswers503(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	addr := freeAddr(t)
	snk := newSink(t)
	snk.setRespond(func() (int, http.Header) { return http.StatusServiceUnavailable, nil }) // nothing drains the log
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {partitions: 2, max_bytes: 1MiB}
sources:
  app: {type: segment, write_keys: ["full-key"]}
destinations:
  hook: {type: webhook, url: %q}
`, addr, t.TempDir(), snk.URL)
	srv := startServer(t, cfg, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	oks := 0
	for i := 0; i < 1000; i++ {
		// Random hex: the log compresses its records, and a run of one
		// letter would take next to no room.
		raw := make([]byte, 10000)
		_, _ = rand.Read(raw)
		padding := hex.EncodeToString(raw)
		body := fmt.Sprintf(`{"userId":"u1","event":"Fill","messageId":"fill-%d","properties":{"pad":%q}}`, i, padding)
		status, respBody, err := post(ctx, client, srv.base+"/v1/track", "full-key", []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if status == http.StatusOK {
			oks++
			continue
		}
		if status != http.StatusServiceUnavailable {
			t.Fatalf("event %d: status %d (%s), want 200 until full, then 503", i, status, respBody)
		}
		var e struct {
			Success *bool  `json:"success"`
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(respBody, &e); err != nil {
			t.Fatalf("503 body is not JSON: %q", respBody)
		}
		if e.Code != "unavailable" || e.Message == "" || e.Success == nil || *e.Success {
			t.Fatalf("503 body = %s, want success:false, code unavailable and a message", respBody)
		}
		if oks == 0 {
			t.Fatal("the very first event got 503: the cap is too small to test anything")
		}
		// A second attempt is refused the same way: the full log does not
		// make room by dropping older, undelivered messages.
		status, _, err = post(ctx, client, srv.base+"/v1/track", "full-key", []byte(body))
		if err != nil || status != http.StatusServiceUnavailable {
			t.Fatalf("retry on a full log: status %d, err %v; want 503", status, err)
		}
		t.Logf("log full after %d accepted events of ~20 KB with max_bytes 1MiB: 503 %s", oks, respBody)
		return
	}
	t.Fatalf("1000 events of ~20 KB all got 200 with a 1 MiB cap")
}
