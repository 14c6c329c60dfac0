// Command eventrouter is a Segment-compatible event router: it accepts the
// Segment HTTP Tracking API and webhooks, stores every accepted message in a
// durable log (NATS JetStream, embedded by default) before answering 200, and
// fans the messages out to the configured destinations.
//
// `eventrouter help` lists the commands (serve, check, plan, transform, sql,
// quarantine, tail, dlq, replay, health, version); every command accepts
// --help. The default config file is configs/eventrouter.yaml, or
// $EVENTROUTER_CONFIG when set.
//
// The package is wiring only: it parses flags, builds the parts from the
// config and runs them; what a command does lives in the package that owns
// it.
package main
