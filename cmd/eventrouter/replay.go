package main

import (
	"context"
	"fmt"
	"io"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/cli"
)

const replayUsage = `Usage: eventrouter replay --destination D --since T [--until T] [--events E,F] [--dry-run] [--server URL]

Deliver the log's history again to one destination only: every message
stored from --since to --until (optionally only track messages with the
given event names), in the order they were stored, with the destination's
filters, rate limit and retries. Messages keep their messageIds, so a
destination that dedupes (the warehouse) adds no duplicate rows. Only what
the log still retains can be replayed (see 'GET /admin/log'). --since and
--until take an RFC 3339 time or a duration meaning "that long ago" (24h,
7d). The admin token is read from EVENTROUTER_ADMIN_TOKEN.
`

// runReplay runs `eventrouter replay`.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, server := newAdminFlags("replay", replayUsage, stderr)
	dest := fs.String("destination", "", "the destination to deliver to (required)")
	since := fs.String("since", "", "start: RFC 3339 time or how long ago, e.g. 24h (required)")
	until := fs.String("until", "", "end: RFC 3339 time or how long ago (default: now)")
	events := fs.String("events", "", "only track messages with these event names, comma separated")
	dryRun := fs.Bool("dry-run", false, "report how many messages would be replayed and change nothing")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *dest == "" || *since == "" {
		fmt.Fprintln(stderr, "eventrouter replay: --destination and --since are required")
		return 2
	}
	c, ok := newAdminClient(*server, "replay", stderr)
	if !ok {
		return 2
	}
	req := admin.ReplayRequest{Destination: *dest, Since: *since, Until: *until, Events: cli.SplitNames(*events), DryRun: *dryRun}
	return exitCode(stderr, "replay", cli.Replay(ctx, c, req, stdout, stderr))
}
