package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/cli"
)

const dlqUsage = `Usage:
  eventrouter dlq list    --destination D [--since T] [--error-contains X] [--limit N] [--server URL]
  eventrouter dlq show    SEQ [--server URL]
  eventrouter dlq redrive --destination D [--ids 1,2,...] [--since T] [--error-contains X] [--dry-run] [--server URL]

The messages a destination gave up on (its dead letters). list shows them
newest first; show prints one with its message; redrive delivers the
selected ones again to that destination only (with its filters, rate limit
and retries) and removes them from the dead letters once they are queued.
--since takes an RFC 3339 time or a duration meaning "that long ago" (24h,
7d). The admin token is read from EVENTROUTER_ADMIN_TOKEN.
`

// runDLQ runs `eventrouter dlq list|show|redrive`.
func runDLQ(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if code, done := subcommandHelp(args, dlqUsage, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	fs, server := newAdminFlags("dlq "+sub, dlqUsage, stderr)
	var dest, since, errContains, ids *string
	var limit *int
	var dryRun *bool
	var seq string
	switch sub {
	case "list", "redrive":
		dest = fs.String("destination", "", "the destination (required)")
		since = fs.String("since", "", "only messages dead-lettered since this RFC 3339 time or this long ago (24h)")
		errContains = fs.String("error-contains", "", "only messages whose last error contains this text (case-insensitive)")
		if sub == "list" {
			limit = fs.Int("limit", 100, "most messages listed (1 to 1000)")
		} else {
			ids = fs.String("ids", "", "only these dead letters (seq numbers from list, comma separated)")
			dryRun = fs.Bool("dry-run", false, "report how many would be redriven and change nothing")
		}
	case "show":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			seq, rest = rest[0], rest[1:]
		}
	default:
		fmt.Fprintf(stderr, "eventrouter dlq: unknown subcommand %q\n\n%s", sub, dlqUsage)
		return 2
	}
	if code, ok := parseFlags(fs, rest); !ok {
		return code
	}
	if dest != nil && *dest == "" {
		fmt.Fprintln(stderr, "eventrouter dlq: --destination is required")
		return 2
	}
	c, ok := newAdminClient(*server, "dlq", stderr)
	if !ok {
		return 2
	}
	var err error
	switch sub {
	case "list":
		err = cli.ListDeadLetters(ctx, c, admin.DeadLetterQuery{Destination: *dest, Since: *since, ErrorContains: *errContains, Limit: *limit}, stdout)
	case "show":
		n, perr := strconv.ParseUint(seq, 10, 64)
		if perr != nil {
			fmt.Fprintln(stderr, "eventrouter dlq show: give the dead letter's seq number (from dlq list)")
			return 2
		}
		err = cli.ShowDeadLetter(ctx, c, n, stdout)
	case "redrive":
		req := admin.RedriveRequest{Destination: *dest, Since: *since, ErrorContains: *errContains, DryRun: *dryRun}
		if req.IDs, err = cli.ParseSeqs(*ids); err != nil {
			fmt.Fprintf(stderr, "eventrouter dlq redrive: --ids: %v\n", err)
			return 2
		}
		err = cli.Redrive(ctx, c, req, stdout, stderr)
	}
	return exitCode(stderr, "dlq "+sub, err)
}
