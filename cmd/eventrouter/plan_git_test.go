package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// gitRepo is a throwaway git repository for the --base <git-ref> tests.
type gitRepo struct {
	t   *testing.T
	dir string
}

func newGitRepo(t *testing.T) *gitRepo {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

// git runs git in the repository, isolated from the user's configuration.
func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-C", r.dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// put replaces the directory rel of the work tree with a copy of src.
func (r *gitRepo) put(rel, src string) {
	r.t.Helper()
	dst := filepath.Join(r.dir, rel)
	if err := os.RemoveAll(dst); err != nil {
		r.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		r.t.Fatalf("copying %s: %v: %s", src, err, out)
	}
}

func (r *gitRepo) commit(msg string) {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
}

// TestPlanDiffGitRef diffs a work tree against git refs of a real
// repository: the plan is read at the ref from the head plan's own path.
func TestPlanDiffGitRef(t *testing.T) {
	repo := newGitRepo(t)
	// Before the plan, its directory held only a README: not a plan yet.
	if err := os.MkdirAll(filepath.Join(repo.dir, "tracking", "plan"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo.dir, "tracking", "plan", "README.md"), []byte("the plan goes here\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo.commit("before the plan")
	repo.git("tag", "before-plan")
	repo.put("tracking/plan", "testdata/plan/base")
	repo.put("tracking/plan-old", "testdata/plan/lint") // a sibling sharing the prefix; must not leak in
	repo.commit("the plan")
	repo.git("tag", "v1")
	repo.put("tracking/plan", "testdata/plan/head") // the pull request's change, uncommitted
	plan := filepath.Join(repo.dir, "tracking", "plan")
	outside := filepath.Join(t.TempDir(), "plan")
	if out, err := exec.Command("cp", "-r", "testdata/plan/head", outside).CombinedOutput(); err != nil {
		t.Fatalf("copying the plan: %v: %s", err, out)
	}
	tmp := t.TempDir() // the base is extracted here, and must be removed after each diff
	t.Setenv("TMPDIR", tmp)

	wantBreaking, err := os.ReadFile("testdata/plan/golden/diff-breaking.text")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // exact when it starts with "=", else a fragment
		wantStderr string
	}{
		{name: "HEAD gives the same diff as the base directory", args: []string{"diff", "--base", "HEAD", plan}, wantCode: 1, wantStdout: "=" + string(wantBreaking)},
		{name: "a tag", args: []string{"diff", "--base", "v1", plan}, wantCode: 1, wantStdout: "=" + string(wantBreaking)},
		{name: "a branch, flags after DIR", args: []string{"diff", plan, "--base", "main", "--format", "json"}, wantCode: 1, wantStdout: `"kind": "event_removed"`},
		{name: "a ref without the plan: every rule is new", args: []string{"diff", "--base", "before-plan", plan}, wantCode: 0, wantStdout: "non-breaking: events/order_completed.schema.json:3 event \"Order Completed\" added", wantStderr: "before-plan:tracking/plan has no plan: every rule is new"},
		{name: "unknown ref", args: []string{"diff", "--base", "no-such-branch", plan}, wantCode: 2, wantStderr: "--base no-such-branch is neither a directory nor a commit"},
		{name: "option-like ref", args: []string{"diff", "--base", "--output=x", plan}, wantCode: 2, wantStderr: "neither a directory nor a git ref"},
		{name: "plan outside any repository", args: []string{"diff", "--base", "HEAD", outside}, wantCode: 2, wantStderr: "is not in a git repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := planEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			code := runPlanEnv(tt.args, env)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			if exact, ok := strings.CutPrefix(tt.wantStdout, "="); ok {
				if stdout.String() != exact {
					t.Errorf("stdout differs from the directory diff:\n%s", lineDiff(exact, stdout.String()))
				}
			} else if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr.String())
			}
			if strings.Contains(stdout.String()+stderr.String(), "eventrouter-plan-base-") {
				t.Errorf("output names the temporary base directory:\n%s%s", stdout.String(), stderr.String())
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("temporary base directories were not removed: %v", left)
	}
}

// TestPlanDiffGitRefRoot diffs a plan kept at the root of its repository.
func TestPlanDiffGitRefRoot(t *testing.T) {
	repo := newGitRepo(t)
	if out, err := exec.Command("cp", "-r", "testdata/plan/added/.", repo.dir).CombinedOutput(); err != nil {
		t.Fatalf("copying the plan: %v: %s", err, out)
	}
	repo.commit("the plan")
	if err := os.Remove(filepath.Join(repo.dir, "events", "product_viewed.schema.json")); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	env := planEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	if code := runPlanEnv([]string{"diff", "--base", "HEAD", repo.dir}, env); code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	want := "breaking: events/product_viewed.schema.json event \"Product Viewed\" removed from the plan\n"
	if !strings.HasPrefix(stdout.String(), want) {
		t.Errorf("stdout:\n%s\nwant it to start with %q", stdout.String(), want)
	}
}
