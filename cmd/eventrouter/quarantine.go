package main

import (
	"context"
	"fmt"
	"io"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/cli"
)

const quarantineUsage = `Usage:
  eventrouter quarantine list   [--source S] [--event E] [--since D] [--limit N] [--server URL]
  eventrouter quarantine replay [--source S] [--event E] [--since D] [--dry-run] [--server URL]

list shows the messages the tracking plan blocked, newest first. replay validates
them again against the plan the server has now, stores those that pass (same
messageIds, so nothing is delivered twice) and removes them from the quarantine;
the others stay. --since takes an RFC 3339 time or a duration meaning "that long
ago" (24h). The admin token is read from EVENTROUTER_ADMIN_TOKEN.
`

// runQuarantine runs `eventrouter quarantine list|replay`.
func runQuarantine(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := subcommandHelp(args, quarantineUsage, stderr); done {
		return code
	}
	sub := args[0]
	if sub != "list" && sub != "replay" {
		fmt.Fprintf(stderr, "eventrouter quarantine: unknown subcommand %q\n\n%s", sub, quarantineUsage)
		return 2
	}
	fs, server := newAdminFlags("quarantine "+sub, quarantineUsage, stderr)
	source := fs.String("source", "", "only messages of this source")
	event := fs.String("event", "", "only track messages with this exact event name")
	since := fs.String("since", "", "only messages quarantined since this RFC 3339 time or this long ago (24h)")
	var limit *int
	var dryRun *bool
	if sub == "list" {
		limit = fs.Int("limit", 100, "most messages listed (1 to 1000)")
	} else {
		dryRun = fs.Bool("dry-run", false, "report what would be replayed and change nothing")
	}
	if code, ok := parseFlags(fs, args[1:]); !ok {
		return code
	}
	c, ok := newAdminClient(*server, "quarantine", stderr)
	if !ok {
		return 2
	}
	var err error
	if sub == "list" {
		err = cli.ListQuarantine(ctx, c, admin.QuarantineQuery{Source: *source, Event: *event, Since: *since, Limit: *limit}, stdout)
	} else {
		err = cli.ReplayQuarantine(ctx, c, admin.ReplaySelection{Source: *source, Event: *event, Since: *since, DryRun: *dryRun}, stdout, stderr)
	}
	return exitCode(stderr, "quarantine "+sub, err)
}
