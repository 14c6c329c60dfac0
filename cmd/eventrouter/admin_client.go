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
	fs := newFlags(name, usage, true, stderr)
	return fs, fs.String("server", cli.DefaultServer, "the eventrouter server's base URL")
}

// newAdminClient returns a client of the admin API at base (--server), with
// the token from EVENTROUTER_ADMIN_TOKEN; when it is not set, it says so
// on stderr for command name and returns false (exit code 2).
func newAdminClient(base, name string, stderr io.Writer) (*admin.Client, bool) {
	c, err := cli.Connect(base, os.Getenv(cli.TokenEnv))
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter %s: %v\n", name, err)
		return nil, false
	}
	return c, true
}
