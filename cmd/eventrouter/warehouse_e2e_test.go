package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// metricSum returns the sum of the samples of metric name whose labels
// contain every one of labels (`destination="wh"`), from a running server.
func metricSum(t *testing.T, base, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// waitLoaded waits until destination wh has handled at least n messages
// since the server started (loaded or filtered out) and has had nothing
// pending for five polls in a row.
func waitLoaded(t *testing.T, srv *serverProc, n float64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for settled := 0; ; {
		done := metricSum(t, srv.base, "eventrouter_dispatch_delivered_total", `destination="wh"`) +
			metricSum(t, srv.base, "eventrouter_dispatch_filtered_total", `destination="wh"`)
		settled++
		if done < n || metricSum(t, srv.base, "eventrouter_dispatch_pending", `destination="wh"`) != 0 {
			settled = 0
		}
		if settled == 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("warehouse handled %v of %v messages after 60s:\n%s", done, n, srv.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sqlJSON runs `eventrouter sql --format json` on cfgPath and decodes the
// rows.
func sqlJSON(t *testing.T, cfgPath, q string) []map[string]any {
	t.Helper()
	out, err := exec.Command(binPath, "sql", "--config", cfgPath, "--format", "json", q).CombinedOutput()
	if err != nil {
		t.Fatalf("eventrouter sql %q: %v\n%s", q, err, out)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("eventrouter sql output: %v\n%s", err, out)
	}
	return rows
}

// TestWarehouseEndToEnd runs the server with a DuckDB warehouse and checks,
// with `eventrouter sql` once the server stopped: T25 (the same messageId
// twice is one row), T38 (a message that turns warehouses off is not
// loaded), and a GrowSurf referred signup arriving in referral_made. While
// the server runs, `eventrouter sql` refuses with a message naming it.
func TestWarehouseEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	body, err := os.ReadFile("../../router/ingest/testdata/growsurf/t2_referred_signup.json")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec-test"
	addr, dir := freeAddr(t), t.TempDir()
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: warn}
sources:
  web: {type: segment, write_keys: ["WK1"]}
  referrals: {type: growsurf, secret: %q}
destinations:
  wh: {type: warehouse, batch_timeout: 50ms}
`, addr, dir, secret)
	srv := startServer(t, cfg, addr)
	ctx := context.Background()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, b := range []string{
		`{"userId":"u1","event":"Order Completed","messageId":"m-1","properties":{"revenue":9.99}}`,
		`{"userId":"u1","event":"Order Completed","messageId":"m-1","properties":{"revenue":9.99}}`,
		`{"userId":"u1","event":"Order Completed","messageId":"m-38","integrations":{"All":true,"Warehouses":{"all":false}}}`,
	} {
		if code, resp, err := post(ctx, client, srv.base+"/v1/track", "WK1", []byte(b)); err != nil || code != 200 {
			t.Fatalf("track: %d %s %v", code, resp, err)
		}
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+"/webhooks/growsurf", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("GrowSurf-Signature", "ts="+ts+",v="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("growsurf webhook answered %d", resp.StatusCode)
	}
	// m-1 once, m-38, and the referred signup's 4 messages.
	waitLoaded(t, srv, 6)

	out, err := exec.Command(binPath, "sql", "--config", srv.cfgPath, "SELECT 1").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "eventrouter serve") || !strings.Contains(string(out), "PID") {
		t.Errorf("eventrouter sql while the server runs: %v\n%s", err, out)
	}
	srv.stop()

	if rows := sqlJSON(t, srv.cfgPath, `SELECT id, revenue FROM web.order_completed ORDER BY id`); len(rows) != 1 || rows[0]["id"] != "m-1" || rows[0]["revenue"] != 9.99 {
		t.Errorf("T25/T38: order_completed = %v, want the one row m-1", rows)
	}
	if rows := sqlJSON(t, srv.cfgPath, `SELECT count(*) AS n FROM web.tracks WHERE id IN ('m-1', 'm-38')`); rows[0]["n"] != 1.0 {
		t.Errorf("T25/T38: tracks rows for m-1 and m-38 = %v, want 1", rows[0]["n"])
	}
	made := sqlJSON(t, srv.cfgPath, `SELECT event, event_text, user_id, referee_email, total_referrals FROM referrals.referral_made`)
	if len(made) != 1 || made[0]["event"] != "referral_made" || made[0]["user_id"] == nil ||
		made[0]["referee_email"] != "gavin.belson@hooli.com" || made[0]["total_referrals"] != 1.0 {
		t.Errorf("referral_made = %v, want one row with the referrer's user_id", made)
	}
	if rows := sqlJSON(t, srv.cfgPath, `SELECT count(*) AS n FROM referrals.users`); rows[0]["n"] != 2.0 {
		t.Errorf("referrals.users has %v rows, want the participant and the referrer", rows[0]["n"])
	}
}

// lastLoadEvent returns what the latest warehouse load line in logs says:
// "begun" (a load's transaction is open), "committed", or "" (none yet).
func lastLoadEvent(logs string) string {
	i := strings.LastIndex(logs, "warehouse load ")
	if i < 0 {
		return ""
	}
	rest := logs[i+len("warehouse load "):]
	switch {
	case strings.HasPrefix(rest, "begun"):
		return "begun"
	case strings.HasPrefix(rest, "committed"):
		return "committed"
	}
	return ""
}

// TestWarehouseCrash sends tracks from several clients, without pause, to
// a server loading a DuckDB warehouse and kill -9s it four times, each at a
// chosen moment read from its debug log: three times the moment a load's
// transaction has begun and not committed, once right after a commit
// (between two loads). Each restart reopens the file and the unacknowledged
// messages are delivered again. It checks that at least one kill landed
// mid-transaction (the log's last load line is "begun"), and at the end
// that every acknowledged message has exactly one row in tracks and in its
// event table, and that there are no other rows.
func TestWarehouseCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end crash test skipped in -short mode")
	}
	addr, dir := freeAddr(t), t.TempDir()
	cfg := fmt.Sprintf(`http: {listen: %q}
data_dir: %q
log: {level: debug}
queue: {partitions: 4}
sources:
  app: {type: segment, write_keys: ["K"]}
destinations:
  wh: {type: warehouse, batch_size: 500, batch_timeout: 100ms, initial_backoff: 50ms, max_backoff: 500ms, max_attempts: 1000, ack_wait: 2s}
`, addr, dir)
	srv := startServer(t, cfg, addr)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()

	var mu sync.Mutex
	acked := map[string]bool{}
	sent := map[string]bool{} // every id sent, acknowledged or not
	sendBatch := func(round, c int) {
		var items []string
		mu.Lock()
		for i := 0; i < 50; i++ {
			id := fmt.Sprintf("r%d-c%d-%d", round, c, i)
			sent[id] = true
			items = append(items, fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u%d","event":"Event %d","properties":{"i":%d,"s":"value %d","f":%d.5,"b":true,"nested":{"a":%d,"b":"x"}}}`, id, i%7, i%4, i, i, i, i))
		}
		mu.Unlock()
		for attempt := 0; attempt < 300; attempt++ {
			code, _, err := post(ctx, client, srv.base+"/v1/batch", "K", []byte(`{"batch":[`+strings.Join(items, ",")+`]}`))
			if err == nil && code == 200 {
				mu.Lock()
				for i := 0; i < 50; i++ {
					acked[fmt.Sprintf("r%d-c%d-%d", round, c, i)] = true
				}
				mu.Unlock()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Errorf("batch r%d-c%d never acknowledged", round, c)
	}
	// Clients send a batch of 50 every 50ms, 60 each, while the kills go
	// on (and at least 10 each after them).
	stop := make(chan struct{})
	var clients sync.WaitGroup
	for c := 0; c < 4; c++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for round := 0; round < 60; round++ {
				select {
				case <-stop:
					if round >= 10 {
						return
					}
				default:
				}
				sendBatch(round, c)
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}

	kills := []string{"begun", "committed", "begun", "begun"}
	midTransaction := 0
	for k, want := range kills {
		deadline := time.Now().Add(30 * time.Second)
		for lastLoadEvent(srv.logs.String()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no %q load line in 30s:\n%s", k, want, srv.logs.String())
			}
			time.Sleep(time.Millisecond)
		}
		srv.kill()
		landed := lastLoadEvent(srv.logs.String())
		t.Logf("kill %d: waited for %q, the last load line is %q", k, want, landed)
		if landed == "begun" {
			midTransaction++
		}
		srv.start()
	}
	close(stop)
	clients.Wait()
	if midTransaction == 0 {
		t.Errorf("no kill landed mid-transaction (of %d aimed at one)", len(kills)-1)
	}
	// The counters restarted with the process: wait for the lag to settle.
	waitLoaded(t, srv, 1)
	srv.stop()

	for _, table := range []string{"tracks", "event_0", "event_1", "event_2", "event_3"} {
		rows := sqlJSON(t, srv.cfgPath, `SELECT id, count(*) AS n FROM app.`+table+` GROUP BY id`)
		for _, r := range rows {
			if r["n"] != 1.0 {
				t.Errorf("%s: id %v has %v rows", table, r["id"], r["n"])
			}
			if id, _ := r["id"].(string); !sent[id] {
				t.Errorf("%s: row %v was never sent", table, r["id"])
			}
		}
		if table == "tracks" {
			got := map[string]bool{}
			for _, r := range rows {
				got[r["id"].(string)] = true
			}
			missing := 0
			for id := range acked {
				if !got[id] {
					missing++
				}
			}
			// A batch whose request a kill cut may be in the log without
			// its acknowledgement: such rows may exist, never sent ones.
			if missing > 0 || len(got) < len(acked) {
				t.Errorf("tracks has %d ids, %d acknowledged, %d acknowledged ones missing", len(got), len(acked), missing)
			}
			t.Logf("tracks has %d rows for %d acknowledged messages (%d sent)", len(got), len(acked), len(sent))
		}
	}
}
