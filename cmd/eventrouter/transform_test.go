package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const transformConfig = `sources:
  web: {type: segment, write_keys: ["k1"]}
destinations:
  local:
    type: file
    path: ./events.ndjson
    transform:
      - set: {properties.plan: upper(message.properties.plan)}
        when: message.properties.plan != nil
      - drop: internal_user
        when: message.userId endsWith "@example.com"
    suppress: {key: message.userId, window: 24h}
`

// TestCheckRefusesBrokenTransform: check and serve refuse a broken
// expression, with its key path and line.
func TestCheckRefusesBrokenTransform(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "broken.yaml")
	broken := strings.Replace(transformConfig, "upper(message.properties.plan)", "upper(message.properties.plan", 1)
	if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"check", "serve"} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{cmd, "--config", path}, &stdout, &stderr); code != 1 {
			t.Fatalf("%s: exit %d, stderr %s", cmd, code, stderr.String())
		}
		if want := "destinations.local.transform[0].set.properties.plan: unexpected token EOF (column 29) (line 8)"; !strings.Contains(stderr.String(), want) {
			t.Errorf("%s: stderr lacks %q:\n%s", cmd, want, stderr.String())
		}
	}
}

// TestTransformTestCommand runs "eventrouter transform test" on passing
// and failing fixtures, in each format.
func TestTransformTestCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "eventrouter.yaml")
	if err := os.WriteFile(cfg, []byte(transformConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	pass, fail := filepath.Join(dir, "pass"), filepath.Join(dir, "fail")
	for d, data := range map[string]string{
		pass: `name: plan upper-cased, staff dropped, repeats suppressed
destination: local
messages:
  - {type: track, userId: ann, event: Signed Up, properties: {plan: pro}}
  - {type: track, userId: staff@example.com, event: Signed Up}
  - {type: identify, userId: ann}
expect:
  - message: {type: track, userId: ann, event: Signed Up, messageId: fixture-1, properties: {plan: PRO}}
  - filtered: internal_user
  - filtered: suppressed
`,
		fail: `name: plan kept as is
destination: local
messages:
  - {type: track, userId: ann, event: Signed Up, properties: {plan: pro}}
expect:
  - message: {type: track, userId: ann, event: Signed Up, messageId: fixture-1, properties: {plan: pro}}
`,
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "cases.yaml"), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"passing", []string{"test", "--config", cfg, pass}, 0, []string{"ok   " + filepath.Join(pass, "cases.yaml") + ":1 plan upper-cased", "1 passed, 0 failed"}},
		{"failing text", []string{"test", "--config", cfg, fail}, 1, []string{"FAIL ", "line 6: expect[0].message differs:", `properties.plan: got "PRO", want "pro"`}},
		{"failing json", []string{"test", "--config", cfg, "--format", "json", fail}, 1, []string{`"failed": 1`, `"line": 6`}},
		{"failing github", []string{"test", "--config", cfg, "--format", "github", fail}, 1, []string{"::error file=", "cases.yaml,line=6,title=Transform fixture%3A plan kept as is::expect[0].message differs:%0A"}},
		{"bad format", []string{"test", "--config", cfg, "--format", "xml", fail}, 2, nil},
		{"unknown subcommand", []string{"run"}, 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"transform"}, tt.args...), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stdout %s; stderr %s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
		})
	}
}
