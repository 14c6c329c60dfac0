package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/eventrouter/eventrouter/router/admin"
)

// TailOptions say how [Tail] prints.
type TailOptions struct {
	// JSON prints each message as the JSON line the server sent.
	JSON bool
	// Stats also prints the counts the server sends once a second, to
	// stderr.
	Stats bool
}

// Tail prints the live stream's messages that sel selects as they arrive,
// one line each (or one JSON line each), until ctx is done (nil is
// returned) or the stream ends.
func Tail(ctx context.Context, c *admin.Client, sel admin.StreamQuery, o TailOptions, stdout, stderr io.Writer) error {
	return c.Stream(ctx, sel, func(event string, data []byte) error {
		switch event {
		case "message":
			if o.JSON {
				_, err := fmt.Fprintf(stdout, "%s\n", data)
				return err
			}
			var m admin.StreamMessage
			if err := json.Unmarshal(data, &m); err != nil {
				return fmt.Errorf("reading a message: %w", err)
			}
			_, err := fmt.Fprintln(stdout, TailLine(m))
			return err
		case "stats":
			if o.Stats {
				var s admin.StreamStats
				if json.Unmarshal(data, &s) == nil {
					fmt.Fprintf(stderr, "# %.1f msg/s, %d received, %d not shown (sampled)\n", float64(s.ReceivedPerSecond), s.Received, s.SampledOut)
				}
			}
		}
		return nil
	})
}

// TailLine is the line `eventrouter tail` prints for a message: when it
// was received, its status, source, type, event name ("-" for none), its
// user (or anonymous id), messageId and violations when it has any.
func TailLine(m admin.StreamMessage) string {
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
	return line
}
