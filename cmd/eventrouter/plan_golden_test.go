package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/plan/golden")

// TestPlanGolden pins the output of `plan lint|test|diff` in every format
// on the fixture plans under testdata/plan: lint (findings of every kind
// lint reports), fixtures (failing fixtures), base → head (breaking,
// non-breaking and an unbumped version), base → added (non-breaking only).
// For github, the markdown appended to $GITHUB_STEP_SUMMARY is pinned too.
// Regenerate with: go test ./cmd/eventrouter -run Golden -update
func TestPlanGolden(t *testing.T) {
	const td = "testdata/plan"
	cases := []struct {
		name string
		args []string
		code int
	}{
		{"lint-findings", []string{"lint", td + "/lint"}, 1},
		{"lint-clean", []string{"lint", td + "/head"}, 0},
		{"test-findings", []string{"test", td + "/fixtures"}, 1},
		{"test-clean", []string{"test", td + "/head"}, 0},
		{"diff-breaking", []string{"diff", "--base", td + "/base", td + "/head"}, 1},
		{"diff-nonbreaking", []string{"diff", "--base", td + "/base", td + "/added"}, 0},
		{"diff-none", []string{"diff", "--base", td + "/base", td + "/base"}, 0},
		{"diff-head-does-not-load", []string{"diff", "--base", td + "/base", td + "/lint"}, 1},
	}
	for _, tc := range cases {
		for _, format := range []string{"text", "json", "github"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				summary := filepath.Join(t.TempDir(), "summary.md")
				env := map[string]string{"GITHUB_STEP_SUMMARY": summary}
				var stdout, stderr bytes.Buffer
				args := append(append([]string{}, tc.args...), "--format", format)
				code := runPlanEnv(args, planEnv{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }})
				if code != tc.code {
					t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout.String(), stderr.String())
				}
				if tc.name != "diff-head-does-not-load" && stderr.Len() > 0 {
					t.Errorf("unexpected stderr:\n%s", stderr.String())
				}
				golden(t, filepath.Join(td, "golden", tc.name+"."+format), stdout.Bytes())
				md, err := os.ReadFile(summary)
				switch {
				case format == "github" && err != nil:
					t.Errorf("no step summary: %v", err)
				case format == "github":
					golden(t, filepath.Join(td, "golden", tc.name+".summary.md"), md)
				case err == nil:
					t.Errorf("--format %s wrote a step summary:\n%s", format, md)
				}
			})
		}
	}
}

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if bytes.Contains(got, []byte(os.TempDir())) {
		t.Errorf("output names a temporary path:\n%s", got)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run with -update to accept):\n%s", file, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines that differ between want and got.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}
