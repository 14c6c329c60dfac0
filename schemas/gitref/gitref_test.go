package gitref

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo makes a git repository whose first commit has a plan under
// schemas/ and whose second commit changes it; it returns the repository.
func repo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("init", "-q")
	write("README", "no plan yet\n")
	run("add", ".")
	run("commit", "-qm", "before the plan")
	run("tag", "noplan")
	write("schemas/plan.yaml", "id: v1\n")
	write("schemas/events/a.schema.json", "{}\n")
	write("schemas-other/plan.yaml", "id: other\n") // shares the prefix
	run("add", ".")
	run("commit", "-qm", "plan v1")
	run("tag", "v1")
	write("schemas/plan.yaml", "id: v2\n")
	run("commit", "-qam", "plan v2")
	return dir
}

func TestResolve(t *testing.T) {
	dir := repo(t)
	head := filepath.Join(dir, "schemas")

	t.Run("a directory is itself", func(t *testing.T) {
		b, err := Resolve(head, head)
		if err != nil || b.Dir != head || b.Label != head {
			t.Fatalf("Resolve(dir) = %+v, %v", b, err)
		}
		b.Cleanup()
	})
	t.Run("a ref is read from git", func(t *testing.T) {
		b, err := Resolve("v1", head)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			b.Cleanup()
			if _, err := os.Stat(b.Dir); !os.IsNotExist(err) {
				t.Errorf("Cleanup left %s", b.Dir)
			}
		}()
		if b.Label != "v1:schemas" {
			t.Errorf("label %q", b.Label)
		}
		plan, err := os.ReadFile(filepath.Join(b.Dir, "plan.yaml"))
		if err != nil || string(plan) != "id: v1\n" {
			t.Errorf("plan.yaml at v1: %q, %v", plan, err)
		}
		if _, err := os.Stat(filepath.Join(b.Dir, "events", "a.schema.json")); err != nil {
			t.Errorf("events/a.schema.json not extracted: %v", err)
		}
		if _, err := os.Stat(filepath.Join(b.Dir, "..", "schemas-other")); err == nil {
			t.Error("a sibling sharing the prefix was extracted")
		}
	})
	t.Run("a ref without a plan has none", func(t *testing.T) {
		b, err := Resolve("noplan", head)
		if err != nil || b.Dir != "" || b.Label != "noplan:schemas" {
			t.Fatalf("Resolve(noplan) = %+v, %v", b, err)
		}
		b.Cleanup()
	})
	for _, bad := range []string{"no-such-ref", "--output=x"} {
		t.Run("bad ref "+bad, func(t *testing.T) {
			if _, err := Resolve(bad, head); err == nil || !strings.Contains(err.Error(), "neither a directory nor a") {
				t.Errorf("Resolve(%q): %v", bad, err)
			}
		})
	}
	t.Run("outside a repository", func(t *testing.T) {
		if _, err := Resolve("v1", t.TempDir()); err == nil || !strings.Contains(err.Error(), "not in a git repository") {
			t.Errorf("Resolve outside a repository: %v", err)
		}
	})
}
