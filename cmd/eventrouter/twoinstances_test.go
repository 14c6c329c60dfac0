package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTwoInstancesShareOneNATS runs two `eventrouter serve` processes against
// one real NATS JetStream server (the "past one machine" column of the
// design). Clients alternate between the two; each user's messages must reach
// the destination in the order they were accepted, and when one instance
// stops the other carries on.
func TestTwoInstancesShareOneNATS(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := startNATS(t)

	snk := newSink(t)
	config := func(addr string) string {
		return fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
queue: {url: %q, partitions: 4}
sources:
  app: {type: segment, write_keys: ["pair-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 20, batch_timeout: 50ms}
`, addr, t.TempDir(), ns.ClientURL(), snk.URL+"/in")
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startServer(t, config(addrA), addrA)
	b := startServer(t, config(addrB), addrB)

	const users, perUser = 12, 30
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	acked := map[string]bool{}
	for j := 0; j < perUser; j++ {
		if j == perUser/2 {
			a.stop() // SIGTERM: instance A drains and leaves; B must take over its partitions
		}
		target := a
		if j%2 == 1 || j >= perUser/2 {
			target = b
		}
		var sb strings.Builder
		sb.WriteString(`{"batch":[`)
		for u := 0; u < users; u++ {
			if u > 0 {
				sb.WriteByte(',')
			}
			id := fmt.Sprintf("pair-u%02d-%03d", u, j)
			fmt.Fprintf(&sb, `{"type":"track","messageId":%q,"userId":"u%02d","event":"Step","properties":{"seq":%d}}`, id, u, j)
			acked[id] = false
		}
		sb.WriteString(`]}`)
		status, body, err := post(ctx, client, target.base+"/v1/batch", "pair-key", []byte(sb.String()))
		if err != nil || status != http.StatusOK {
			t.Fatalf("round %d: status %d body %s err %v", j, status, body, err)
		}
		for id := range acked {
			acked[id] = true
		}
	}
	snk.waitForIDs(t, acked, time.Minute)

	last := map[string]int{}
	seen := map[string]bool{}
	dups := 0
	for _, m := range snk.messages() {
		if seen[m.MessageID] {
			dups++
			continue
		}
		seen[m.MessageID] = true
		seq := int(m.Body["properties"].(map[string]any)["seq"].(float64))
		if prev, ok := last[m.UserID]; (ok && seq != prev+1) || (!ok && seq != 0) {
			t.Errorf("user %s: seq %d after %d: out of order", m.UserID, seq, prev)
		}
		last[m.UserID] = seq
	}
	t.Logf("two instances: %d events delivered in per-user order, %d redelivered duplicates", len(seen), dups)
}
