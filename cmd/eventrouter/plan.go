package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/schemas"
)

const planUsage = `Usage:
  eventrouter plan lint [--format text|json] [DIR]              check the plan's files (meta-schema, keys, file names, columns)
  eventrouter plan test [--format text|json] [DIR]              run the plan's fixtures
  eventrouter plan diff --base BASEDIR [--format text|json] [DIR]  classify the changes from BASEDIR to DIR

DIR defaults to "schemas". Exit codes: 0 ok, 1 findings (or breaking changes), 2 usage or I/O error.
`

// runPlan runs the tracking-plan commands used in pull requests; they use
// the same code that enforces the plan at ingest.
func runPlan(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprint(stderr, planUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, rest := args[0], args[1:]
	fs := flag.NewFlagSet("plan "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "text", "output format: text or json")
	base := ""
	if cmd == "diff" {
		fs.StringVar(&base, "base", "", "the plan directory to compare against (required)")
	}
	fs.Usage = func() { fmt.Fprint(stderr, planUsage) }
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "eventrouter plan %s: --format must be text or json\n", cmd)
		return 2
	}
	dir := "schemas"
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "eventrouter plan %s: one plan directory at most\n", cmd)
		return 2
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "eventrouter plan %s: %s is not a plan directory\n", cmd, dir)
		return 2
	}
	switch cmd {
	case "lint":
		return reportFindings(schemas.Lint(dir), *format, stdout, stderr)
	case "test":
		return reportFindings(schemas.TestFixtures(dir), *format, stdout, stderr)
	case "diff":
		if base == "" {
			fmt.Fprint(stderr, "eventrouter plan diff: --base is required\n\n"+planUsage)
			return 2
		}
		return planDiff(base, dir, *format, stdout, stderr)
	}
	fmt.Fprintf(stderr, "eventrouter plan: unknown command %q\n\n%s", cmd, planUsage)
	return 2
}

// finding is a schemas.Finding as the json format prints it.
type finding struct {
	File     string `json:"file"`
	Line     int    `json:"line,omitempty"`
	Pointer  string `json:"pointer,omitempty"`
	Message  string `json:"message"`
	Severity string `json:"severity"`
}

func reportFindings(fs []schemas.Finding, format string, stdout, stderr io.Writer) int {
	if format == "json" {
		out := make([]finding, 0, len(fs))
		for _, f := range fs {
			out = append(out, finding{File: f.File, Line: f.Line, Pointer: f.Pointer, Message: f.Message, Severity: string(f.Severity)})
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"findings": out}); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	} else {
		for _, f := range fs {
			fmt.Fprintln(stdout, f.String())
		}
		if len(fs) == 0 {
			fmt.Fprintln(stdout, "ok: no findings")
		} else {
			fmt.Fprintf(stdout, "%d finding(s)\n", len(fs))
		}
	}
	if len(fs) > 0 {
		return 1
	}
	return 0
}

func planDiff(baseDir, headDir, format string, stdout, stderr io.Writer) int {
	base, err := schemas.Load(baseDir)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter plan diff: loading the base plan: %v\n", err)
		return 2
	}
	head, err := schemas.Load(headDir)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter plan diff: loading the plan: %v\n", err)
		return 2
	}
	changes := schemas.Diff(base, head)
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if changes == nil {
			changes = []schemas.Change{}
		}
		if err := enc.Encode(map[string]any{"changes": changes, "breaking": schemas.HasBreaking(changes)}); err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
	} else {
		for _, c := range changes {
			line := fmt.Sprintf("%s: %s %s", c.Class, c.File, c.Message)
			if c.Field != "" {
				line = fmt.Sprintf("%s: %s %s: %s", c.Class, c.File, c.Field, c.Message)
			}
			fmt.Fprintln(stdout, line)
			if c.Downstream != "" {
				fmt.Fprintf(stdout, "    downstream: %s\n", c.Downstream)
			}
		}
		if len(changes) == 0 {
			fmt.Fprintln(stdout, "no changes")
		}
	}
	if schemas.HasBreaking(changes) {
		return 1
	}
	return 0
}
