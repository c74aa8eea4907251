package queue

import "time"

// Clock tells the time and waits. Tests inject a fake one (see
// queuetest.Clock); the zero Config uses the system clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// SystemClock returns the Clock of the operating system.
func SystemClock() Clock { return systemClock{} }
