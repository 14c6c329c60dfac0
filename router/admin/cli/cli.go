package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/eventrouter/eventrouter/internal/progress"
	"github.com/eventrouter/eventrouter/router/admin"
)

// DefaultServer is where the admin commands find the server by default.
const DefaultServer = "http://127.0.0.1:8080"

// TokenEnv is the environment variable the admin commands read the admin
// token from.
const TokenEnv = "EVENTROUTER_ADMIN_TOKEN"

// Connect returns a client of the admin API at server (the --server flag)
// with token; an empty token is an error that says where to set it.
func Connect(server, token string) (*admin.Client, error) {
	if token == "" {
		return nil, errors.New("set " + TokenEnv + " to the server's http.admin_token")
	}
	c, err := admin.NewClient(server, token, nil)
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// WithProgress runs a long admin operation with a progress bar labelled
// label on stderr: op is called with the function that takes the
// operation's progress lines. The bar is finished only when op succeeds.
func WithProgress[R any](stderr io.Writer, label string, op func(progress func(admin.Progress)) (R, error)) (R, error) {
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

// ParseSeqs parses a comma-separated list of seq numbers (dlq redrive
// --ids); an empty list is nil.
func ParseSeqs(list string) ([]uint64, error) {
	if list == "" {
		return nil, nil
	}
	var out []uint64
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a seq number", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// SplitNames splits a comma-separated list of names (replay --events),
// dropping blanks; an empty list is nil.
func SplitNames(list string) []string {
	var names []string
	for _, e := range strings.Split(list, ",") {
		if e = strings.TrimSpace(e); e != "" {
			names = append(names, e)
		}
	}
	return names
}
