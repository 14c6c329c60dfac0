package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// slowReingester passes every entry after a pause, as a replay through a
// busy log would.
type slowReingester struct{}

func (slowReingester) Reingest(ctx context.Context, q router.Quarantined, dryRun bool) (bool, []router.Violation, error) {
	time.Sleep(20 * time.Millisecond)
	return true, nil, nil
}

// TestLongOperationStopsAtShutdown: a quarantine replay in progress ends
// between entries when the server shuts down, with a final line saying
// so, instead of holding http.Server.Shutdown until it is done.
func TestLongOperationStopsAtShutdown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	store, _ := quarantineOf(t, 300) // 6 s of replay
	s := New("tok", nil)
	s.MountQuarantine(store, slowReingester{}, nil)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)

	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/admin/quarantine/replay", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan map[string]json.RawMessage, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			var l map[string]json.RawMessage
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				lines <- l
			}
		}
	}()
	<-lines // the first progress line: the replay starts
	<-lines // the second, 200 ms later: some entries are replayed
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	start := time.Now()
	if err := srv.Config.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown with a replay in progress: %v after %s", err, time.Since(start).Round(time.Millisecond))
	}
	var last map[string]json.RawMessage
	for l := range lines {
		last = l
	}
	var e struct{ Code, Message string }
	if json.Unmarshal(last["error"], &e) != nil || e.Code != "stopped" || !strings.Contains(e.Message, "shutting down") {
		t.Fatalf("final line %s, want error stopped (shutting down)", last)
	}
	if left, err := store.Quarantined(ctx, "", "", time.Time{}); err != nil || len(left) == 0 || len(left) == 300 {
		t.Fatalf("%d entries left, %v; want some replayed, some left", len(left), err)
	}
}
