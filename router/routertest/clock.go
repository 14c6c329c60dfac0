package routertest

import (
	"sync"
	"time"
)

// Clock is a settable clock for tests: Now returns the time last set, and
// channels from After fire only when Set or Advance moves the clock past
// their deadline. Pass its Now method where code takes a func() time.Time.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []waiter
}

type waiter struct {
	at time.Time
	ch chan time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Since returns the time elapsed on the clock since t.
func (c *Clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

// Set sets the clock to t (which may be earlier than now) and fires every
// After channel whose deadline is not after t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if w.at.After(t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- t // buffered, never blocks
	}
	c.waiters = kept
}

// Advance moves the clock forward by d and fires what is due.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// After returns a channel that receives the clock's time once the clock has
// moved d past now; d <= 0 fires at once.
func (c *Clock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, waiter{at: c.now.Add(d), ch: ch})
	return ch
}

// Waiters returns how many After channels have not fired yet, so a test can
// wait until the code under test is sleeping before advancing the clock.
func (c *Clock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}
