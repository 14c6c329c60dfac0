package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/eventrouter/eventrouter/router/admin"
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
	c, err := newAdminClient(*server)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter tail: %v\n", err)
		return 2
	}
	sel := admin.StreamQuery{Source: *source, Type: *typ, Event: *event, User: *user, Violations: *violations}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = c.Stream(ctx, sel, func(event string, data []byte) error {
		switch event {
		case "message":
			if *jsonOut {
				_, err := fmt.Fprintf(stdout, "%s\n", data)
				return err
			}
			var m admin.StreamMessage
			if err := json.Unmarshal(data, &m); err != nil {
				return fmt.Errorf("reading a message: %w", err)
			}
			name := m.Event
			if name == "" {
				name = "-"
			}
			who := "user=" + m.UserID
			if m.UserID == "" {
				who = "anon=" + m.AnonymousID
			}
			line := fmt.Sprintf("%s %-11s %-10s %-8s %-24s %s id=%s", m.ReceivedAt, m.Status, m.Source, m.Type, name, who, m.MessageID)
			if m.Violations > 0 {
				line += fmt.Sprintf(" violations=%d", m.Violations)
			}
			_, err := fmt.Fprintln(stdout, line)
			return err
		case "stats":
			if *stats {
				var s admin.StreamStats
				if json.Unmarshal(data, &s) == nil {
					fmt.Fprintf(stderr, "# %.1f msg/s, %d received, %d not shown (sampled)\n", float64(s.ReceivedPerSecond), s.Received, s.SampledOut)
				}
			}
		}
		return nil
	})
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter tail: %v\n", err)
		return 1
	}
	return 0
}
