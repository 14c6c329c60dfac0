package main

import (
	"context"
	"fmt"
	"io"
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
queue: {url: %q, partitions: 4, lease_ttl: 1s}
sources:
  app: {type: segment, write_keys: ["pair-key"]}
destinations:
  hook: {type: webhook, url: %q, batch_size: 20, batch_timeout: 50ms}
`, addr, t.TempDir(), ns.ClientURL(), snk.URL+"/in")
	}
	addrA, addrB := freeAddr(t), freeAddr(t)
	a := startServer(t, config(addrA), addrA)
	b := startServer(t, config(addrB), addrB)

	// The two instances share the partitions: 2 each.
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range []*serverProc{a, b} {
		for !strings.Contains(metricsOf(t, p), `eventrouter_dispatch_partitions_owned{destination="hook"} 2`) {
			if time.Now().After(deadline) {
				t.Fatalf("partitions not shared 2/2 after 30s; %s has:\n%s", p.base, grepLines(metricsOf(t, p), "partitions_owned"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

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
		var ids []string
		sb.WriteString(`{"batch":[`)
		for u := 0; u < users; u++ {
			if u > 0 {
				sb.WriteByte(',')
			}
			id := fmt.Sprintf("pair-u%02d-%03d", u, j)
			fmt.Fprintf(&sb, `{"type":"track","messageId":%q,"userId":"u%02d","event":"Step","properties":{"seq":%d}}`, id, u, j)
			ids = append(ids, id)
		}
		sb.WriteString(`]}`)
		status, body, err := post(ctx, client, target.base+"/v1/batch", "pair-key", []byte(sb.String()))
		if err != nil || status != http.StatusOK {
			t.Fatalf("round %d: status %d body %s err %v", j, status, body, err)
		}
		for _, id := range ids {
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
	if !strings.Contains(metricsOf(t, b), `eventrouter_dispatch_partitions_owned{destination="hook"} 4`) {
		t.Errorf("after A stopped, B does not own all 4 partitions:\n%s", grepLines(metricsOf(t, b), "partitions_owned"))
	}
	t.Logf("two instances: %d events delivered in per-user order, %d redelivered duplicates", len(seen), dups)
}

// metricsOf returns the /metrics text of a running server.
func metricsOf(t *testing.T, p *serverProc) string {
	t.Helper()
	resp, err := http.Get(p.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
