package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eventrouter/eventrouter/router/admin"
	"github.com/eventrouter/eventrouter/router/admin/cli"
)

// newAdminFlags returns the flag set of the admin command name, which
// writes its errors and its usage (usage, then the flags) to stderr, and
// its --server flag.
func newAdminFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage+"\nFlags:\n"); fs.PrintDefaults() }
	return fs, fs.String("server", cli.DefaultServer, "the eventrouter server's base URL")
}

// newAdminClient returns a client of the admin API at base (--server), with
// the token from EVENTROUTER_ADMIN_TOKEN (an error when it is not set).
func newAdminClient(base string) (*admin.Client, error) {
	return cli.Connect(base, os.Getenv(cli.TokenEnv))
}
