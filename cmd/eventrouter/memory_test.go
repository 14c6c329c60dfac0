package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// memoryLimitLog returns the "memory limit set" line the server logged at
// start.
func memoryLimitLog(t *testing.T, srv *serverProc) map[string]any {
	t.Helper()
	for line := range strings.Lines(srv.logs.String()) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) == nil && l["msg"] == "memory limit set" {
			return l
		}
	}
	t.Fatalf("no \"memory limit set\" line in the log:\n%s", srv.logs.String())
	return nil
}

// gaugeValue returns the value of the unlabelled metric name on /metrics.
func gaugeValue(t *testing.T, srv *serverProc, name string) float64 {
	t.Helper()
	status, body := adminRequest(t, srv.base, "GET", "/metrics", "", "")
	if status != http.StatusOK {
		t.Fatalf("/metrics = %d", status)
	}
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics lacks %s", name)
	return 0
}

// TestAdminProfilesAndMemoryLimit starts `eventrouter serve` and checks
// the soft memory limit (chosen from the config, GOMEMLIMIT, or
// automatically; logged and exported as eventrouter_memory_limit_bytes)
// and the profiles under /debug/pprof/, behind the admin token.
func TestAdminProfilesAndMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	const sources = "sources:\n  app: {type: segment, write_keys: [mem-key]}\n"

	t.Run("config limit and profiles", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "1GiB") // memory_limit overrides it
		srv := startAdminServer(t, "memory_limit: 300MiB\n"+sources)
		l := memoryLimitLog(t, srv)
		if l["source"] != "config" || l["limit"] != "300MiB" || l["bytes"] != float64(300<<20) {
			t.Fatalf("logged %v, want 300MiB from the config", l)
		}
		if !strings.Contains(fmt.Sprint(l["detail"]), "overrides GOMEMLIMIT=1GiB") {
			t.Errorf("detail %q does not say GOMEMLIMIT is overridden", l["detail"])
		}
		if got := gaugeValue(t, srv, "eventrouter_memory_limit_bytes"); got != 300<<20 {
			t.Fatalf("eventrouter_memory_limit_bytes = %v, want %v", got, 300<<20)
		}

		for _, auth := range []string{"", "Bearer wrong-token"} {
			if status, body := adminRequest(t, srv.base, "GET", "/debug/pprof/heap", auth, ""); status != http.StatusUnauthorized {
				t.Fatalf("heap profile with Authorization %q: %d %s, want 401", auth, status, body)
			}
		}
		status, body := adminCall(t, srv.base, opsAdminToken, "GET", "/debug/pprof/heap", "")
		if status != http.StatusOK || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
			t.Fatalf("heap profile: %d, %d bytes starting %q; want 200 and gzip", status, len(body), body[:min(len(body), 16)])
		}
		status, body = adminCall(t, srv.base, opsAdminToken, "GET", "/debug/pprof/heap?debug=1", "")
		if status != http.StatusOK || !bytes.Contains(body, []byte("heap profile")) {
			t.Fatalf("heap profile as text: %d %.200s", status, body)
		}
		status, body = adminCall(t, srv.base, opsAdminToken, "GET", "/debug/pprof/", "")
		if status != http.StatusOK || !bytes.Contains(body, []byte("goroutine")) {
			t.Fatalf("profile index: %d %.200s", status, body)
		}
	})

	t.Run("GOMEMLIMIT without memory_limit, admin off", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "200MiB")
		addr := freeAddr(t)
		srv := startServer(t, fmt.Sprintf("http: {listen: %q}\ndata_dir: %q\n", addr, t.TempDir())+sources, addr)
		l := memoryLimitLog(t, srv)
		if l["source"] != "GOMEMLIMIT" || l["bytes"] != float64(200<<20) {
			t.Fatalf("logged %v, want 200MiB from GOMEMLIMIT", l)
		}
		if got := gaugeValue(t, srv, "eventrouter_memory_limit_bytes"); got != 200<<20 {
			t.Fatalf("eventrouter_memory_limit_bytes = %v, want %v", got, 200<<20)
		}
		if status, body := adminCall(t, srv.base, "any", "GET", "/debug/pprof/heap", ""); status != http.StatusNotFound {
			t.Fatalf("heap profile without an admin token configured: %d %s, want 404", status, body)
		}
	})

	t.Run("auto", func(t *testing.T) {
		t.Setenv("GOMEMLIMIT", "") // empty is unset, for the runtime too
		srv := startAdminServer(t, sources)
		l := memoryLimitLog(t, srv)
		// This machine's cgroup decides which; either way the gauge holds
		// what was logged.
		switch l["source"] {
		case "default":
			if l["bytes"] != float64(180<<20) {
				t.Fatalf("logged %v, want 180MiB", l)
			}
		case "cgroup":
		default:
			t.Fatalf("logged %v, want source default or cgroup", l)
		}
		if got := gaugeValue(t, srv, "eventrouter_memory_limit_bytes"); got != l["bytes"] {
			t.Fatalf("eventrouter_memory_limit_bytes = %v, logged %v", got, l["bytes"])
		}
		t.Logf("auto: %v (%v)", l["limit"], l["detail"])
	})
}
