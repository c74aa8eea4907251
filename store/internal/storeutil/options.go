package storeutil

import (
	"time"

	"go.uber.org/zap"
)

// Options are the settings the SQL stores share; each store embeds them in
// its own options and exposes them through its With functions.
type Options struct {
	// Now reads the time; default time.Now.
	Now func() time.Time
	// Log is the logger; default zap.NewNop().
	Log *zap.Logger
	// Poll is the backoff of Lock waiters.
	Poll Backoff
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{Now: time.Now, Log: zap.NewNop()}
}

// SetClock sets Now; nil keeps the current clock.
func (o *Options) SetClock(now func() time.Time) {
	if now != nil {
		o.Now = now
	}
}

// SetLogger sets Log; nil keeps the current logger.
func (o *Options) SetLogger(l *zap.Logger) {
	if l != nil {
		o.Log = l
	}
}

// SetPolling sets the first wait and the cap of Poll.
func (o *Options) SetPolling(first, cap time.Duration) {
	o.Poll = Backoff{Min: first, Max: cap}
}
