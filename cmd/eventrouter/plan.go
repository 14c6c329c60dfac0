package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
	"github.com/eventrouter/eventrouter/schemas/gitref"
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

// planOpts are the parsed flags and arguments of one plan command.
type planOpts struct {
	cmd, dir, format, base string
	allowBreaking          bool
}

func runPlanEnv(args []string, env planEnv) int {
	stderr := env.stderr
	if code, done := subcommandHelp(args, planUsage, stderr); done {
		return code
	}
	o := planOpts{cmd: args[0]}
	if o.cmd != "lint" && o.cmd != "test" && o.cmd != "diff" {
		fmt.Fprintf(stderr, "eventrouter plan: unknown command %q\n\n%s", o.cmd, planUsage)
		return 2
	}
	fs := flag.NewFlagSet("plan "+o.cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.format, "format", "text", "output format: text, json or github")
	if o.cmd == "diff" {
		fs.StringVar(&o.base, "base", "", "the plan to compare against: a directory or a git ref (required)")
		fs.BoolVar(&o.allowBreaking, "allow-breaking", false, "exit 0 on breaking changes (e.g. when the pull request carries the label that accepts them)")
	}
	fs.Usage = func() { fmt.Fprint(stderr, planUsage) }
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
	if o.format != "text" && o.format != "json" && o.format != "github" {
		fmt.Fprintf(stderr, "eventrouter plan %s: --format must be text, json or github\n", o.cmd)
		return 2
	}
	o.dir = "schemas"
	switch len(positional) {
	case 0:
	case 1:
		o.dir = positional[0]
	default:
		fmt.Fprintf(stderr, "eventrouter plan %s: one plan directory at most\n", o.cmd)
		return 2
	}
	if st, err := os.Stat(o.dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "eventrouter plan %s: %s is not a plan directory\n", o.cmd, o.dir)
		return 2
	}
	switch o.cmd {
	case "lint":
		return reportFindings(o, env, schemas.Lint(o.dir))
	case "test":
		return reportFindings(o, env, schemas.TestFixtures(o.dir))
	}
	if o.base == "" {
		fmt.Fprint(stderr, "eventrouter plan diff: --base is required\n\n"+planUsage)
		return 2
	}
	return planDiff(o, env)
}

// options returns the report options of o.
func (o planOpts) options(env planEnv) report.Options {
	return report.Options{Command: o.cmd, Format: o.format, Dir: o.dir, Base: o.base, AllowBreaking: o.allowBreaking, Stdout: env.stdout, Getenv: env.getenv}
}

// reportFindings prints lint or fixture findings in o.format and returns
// the exit code: 1 when there are any, 0 when there are none, 2 when the
// report cannot be written.
func reportFindings(o planOpts, env planEnv, fs []schemas.Finding) int {
	if err := report.Findings(o.options(env), fs); err != nil {
		fmt.Fprintf(env.stderr, "eventrouter plan %s: %v\n", o.cmd, err)
		return 2
	}
	if len(fs) > 0 {
		return 1
	}
	return 0
}

func planDiff(o planOpts, env planEnv) int {
	src, err := gitref.Resolve(o.base, o.dir)
	if err != nil {
		fmt.Fprintf(env.stderr, "eventrouter plan diff: %v\n", err)
		return 2
	}
	defer src.Cleanup()
	var base *schemas.Plan
	if src.Dir == "" {
		fmt.Fprintf(env.stderr, "eventrouter plan diff: %s has no plan: every rule is new\n", src.Label)
	} else if base, err = schemas.Load(src.Dir); err != nil {
		msg := strings.ReplaceAll(err.Error(), src.Dir, src.Label)
		fmt.Fprintf(env.stderr, "eventrouter plan diff: loading the base plan: %s\n", msg)
		return 2
	}
	head, err := schemas.Load(o.dir)
	if err != nil {
		var le *schemas.LoadError
		if errors.As(err, &le) {
			// The head plan is what the pull request changes: its problems
			// are findings, reported like lint's.
			fmt.Fprintf(env.stderr, "eventrouter plan diff: %s does not load; fix these first (see plan lint)\n", o.dir)
			return reportFindings(o, env, le.Problems)
		}
		fmt.Fprintf(env.stderr, "eventrouter plan diff: loading the plan: %v\n", err)
		return 2
	}
	changes := schemas.Diff(base, head)
	if err := report.Diff(o.options(env), head, changes); err != nil {
		fmt.Fprintf(env.stderr, "eventrouter plan diff: %v\n", err)
		return 2
	}
	if report.Fails(changes, o.allowBreaking) {
		return 1
	}
	return 0
}
