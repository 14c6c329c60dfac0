package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPlanAnnotationEscaping(t *testing.T) {
	tests := []struct {
		name string
		a    annotation
		want string
	}{
		{
			name: "every property",
			a:    annotation{level: "error", file: "schemas/events/a.schema.json", line: 4, col: 3, title: "Tracking plan lint", message: "bad"},
			want: "::error file=schemas/events/a.schema.json,line=4,col=3,title=Tracking plan lint::bad",
		},
		{
			name: "data escapes percent and line breaks, keeps : and ,",
			a:    annotation{level: "warning", message: "100% sure:\r\nsecond, line"},
			want: "::warning::100%25 sure:%0D%0Asecond, line",
		},
		{
			name: "properties also escape : and ,",
			a:    annotation{level: "notice", file: "dir,x/a:b%.json", line: 1, title: "a: b, c\n"},
			want: "::notice file=dir%2Cx/a%3Ab%25.json,line=1,title=a%3A b%2C c%0A::",
		},
		{
			name: "a column needs a line, a line needs a file",
			a:    annotation{level: "error", line: 3, col: 2, message: "m"},
			want: "::error::m",
		},
		{
			name: "file without line",
			a:    annotation{level: "error", file: "f.json", col: 2, message: "m"},
			want: "::error file=f.json::m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPlanRepoPath(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Dir(filepath.Dir(wd)) // the repository root
	tests := []struct {
		name, workspace, dir, file, want string
	}{
		{"relative to the working directory", "", "testdata/plan/head", "events/a.schema.json", "testdata/plan/head/events/a.schema.json"},
		{"relative to GITHUB_WORKSPACE", repo, "testdata/plan/head", "plan.yaml", "cmd/eventrouter/testdata/plan/head/plan.yaml"},
		{"absolute plan directory", repo, filepath.Join(repo, "schemas"), "events/x.schema.json", "schemas/events/x.schema.json"},
		{"outside the workspace stays as given", filepath.Join(repo, "schemas"), "testdata/plan/head", "plan.yaml", "testdata/plan/head/plan.yaml"},
		{"the plan directory itself", "", "testdata/plan/head", ".", "testdata/plan/head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := planEnv{getenv: func(k string) string {
				if k == "GITHUB_WORKSPACE" {
					return tt.workspace
				}
				return ""
			}}
			if got := repoPath(env, tt.dir, tt.file); got != tt.want {
				t.Errorf("repoPath = %q, want %q", got, tt.want)
			}
		})
	}
}

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
