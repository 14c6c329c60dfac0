// Command eventrouter is a Segment-compatible event router: it accepts the
// Segment HTTP Tracking API, stores every accepted message in a durable log
// (NATS JetStream, embedded by default) before answering 200, and fans the
// messages out to the configured destinations.
//
// Usage:
//
//	eventrouter serve   [--config FILE]   run the server
//	eventrouter check   [--config FILE]   validate a config file and exit
//	eventrouter health  [--config FILE]   probe a running server's /healthz (the container's HEALTHCHECK)
//	eventrouter version [--json]          print the version, commit, date, build, NATS and DuckDB versions
//
// Every subcommand accepts --help. The default config file is
// configs/eventrouter.yaml, or $EVENTROUTER_CONFIG when set.
package main
