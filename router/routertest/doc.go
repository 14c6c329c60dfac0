// Package routertest provides hand-written fakes for testing code that uses
// package router: [Recorder], a destination that records what it is sent;
// [Scripted], a destination that answers with a programmed sequence of
// outcomes (errors, retry-after delays, permanent failures, batch errors);
// [Factory], a router.Factory building recorders, with a config to test
// strict decoding and validation; and [Clock], a clock that only moves when
// the test says so, for dispatch's retry waits.
//
// Everything here is safe for concurrent use, as router.Destination requires.
// The fakes stand in for remote systems only; the log (NATS JetStream) is
// never faked.
package routertest
