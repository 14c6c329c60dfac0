package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/eventrouter/eventrouter/router/admin"
)

// ListDeadLetters prints a page of q.Destination's dead letters, newest
// first, as a table (errors longer than 80 characters cut), and how many
// were shown of how many.
func ListDeadLetters(ctx context.Context, c *admin.Client, q admin.DeadLetterQuery, w io.Writer) error {
	page, err := c.DeadLetters(ctx, q)
	if err != nil {
		return err
	}
	if len(page.Messages) == 0 {
		_, err := fmt.Fprintf(w, "no dead letters for %s\n", q.Destination)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tDEAD LETTERED AT\tSOURCE\tTYPE\tEVENT\tMESSAGE ID\tATTEMPTS\tERROR")
	for _, m := range page.Messages {
		e := m.Error
		if len(e) > 80 {
			e = e[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", m.Seq, m.DeadAt, m.Source, m.Type, m.Event, m.MessageID, m.Attempts, e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%d shown of %d\n", len(page.Messages), page.Total)
	return err
}

// ShowDeadLetter prints one dead letter with its message as indented JSON.
func ShowDeadLetter(ctx context.Context, c *admin.Client, seq uint64, w io.Writer) error {
	it, err := c.DeadLetter(ctx, seq)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// Redrive redrives the dead letters req selects, with a progress bar on
// stderr, and prints what it did (or, for a dry run, would do) and the
// requested seq numbers that were not found.
func Redrive(ctx context.Context, c *admin.Client, req admin.RedriveRequest, stdout, stderr io.Writer) error {
	res, err := WithProgress(stderr, "redrive", func(p func(admin.Progress)) (admin.RedriveResult, error) { return c.Redrive(ctx, req, p) })
	if err != nil {
		return err
	}
	if res.DryRun {
		fmt.Fprintf(stdout, "dry run: %d dead letter(s) of %s would be redriven\n", res.Matched, req.Destination)
	} else {
		fmt.Fprintf(stdout, "redriven: %d dead letter(s) queued again for %s and removed from its dead letters\n", res.Redriven, req.Destination)
	}
	if len(res.NotFound) > 0 {
		fmt.Fprintf(stdout, "not found (not dead letters of %s, or already redriven): %v\n", req.Destination, res.NotFound)
	}
	return nil
}

// Replay delivers the log's history again to req.Destination, with a
// progress bar on stderr, and prints how many messages it queued (or, for
// a dry run, would queue).
func Replay(ctx context.Context, c *admin.Client, req admin.ReplayRequest, stdout, stderr io.Writer) error {
	res, err := WithProgress(stderr, "replay", func(p func(admin.Progress)) (admin.LogReplayResult, error) { return c.Replay(ctx, req, p) })
	if err != nil {
		return err
	}
	if res.DryRun {
		_, err = fmt.Fprintf(stdout, "dry run: %d of %d message(s) would be replayed to %s\n", res.Matched, res.Scanned, req.Destination)
	} else {
		_, err = fmt.Fprintf(stdout, "replayed: %d message(s) queued again for %s\n", res.Replayed, req.Destination)
	}
	return err
}
