package dispatch

import "time"

// clock is the time that dispatch's retry decisions read: the wait before
// a retry (backoff and Retry-After), and the time of a failure, which
// dates a message's first failure and measures its age against MaxAge.
// The Dispatcher uses the real clock; tests set a controllable one
// (routertest.Clock) so that they advance time instead of sleeping.
//
// Lease polling, the balance between processes, the keep-alive of a batch
// in flight and the drain timeout stay on real time: they are measured
// against the log's leases and ack_wait, which run on the log server's
// clock. The duration of a Send (metrics, observer) is real time too.
type clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

// realClock is the clock of the time package.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
