// Package cli is the operator's end of the admin API: what the admin
// commands of cmd/eventrouter (dlq, quarantine, replay, tail) do once
// their flags are parsed. Each function makes its calls through an
// [admin.Client] and prints the answer for a person: aligned tables for
// the lists, indented JSON for one dead letter, one line per live message
// (or the message itself as a JSON line), a progress bar on stderr for the
// long operations and a one-line summary of their result.
//
// It is a package of its own, not part of cmd, so that what an operator
// reads is tested against the real admin handlers without building the
// binary; and not part of package admin, which is the server's, so that
// the server does not carry terminal formatting. cmd keeps the flags and
// the environment (the token comes from EVENTROUTER_ADMIN_TOKEN there).
package cli
