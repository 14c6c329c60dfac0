package repotest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// root is the repository's top directory, seen from this package.
const root = "../.."

// trackedFiles returns the paths, relative to root, of the files git
// tracks. It skips the test when git or the checkout is not there (a
// source archive), since then there is no list of tracked files to read.
func trackedFiles(t *testing.T) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("listing tracked files: %v (not a git checkout?)", err)
	}
	var files []string
	for _, f := range bytes.Split(out, []byte{0}) {
		if len(f) > 0 {
			files = append(files, string(f))
		}
	}
	if len(files) == 0 {
		t.Fatal("git ls-files listed no file")
	}
	return files
}

// readText returns the content of a tracked text file; ok is false for a
// binary file (one with a NUL byte or that is not UTF-8) or a file listed
// by git but absent from the work tree.
func readText(t *testing.T, name string) (text string, ok bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, name))
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if bytes.IndexByte(b, 0) >= 0 || !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

// The documents that are not in the repository, spelled so that this file
// does not match itself.
var (
	// sectionRef is a section sign followed by a number; a
	// preceding "RFC nnnn " makes it a public reference, which is fine.
	sectionRef = regexp.MustCompile(`(RFC \d+ )?\x{00A7}\s*\d`)
	outside    = []string{
		"../" + "shared",
		"segment-api" + ".md",
		"growsurf-customerio" + ".md",
	}
)

// citations returns the citations of documents outside the repository in
// text, one per line that holds any, as "line N: <text>".
func citations(text string) []string {
	var found []string
	for i, line := range strings.Split(text, "\n") {
		bad := false
		for _, m := range sectionRef.FindAllStringSubmatch(line, -1) {
			if m[1] == "" {
				bad = true
			}
		}
		for _, s := range outside {
			if strings.Contains(line, s) {
				bad = true
			}
		}
		if bad {
			found = append(found, "line "+strconv.Itoa(i+1)+": "+strings.TrimSpace(line))
		}
	}
	return found
}

// TestNoCitationsOfOutsideDocuments fails when a tracked file cites a
// section by number or names a document (a design note, a spec) that the
// repository does not hold: a reader of the code, a message or a golden
// file must not need it. Say the fact itself instead.
func TestNoCitationsOfOutsideDocuments(t *testing.T) {
	for _, name := range trackedFiles(t) {
		text, ok := readText(t, name)
		if !ok {
			continue
		}
		for _, c := range citations(text) {
			t.Errorf("%s: %s", name, c)
		}
	}
}

// TestCitationsFinds checks the matcher on what it must and must not flag,
// so that TestNoCitationsOfOutsideDocuments cannot pass by matching nothing.
func TestCitationsFinds(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       int
	}{
		{"section", "// coerce converts v (spec \u00a75.5's table)", 1},
		{"section with space", "see \u00a7 6", 1},
		{"two on a line", "\u00a72.2, \u00a72.3", 1},
		{"shared", "read ../" + "shared/spec first", 1},
		{"spec file", "(segment-api" + ".md)", 1},
		{"growsurf file", "growsurf-customerio" + ".md section 7", 1},
		{"lines counted apart", "\u00a71\nok\n\u00a72", 2},
		{"rfc", "an HTTP token (RFC 9110 \u00a75.1)", 0},
		{"sign without number", "{\"\u2022\u00b6\u00a7\u0192foo\", \"foo\"}", 0},
		{"plain", "Segment's warehouse names tables after the event, snake_cased", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := citations(tc.text); len(got) != tc.want {
				t.Errorf("citations(%q) = %q, want %d", tc.text, got, tc.want)
			}
		})
	}
}
