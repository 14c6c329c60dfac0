package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
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
	c, err := newAdminClient(*server)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter dlq: %v\n", err)
		return 2
	}
	switch sub {
	case "list":
		err = dlqList(ctx, c, *dest, *since, *errContains, *limit, stdout)
	case "show":
		if _, perr := strconv.ParseUint(seq, 10, 64); perr != nil {
			fmt.Fprintln(stderr, "eventrouter dlq show: give the dead letter's seq number (from dlq list)")
			return 2
		}
		err = dlqShow(ctx, c, seq, stdout)
	case "redrive":
		body := map[string]any{"destination": *dest, "since": *since, "error_contains": *errContains, "dry_run": *dryRun}
		if *ids != "" {
			var list []uint64
			for _, s := range strings.Split(*ids, ",") {
				n, perr := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
				if perr != nil {
					fmt.Fprintf(stderr, "eventrouter dlq redrive: --ids: %q is not a seq number\n", s)
					return 2
				}
				list = append(list, n)
			}
			body["ids"] = list
		}
		err = runLongOp(ctx, c, "/admin/dlq/redrive", "redrive", body, stdout, stderr, func(res map[string]any) string {
			var out string
			if res["dry_run"] == true {
				out = fmt.Sprintf("dry run: %v dead letter(s) of %s would be redriven", res["matched"], *dest)
			} else {
				out = fmt.Sprintf("redriven: %v dead letter(s) queued again for %s and removed from its dead letters", res["redriven"], *dest)
			}
			if nf, _ := res["not_found"].([]any); len(nf) > 0 {
				out += fmt.Sprintf("\nnot found (not dead letters of %s, or already redriven): %v", *dest, nf)
			}
			return out
		})
	}
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter dlq %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func dlqList(ctx context.Context, c *adminClient, dest, since, errContains string, limit int, stdout io.Writer) error {
	q := url.Values{"destination": {dest}, "limit": {strconv.Itoa(limit)}}
	if since != "" {
		q.Set("since", since)
	}
	if errContains != "" {
		q.Set("error_contains", errContains)
	}
	var out struct {
		Messages []struct {
			Seq         uint64 `json:"seq"`
			MessageID   string `json:"message_id"`
			Source      string `json:"source"`
			Type        string `json:"type"`
			Event       string `json:"event"`
			Error       string `json:"error"`
			Attempts    int    `json:"attempts"`
			DeadAt      string `json:"dead_lettered_at"`
			Destination string `json:"destination"`
		} `json:"messages"`
		Total int `json:"total"`
	}
	if err := c.getJSON(ctx, "/admin/dlq", q, &out); err != nil {
		return err
	}
	if len(out.Messages) == 0 {
		fmt.Fprintf(stdout, "no dead letters for %s\n", dest)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tDEAD LETTERED AT\tSOURCE\tTYPE\tEVENT\tMESSAGE ID\tATTEMPTS\tERROR")
	for _, m := range out.Messages {
		e := m.Error
		if len(e) > 80 {
			e = e[:77] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", m.Seq, m.DeadAt, m.Source, m.Type, m.Event, m.MessageID, m.Attempts, e)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d shown of %d\n", len(out.Messages), out.Total)
	return nil
}

func dlqShow(ctx context.Context, c *adminClient, seq string, stdout io.Writer) error {
	var out json.RawMessage
	if err := c.getJSON(ctx, "/admin/dlq/"+seq, nil, &out); err != nil {
		return err
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", b)
	return err
}
