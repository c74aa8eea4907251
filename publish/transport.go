package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// maxResponse bounds how much of a response body is read.
const maxResponse = 64 << 20

// httpResult is one HTTP answer, read in full.
type httpResult struct {
	status     int
	body       []byte
	header     http.Header
	retryAfter time.Duration
}

// statusError marks an answer that is worth retrying (408, 409, 429, 5xx).
type statusError struct{ r *httpResult }

func (e *statusError) Error() string { return "http " + strconv.Itoa(e.r.status) }

// Is makes a 429 match ohx.ErrRateLimited, which the breaker does not count.
func (e *statusError) Is(target error) bool {
	return target == ohx.ErrRateLimited && e.r.status == http.StatusTooManyRequests
}

// ctxError marks the caller's context ending during an attempt; the breaker
// ignores it.
type ctxError struct{ err error }

func (e *ctxError) Error() string { return e.err.Error() }
func (e *ctxError) Unwrap() error { return e.err }

// authError marks a failure to obtain an access token. Its message carries
// the token endpoint's HTTP status at most, never the response body.
type authError struct{ err error }

func (e *authError) Error() string {
	var re *oauth2.RetrieveError
	if errors.As(e.err, &re) && re.Response != nil {
		return "obtain access token: http " + strconv.Itoa(re.Response.StatusCode)
	}
	var se *tokenStatusError
	if errors.As(e.err, &se) {
		return "obtain access token: http " + strconv.Itoa(se.status)
	}
	return "obtain access token failed"
}

// authSource marks the errors of a token source so they are neither retried
// nor counted by the breaker.
type authSource struct{ src oauth2.TokenSource }

func (a *authSource) Token() (*oauth2.Token, error) {
	t, err := a.src.Token()
	if err != nil {
		return nil, &authError{err: err}
	}
	return t, nil
}

// send posts a Bundle of the chunk to the base URL.
func (p *FHIR) send(ctx context.Context, op string, typ r5.BundleType, chunk []*item) (*httpResult, error) {
	body, err := bundleJSON(typ, chunk)
	if err != nil {
		return nil, fmt.Errorf("publish: build %s bundle: %w", op, err)
	}
	return p.do(ctx, op, http.MethodPost, p.base, body)
}

// do runs one request through the breaker, retrying 408, 409, 429, 5xx and
// network errors with backoff (or the server's Retry-After) until
// MaxRetryTime is spent. It returns the final answer, which may be a non-2xx
// status that is not worth retrying.
func (p *FHIR) do(ctx context.Context, op, method, url string, body []byte) (*httpResult, error) {
	deadline := time.Now().Add(p.cfg.MaxRetryTime)
	for attempt := 0; ; attempt++ {
		var r *httpResult
		err := p.breaker.Do(ctx, func(ctx context.Context) error {
			var err error
			r, err = p.attempt(ctx, op, method, url, body)
			return err
		})
		if err == nil {
			return r, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		var ae *authError
		if errors.As(err, &ae) {
			return nil, fmt.Errorf("publish: fhir %s %s: %s: %w", p.cfg.Name, op, ae.Error(), ohx.ErrAuth)
		}
		if errors.Is(err, ohx.ErrCircuitOpen) {
			return nil, fmt.Errorf("publish: fhir %s %s: %w", p.cfg.Name, op, err)
		}
		var delay time.Duration
		var se *statusError
		if errors.As(err, &se) {
			delay = se.r.retryAfter
		}
		if delay == 0 {
			delay = backoff(attempt)
		}
		if time.Now().Add(delay).After(deadline) {
			if se != nil {
				return nil, p.requestError(op, se.r)
			}
			return nil, fmt.Errorf("publish: fhir %s %s: %w: %w", p.cfg.Name, op, ohx.ErrTransient, err)
		}
		p.log.Debug("fhir: retrying", zap.String("destination", p.cfg.Name), zap.String("op", op),
			zap.Int("attempt", attempt+1), zap.Duration("delay", delay), zap.String("reason", retryReason(se, err)))
		if err := p.sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

func retryReason(se *statusError, err error) string {
	if se != nil {
		return se.Error()
	}
	return "network error"
}

// attempt makes one HTTP request.
func (p *FHIR) attempt(ctx context.Context, op, method, url string, body []byte) (*httpResult, error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, url, rd)
	if err != nil {
		return nil, &authError{err: err} // a malformed URL: not retryable
	}
	req.Header.Set("Accept", "application/fhir+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		p.metrics.FHIRLatency(op, time.Since(start))
		var ae *authError
		if errors.As(err, &ae) {
			return nil, ae
		}
		if ctx.Err() != nil {
			return nil, &ctxError{err: ctx.Err()}
		}
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	p.metrics.FHIRLatency(op, time.Since(start))
	if err != nil {
		if ctx.Err() != nil {
			return nil, &ctxError{err: ctx.Err()}
		}
		return nil, err
	}
	r := &httpResult{status: resp.StatusCode, body: b, header: resp.Header, retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	switch {
	case r.status == http.StatusTooManyRequests:
		return r, &statusError{r: r}
	case r.status >= 500, r.status == http.StatusRequestTimeout, r.status == http.StatusConflict:
		return r, &statusError{r: r}
	}
	return r, nil
}

// isFailure tells the breaker which errors count against the server:
// network errors, timeouts and 408/409/5xx answers. A token failure says
// nothing about the FHIR server; rate limits and the caller's cancelled
// context are not counted by the breaker at all.
func isFailure(err error) bool {
	var ae *authError
	if errors.As(err, &ae) {
		return false
	}
	var se *statusError
	if errors.As(err, &se) {
		return se.r.status != http.StatusTooManyRequests
	}
	return true
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// backoff returns the wait before retry attempt+1: exponential from 250 ms,
// capped at 10 s, with jitter in its upper half.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 6)
	d = min(d, 10*time.Second)
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
