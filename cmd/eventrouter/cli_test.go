package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.yaml")
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(valid, []byte(`sources:
  web: {type: segment, write_keys: ["k1"]}
destinations:
  local: {type: file, path: ./events.ndjson}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(invalid, []byte(`queue: {partitions: 0, bogus: 1}
sources:
  web: {type: segment, write_keys: ["secret-key-123", "secret-key-123"]}
destinations:
  hook: {type: kafka}
  local: {type: file}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		notStderr  []string
	}{
		{name: "no args prints usage", args: nil, wantCode: 2, wantStderr: []string{"Usage:", "serve", "check", "version"}},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStdout: []string{"Usage:", "eventrouter serve"}},
		{name: "--help", args: []string{"--help"}, wantCode: 0, wantStdout: []string{"Usage:"}},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: []string{`unknown command "frobnicate"`}},
		{name: "version", args: []string{"version"}, wantCode: 0, wantStdout: []string{"eventrouter ", "go1."}},
		{name: "serve --help", args: []string{"serve", "--help"}, wantCode: 0, wantStderr: []string{"Usage: eventrouter serve", "-config"}},
		{name: "check --help", args: []string{"check", "--help"}, wantCode: 0, wantStderr: []string{"Usage: eventrouter check", "-config"}},
		{name: "check valid", args: []string{"check", "--config", valid}, wantCode: 0, wantStdout: []string{"valid (1 source(s), 1 destination(s))"}},
		{name: "check the shipped default", args: []string{"check", "--config", "../../configs/eventrouter.yaml"}, wantCode: 0, wantStdout: []string{"valid"}},
		{name: "check the shipped example", args: []string{"check", "--config", "../../configs/eventrouter.example.yaml"}, wantCode: 0, wantStdout: []string{"valid"}},
		{
			name: "check invalid lists every problem with its key path", args: []string{"check", "--config", invalid}, wantCode: 1,
			wantStderr: []string{
				"queue.partitions:", "queue.bogus:", "sources.web.write_keys[1]: duplicate write key",
				`destinations.hook.type: unknown destination type "kafka" (known types: customerio, file, segment, warehouse, webhook)`,
				"destinations.local.path: required",
			},
			notStderr: []string{"secret-key-123"},
		},
		{name: "check missing file", args: []string{"check", "--config", filepath.Join(dir, "nope.yaml")}, wantCode: 1, wantStderr: []string{"nope.yaml"}},
		{name: "check stray argument", args: []string{"check", "extra"}, wantCode: 2, wantStderr: []string{"unexpected arguments"}},
		{name: "serve refuses an invalid config before starting", args: []string{"serve", "--config", invalid}, wantCode: 1, wantStderr: []string{"queue.partitions:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			for _, w := range tt.notStderr {
				if strings.Contains(stderr.String(), w) {
					t.Errorf("stderr leaks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}
