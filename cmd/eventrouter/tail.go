package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/cli"
)

const tailUsage = `Usage: eventrouter tail [--source S] [--type T] [--event E] [--user U] [--violations] [--server URL]

Print the messages a running server receives, one line each, as they arrive
(the admin API's live stream: filters apply first, then at most ~50 messages
a second are shown; --stats adds the exact counts once a second). Stops on
Ctrl-C. The admin token is read from EVENTROUTER_ADMIN_TOKEN.
`

// runTail runs `eventrouter tail`.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, server := newAdminFlags("tail", tailUsage, stderr)
	source := fs.String("source", "", "only messages of this source")
	typ := fs.String("type", "", "only messages of this type (track, identify, ...)")
	event := fs.String("event", "", "only track messages with this event name")
	user := fs.String("user", "", "only messages of this userId or anonymousId")
	violations := fs.Bool("violations", false, "only messages with tracking-plan violations")
	jsonOut := fs.Bool("json", false, "print each message as a JSON line")
	stats := fs.Bool("stats", false, "also print the counts once a second (to stderr)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, ok := newAdminClient(*server, "tail", stderr)
	if !ok {
		return 2
	}
	sel := admin.StreamQuery{Source: *source, Type: *typ, Event: *event, User: *user, Violations: *violations}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return exitCode(stderr, "tail", cli.Tail(ctx, c, sel, cli.TailOptions{JSON: *jsonOut, Stats: *stats}, stdout, stderr))
}
