package eventlog

import (
	"path/filepath"
	"testing"
)

// TestWhere checks what the server's start-up line says of the log: an
// external cluster without its URL (which may hold credentials), the
// embedded server with its store directory.
func TestWhere(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"embedded", Config{DataDir: "/var/lib/eventrouter"}, "embedded nats in " + filepath.Join("/var/lib/eventrouter", "nats")},
		{"external", Config{DataDir: "/var/lib/eventrouter", URL: "nats://user:secret@nats-1:4222"}, "external nats"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.Where(); got != tc.want {
				t.Errorf("Where() = %q, want %q", got, tc.want)
			}
		})
	}
}
