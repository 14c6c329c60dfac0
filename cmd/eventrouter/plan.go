package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/schemas/report"
)

const planUsage = `Usage:
  eventrouter plan lint [--format F] [DIR]         check the plan's files (meta-schema, keys, file names, columns)
  eventrouter plan test [--format F] [DIR]         run the plan's fixtures
  eventrouter plan diff --base BASE [--allow-breaking] [--format F] [DIR]
                                                   classify the changes from BASE to DIR

DIR defaults to "schemas". BASE is a plan directory or, when it is not a
directory, a git ref (origin/main, HEAD~1, a tag or commit): the plan at DIR's
path in the repository at that ref. F is text (default), json, or github:
GitHub Actions annotations (::error/::warning/::notice with file and line) and,
when GITHUB_STEP_SUMMARY is set, a markdown summary appended to that file.

Exit codes: 0 ok; 1 findings, failing fixtures, or breaking changes (a rule
changed without a version bump counts as breaking; non-breaking changes alone
exit 0; --allow-breaking makes breaking changes exit 0 too, but not an
unbumped version); 2 usage or I/O error (a base that is neither a directory nor a known git ref, an unreadable
plan, a summary file that cannot be written).
`

// planEnv is what the plan commands read from their environment.
type planEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// runPlan runs the tracking-plan commands used in pull requests; they use
// the same code that enforces the plan at ingest.
func runPlan(args []string, stdout, stderr io.Writer) int {
	return runPlanEnv(args, planEnv{stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

func runPlanEnv(args []string, env planEnv) int {
	stderr := env.stderr
	if code, done := subcommandHelp(args, planUsage, stderr); done {
		return code
	}
	o := report.Options{Command: args[0], Stdout: env.stdout, Getenv: env.getenv}
	if o.Command != "lint" && o.Command != "test" && o.Command != "diff" {
		fmt.Fprintf(stderr, "eventrouter plan: unknown command %q\n\n%s", o.Command, planUsage)
		return 2
	}
	fs := newFlags("plan "+o.Command, planUsage, false, stderr)
	fs.StringVar(&o.Format, "format", "text", "output format: text, json or github")
	if o.Command == "diff" {
		fs.StringVar(&o.Base, "base", "", "the plan to compare against: a directory or a git ref (required)")
		fs.BoolVar(&o.AllowBreaking, "allow-breaking", false, "exit 0 on breaking changes (e.g. when the pull request carries the label that accepts them)")
	}
	// Flags may come before or after DIR.
	var positional []string
	for rest := args[1:]; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if o.Format != "text" && o.Format != "json" && o.Format != "github" {
		fmt.Fprintf(stderr, "eventrouter plan %s: --format must be text, json or github\n", o.Command)
		return 2
	}
	o.Dir = "schemas"
	switch len(positional) {
	case 0:
	case 1:
		o.Dir = positional[0]
	default:
		fmt.Fprintf(stderr, "eventrouter plan %s: one plan directory at most\n", o.Command)
		return 2
	}
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "eventrouter plan %s: %s is not a plan directory\n", o.Command, o.Dir)
		return 2
	}
	if o.Command == "diff" && o.Base == "" {
		fmt.Fprint(stderr, "eventrouter plan diff: --base is required\n\n"+planUsage)
		return 2
	}
	return report.Run(o, stderr)
}
