package ohx

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors for control flow. Test with errors.Is; typed errors such as
// *ProviderError match them through their Kind.
var (
	// ErrAuth: the provider rejected the access token; refresh, then re-link.
	ErrAuth = errors.New("ohx: authentication failed")
	// ErrRateLimited: the provider or destination asked to slow down; retry
	// after a time (see RetryAfter).
	ErrRateLimited = errors.New("ohx: rate limited")
	// ErrTransient: a temporary failure (server error, network); retry.
	ErrTransient = errors.New("ohx: transient failure")
	// ErrPermanent: retrying will not help (bad request, unsupported).
	ErrPermanent = errors.New("ohx: permanent failure")
	// ErrNotLinked: the link does not exist or is not active.
	ErrNotLinked = errors.New("ohx: not linked")
	// ErrTokenRevoked: the provider revoked the grant for good; the patient
	// must consent again. Jobs stop retrying.
	ErrTokenRevoked = errors.New("ohx: token revoked, re-consent needed")
	// ErrNotFound: a store has no such record.
	ErrNotFound = errors.New("ohx: not found")
	// ErrCircuitOpen: a circuit breaker is open; retry after its open period.
	ErrCircuitOpen = errors.New("ohx: circuit open")
)

// ErrorKind classifies a failure so the engine and the queue can act on it.
type ErrorKind int

// Error kinds.
const (
	KindUnknown ErrorKind = iota
	KindAuth
	KindRateLimited
	KindTransient
	KindPermanent
	KindNotLinked
	KindRevoked
)

var kindNames = [...]string{"unknown", "auth", "rate-limited", "transient", "permanent", "not-linked", "revoked"}

// String returns a bounded name, usable as a metrics label.
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

func (k ErrorKind) sentinel() error {
	switch k {
	case KindAuth:
		return ErrAuth
	case KindRateLimited:
		return ErrRateLimited
	case KindTransient:
		return ErrTransient
	case KindPermanent:
		return ErrPermanent
	case KindNotLinked:
		return ErrNotLinked
	case KindRevoked:
		return ErrTokenRevoked
	}
	return nil
}

// ProviderError is a classified failure of a provider call. Its message names
// the provider, operation, HTTP status and provider code, never a token or a
// health value.
type ProviderError struct {
	// Provider is the provider's name.
	Provider string
	// Op is the operation ("getmeas", "dataPoints.list").
	Op string
	// Kind classifies the failure.
	Kind ErrorKind
	// HTTPStatus is the HTTP status, if any.
	HTTPStatus int
	// Code is the provider's own status or reason ("601", "RESOURCE_EXHAUSTED").
	Code string
	// RetryAfter is how long to wait before retrying, when known.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Provider, e.Op, e.Kind)
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(" (http %d", e.HTTPStatus)
		if e.Code != "" {
			msg += ", " + e.Code
		}
		msg += ")"
	} else if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ProviderError) Unwrap() error { return e.Err }

// Is matches the sentinel of the error's Kind.
func (e *ProviderError) Is(target error) bool {
	s := e.Kind.sentinel()
	return s != nil && s == target
}

// KindOf classifies err: the Kind of a *ProviderError in its chain, else the
// kind of the first sentinel it matches, else KindUnknown.
func KindOf(err error) ErrorKind {
	if err == nil {
		return KindUnknown
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.Kind
	}
	for k := KindAuth; k <= KindRevoked; k++ {
		if errors.Is(err, k.sentinel()) {
			return k
		}
	}
	if errors.Is(err, ErrCircuitOpen) {
		return KindTransient
	}
	return KindUnknown
}

// RetryAfter returns the wait an error in err's chain asks for, or 0.
func RetryAfter(err error) time.Duration {
	var ra interface{ RetryDelay() time.Duration }
	if errors.As(err, &ra) {
		return ra.RetryDelay()
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}

// Retryable reports whether a job that failed with err should be retried:
// everything but permanent, not-linked and revoked failures.
func Retryable(err error) bool {
	switch KindOf(err) {
	case KindPermanent, KindNotLinked, KindRevoked:
		return false
	}
	return true
}
