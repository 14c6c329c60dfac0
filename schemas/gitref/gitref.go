// Package gitref reads a tracking plan as it was at a git ref (a branch,
// tag or commit), so that `eventrouter plan diff --base origin/main`
// compares a pull request's plan with the base branch's without a second
// checkout. It reads the tree of the commit with git ls-tree and git
// cat-file into a temporary directory, rather than git archive, so that
// .gitattributes export rules cannot leave files out; it runs the git
// command-line tool, which a CI runner has, rather than linking a git
// library. Its messages name --base, the plan commands' flag that takes
// the ref.
package gitref

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Base is the base plan of a diff, resolved from --base.
type Base struct {
	// Dir is the directory to load; "" when the git ref has no plan (no
	// plan.yaml) at the head plan's path: the pull request adds the plan.
	Dir string
	// Label names the base in messages: the directory, or ref:path.
	Label string
	// Cleanup removes the temporary directory of a git ref; call it once
	// the plan is loaded. It is never nil.
	Cleanup func()
}

// Resolve returns the base plan for `plan diff --base base`: base
// itself when it is a directory, otherwise base is a git ref and the plan is
// read from the tree of that commit at headDir's path inside its repository
// into a temporary directory (git ls-tree and cat-file, so .gitattributes
// export rules cannot leave files out).
func Resolve(base, headDir string) (Base, error) {
	none := func() {}
	if st, err := os.Stat(base); err == nil && st.IsDir() {
		return Base{Dir: base, Label: base, Cleanup: none}, nil
	}
	if strings.HasPrefix(base, "-") {
		return Base{}, fmt.Errorf("--base %q is neither a directory nor a git ref", base)
	}
	root, rel, err := repoPath(base, headDir)
	if err != nil {
		return Base{}, err
	}
	sha, err := git(root, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", base+"^{commit}")
	if err != nil {
		return Base{}, fmt.Errorf("--base %s is neither a directory nor a commit in the repository at %s (in GitHub Actions, check out with fetch-depth: 0 so the base branch is there)", base, root)
	}
	commit := strings.TrimSpace(string(sha))
	label := base + ":" + rel
	if rel == "." {
		label = base
	}
	blobs, err := listBlobs(root, commit, rel, label)
	if err != nil {
		return Base{}, err
	}
	hasPlan := false
	for _, b := range blobs {
		hasPlan = hasPlan || b.path == "plan.yaml"
	}
	if !hasPlan {
		// Not a plan at that commit (nothing there, or files that came
		// before the plan): every rule of the head plan is new.
		return Base{Label: label, Cleanup: none}, nil
	}
	tmp, err := extract(root, blobs, rel, label)
	if err != nil {
		return Base{}, err
	}
	return Base{Dir: tmp, Label: label, Cleanup: func() { os.RemoveAll(tmp) }}, nil
}

// repoPath returns the root of the git repository that holds headDir, and
// headDir's path in it (slash-separated, "." for the root); base is the
// ref asked for, for messages.
func repoPath(base, headDir string) (root, rel string, err error) {
	abs, err := filepath.Abs(headDir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return "", "", fmt.Errorf("resolving %s: %w", headDir, err)
	}
	top, err := git(abs, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return "", "", fmt.Errorf("--base %s is not a directory, and %s is not in a git repository to read it as a ref from: %w", base, headDir, err)
	}
	root, err = filepath.EvalSymlinks(strings.TrimSpace(string(top)))
	if err != nil {
		return "", "", fmt.Errorf("resolving the repository root: %w", err)
	}
	rel, err = filepath.Rel(root, abs)
	if err != nil || !filepath.IsLocal(rel) && rel != "." {
		return "", "", fmt.Errorf("%s is outside the repository at %s", headDir, root)
	}
	return root, filepath.ToSlash(rel), nil
}

// blob is a file of a git tree: its object and its path under the plan's
// directory.
type blob struct{ sha, path string }

// listBlobs lists the files under rel in the tree of commit (label names
// it in errors): regular files only, no symlinks or submodules.
func listBlobs(root, commit, rel, label string) ([]blob, error) {
	lsArgs := []string{"ls-tree", "-r", "-z", "--full-tree", commit}
	if rel != "." {
		lsArgs = append(lsArgs, "--", rel)
	}
	list, err := git(root, nil, lsArgs...)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", label, err)
	}
	var blobs []blob
	prefix := ""
	if rel != "." {
		prefix = rel + "/"
	}
	for _, entry := range bytes.Split(list, []byte{0}) {
		// <mode> SP <type> SP <object> TAB <path>
		meta, name, ok := strings.Cut(string(entry), "\t")
		f := strings.Fields(meta)
		if !ok || len(f) != 3 || f[1] != "blob" || f[0] == "120000" || !strings.HasPrefix(name, prefix) {
			continue // symlinks, submodules, other paths sharing the prefix
		}
		inner := strings.TrimPrefix(name, prefix)
		if !filepath.IsLocal(inner) {
			continue
		}
		blobs = append(blobs, blob{sha: f[2], path: inner})
	}
	return blobs, nil
}

// extract writes blobs into a new temporary directory and returns it; on
// an error it leaves nothing behind.
func extract(root string, blobs []blob, rel, label string) (string, error) {
	tmp, err := os.MkdirTemp("", "eventrouter-plan-base-")
	if err != nil {
		return "", fmt.Errorf("extracting %s: %w", label, err)
	}
	var in bytes.Buffer
	for _, b := range blobs {
		in.WriteString(b.sha + "\n")
	}
	out, err := git(root, &in, "cat-file", "--batch")
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("reading %s: %w", label, err)
	}
	r := bufio.NewReader(bytes.NewReader(out))
	for _, b := range blobs {
		data, err := readBatchObject(r)
		if err == nil {
			dst := filepath.Join(tmp, filepath.FromSlash(b.path))
			if err = os.MkdirAll(filepath.Dir(dst), 0o755); err == nil {
				err = os.WriteFile(dst, data, 0o644)
			}
		}
		if err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("extracting %s: %s: %w", label, path.Join(rel, b.path), err)
		}
	}
	return tmp, nil
}

// readBatchObject reads one "<sha> <type> <size>\n<content>\n" record of
// git cat-file --batch.
func readBatchObject(r *bufio.Reader) ([]byte, error) {
	header, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("reading git cat-file output: %w", err)
	}
	f := strings.Fields(header)
	if len(f) != 3 {
		return nil, fmt.Errorf("reading git cat-file output: unexpected header %q", strings.TrimSpace(header))
	}
	size, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, fmt.Errorf("reading git cat-file output: bad size in %q", strings.TrimSpace(header))
	}
	data := make([]byte, size+1)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("reading git cat-file output: %w", err)
	}
	return data[:size], nil
}

// git runs git in dir and returns its standard output; the error carries
// git's standard error.
func git(dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if msg := strings.TrimSpace(stderr.String()); errors.As(err, &ee) && msg != "" {
			return nil, fmt.Errorf("running git %s: %s", args[0], msg)
		}
		return nil, fmt.Errorf("running git %s: %w", args[0], err)
	}
	return out, nil
}
