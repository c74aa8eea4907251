package storetest

import (
	"sync"
	"time"
)

// Clock is a settable clock for deterministic store tests. Its zero value
// reads 2026-01-02T03:04:05Z. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Start is the time a zero Clock reads.
var Start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Start
	}
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = Start
	}
	c.now = c.now.Add(d)
}
