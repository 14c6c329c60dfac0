package report

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/eventrouter/eventrouter/schemas"
	"github.com/eventrouter/eventrouter/schemas/gitref"
)

// Exit codes of [Run].
const (
	// ExitOK: no findings, no failing fixture, no change that fails.
	ExitOK = 0
	// ExitFindings: findings, failing fixtures, or changes that fail
	// ([Fails]).
	ExitFindings = 1
	// ExitError: a base that cannot be read, a plan that cannot be
	// read, or a report that cannot be written.
	ExitError = 2
)

// Run runs the plan check o.Command ("lint", "test" or "diff") over the
// plan in o.Dir, prints its report in o.Format, and returns its exit code.
// A diff reads its base from o.Base, a directory or a git ref (package
// gitref); a base with no plan at that path makes every rule new, and a
// head plan that does not load is reported as findings, like lint's, since
// it is what the change under review must fix. What is not the report
// (those notes, and the errors) goes to stderr, prefixed with the
// command's name.
func Run(o Options, stderr io.Writer) int {
	switch o.Command {
	case "lint":
		return findings(o, stderr, schemas.Lint(o.Dir))
	case "test":
		return findings(o, stderr, schemas.TestFixtures(o.Dir))
	case "diff":
		return diff(o, stderr)
	}
	fmt.Fprintf(stderr, "eventrouter plan: unknown command %q\n", o.Command)
	return ExitError
}

// findings reports lint or fixture findings and returns ExitFindings when
// there are any.
func findings(o Options, stderr io.Writer, fs []schemas.Finding) int {
	if err := Findings(o, fs); err != nil {
		fmt.Fprintf(stderr, "eventrouter plan %s: %v\n", o.Command, err)
		return ExitError
	}
	if len(fs) > 0 {
		return ExitFindings
	}
	return ExitOK
}

func diff(o Options, stderr io.Writer) int {
	src, err := gitref.Resolve(o.Base, o.Dir)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter plan diff: %v\n", err)
		return ExitError
	}
	defer src.Cleanup()
	var base *schemas.Plan
	if src.Dir == "" {
		fmt.Fprintf(stderr, "eventrouter plan diff: %s has no plan: every rule is new\n", src.Label)
	} else if base, err = schemas.Load(src.Dir); err != nil {
		msg := strings.ReplaceAll(err.Error(), src.Dir, src.Label)
		fmt.Fprintf(stderr, "eventrouter plan diff: loading the base plan: %s\n", msg)
		return ExitError
	}
	head, err := schemas.Load(o.Dir)
	if err != nil {
		var le *schemas.LoadError
		if errors.As(err, &le) {
			fmt.Fprintf(stderr, "eventrouter plan diff: %s does not load; fix these first (see plan lint)\n", o.Dir)
			return findings(o, stderr, le.Problems)
		}
		fmt.Fprintf(stderr, "eventrouter plan diff: loading the plan: %v\n", err)
		return ExitError
	}
	changes := schemas.Diff(base, head)
	if err := Diff(o, head, changes); err != nil {
		fmt.Fprintf(stderr, "eventrouter plan diff: %v\n", err)
		return ExitError
	}
	if Fails(changes, o.AllowBreaking) {
		return ExitFindings
	}
	return ExitOK
}
