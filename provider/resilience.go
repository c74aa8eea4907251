package provider

import (
	"time"

	"github.com/openhealthexchange/ohx/resilience"
)

// The breakers, rate limits and retry settings of the provider client moved
// to package resilience, which the FHIR publisher shares. These aliases keep
// older code compiling.

// BreakerSettings configure one breaker.
//
// Deprecated: use resilience.BreakerSettings.
type BreakerSettings = resilience.BreakerSettings

// BreakerState is a breaker's state.
//
// Deprecated: use resilience.BreakerState.
type BreakerState = resilience.BreakerState

// BreakerStatus is a snapshot of one breaker.
//
// Deprecated: use resilience.BreakerStatus.
type BreakerStatus = resilience.BreakerStatus

// BreakersConfig configures a Breakers registry.
//
// Deprecated: use resilience.BreakersConfig.
type BreakersConfig = resilience.BreakersConfig

// Breakers is a registry of named circuit breakers.
//
// Deprecated: use resilience.Breakers.
type Breakers = resilience.Breakers

// Breaker is one circuit breaker.
//
// Deprecated: use resilience.Breaker.
type Breaker = resilience.Breaker

// Limit is a request rate.
//
// Deprecated: use resilience.Limit.
type Limit = resilience.Limit

// RetrySettings tune the retries of idempotent operations.
//
// Deprecated: use resilience.RetrySettings.
type RetrySettings = resilience.RetrySettings

// Breaker states.
//
// Deprecated: use resilience.BreakerClosed, BreakerHalfOpen and BreakerOpen.
const (
	BreakerClosed   = resilience.BreakerClosed
	BreakerHalfOpen = resilience.BreakerHalfOpen
	BreakerOpen     = resilience.BreakerOpen
)

// Breaker and retry defaults.
//
// Deprecated: use the constants of package resilience of the same names.
const (
	DefaultFailureThreshold  = resilience.DefaultFailureThreshold
	DefaultOpenTimeout       = resilience.DefaultOpenTimeout
	DefaultHalfOpenSuccesses = resilience.DefaultHalfOpenSuccesses
	DefaultMaxAttempts       = resilience.DefaultMaxAttempts
	DefaultBaseDelay         = resilience.DefaultBaseDelay
	DefaultMaxDelay          = resilience.DefaultMaxDelay
	DefaultMaxWait           = resilience.DefaultMaxWait
)

// NewBreakers returns an empty registry.
//
// Deprecated: use resilience.NewBreakers.
func NewBreakers(cfg BreakersConfig) *Breakers { return resilience.NewBreakers(cfg) }

// PerMinute returns a Limit of n requests per minute.
//
// Deprecated: use resilience.PerMinute.
func PerMinute(n int) Limit { return resilience.PerMinute(n) }

// ParseRetryAfter parses a Retry-After header value into the wait from now.
//
// Deprecated: use resilience.ParseRetryAfter.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	return resilience.ParseRetryAfter(v, now)
}
