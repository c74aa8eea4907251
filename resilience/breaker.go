package resilience

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

// Breaker defaults: what the zero BreakerSettings mean.
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
// Whatever IsFailure says, rate-limit answers (ohx.KindRateLimited) are
// never counted, and neither is an error returned while the caller's context
// is done: a cancelled context is not a failure of the remote party.
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

// Or returns s with its zero fields taken from d: a package that wants other
// defaults than this package's (the FHIR publisher does) passes them here.
// Fields zero in both keep this package's defaults.
func (s BreakerSettings) Or(d BreakerSettings) BreakerSettings {
	if s.FailureThreshold == 0 {
		s.FailureThreshold = d.FailureThreshold
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = d.OpenTimeout
	}
	if s.HalfOpenSuccesses == 0 {
		s.HalfOpenSuccesses = d.HalfOpenSuccesses
	}
	if s.IsFailure == nil {
		s.IsFailure = d.IsFailure
	}
	return s
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	s = s.Or(BreakerSettings{
		FailureThreshold: DefaultFailureThreshold, OpenTimeout: DefaultOpenTimeout,
		HalfOpenSuccesses: DefaultHalfOpenSuccesses, IsFailure: defaultIsFailure,
	})
	if s.OpenTimeout < 0 {
		s.OpenTimeout = DefaultOpenTimeout
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
	// Name is the breaker's name (a provider API or "fhir:" and a FHIR
	// destination), the name Breakers.ForceClose takes.
	Name string
	// State is the breaker's state.
	State BreakerState
	// ConsecutiveFailures is the current run of failures; for an open
	// breaker, the run that opened it.
	ConsecutiveFailures uint32
	// OpenedAt is when the breaker last opened; zero if it never did.
	OpenedAt time.Time
	// LastFailure describes the last failure of the current run (scrubbed,
	// see Failure.String); empty when the breaker is closed with no
	// failure since its last success.
	LastFailure string
}

// BreakersConfig configures a Breakers registry. The zero value is usable.
type BreakersConfig struct {
	// Metrics receives every state change; nil means ohx.NopMetrics.
	Metrics ohx.Metrics
	// Logger logs the failures the breakers count (warn) and their state
	// changes; nil means no logs.
	Logger *zap.Logger
}

// Breakers is a registry of named circuit breakers: one per provider API and
// per FHIR destination, the single source of breaker names. It reports every
// state change to ohx.Metrics.BreakerState, lists the breakers' states and
// can force one closed. It is safe for concurrent use.
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
// operator knows the remote party is back). It returns an error matching
// ohx.ErrNotFound for a name Status does not list.
func (r *Breakers) ForceClose(name string) error {
	r.mu.Lock()
	b, ok := r.byName[name]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("resilience: breaker %q: %w", name, ohx.ErrNotFound)
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
	tripRun  uint32   // the failure run that opened the breaker
	last     *Failure // the last counted failure of this generation
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
	run, last := b.tripRun, b.lastString()
	b.mu.Unlock()
	if !current {
		return
	}
	name, st := b.name, BreakerState(to)
	b.reg.metrics.BreakerState(name, int(st))
	if to == gobreaker.StateOpen {
		b.reg.log.Warn("breaker opened", zap.String("breaker", name), zap.Stringer("from", BreakerState(from)),
			zap.Uint32("failures", run), zap.String("last_failure", last))
	} else {
		b.reg.log.Info("breaker state changed", zap.String("breaker", name),
			zap.Stringer("from", BreakerState(from)), zap.Stringer("to", st))
	}
}

// lastString describes the last failure; b.mu must be held.
func (b *Breaker) lastString() string {
	if b.last == nil {
		return ""
	}
	return b.last.String()
}

func (b *Breaker) circuit() (*gobreaker.CircuitBreaker[struct{}], uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cb, b.gen
}

func (b *Breaker) forceClose() {
	b.mu.Lock()
	b.gen++
	old := b.cb
	b.cb = b.newCircuit(b.gen)
	b.tripRun = 0
	b.last = nil
	b.mu.Unlock()
	from := old.State()
	b.reg.metrics.BreakerState(b.name, int(BreakerClosed))
	b.reg.log.Info("breaker forced closed", zap.String("breaker", b.name), zap.Stringer("from", BreakerState(from)))
}

// Name returns the breaker's name.
func (b *Breaker) Name() string { return b.name }

// Status returns a snapshot of the breaker.
func (b *Breaker) Status() BreakerStatus {
	cb, _ := b.circuit()
	state := BreakerState(cb.State())
	counts := cb.Counts()
	b.mu.Lock()
	defer b.mu.Unlock()
	st := BreakerStatus{Name: b.name, State: state, ConsecutiveFailures: counts.ConsecutiveFailures, OpenedAt: b.openedAt}
	if state == BreakerOpen {
		st.ConsecutiveFailures = b.tripRun
	}
	if state != BreakerClosed || st.ConsecutiveFailures > 0 {
		st.LastFailure = b.lastString()
	}
	return st
}

// Do runs fn if the breaker lets it through and records its outcome. A
// failure that counts is logged at warn (see Describe) and remembered. A
// rejected call returns a *CircuitOpenError, which matches
// ohx.ErrCircuitOpen (kind transient), names the last failure and whose
// ohx.RetryAfter is the rest of the open period; fn is not called. Errors
// returned while ctx is done, and rate-limit errors, are not counted.
func (b *Breaker) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	cb, gen := b.circuit()
	_, err := cb.Execute(func() (struct{}, error) {
		err := fn(ctx)
		if err == nil {
			return struct{}{}, nil
		}
		if ctx.Err() != nil || ohx.KindOf(err) == ohx.KindRateLimited {
			return struct{}{}, &excludedError{err}
		}
		if b.settings.IsFailure(err) {
			b.recordFailure(gen, err)
		}
		return struct{}{}, err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return b.openError()
	}
	var ex *excludedError
	if errors.As(err, &ex) {
		return ex.err
	}
	return err
}

// recordFailure remembers and logs a failure the breaker counts. It runs
// before gobreaker counts it, so the "breaker opened" line that may follow
// names it.
func (b *Breaker) recordFailure(gen uint64, err error) {
	f := Describe(err)
	b.mu.Lock()
	if b.gen == gen {
		b.last = &f
	}
	b.mu.Unlock()
	fields := make([]zap.Field, 0, 7)
	fields = append(fields, zap.String("breaker", b.name))
	if f.Provider != "" {
		fields = append(fields, zap.String("provider", f.Provider))
	}
	if f.Destination != "" {
		fields = append(fields, zap.String("destination", f.Destination))
	}
	fields = append(fields, zap.String("op", f.Op), zap.Stringer("kind", f.Kind), zap.Int("status", f.HTTPStatus),
		zap.String("cause", f.cause()))
	b.reg.log.Warn("call failed", fields...)
}

func (b *Breaker) openError() *CircuitOpenError {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := &CircuitOpenError{Breaker: b.name, Failures: b.tripRun, LastFailure: b.lastString()}
	if !b.openedAt.IsZero() {
		e.Wait = max(0, time.Until(b.openedAt.Add(b.settings.OpenTimeout)))
	}
	return e
}

// CircuitOpenError is the error of a call an open (or busy half-open)
// breaker refused. It matches ohx.ErrCircuitOpen, whose kind is transient,
// and ohx.RetryAfter reads the rest of the open period from it. Its message
// names the breaker, the failure run and the last failure that opened it:
//
//	breaker withings: ohx: circuit open after 3 failures; last: withings getmeas: transient: POST https://wbsapi.withings.net/measure: dial tcp 192.0.2.1:443: connect: connection refused
type CircuitOpenError struct {
	// Breaker is the breaker's name.
	Breaker string
	// Failures is the run of failures that opened the breaker.
	Failures uint32
	// LastFailure describes the last counted failure (scrubbed), if any.
	LastFailure string
	// Wait is the rest of the open period.
	Wait time.Duration
}

// Error implements error.
func (e *CircuitOpenError) Error() string {
	msg := "breaker " + e.Breaker + ": " + ohx.ErrCircuitOpen.Error()
	switch e.Failures {
	case 0:
	case 1:
		msg += " after 1 failure"
	default:
		msg += fmt.Sprintf(" after %d failures", e.Failures)
	}
	if e.LastFailure != "" {
		msg += "; last: " + e.LastFailure
	}
	return msg
}

// Unwrap returns ohx.ErrCircuitOpen.
func (e *CircuitOpenError) Unwrap() error { return ohx.ErrCircuitOpen }

// RetryDelay returns Wait; ohx.RetryAfter reads it.
func (e *CircuitOpenError) RetryDelay() time.Duration { return e.Wait }
