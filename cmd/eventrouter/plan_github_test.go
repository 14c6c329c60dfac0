package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanExitCodes checks the exit codes of every command in every format:
// 0 ok, 1 findings or breaking changes, 2 usage or I/O error.
func TestPlanExitCodes(t *testing.T) {
	const td = "testdata/plan"
	breakingOnly := filepath.Join(t.TempDir(), "plan") // base/added minus an event: one breaking change
	if out, err := exec.Command("cp", "-r", td+"/added", breakingOnly).CombinedOutput(); err != nil {
		t.Fatalf("copying the plan: %v: %s", err, out)
	}
	if err := os.Remove(filepath.Join(breakingOnly, "events", "product_viewed.schema.json")); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	unwritable := filepath.Join(t.TempDir(), "no", "such", "dir", "summary.md")

	tests := []struct {
		name    string
		args    []string
		summary string // GITHUB_STEP_SUMMARY; github format only
		want    int
	}{
		{name: "lint clean", args: []string{"lint", td + "/head"}, want: 0},
		{name: "lint findings", args: []string{"lint", td + "/lint"}, want: 1},
		{name: "lint missing dir", args: []string{"lint", td + "/nope"}, want: 2},
		{name: "lint a file", args: []string{"lint", notDir}, want: 2},
		{name: "lint two dirs", args: []string{"lint", td + "/head", td + "/base"}, want: 2},
		{name: "lint unknown flag", args: []string{"lint", "--base", "x", td + "/head"}, want: 2},
		{name: "test clean", args: []string{"test", td + "/head"}, want: 0},
		{name: "test failing fixtures", args: []string{"test", td + "/fixtures"}, want: 1},
		{name: "test missing dir", args: []string{"test", td + "/nope"}, want: 2},
		{name: "diff none", args: []string{"diff", "--base", td + "/base", td + "/base"}, want: 0},
		{name: "diff non-breaking only exits 0", args: []string{"diff", "--base", td + "/base", td + "/added"}, want: 0},
		{name: "diff breaking", args: []string{"diff", "--base", td + "/added", breakingOnly}, want: 1},
		{name: "diff breaking allowed", args: []string{"diff", "--allow-breaking", "--base", td + "/added", breakingOnly}, want: 0},
		{name: "diff unbumped version is not allowed", args: []string{"diff", "--allow-breaking", "--base", td + "/base", td + "/head"}, want: 1},
		{name: "diff head does not load", args: []string{"diff", "--base", td + "/base", td + "/lint"}, want: 1},
		{name: "diff base does not load", args: []string{"diff", "--base", td + "/lint", td + "/base"}, want: 2},
		{name: "diff without base", args: []string{"diff", td + "/head"}, want: 2},
		{name: "diff missing head", args: []string{"diff", "--base", td + "/base", td + "/nope"}, want: 2},
		{name: "lint summary unwritable", args: []string{"lint", td + "/head"}, summary: unwritable, want: 2},
		{name: "test summary unwritable", args: []string{"test", td + "/fixtures"}, summary: unwritable, want: 2},
		{name: "diff summary unwritable", args: []string{"diff", "--base", td + "/base", td + "/added"}, summary: unwritable, want: 2},
	}
	for _, tt := range tests {
		for _, format := range []string{"text", "json", "github"} {
			if tt.summary != "" && format != "github" {
				continue
			}
			t.Run(tt.name+"/"+format, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				env := planEnv{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
					if k == "GITHUB_STEP_SUMMARY" {
						return tt.summary
					}
					return ""
				}}
				code := runPlanEnv(append(append([]string{}, tt.args...), "--format", format), env)
				if code != tt.want {
					t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.want, stdout.String(), stderr.String())
				}
				if code == 2 && stderr.Len() == 0 {
					t.Error("exit code 2 without a message on stderr")
				}
			})
		}
	}
}

// TestPlanStepSummaryAppends runs lint, test and diff as the action does,
// one after the other on one summary file: each appends its section.
func TestPlanStepSummaryAppends(t *testing.T) {
	summary := filepath.Join(t.TempDir(), "summary.md")
	if err := os.WriteFile(summary, []byte("# Earlier step\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := planEnv{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(k string) string {
		if k == "GITHUB_STEP_SUMMARY" {
			return summary
		}
		return ""
	}}
	for _, args := range [][]string{
		{"lint", "--format", "github", "testdata/plan/head"},
		{"test", "--format", "github", "testdata/plan/head"},
		{"diff", "--format", "github", "--base", "testdata/plan/base", "testdata/plan/added"},
	} {
		if code := runPlanEnv(args, env); code != 0 {
			t.Fatalf("%v: exit code %d", args, code)
		}
	}
	md, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "#") {
			headings = append(headings, l)
		}
	}
	want := []string{
		"# Earlier step",
		"### Tracking plan lint: all clear",
		"### Tracking plan fixtures: all clear",
		"### Tracking plan diff against `testdata/plan/base`: 2 non-breaking",
	}
	if strings.Join(headings, "\n") != strings.Join(want, "\n") {
		t.Errorf("summary headings:\n%s\nwant:\n%s", strings.Join(headings, "\n"), strings.Join(want, "\n"))
	}
}
