package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration file.
type Problem struct {
	// Path is the key path of the offending value, such as
	// "destinations.hook.url" or "sources.web.write_keys[0]"; it is empty for
	// problems with the file as a whole (for example a YAML syntax error).
	Path string
	// Message says what is wrong, in lower case, without the offending
	// value (which could be a secret).
	Message string
	// Line is the line of the file where the value (or, for a missing key,
	// its enclosing block) is, or 0 when unknown.
	Line int
}

// String returns "path: message", or only the message when Path is empty.
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error reports every problem found in a configuration file. [Load] and
// [Parse] return it (as error) whenever the file is invalid.
type Error struct {
	// File is the path of the file, when loaded with [Load].
	File string
	// Problems lists every problem, in the order of their lines in the
	// file.
	Problems []Problem
}

// Error lists the problems one per line, after a first line naming the file
// and the number of problems. Each is "file:line: path: message", as
// compilers write theirs so that editors and CI annotations can jump to it
// ("line N: path: message" when the file has no name, as with [Parse];
// "path: message" for a problem without a line).
func (e *Error) Error() string {
	var b strings.Builder
	what := "configuration"
	if e.File != "" {
		what = "configuration " + e.File
	}
	if len(e.Problems) == 1 {
		fmt.Fprintf(&b, "invalid %s (1 problem):", what)
	} else {
		fmt.Fprintf(&b, "invalid %s (%d problems):", what, len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		switch {
		case p.Line > 0 && e.File != "":
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Has reports whether there is a problem at path whose message contains
// substr. It is meant for tests and for tools that react to one problem.
func (e *Error) Has(path, substr string) bool {
	for _, p := range e.Problems {
		if p.Path == path && strings.Contains(p.Message, substr) {
			return true
		}
	}
	return false
}

// problems collects problems while a file is decoded and checked.
type problems struct {
	list  []Problem
	lines map[string]int      // key path -> line of its value
	hints map[string][]string // key path -> variables that expanded to nothing
}

func newProblems() *problems {
	return &problems{lines: map[string]int{}, hints: map[string][]string{}}
}

// add records a problem at path, with the line of the value at path (or of
// the nearest enclosing key that has one).
func (ps *problems) add(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	ps.list = append(ps.list, Problem{Path: path, Message: msg, Line: ps.line(path)})
}

// required records that the value at path is missing or empty, naming the
// environment variables that expanded to nothing there.
func (ps *problems) required(path string) { ps.requiredMsg(path, "") }

// requiredMsg is required with what to do, why, after a colon: "required:
// set the webhook's signing secret ...".
func (ps *problems) requiredMsg(path, why string) {
	msg := "required"
	if vars := ps.hints[path]; len(vars) > 0 {
		msg += fmt.Sprintf(" (environment variable %s is unset or empty)", strings.Join(vars, ", "))
	}
	if why != "" {
		msg += ": " + why
	}
	ps.add(path, "%s", msg)
}

// has reports whether a problem at path was recorded.
func (ps *problems) has(path string) bool {
	for _, p := range ps.list {
		if p.Path == path {
			return true
		}
	}
	return false
}

func (ps *problems) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := ps.lines[p]; ok {
			return l
		}
	}
	return 0
}

// parentPath returns the path of the value enclosing path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i > 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

// joinPath appends key to the path prefix.
func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func indexPath(prefix string, i int) string {
	return fmt.Sprintf("%s[%d]", prefix, i)
}

func (ps *problems) err(file string) error {
	if len(ps.list) == 0 {
		return nil
	}
	// Report in the order of the file; problems of the file as a whole
	// (line 0) first.
	sort.SliceStable(ps.list, func(i, j int) bool { return ps.list[i].Line < ps.list[j].Line })
	return &Error{File: file, Problems: ps.list}
}
