package resilience

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Retry defaults: what the zero RetrySettings mean.
const (
	// DefaultMaxAttempts is the number of attempts of an idempotent call,
	// the first included.
	DefaultMaxAttempts = 4
	// DefaultBaseDelay is the first retry's backoff.
	DefaultBaseDelay = 250 * time.Millisecond
	// DefaultMaxDelay caps one backoff.
	DefaultMaxDelay = 10 * time.Second
	// DefaultMaxWait is the longest wait a call sits out inside the call (a
	// Retry-After, a rate-limit pause).
	DefaultMaxWait = time.Minute
)

// RetrySettings tune the retries of one idempotent call. The zero value
// means the defaults: 4 attempts, backoff from 250 ms doubling up to 10 s
// with ±20 % jitter, waits of at most a minute, no total time bound. A user
// of the package may bring its own defaults (see Or); the FHIR publisher
// does.
type RetrySettings struct {
	// MaxAttempts is the number of attempts, the first included; 0 means
	// DefaultMaxAttempts, 1 disables retries.
	MaxAttempts int
	// BaseDelay is the first backoff; it doubles per retry, with ±20 %
	// jitter. 0 means DefaultBaseDelay.
	BaseDelay time.Duration
	// MaxDelay caps one backoff; 0 means DefaultMaxDelay.
	MaxDelay time.Duration
	// MaxWait is the longest wait a call sits out before its next attempt
	// (a Retry-After, a rate-limit pause); a longer one ends the call with
	// its error, which carries the wait, for the queue to retry the job
	// later. 0 means DefaultMaxWait.
	MaxWait time.Duration
	// MaxElapsed bounds the time of all attempts and waits of one call: no
	// retry starts whose wait would end after it. 0 means no bound beyond
	// MaxAttempts.
	MaxElapsed time.Duration
}

// Or returns s with its zero fields taken from d. Fields zero in both keep
// this package's defaults.
func (s RetrySettings) Or(d RetrySettings) RetrySettings {
	if s.MaxAttempts == 0 {
		s.MaxAttempts = d.MaxAttempts
	}
	if s.BaseDelay == 0 {
		s.BaseDelay = d.BaseDelay
	}
	if s.MaxDelay == 0 {
		s.MaxDelay = d.MaxDelay
	}
	if s.MaxWait == 0 {
		s.MaxWait = d.MaxWait
	}
	if s.MaxElapsed == 0 {
		s.MaxElapsed = d.MaxElapsed
	}
	return s
}

// WithDefaults returns s with this package's defaults in its zero fields.
func (s RetrySettings) WithDefaults() RetrySettings {
	return s.Or(RetrySettings{MaxAttempts: DefaultMaxAttempts, BaseDelay: DefaultBaseDelay,
		MaxDelay: DefaultMaxDelay, MaxWait: DefaultMaxWait})
}

// Validate reports negative settings.
func (s RetrySettings) Validate() error {
	if s.MaxAttempts < 0 || s.BaseDelay < 0 || s.MaxDelay < 0 || s.MaxWait < 0 || s.MaxElapsed < 0 {
		return errors.New("resilience: retry settings must not be negative")
	}
	return nil
}

// Backoff returns the wait before retry n (0 for the first retry):
// BaseDelay·2ⁿ with ±20 % jitter, capped at MaxDelay. Zero fields take the
// defaults.
func (s RetrySettings) Backoff(n int) time.Duration {
	s = s.WithDefaults()
	d := s.MaxDelay
	if n < 62 {
		if e := s.BaseDelay << n; e > 0 && e>>n == s.BaseDelay && e < d {
			d = e
		}
	}
	// ±20 %: d·(0.8 + 0.4·u), u uniform in [0, 1).
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(d, s.MaxDelay)
}

// Retry calls fn until it succeeds or one of these ends the call, and then
// returns fn's last error unchanged:
//   - retryable(err) is false (nil retryable means every error may be
//     retried);
//   - err matches ohx.ErrCircuitOpen: an open breaker is the queue's to wait
//     out, not the call's;
//   - ctx is done (fn's error is returned; a ctx that ends during a wait
//     returns ctx.Err());
//   - the attempts are spent;
//   - the wait before the next attempt, the longer of Backoff and the wait
//     the error asks for (ohx.RetryAfter), exceeds MaxWait, or would end
//     after MaxElapsed.
//
// Zero fields of s take the package's defaults. Use Retry for idempotent
// requests only, inside one call; whole jobs are retried by the queue.
func Retry(ctx context.Context, s RetrySettings, retryable func(error) bool, fn func(ctx context.Context) error) error {
	s = s.WithDefaults()
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := fn(ctx)
		if err == nil || ctx.Err() != nil || attempt >= s.MaxAttempts || errors.Is(err, ohx.ErrCircuitOpen) {
			return err
		}
		if retryable != nil && !retryable(err) {
			return err
		}
		asked := ohx.RetryAfter(err)
		if asked > s.MaxWait {
			return err
		}
		wait := max(s.Backoff(attempt-1), asked)
		if s.MaxElapsed > 0 && time.Since(start)+wait > s.MaxElapsed {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ParseRetryAfter parses a Retry-After header value (RFC 9110, section
// 10.2.3), either delay-seconds or an HTTP-date, into the wait from now. ok
// is false when v is empty or malformed; a date in the past gives 0 and ok.
func ParseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		const maxSecs = int64(1<<63-1) / int64(time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := at.Sub(now); d > 0 {
		return d, true
	}
	return 0, true
}
