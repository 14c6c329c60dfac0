package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/eventrouter/eventrouter/router/dispatch/transform/fixtures"
)

const transformUsage = `Usage:
  eventrouter transform test [--config FILE] [--format text|json|github] [DIR]

Runs the transform fixtures under DIR (default "transforms"): each YAML case
gives a webhook source of the config a delivery and expects the messages it
becomes, or gives a destination messages and expects what its filters,
transform and suppression make of them (see docs/destinations.md).

Exit codes: 0 every fixture passes; 1 a fixture fails or the config is
invalid; 2 bad usage.
`

// runTransform runs "eventrouter transform ...": the wiring of the
// fixtures package.
func runTransform(args []string, stdout, stderr io.Writer) int {
	if code, done := subcommandHelp(args, transformUsage, stderr); done {
		return code
	}
	if args[0] != "test" {
		fmt.Fprintf(stderr, "eventrouter transform: unknown command %q\n\n%s", args[0], transformUsage)
		return 2
	}
	fs := newFlags("transform test", transformUsage, false, stderr)
	cfgPath := configFlag(fs)
	format := fs.String("format", "text", "output format: "+strings.Join(fixtures.Formats, ", "))
	if err := fs.Parse(args[1:]); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	dir := "transforms"
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "unexpected arguments: %v\n\n%s", fs.Args()[1:], transformUsage)
		return 2
	}
	if !slices.Contains(fixtures.Formats, *format) {
		fmt.Fprintf(stderr, "unknown format %q (known formats: %s)\n", *format, strings.Join(fixtures.Formats, ", "))
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	targets, err := fixtures.FromConfig(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", *cfgPath, err)
		return 1
	}
	rep, err := fixtures.Run(dir, targets)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if err := fixtures.Write(stdout, *format, rep, nil); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}
