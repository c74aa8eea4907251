// Package resilience is what ohx puts between itself and a remote party (a
// provider API, a FHIR destination): circuit breakers in one registry, rate
// limits, and retries that honour Retry-After. Package provider's Client and
// package publish's FHIR publisher both use it, so a breaker, a limit or a
// retry behaves the same whichever way the data flows.
//
// # Breakers
//
// [Breakers] is a registry of named github.com/sony/gobreaker/v2 breakers:
// one per provider API ("withings", "fitbit") and one per FHIR destination
// ("fhir:" + the destination's name). The registry is the single source of
// breaker names: an operator API lists [Breakers.Status] and closes a
// breaker by the same name with [Breakers.ForceClose]. [BreakerSettings]
// configure one breaker; its zero value opens after 3 consecutive failures
// (errors of kind transient or unknown: server errors, network failures,
// timeouts), stays open 30 s and closes after 2 successful trial calls. A
// user of the package may bring its own defaults ([BreakerSettings.Or]); the
// FHIR publisher does. Rate-limit answers and errors under a done context
// never count.
//
// Every failure a breaker counts is logged at warn with the breaker, the
// provider or destination, the operation, the error kind, the HTTP status
// and the cause ([Describe]), scrubbed of URL queries, credentials and
// response bodies ([Scrub]). A call the open breaker refuses fails with a
// [*CircuitOpenError] that names the failure run and the last failure that
// opened it, so a failed sync says why, not only "circuit open".
//
// # Rate limits
//
// A [Limit] is a request rate with bursts ([PerMinute]). A [Limiter] holds
// one scope's token bucket and the pause a remote party's rate-limit answer
// imposes ([Limiter.Pause]); [Limiter.Wait] sits both out or, when the wait
// exceeds the caller's bound, fails with a [*LimitError] (ohx.ErrRateLimited
// with the wait) so that the queue retries the job later. [Limiters] keeps
// one Limiter per key (a provider user) and forgets idle ones.
//
// # Retries
//
// One retry layer per concern: idempotent requests are retried inside a
// call by [Retry]; whole jobs are retried by the queue. Retry calls a
// function until it succeeds, fails with an error its caller does not want
// retried, or the [RetrySettings] bounds are spent (attempts, one wait,
// total time). Between attempts it waits the longer of an exponential
// backoff with jitter ([RetrySettings.Backoff]) and the wait the error asks
// for (ohx.RetryAfter, filled from a Retry-After header by
// [ParseRetryAfter]). It never retries a call an open breaker refused: that
// is the queue's job, after the breaker's open period.
package resilience
