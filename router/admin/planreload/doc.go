// Package planreload keeps the tracking plan in force up to date while the
// server runs: it reloads the plan directory on request (SIGHUP, POST
// /admin/plan/reload), swaps a plan that loads into ingest at once and
// keeps the old one when the new one does not, optionally replays the
// quarantine in the background after each reload (tracking_plan.auto_replay),
// and exports the plan's metrics. [LoadAtStart] loads the plan the server
// starts with (a plan that does not load stops it, listing every problem)
// and [Check] is `eventrouter check`'s look at it.
//
// A [Manager] implements [admin.PlanReloader], the interface the admin API's
// plan routes call, so it lives under router/admin and imports only admin,
// router and schemas: the plan holder (ingest) and the quarantine (the log)
// are interfaces it is given. Signals are a channel it is given, so the
// package is tested without sending signals to the test process, and the
// clock is injected ([Config.Now]) so that the times it reports
// (loaded_at, started_at, finished_at) are asserted exactly.
//
// Concurrency: reloads are serialised (one mutex); a reload returns once
// the plan is swapped, and its auto replay runs in the background. Two
// quick reloads run their replays one after the other, never at once, and
// each replay validates against the plan in force when it runs. The state
// of the latest auto replay has a mutex of its own, so GET /admin/plan never
// waits for a reload or a replay.
package planreload
