package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/internal/progress"
	"github.com/eventrouter/eventrouter/router/admin"
)

// defaultServer is where the admin commands find the server by default.
const defaultServer = "http://127.0.0.1:8080"

// newAdminFlags returns the flag set of the admin command name, which
// writes its errors and its usage (usage, then the flags) to stderr, and
// its --server flag.
func newAdminFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage+"\nFlags:\n"); fs.PrintDefaults() }
	return fs, fs.String("server", defaultServer, "the eventrouter server's base URL")
}

// newAdminClient returns a client of the admin API at base (--server), with
// the token from EVENTROUTER_ADMIN_TOKEN (an error when it is not set).
func newAdminClient(base string) (*admin.Client, error) {
	token := os.Getenv("EVENTROUTER_ADMIN_TOKEN")
	if token == "" {
		return nil, errors.New("set EVENTROUTER_ADMIN_TOKEN to the server's http.admin_token")
	}
	c, err := admin.NewClient(base, token, nil)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// withProgress runs a long admin operation with a progress bar labelled
// label on stderr: op is called with the function that takes the
// operation's progress lines.
func withProgress[R any](stderr io.Writer, label string, op func(progress func(admin.Progress)) (R, error)) (R, error) {
	bar := progress.New(stderr, label)
	var last admin.Progress
	res, err := op(func(p admin.Progress) {
		last = p
		bar.Update(p.Done, p.Total, p.Matched)
	})
	if err == nil {
		bar.Finish(last.Done, last.Total, last.Matched)
	}
	return res, err
}
