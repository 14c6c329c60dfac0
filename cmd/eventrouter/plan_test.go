package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// copyShippedPlan copies the shipped plan (schemas/) to a temporary directory.
func copyShippedPlan(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plan")
	if out, err := exec.Command("cp", "-r", "../../schemas", dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the plan: %v: %s", err, out)
	}
	return dir
}

func TestPlanCLI(t *testing.T) {
	shipped := "../../schemas"

	dup := copyShippedPlan(t) // vector P6: a second file whose key is an existing event's
	data, err := os.ReadFile(filepath.Join(dup, "events", "referral_made.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dup, "events", "referral_made_v2.schema.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	removed := copyShippedPlan(t) // an event removed: breaking
	if err := os.Remove(filepath.Join(removed, "events", "referral_converted.schema.json")); err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(filepath.Join(removed, "fixtures", "track", "referral_converted"))

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "lint the shipped plan", args: []string{"lint", shipped}, wantCode: 0, wantStdout: []string{"ok: no findings"}},
		{name: "test the shipped fixtures", args: []string{"test", shipped}, wantCode: 0, wantStdout: []string{"ok: no findings"}},
		{name: "P6 duplicate key", args: []string{"lint", dup}, wantCode: 1, wantStdout: []string{"referral_made_v2.schema.json", "finding(s)"}},
		{name: "P6 as json", args: []string{"lint", "--format", "json", dup}, wantCode: 1, wantStdout: []string{`"findings"`, `"file"`}},
		{name: "no change", args: []string{"diff", "--base", shipped, shipped}, wantCode: 0, wantStdout: []string{"no changes"}},
		{name: "event removed is breaking", args: []string{"diff", "--base", shipped, removed}, wantCode: 1, wantStdout: []string{"breaking", "referral_converted"}},
		{name: "breaking as json", args: []string{"diff", "--format", "json", "--base", shipped, removed}, wantCode: 1, wantStdout: []string{`"breaking": true`}},
		{name: "event added is not breaking", args: []string{"diff", "--base", removed, shipped}, wantCode: 0, wantStdout: []string{"non-breaking"}},
		{name: "diff needs a base", args: []string{"diff", shipped}, wantCode: 2, wantStderr: []string{"--base is required"}},
		{name: "missing directory", args: []string{"lint", filepath.Join(t.TempDir(), "nope")}, wantCode: 2, wantStderr: []string{"is not a plan directory"}},
		{name: "bad format", args: []string{"lint", "--format", "xml", shipped}, wantCode: 2, wantStderr: []string{"--format must be text, json or github"}},
		{name: "unknown command", args: []string{"frob", shipped}, wantCode: 2, wantStderr: []string{`unknown command "frob"`}},
		{name: "help", args: []string{"help"}, wantCode: 0, wantStderr: []string{"eventrouter plan lint"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), append([]string{"plan"}, tt.args...), &stdout, &stderr)
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
			if strings.Contains(strings.Join(tt.args, " "), "json") && tt.wantCode != 2 {
				var v map[string]any
				if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
					t.Errorf("--format json printed no JSON: %v\n%s", err, stdout.String())
				}
			}
		})
	}
}
