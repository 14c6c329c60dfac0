package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.3.2.1:80": true, "[::1]:8080": true, "localhost:8080": true, "LocalHost:1": true,
		"[::ffff:127.0.0.1]:8080": true,
		":8080":                   false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.5:8080": false, "example.com:80": false,
		"127.0.0.1": false, "": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestFailClosed: the shipped development values are refused wherever
// another machine could use them, and only there.
func TestFailClosed(t *testing.T) {
	const src = "sources:\n  web: {type: segment, write_keys: [%s]}\n  gs: {type: growsurf, secret: %s}\n"
	tests := []struct {
		name, http, key, secret, queue string
		want                           []string // "path: substring"
	}{
		{name: "everything on loopback", http: `{listen: "127.0.0.1:8080", admin_token: dev-admin-token}`, key: "dev-write-key", secret: "dev-growsurf-secret"},
		{name: "public with own values", http: `{listen: ":8080", admin_token: t0k3n}`, key: "k1", secret: "s1"},
		{name: "public with development values", http: `{listen: ":8080", admin_token: dev-admin-token}`, key: "dev-write-key", secret: "dev-growsurf-secret",
			want: []string{"sources.web.write_keys[0]: development write key", "sources.gs.secret: development signing secret", "http.admin_token: http.listen :8080 is not a loopback address"}},
		{name: "admin on loopback, api public", http: `{listen: "0.0.0.0:8080", admin_listen: "127.0.0.1:9090", admin_token: dev-admin-token}`, key: "k1", secret: "s1"},
		{name: "admin public, api on loopback", http: `{listen: "127.0.0.1:8080", admin_listen: "10.1.2.3:9090", admin_token: dev-admin-token}`, key: "dev-write-key", secret: "dev-growsurf-secret",
			want: []string{"http.admin_token: http.admin_listen 10.1.2.3:9090"}},
		{name: "admin listener on the same address", http: `{listen: "127.0.0.1:8080", admin_listen: "127.0.0.1:8080"}`, key: "k1", secret: "s1",
			want: []string{"http.admin_listen: must differ from http.listen"}},
		{name: "admin listener not an address", http: `{listen: "127.0.0.1:8080", admin_listen: "nine"}`, key: "k1", secret: "s1",
			want: []string{"http.admin_listen: must be a host:port"}},
		{name: "embedded nats on every interface", http: `{listen: "127.0.0.1:8080"}`, key: "k1", secret: "s1", queue: `{listen: ":4222"}`,
			want: []string{"queue.listen: :4222 is not a loopback address, and the embedded NATS server has no authentication"}},
		{name: "embedded nats on loopback", http: `{listen: "127.0.0.1:8080"}`, key: "k1", secret: "s1", queue: `{listen: "127.0.0.1:4222"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := "http: " + tt.http + "\n" + strings.ReplaceAll(strings.Replace(src, "%s", tt.key, 1), "%s", tt.secret)
			if tt.queue != "" {
				data += "queue: " + tt.queue + "\n"
			}
			cfg, err := parse([]byte(data), builtinSources(t), env(nil))
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if tt.key == "dev-write-key" && !slices.Contains(cfg.DevelopmentValuesInUse(), "sources.web.write_keys[0]") {
					t.Errorf("DevelopmentValuesInUse = %v", cfg.DevelopmentValuesInUse())
				}
				return
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) != len(tt.want) {
				t.Fatalf("error %v, want %d problems: %v", err, len(tt.want), tt.want)
			}
			for _, w := range tt.want {
				path, sub, _ := strings.Cut(w, ": ")
				if !cerr.Has(path, sub) {
					t.Errorf("missing %q in %v", w, err)
				}
			}
		})
	}
}
