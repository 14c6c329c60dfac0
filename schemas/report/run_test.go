package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyPlan copies the plan directory src to a new temporary directory.
func copyPlan(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestRun runs each check over the plans under schemas/ and its
// testdata, and checks the exit code and where each line went.
func TestRun(t *testing.T) {
	noEnv := func(string) string { return "" }
	tests := []struct {
		name       string
		o          Options
		code       int
		wantStdout string // a line of the report
		wantStderr string // "" for none
	}{
		{"lint clean", Options{Command: "lint", Dir: ".."}, ExitOK, "ok: no findings", ""},
		{"lint findings", Options{Command: "lint", Dir: "../testdata/broken"}, ExitFindings, "finding(s)", ""},
		{"fixtures failing", Options{Command: "test", Dir: "../testdata/badfixtures"}, ExitFindings, "fixture", ""},
		{"diff with itself", Options{Command: "diff", Dir: "..", Base: ".."}, ExitOK, "no changes", ""},
		{"base does not load", Options{Command: "diff", Dir: "..", Base: "../testdata/p6"}, ExitError, "", "eventrouter plan diff: loading the base plan: "},
		{"head does not load: findings", Options{Command: "diff", Dir: "../testdata/p6", Base: ".."}, ExitFindings, "duplicate x-segment-key", "does not load; fix these first (see plan lint)"},
		{"base neither a directory nor a ref", Options{Command: "diff", Dir: "..", Base: "no-such-ref-or-dir"}, ExitError, "", "eventrouter plan diff: "},
		{"unknown command", Options{Command: "fmt", Dir: ".."}, ExitError, "", `unknown command "fmt"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			tt.o.Stdout, tt.o.Getenv = &stdout, noEnv
			code := Run(tt.o, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			if !strings.Contains(strings.ToLower(stdout.String()), strings.ToLower(tt.wantStdout)) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout.String())
			}
			if (tt.wantStderr == "") != (stderr.Len() == 0) || !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}

// TestRunDiffBreaking removes a rule from a copy of the plan: a breaking
// change, which fails the diff unless breaking changes are allowed.
func TestRunDiffBreaking(t *testing.T) {
	head := copyPlan(t, "..")
	events, err := filepath.Glob(filepath.Join(head, "events", "*.schema.json"))
	if err != nil || len(events) == 0 {
		t.Fatalf("no event schemas in the plan: %v", err)
	}
	if err := os.Remove(events[0]); err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		var stdout, stderr bytes.Buffer
		code := Run(Options{Command: "diff", Dir: head, Base: "..", AllowBreaking: allow, Format: "json", Stdout: &stdout, Getenv: func(string) string { return "" }}, &stderr)
		want := ExitFindings
		if allow {
			want = ExitOK
		}
		if code != want || stderr.Len() != 0 || !strings.Contains(stdout.String(), `"class": "breaking"`) {
			t.Errorf("removed rule, allow breaking %v: exit %d\nstdout:\n%s\nstderr:\n%s", allow, code, stdout.String(), stderr.String())
		}
	}
}
