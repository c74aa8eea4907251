package provider

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
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

func (l Limit) unlimited() bool { return l.Rate <= 0 }

func (l Limit) burst() int {
	if l.Burst > 0 {
		return l.Burst
	}
	return max(1, int(float64(l.Rate)*6))
}

// gate is one rate-limit scope (the app, or one provider user): a token
// bucket plus a pause set by the provider's own rate-limit answers.
type gate struct {
	lim *rate.Limiter // nil when unlimited

	mu          sync.Mutex
	pausedUntil time.Time
	lastUsed    time.Time
}

func newGate(l Limit) *gate {
	g := &gate{}
	if !l.unlimited() {
		g.lim = rate.NewLimiter(l.Rate, l.burst())
	}
	return g
}

// pause makes the gate wait until at least until.
func (g *gate) pause(until time.Time) {
	g.mu.Lock()
	if until.After(g.pausedUntil) {
		g.pausedUntil = until
	}
	g.mu.Unlock()
}

// pausedFor returns how long the gate is still paused at now.
func (g *gate) pausedFor(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastUsed = now
	if d := g.pausedUntil.Sub(now); d > 0 {
		return d
	}
	return 0
}

// idle reports whether the gate holds no state worth keeping at now.
func (g *gate) idle(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Before(g.pausedUntil) || now.Sub(g.lastUsed) < time.Minute {
		return false
	}
	return g.lim == nil || g.lim.TokensAt(now) >= float64(g.lim.Burst())
}

// gates holds the per-user gates, dropping idle ones so memory stays bounded
// by the number of recently active users.
type gates struct {
	limit Limit

	mu     sync.Mutex
	byKey  map[string]*gate
	sweeps time.Time
}

func (gs *gates) get(key string, now time.Time) *gate {
	gs.mu.Lock()
	defer gs.mu.Unlock()
	if gs.byKey == nil {
		gs.byKey = map[string]*gate{}
	}
	if now.Sub(gs.sweeps) > time.Minute && len(gs.byKey) > 64 {
		gs.sweeps = now
		for k, g := range gs.byKey {
			if g.idle(now) {
				delete(gs.byKey, k)
			}
		}
	}
	g, ok := gs.byKey[key]
	if !ok {
		g = newGate(gs.limit)
		g.lastUsed = now
		gs.byKey[key] = g
	}
	return g
}
