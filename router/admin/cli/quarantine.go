package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/eventrouter/eventrouter/router/admin"
)

// ListQuarantine prints a page of the quarantine, newest first, as a
// table: a message without an event name shows its type in parentheses,
// and its violations as "<type> <field>" pairs.
func ListQuarantine(ctx context.Context, c *admin.Client, q admin.QuarantineQuery, w io.Writer) error {
	page, err := c.Quarantine(ctx, q)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tQUARANTINED AT\tSOURCE\tEVENT\tMESSAGE ID\tVIOLATIONS")
	for _, m := range page.Messages {
		name := m.Event
		if name == "" {
			name = "(" + m.Type + ")"
		}
		var vs []string
		for _, v := range m.Violations {
			vs = append(vs, v.Type+" "+v.Field)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", m.Seq, m.QuarantinedAt, m.Source, name, m.MessageID, strings.Join(vs, ", "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d shown of %d quarantined\n", len(page.Messages), page.Total)
	return err
}

// ReplayQuarantine validates the selected quarantine entries again, with
// a progress bar on stderr, and prints how many were replayed (or would
// be), stayed invalid and were skipped.
func ReplayQuarantine(ctx context.Context, c *admin.Client, sel admin.ReplaySelection, stdout, stderr io.Writer) error {
	res, err := WithProgress(stderr, "progress", func(p func(admin.Progress)) (admin.ReplayResult, error) { return c.ReplayQuarantine(ctx, sel, p) })
	if err != nil {
		return err
	}
	verb := "replayed"
	if res.DryRun {
		verb = "would replay"
	}
	_, err = fmt.Fprintf(stdout, "%s %d, still invalid %d, skipped %d\n", verb, res.Replayed, res.StillInvalid, res.Skipped)
	return err
}
