package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/schemas"
)

func TestFails(t *testing.T) {
	breaking := schemas.Change{Class: schemas.Breaking}
	unbumped := schemas.Change{Class: schemas.ClassError}
	fine := schemas.Change{Class: schemas.NonBreaking}
	tests := []struct {
		name          string
		changes       []schemas.Change
		allowBreaking bool
		want          bool
	}{
		{"no changes", nil, false, false},
		{"non-breaking only", []schemas.Change{fine}, false, false},
		{"breaking", []schemas.Change{fine, breaking}, false, true},
		{"breaking, allowed", []schemas.Change{breaking}, true, false},
		{"unbumped version", []schemas.Change{unbumped}, false, true},
		{"unbumped version is not allowed by --allow-breaking", []schemas.Change{breaking, unbumped}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Fails(tt.changes, tt.allowBreaking); got != tt.want {
				t.Errorf("Fails = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFindingsFormats prints the same findings in each format and
// appends the github format's step summary.
func TestFindingsFormats(t *testing.T) {
	fs := []schemas.Finding{{File: "events/a.schema.json", Line: 3, Message: "bad key", Severity: schemas.SeverityWarning}}
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := func(k string) string {
		return map[string]string{"GITHUB_STEP_SUMMARY": summary, "GITHUB_WORKSPACE": "/nowhere"}[k]
	}
	run := func(format string, fs []schemas.Finding) string {
		t.Helper()
		var out bytes.Buffer
		if err := Findings(Options{Command: "lint", Format: format, Dir: "plan", Stdout: &out, Getenv: env}, fs); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := run("text", fs); got != fs[0].String()+"\n1 finding(s)\n" {
		t.Errorf("text: %q", got)
	}
	if got := run("", nil); got != "ok: no findings\n" {
		t.Errorf("text without findings: %q", got)
	}
	var js struct{ Findings []map[string]any }
	if err := json.Unmarshal([]byte(run("json", fs)), &js); err != nil || len(js.Findings) != 1 || js.Findings[0]["severity"] != "warning" || js.Findings[0]["line"] != 3.0 {
		t.Errorf("json: %+v, %v", js, err)
	}
	gh := run("github", fs)
	if !strings.HasPrefix(gh, "::warning file=plan/events/a.schema.json,line=3,title=Tracking plan lint::bad key\n") || !strings.HasSuffix(gh, "Tracking plan lint: 1 finding in plan\n") {
		t.Errorf("github: %q", gh)
	}
	md, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(md), "### Tracking plan lint: 1 finding") || !strings.Contains(string(md), "| `plan/events/a.schema.json` | 3 |  | bad key |") {
		t.Errorf("step summary: %s, %v", md, err)
	}
}
