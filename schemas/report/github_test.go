package report

import (
	"os"
	"path/filepath"
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
		{"relative to GITHUB_WORKSPACE", repo, "testdata/plan/head", "plan.yaml", "schemas/report/testdata/plan/head/plan.yaml"},
		{"absolute plan directory", repo, filepath.Join(repo, "schemas"), "events/x.schema.json", "schemas/events/x.schema.json"},
		{"outside the workspace stays as given", filepath.Join(repo, "cmd"), "testdata/plan/head", "plan.yaml", "testdata/plan/head/plan.yaml"},
		{"the plan directory itself", "", "testdata/plan/head", ".", "testdata/plan/head"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GITHUB_WORKSPACE" {
					return tt.workspace
				}
				return ""
			}
			if got := repoPath(getenv, tt.dir, tt.file); got != tt.want {
				t.Errorf("repoPath = %q, want %q", got, tt.want)
			}
		})
	}
}
