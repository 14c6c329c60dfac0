package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const transformConfig = `sources:
  web: {type: segment, write_keys: ["k1"]}
  hooks:
    type: webhook
    path: /webhooks/test
    allow_unsigned: true
    rules:
      - name: joined
        when: body.event == "joined"
        emit:
          - {type: identify, userId: lower(body.email), traits: {plan: body.plan}}
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
		if want := "broken.yaml:17: destinations.local.transform[0].set.properties.plan: unexpected token EOF (column 29)"; !strings.Contains(stderr.String(), want) {
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
		pass: `name: a webhook delivery becomes an identify
source: hooks
webhook:
  body: {event: joined, email: Ann@Example.org, plan: pro}
match: subset
expect:
  - message: {type: identify, userId: ann@example.org, traits: {plan: pro}, anonymousId: null}
---
name: plan upper-cased, staff dropped, repeats suppressed
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
		{"passing", []string{"test", "--config", cfg, pass}, 0, []string{"ok   " + filepath.Join(pass, "cases.yaml") + ":1 a webhook delivery becomes an identify (source hooks)", ":9 plan upper-cased", "2 passed, 0 failed"}},
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

// TestTransformActionStep runs the GitHub Action's transform step with
// bash, as the runner would, with the binary TestMain built on PATH.
func TestTransformActionStep(t *testing.T) {
	var a actionFile
	readYAML(t, "../../action.yml", &a)
	var step *actionStep
	for i, s := range a.Runs.Steps {
		if strings.Contains(s.Run, "eventrouter transform test ") {
			step = &a.Runs.Steps[i]
		}
	}
	if step == nil {
		t.Fatal("action.yml has no step running eventrouter transform test")
	}
	repo := t.TempDir()
	if err := os.MkdirAll(filepath.Join(repo, "configs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "configs", "eventrouter.yaml"), []byte(transformConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for dir, expect := range map[string]string{"transforms": "{properties: {plan: PRO}}", "broken": "{properties: {plan: pro}}"} {
		if err := os.MkdirAll(filepath.Join(repo, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		c := "name: upper\ndestination: local\nmatch: subset\nmessages: [{type: track, userId: ann, event: e, properties: {plan: pro}}]\nexpect:\n  - message: " + expect + "\n"
		if err := os.WriteFile(filepath.Join(repo, dir, "local.yaml"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Dir(binPath) + string(os.PathListSeparator) + os.Getenv("PATH")
	for _, tt := range []struct {
		dir      string
		wantCode int
		want     string
	}{
		{"transforms", 0, "transform fixtures: 1 passed, 0 failed in transforms"},
		{"broken", 1, `::error file=broken/local.yaml,line=6,title=Transform fixture%3A upper::expect[0].message differs:%0A  properties.plan: got "PRO", want "pro"`},
		{"none", 0, "::notice title=Transform fixtures::no fixture directory 'none': skipped"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			cmd := exec.Command("bash", "-e", "-c", step.Run)
			cmd.Dir = repo
			cmd.Env = append(os.Environ(), "PATH="+path, "GITHUB_WORKSPACE="+repo)
			cmd.Env = append(cmd.Env, actionStepEnv(t, *step, map[string]string{
				"${{ inputs.transforms }}": tt.dir,
				"${{ inputs.config }}":     "configs/eventrouter.yaml",
			})...)
			out, err := cmd.CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit %d (want %d), output lacks %q:\n%s", code, tt.wantCode, tt.want, out)
			}
		})
	}
}
