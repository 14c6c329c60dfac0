package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTransformsAndSuppressionEndToEnd runs the binary with a webhook
// destination that transforms and suppresses: the sink gets the
// transformed message, the dropped and suppressed ones are filtered with
// their reasons in the debugger, and a key delivered before a restart
// still suppresses after it.
func TestTransformsAndSuppressionEndToEnd(t *testing.T) {
	sink := newSink(t)
	srv := startAdminServer(t, `log: {level: warn}
queue: {partitions: 2}
sources:
  web: {type: segment, write_keys: ["tf-key"]}
destinations:
  hook:
    type: webhook
    url: %q
    batch_timeout: 50ms
    transform:
      - set: {properties.plan: upper(message.properties.plan)}
        when: message.properties.plan != nil
      - remove: [context.ip]
      - drop: internal_user
        when: message.userId endsWith "@example.com"
    suppress: {key: 'message.userId + ":" + message.event', window: 24h}
`, sink.URL+"/in")

	send := func(msgs ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		body := `{"batch":[` + strings.Join(msgs, ",") + `]}`
		if status, b, err := post(ctx, http.DefaultClient, srv.base+"/v1/batch", "tf-key", []byte(body)); err != nil || status != 200 {
			t.Fatalf("posting: %d %s %v", status, b, err)
		}
	}
	track := func(id, user string) string {
		return fmt.Sprintf(`{"type":"track","messageId":%q,"userId":%q,"event":"Signed Up","properties":{"plan":"pro"},"context":{"ip":"203.0.113.9"}}`, id, user)
	}
	filteredAs := func(id, reason string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			code, body := adminCall(t, srv.base, opsAdminToken, http.MethodGet, "/admin/messages/web/"+id, "")
			if code == 200 && strings.Contains(string(body), "filtered: "+reason) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not shown as filtered (%s) in the debugger: %d %s", id, reason, code, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	send(track("tf-1", "ann"), track("tf-2", "staff@example.com"), track("tf-3", "ann"))
	sink.waitForIDs(t, map[string]bool{"tf-1": true}, 20*time.Second)
	filteredAs("tf-2", "internal_user")
	filteredAs("tf-3", "suppressed")
	got := sink.messages()
	if len(got) != 1 {
		t.Fatalf("sink got %d messages", len(got))
	}
	props, _ := got[0].Body["properties"].(map[string]any)
	ctxObj, _ := got[0].Body["context"].(map[string]any)
	if props["plan"] != "PRO" || ctxObj == nil || ctxObj["ip"] != nil {
		t.Fatalf("delivered %v", got[0].Body)
	}

	// Restarted, on the same data directory: ann's key is still known.
	srv.stop()
	srv.start()
	send(track("tf-4", "ann"), track("tf-5", "bob"))
	sink.waitForIDs(t, map[string]bool{"tf-5": true}, 20*time.Second)
	filteredAs("tf-4", "suppressed")
	for _, m := range sink.messages() {
		if m.MessageID == "tf-4" || m.MessageID == "tf-3" || m.MessageID == "tf-2" {
			t.Fatalf("%s delivered", m.MessageID)
		}
	}
}
