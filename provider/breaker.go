package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

// Breaker defaults.
const (
	// DefaultFailureThreshold is the number of consecutive failures that
	// opens a breaker.
	DefaultFailureThreshold = 3
	// DefaultOpenTimeout is how long a breaker stays open before it lets a
	// trial call through (half-open).
	DefaultOpenTimeout = 30 * time.Second
	// DefaultHalfOpenSuccesses is the number of successful trial calls that
	// close a half-open breaker.
	DefaultHalfOpenSuccesses = 2
)

// BreakerSettings configure one breaker. The zero value means the defaults:
// open after 3 consecutive failures, stay open 30 s, close after 2
// successes in half-open, and count as failures the errors of kind
// transient or unknown (server errors, network failures, timeouts).
//
// Whatever IsFailure says, rate-limit answers (KindRateLimited) are never
// counted, and neither is an error returned while the caller's context is
// done: a cancelled context is not a failure of the remote party.
type BreakerSettings struct {
	// FailureThreshold is the number of consecutive failures that opens the
	// breaker; 0 means DefaultFailureThreshold.
	FailureThreshold uint32
	// OpenTimeout is how long the breaker stays open; 0 means
	// DefaultOpenTimeout.
	OpenTimeout time.Duration
	// HalfOpenSuccesses is the number of consecutive successes in half-open
	// that close the breaker (also the number of trial calls let through);
	// 0 means DefaultHalfOpenSuccesses.
	HalfOpenSuccesses uint32
	// IsFailure reports whether an error counts as a failure; nil means
	// kind transient or unknown (see ohx.KindOf). Errors it rejects count
	// as successes: the remote party answered.
	IsFailure func(error) bool
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	if s.FailureThreshold == 0 {
		s.FailureThreshold = DefaultFailureThreshold
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = DefaultOpenTimeout
	}
	if s.HalfOpenSuccesses == 0 {
		s.HalfOpenSuccesses = DefaultHalfOpenSuccesses
	}
	if s.IsFailure == nil {
		s.IsFailure = defaultIsFailure
	}
	return s
}

func defaultIsFailure(err error) bool {
	k := ohx.KindOf(err)
	return k == ohx.KindTransient || k == ohx.KindUnknown
}

// BreakerState is a breaker's state; its values are those reported to
// ohx.Metrics.BreakerState.
type BreakerState int

// Breaker states.
const (
	// BreakerClosed lets every call through.
	BreakerClosed BreakerState = 0
	// BreakerHalfOpen lets a few trial calls through.
	BreakerHalfOpen BreakerState = 1
	// BreakerOpen rejects every call with ohx.ErrCircuitOpen.
	BreakerOpen BreakerState = 2
)

// String returns "closed", "half-open" or "open".
func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "unknown"
}

// BreakerStatus is a snapshot of one breaker.
type BreakerStatus struct {
	// Name is the breaker's name (a provider API or a FHIR destination).
	Name string
	// State is the breaker's state.
	State BreakerState
	// ConsecutiveFailures is the current run of failures; for an open
	// breaker, the run that opened it.
	ConsecutiveFailures uint32
	// OpenedAt is when the breaker last opened; zero if it never did.
	OpenedAt time.Time
}

// BreakersConfig configures a Breakers registry. The zero value is usable.
type BreakersConfig struct {
	// Metrics receives every state change; nil means ohx.NopMetrics.
	Metrics ohx.Metrics
	// Logger logs state changes; nil means no logs.
	Logger *zap.Logger
}

// Breakers is a registry of named circuit breakers: one per provider API and
// per FHIR destination. It reports every state change to
// ohx.Metrics.BreakerState, lists the breakers' states and can force one
// closed. It is safe for concurrent use.
type Breakers struct {
	metrics ohx.Metrics
	log     *zap.Logger

	mu     sync.Mutex
	byName map[string]*Breaker
}

// NewBreakers returns an empty registry.
func NewBreakers(cfg BreakersConfig) *Breakers {
	r := &Breakers{metrics: cfg.Metrics, log: cfg.Logger, byName: map[string]*Breaker{}}
	if r.metrics == nil {
		r.metrics = ohx.NopMetrics{}
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	return r
}

// Get returns the breaker called name, creating it with s (defaults for
// zero fields) if it does not exist yet. The settings of the first Get win.
func (r *Breakers) Get(name string, s BreakerSettings) *Breaker {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.byName[name]; ok {
		return b
	}
	b := &Breaker{name: name, settings: s.withDefaults(), reg: r}
	b.cb = b.newCircuit(0)
	r.byName[name] = b
	r.metrics.BreakerState(name, int(BreakerClosed))
	return b
}

// Status returns a snapshot of every breaker, sorted by name.
func (r *Breakers) Status() []BreakerStatus {
	r.mu.Lock()
	bs := make([]*Breaker, 0, len(r.byName))
	for _, b := range r.byName {
		bs = append(bs, b)
	}
	r.mu.Unlock()
	out := make([]BreakerStatus, 0, len(bs))
	for _, b := range bs {
		out = append(out, b.Status())
	}
	slices.SortFunc(out, func(a, b BreakerStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ForceClose closes the named breaker at once, with fresh counts (an
// operator knows the remote party is back). It returns ohx.ErrNotFound for
// an unknown name.
func (r *Breakers) ForceClose(name string) error {
	r.mu.Lock()
	b, ok := r.byName[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("provider: breaker %q: %w", name, ohx.ErrNotFound)
	}
	b.forceClose()
	return nil
}

// Breaker is one circuit breaker, a github.com/sony/gobreaker/v2 breaker with
// ohx's failure rules. Get one from a Breakers registry.
type Breaker struct {
	name     string
	settings BreakerSettings
	reg      *Breakers

	mu       sync.Mutex
	cb       *gobreaker.CircuitBreaker[struct{}]
	gen      uint64 // generation of cb; ForceClose starts a new one
	openedAt time.Time
	tripRun  uint32 // the failure run that opened the breaker
}

// excludedError marks an error the gobreaker must not count.
type excludedError struct{ err error }

func (e *excludedError) Error() string { return e.err.Error() }
func (e *excludedError) Unwrap() error { return e.err }

// newCircuit returns a fresh gobreaker for generation gen; its callbacks do
// nothing once a newer generation replaced it.
func (b *Breaker) newCircuit(gen uint64) *gobreaker.CircuitBreaker[struct{}] {
	s := b.settings
	return gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        b.name,
		MaxRequests: s.HalfOpenSuccesses,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures < s.FailureThreshold {
				return false
			}
			b.mu.Lock()
			if b.gen == gen {
				b.tripRun = c.ConsecutiveFailures
			}
			b.mu.Unlock()
			return true
		},
		OnStateChange: func(name string, from, to gobreaker.State) { b.onStateChange(gen, from, to) },
		IsExcluded: func(err error) bool {
			var ex *excludedError
			return errors.As(err, &ex)
		},
		IsSuccessful: func(err error) bool { return err == nil || !s.IsFailure(err) },
	})
}

// onStateChange runs under gobreaker's lock: it must not call the circuit.
func (b *Breaker) onStateChange(gen uint64, from, to gobreaker.State) {
	b.mu.Lock()
	current := b.gen == gen
	if current && to == gobreaker.StateOpen {
		b.openedAt = time.Now().UTC()
	}
	b.mu.Unlock()
	if !current {
		return
	}
	name, st := b.name, BreakerState(to)
	b.reg.metrics.BreakerState(name, int(st))
	if to == gobreaker.StateOpen {
		b.reg.log.Warn("breaker opened", zap.String("breaker", name), zap.Stringer("from", BreakerState(from)))
	} else {
		b.reg.log.Info("breaker state changed", zap.String("breaker", name),
			zap.Stringer("from", BreakerState(from)), zap.Stringer("to", st))
	}
}

func (b *Breaker) circuit() *gobreaker.CircuitBreaker[struct{}] {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cb
}

func (b *Breaker) forceClose() {
	b.mu.Lock()
	b.gen++
	old := b.cb
	b.cb = b.newCircuit(b.gen)
	b.tripRun = 0
	b.mu.Unlock()
	from := old.State()
	b.reg.metrics.BreakerState(b.name, int(BreakerClosed))
	b.reg.log.Info("breaker forced closed", zap.String("breaker", b.name), zap.Stringer("from", BreakerState(from)))
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Status returns a snapshot of the breaker.
func (b *Breaker) Status() BreakerStatus {
	cb := b.circuit()
	state := BreakerState(cb.State())
	counts := cb.Counts()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BreakerStatus{Name: b.name, State: state, ConsecutiveFailures: counts.ConsecutiveFailures, OpenedAt: b.openedAt}
	if state == BreakerOpen {
		st.ConsecutiveFailures = b.tripRun
	}
	return st
}

// Do runs fn if the breaker lets it through and records its outcome. A
// rejected call returns an error matching ohx.ErrCircuitOpen (kind
// transient) whose ohx.RetryAfter is the rest of the open period; fn is not
// called. Errors returned while ctx is done, and rate-limit errors, are not
// counted.
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	cb := b.circuit()
	_, err := cb.Execute(func() (struct{}, error) {
		err := fn(ctx)
		if err != nil && (ctx.Err() != nil || ohx.KindOf(err) == ohx.KindRateLimited) {
			return struct{}{}, &excludedError{err}
		}
		return struct{}{}, err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return &circuitOpenError{name: b.name, wait: b.openRemaining()}
	}
	var ex *excludedError
	if errors.As(err, &ex) {
		return ex.err
	}
	return err
}

func (b *Breaker) openRemaining() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return 0
	}
	if d := time.Until(b.openedAt.Add(b.settings.OpenTimeout)); d > 0 {
		return d
	}
	return 0
}
