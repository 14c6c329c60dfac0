package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
)

// Options say what a report is about and where it goes.
type Options struct {
	// Command is the check: "lint", "test" or "diff" (it names the check
	// in titles).
	Command string
	// Format is "text" (the default when empty), "json" or "github".
	Format string
	// Dir is the plan directory checked (the head plan of a diff).
	Dir string
	// Base is a diff's base as the user gave it (a directory or git ref).
	Base string
	// AllowBreaking reports breaking changes as allowed (warnings, not
	// errors, in the github format).
	AllowBreaking bool
	// Stdout receives the report.
	Stdout io.Writer
	// Getenv reads GITHUB_WORKSPACE (annotation paths are relative to it)
	// and GITHUB_STEP_SUMMARY (the file the summary is appended to); nil
	// means os.Getenv.
	Getenv func(string) string
}

func (o Options) withDefaults() Options {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	return o
}

// finding is a schemas.Finding as the json format prints it.
type finding struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Pointer  string `json:"pointer,omitempty"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

// Findings prints lint or fixture findings in o.Format. An error means
// the report could not be written (stdout, the step summary).
func Findings(o Options, fs []schemas.Finding) error {
	o = o.withDefaults()
	switch o.Format {
	case "json":
		out := make([]finding, 0, len(fs))
		for _, f := range fs {
			out = append(out, finding{File: f.File, Line: f.Line, Pointer: f.Pointer, Message: f.Message, Severity: string(f.Severity)})
		}
		return writeJSON(o.Stdout, map[string]any{"findings": out})
	case "github":
		return githubFindings(o, fs)
	}
	for _, f := range fs {
		fmt.Fprintln(o.Stdout, f.String())
	}
	if len(fs) == 0 {
		fmt.Fprintln(o.Stdout, "ok: no findings")
	} else {
		fmt.Fprintf(o.Stdout, "%d finding(s)\n", len(fs))
	}
	return nil
}

// change is a schemas.Change as the json format prints it, with the
// position of what changed in the head schema file.
type change struct {
	schemas.Change
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// Fails reports whether a diff with these changes fails the check: it has
// breaking changes, unless allowBreaking and none is a rule changed
// without a version bump (which always fails).
func Fails(changes []schemas.Change, allowBreaking bool) bool {
	return schemas.HasBreaking(changes) && !(allowBreaking && !hasClass(changes, schemas.ClassError))
}

// Diff prints the changes from o.Base to head (loaded from o.Dir) in
// o.Format, with the line of each change in the head plan's files. An
// error means the report could not be written.
func Diff(o Options, head *schemas.Plan, changes []schemas.Change) error {
	o = o.withDefaults()
	breaking := schemas.HasBreaking(changes)
	switch o.Format {
	case "json":
		out := make([]change, 0, len(changes))
		for _, c := range changes {
			cc := change{Change: c, Pointer: c.Pointer()}
			if pos, ok := head.Position(c.File, cc.Pointer); ok {
				cc.Line = pos.Line
			}
			out = append(out, cc)
		}
		return writeJSON(o.Stdout, map[string]any{"changes": out, "breaking": breaking})
	case "github":
		return githubDiff(o, head, changes)
	}
	for _, c := range changes {
		file := c.File
		if pos, ok := head.Position(c.File, c.Pointer()); ok {
			file = fmt.Sprintf("%s:%d", c.File, pos.Line)
		}
		msg := c.Message
		if c.Field != "" && !strings.HasPrefix(msg, c.Field) {
			msg = c.Field + ": " + msg
		}
		fmt.Fprintf(o.Stdout, "%s: %s %s\n", c.Class, file, msg)
		if c.Downstream != "" {
			fmt.Fprintf(o.Stdout, "    downstream: %s\n", c.Downstream)
		}
	}
	if len(changes) == 0 {
		fmt.Fprintln(o.Stdout, "no changes")
	} else {
		fmt.Fprintln(o.Stdout, diffTally(changes))
	}
	if breaking && !Fails(changes, o.AllowBreaking) {
		fmt.Fprintln(o.Stdout, "breaking changes allowed by --allow-breaking")
	}
	return nil
}

// hasClass reports whether any change has class c.
func hasClass(changes []schemas.Change, c schemas.ChangeClass) bool {
	for _, x := range changes {
		if x.Class == c {
			return true
		}
	}
	return false
}

// diffTally counts changes per class, e.g. "2 breaking, 1 non-breaking".
func diffTally(changes []schemas.Change) string {
	n := map[schemas.ChangeClass]int{}
	for _, c := range changes {
		n[c.Class]++
	}
	var parts []string
	for _, c := range []schemas.ChangeClass{schemas.ClassError, schemas.Breaking, schemas.NonBreaking} {
		if n[c] > 0 {
			name := string(c)
			if c == schemas.ClassError {
				name = "error"
				if n[c] > 1 {
					name = "errors"
				}
			}
			parts = append(parts, fmt.Sprintf("%d %s", n[c], name))
		}
	}
	return strings.Join(parts, ", ")
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}
