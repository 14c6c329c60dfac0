package repotest

import (
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// mdLink is an inline Markdown link or image: [text](target) or
// ![alt](target), with an optional title after the target.
var mdLink = regexp.MustCompile(`!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)

// outsideFences returns the lines of a Markdown text that are not inside
// a fenced code block, each with its line number.
func outsideFences(text string) map[int]string {
	lines := map[int]string{}
	fence := false
	for i, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fence = !fence
			continue
		}
		if !fence {
			lines[i+1] = l
		}
	}
	return lines
}

// anchors returns the anchors GitHub gives the headings of a Markdown
// text: lower-cased, punctuation other than '-' and '_' removed, spaces as
// '-', and "-1", "-2", ... on repeats.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	for _, l := range outsideFences(text) {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		h := strings.TrimSpace(strings.TrimLeft(l, "#"))
		if h == "" || !strings.HasPrefix(l, strings.Repeat("#", len(l)-len(strings.TrimLeft(l, "#")))+" ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(h) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// docFiles are the Markdown files whose links are checked: the README,
// the manual under docs/, and every other tracked Markdown file but the
// changelog, which records what was true then.
func docFiles(t *testing.T) []string {
	var out []string
	for _, f := range trackedFiles(t) {
		if strings.HasSuffix(f, ".md") && f != "CHANGELOG.md" {
			out = append(out, f)
		}
	}
	return out
}

// TestRelativeLinksResolve fails for a relative link in a tracked Markdown
// file (README.md, docs/*.md, the packages' READMEs) whose file or
// directory does not exist, or whose #anchor names no heading of the
// Markdown file it points at.
func TestRelativeLinksResolve(t *testing.T) {
	files := docFiles(t)
	var sawDocs bool
	for _, name := range files {
		if strings.HasPrefix(name, "docs/") {
			sawDocs = true
		}
		text, ok := readText(t, name)
		if !ok {
			continue
		}
		for n, line := range outsideFences(text) {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				if problem := checkLink(t, name, text, m[1]); problem != "" {
					t.Errorf("%s:%d: link %s: %s", name, n, m[1], problem)
				}
			}
		}
	}
	if !sawDocs {
		t.Error("no tracked file under docs/: the manual is missing")
	}
}

// checkLink returns what is wrong with target, a link found in the file
// from (whose content is fromText), or "" when it resolves.
func checkLink(t *testing.T, from, fromText, target string) string {
	if regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`).MatchString(target) {
		return "" // http:, https:, mailto:: not checked here
	}
	file, anchor, _ := strings.Cut(target, "#")
	resolved := from
	text := fromText
	if file != "" {
		if strings.HasPrefix(file, "/") {
			return "absolute path; use a path relative to " + from
		}
		resolved = path.Clean(path.Join(path.Dir(from), file))
		if strings.HasPrefix(resolved, "../") {
			return "points outside the repository"
		}
		info, err := os.Stat(root + "/" + resolved)
		if err != nil {
			return "no such file or directory " + resolved
		}
		if anchor == "" || info.IsDir() || !strings.HasSuffix(resolved, ".md") {
			return ""
		}
		var ok bool
		if text, ok = readText(t, resolved); !ok {
			return "unreadable " + resolved
		}
	}
	if anchor != "" && !anchors(text)[anchor] {
		return "no heading with anchor #" + anchor + " in " + resolved
	}
	return ""
}

// TestAnchors checks the anchor rule on headings like those of the manual,
// so that TestRelativeLinksResolve cannot pass by accepting any anchor.
func TestAnchors(t *testing.T) {
	a := anchors("# Title\n## The log's guarantees\n### Command line: tail, dlq, replay\n" +
		"### `referral_converted`\n## Health, metrics and signals\n```\n# not a heading\n```\n## Title\n#nospace\n")
	for _, want := range []string{"title", "the-logs-guarantees", "command-line-tail-dlq-replay",
		"referral_converted", "health-metrics-and-signals", "title-1"} {
		if !a[want] {
			t.Errorf("no anchor %q in %v", want, a)
		}
	}
	for _, not := range []string{"not-a-heading", "nospace", "The-logs-guarantees"} {
		if a[not] {
			t.Errorf("anchor %q should not exist", not)
		}
	}
	if p := checkLink(t, "docs/x.md", "# Here\n", "#elsewhere"); p == "" {
		t.Error("a missing anchor resolved")
	}
	if p := checkLink(t, "docs/x.md", "# Here\n", "../no/such/file.md"); p == "" {
		t.Error("a missing file resolved")
	}
	if p := checkLink(t, "docs/x.md", "# Here\n", "../README.md#read-more"); p != "" {
		t.Errorf("README.md#read-more: %s", p)
	}
}
