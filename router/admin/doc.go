// Package admin serves eventrouter's administrative HTTP API under /admin/,
// the live debugger page under /debugger and the Go runtime's profiles
// under /debug/pprof/ ([Server.MountProfiling]), all behind the admin
// token of the config (http.admin_token).
//
// Every data and admin endpoint requires "Authorization: Bearer <token>";
// the token is compared in constant time and never logged. Without a
// configured token the admin API and the debugger page are off: they answer
// 404, not open. The other parts of the server (the tracking plan, the
// quarantine, the dead-letter stream, dispatch) register their endpoints
// with [Server.Handle]; cmd/eventrouter wires them.
//
// [Client] is the other end: the HTTP client the admin commands of
// cmd/eventrouter (dlq, quarantine, replay, tail) use. It lives here, not
// in cmd, because it reads the same request and answer types the
// handlers write (api.go: [DeadLetterPage], [RedriveRequest],
// [ReplayResult], [APIError], ...), so the two cannot drift apart, and
// because it is tested against the real handlers through httptest rather
// than only by running the binary.
package admin
