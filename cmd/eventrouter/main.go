package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `eventrouter: a Segment-compatible event router.

Usage:
  eventrouter serve   [--config FILE]   run the server (Segment API in, durable log, destinations out)
  eventrouter check   [--config FILE]   validate a config file; exit 1 and list every problem if it is invalid
  eventrouter plan lint|test|diff       check a tracking plan in a pull request (see 'eventrouter plan help')
  eventrouter transform test [DIR]      run the fixtures of webhook sources and destination transforms
  eventrouter sql "<query>"             query the warehouse destination (--format table|csv|json)
  eventrouter quarantine list|replay    show or replay the messages the tracking plan blocked (admin API)
  eventrouter tail    [--source S] [--event E] [--type T]   print the messages a running server receives (admin API)
  eventrouter dlq     list|show|redrive  list, show or redrive a destination's dead letters (admin API)
  eventrouter replay  --destination D --since 24h   deliver the log's history again to one destination (admin API)
  eventrouter health  [--config FILE]   probe a running server's /healthz (the container's HEALTHCHECK)
  eventrouter version [--json]          print the version, commit, date, Go, NATS server and DuckDB versions
  eventrouter help                      show this help

Run 'eventrouter <command> --help' for a command's flags.
`

// run executes one subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "check":
		return runCheck(rest, stdout, stderr)
	case "plan":
		return runPlan(rest, stdout, stderr)
	case "transform":
		return runTransform(rest, stdout, stderr) // transform.go
	case "sql":
		return runSQL(ctx, rest, stdout, stderr)
	case "quarantine":
		return runQuarantine(ctx, rest, stdout, stderr)
	case "tail":
		return runTail(ctx, rest, stdout, stderr)
	case "dlq":
		return runDLQ(ctx, rest, stdout, stderr)
	case "replay":
		return runReplay(ctx, rest, stdout, stderr)
	case "health":
		return runHealth(ctx, rest, stdout, stderr) // health.go
	case "version", "--version", "-v":
		return runVersion(rest, stdout, stderr) // version.go
	case "help", "--help", "-h", "-help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "eventrouter: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// newFlags returns the flag set of command name, which writes its errors
// and its usage to stderr: usage, then the flags with their defaults
// unless usage lists them itself (listFlags false).
func newFlags(name, usage string, listFlags bool, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		if listFlags {
			fmt.Fprint(stderr, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// configFlag adds --config to fs: the config file, $EVENTROUTER_CONFIG or
// configs/eventrouter.yaml by default.
func configFlag(fs *flag.FlagSet) *string {
	def := os.Getenv("EVENTROUTER_CONFIG")
	if def == "" {
		def = "configs/eventrouter.yaml"
	}
	return fs.String("config", def, "config file (default $EVENTROUTER_CONFIG or configs/eventrouter.yaml)")
}

// newFlagSet returns the flag set of a command whose only argument is
// --config, with its usage line and summary.
func newFlagSet(name, summary string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := newFlags(name, fmt.Sprintf("Usage: eventrouter %s [--config FILE]\n\n%s\n", name, summary), true, stderr)
	return fs, configFlag(fs)
}

// exitCode ends command name: 0 without err, else 1 with err on stderr.
func exitCode(stderr io.Writer, name string, err error) int {
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter %s: %v\n", name, err)
		return 1
	}
	return 0
}

// parseFlags parses args; it returns the exit code to use and false when the
// command must stop (help asked for, or bad flags).
func parseFlags(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %v\n", fs.Args())
		fs.Usage()
		return 2, false
	}
	return 0, true
}

// subcommandHelp handles the first argument of a command that has
// subcommands (plan, dlq, quarantine): none prints usage and exits 2;
// help, -h or --help print it and exit 0. done is false when a subcommand
// was given.
func subcommandHelp(args []string, usage string, stderr io.Writer) (code int, done bool) {
	if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
		return 0, false
	}
	fmt.Fprint(stderr, usage)
	if len(args) == 0 {
		return 2, true
	}
	return 0, true
}
