package resilience

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/openhealthexchange/ohx"
)

// Limit is a request rate: Rate requests per second with bursts of Burst.
// The zero value means unlimited.
type Limit struct {
	// Rate is the sustained rate in requests per second; 0 means unlimited.
	Rate rate.Limit
	// Burst is the bucket size; 0 means a tenth of a minute's worth, at
	// least 1.
	Burst int
}

// PerMinute returns a Limit of n requests per minute, with bursts of a
// tenth of that (at least 1): Withings allows 120 per minute per app,
// Google 300 per minute per user.
func PerMinute(n int) Limit {
	return Limit{Rate: rate.Limit(float64(n) / 60)}
}

// Unlimited reports whether l limits nothing.
func (l Limit) Unlimited() bool { return l.Rate <= 0 }

// Validate reports a negative rate or burst.
func (l Limit) Validate() error {
	if l.Rate < 0 || l.Burst < 0 {
		return fmt.Errorf("resilience: rate limit %v/s with bursts of %d: must not be negative", float64(l.Rate), l.Burst)
	}
	return nil
}

func (l Limit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(float64(l.Rate)*6))
}

// LimitError is the error of a Limiter.Wait that would wait longer than its
// caller allows. It matches ohx.ErrRateLimited; ohx.RetryAfter reads the
// wait from it.
type LimitError struct {
	// Reason is "paused" (a rate-limit answer of the remote party imposed
	// a pause) or "local-limit" (the token bucket is empty).
	Reason string
	// RetryAfter is how long to wait before trying again.
	RetryAfter time.Duration
}

// Error implements error.
func (e *LimitError) Error() string {
	return fmt.Sprintf("rate limited (%s), retry after %s", e.Reason, e.RetryAfter)
}

// Is matches ohx.ErrRateLimited.
func (e *LimitError) Is(target error) bool { return target == ohx.ErrRateLimited }

// RetryDelay returns RetryAfter; ohx.RetryAfter reads it.
func (e *LimitError) RetryDelay() time.Duration { return e.RetryAfter }

// Limiter is one rate-limit scope (an app, a provider user, a destination):
// a token bucket of a Limit plus a pause that the remote party's own
// rate-limit answers impose. It is safe for concurrent use.
type Limiter struct {
	lim *rate.Limiter // nil when unlimited

	mu          sync.Mutex
	pausedUntil time.Time
	lastUsed    time.Time
}

// NewLimiter returns a Limiter of l.
func NewLimiter(l Limit) *Limiter {
	g := &Limiter{}
	if !l.Unlimited() {
		g.lim = rate.NewLimiter(l.Rate, l.burst())
	}
	return g
}

// Pause makes every call wait until at least until (a Retry-After, a
// provider's "come back in a minute").
func (g *Limiter) Pause(until time.Time) {
	g.mu.Lock()
	if until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
	g.mu.Unlock()
}

// pausedFor returns how long the limiter is still paused at now.
func (g *Limiter) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastUsed = now
	if d := g.pausedUntil.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Wait sits out the pause and takes a token from the bucket. A pause longer
// than maxWait, or a token that would come after ctx's deadline, fails at
// once with a *LimitError carrying the wait; a done ctx returns ctx.Err().
func (g *Limiter) Wait(ctx context.Context, maxWait time.Duration) error {
	if d := g.pausedFor(time.Now()); d > 0 {
		if d > maxWait {
			return &LimitError{Reason: "paused", RetryAfter: d}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if g.lim == nil {
		return nil
	}
	if err := g.lim.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The wait would outlast ctx's deadline.
		return &LimitError{Reason: "local-limit", RetryAfter: time.Duration(float64(time.Second) / float64(g.lim.Limit()))}
	}
	return nil
}

// idle reports whether the limiter holds no state worth keeping at now.
func (g *Limiter) idle(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.pausedUntil) || now.Sub(g.lastUsed) < time.Minute {
		return false
	}
	return g.lim == nil || g.lim.TokensAt(now) >= float64(g.lim.Burst())
}

// Limiters holds one Limiter per key (a provider user), all of the same
// Limit, and forgets the idle ones so that memory stays bounded by the
// number of recently active keys. It is safe for concurrent use.
type Limiters struct {
	limit Limit

	mu     sync.Mutex
	byKey  map[string]*Limiter
	sweeps time.Time
}

// NewLimiters returns an empty set of Limiters of l.
func NewLimiters(l Limit) *Limiters {
	return &Limiters{limit: l, byKey: map[string]*Limiter{}}
}

// Limit returns the Limit of every Limiter of the set.
func (ls *Limiters) Limit() Limit { return ls.limit }

// Get returns key's Limiter, creating it if needed.
func (ls *Limiters) Get(key string) *Limiter {
	now := time.Now()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.sweeps) > time.Minute && len(ls.byKey) > 64 {
		ls.sweeps = now
		for k, g := range ls.byKey {
			if g.idle(now) {
				delete(ls.byKey, k)
			}
		}
	}
	g, ok := ls.byKey[key]
	if !ok {
		g = NewLimiter(ls.limit)
		g.lastUsed = now
		ls.byKey[key] = g
	}
	return g
}

// Len returns the number of Limiters the set holds.
func (ls *Limiters) Len() int {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return len(ls.byKey)
}
