package publish

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/resilience"
)

// ownIdleConnsPerHost is the number of idle connections to the destination
// the publishers without an HTTPClient of the caller's keep, so that workers
// sharing a publisher reuse them instead of closing all but net/http's
// default of two and opening new ones.
const ownIdleConnsPerHost = 32

// ownTransport returns the transport shared by the publishers without an
// HTTPClient of the caller's: http.DefaultTransport's settings (proxy from
// the environment, timeouts, HTTP/2 over TLS) with more idle connections,
// and connections that copy a request body through a pooled buffer (see
// copyConn).
var ownTransport = sync.OnceValue(func() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return http.DefaultTransport // replaced by the application: keep it
	}
	t = t.Clone()
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return copyConn{c}, nil
	}
	t.MaxIdleConnsPerHost = ownIdleConnsPerHost
	return t
})

// copyConn is a connection whose io.ReaderFrom copies through a pooled
// buffer. net/http writes a request body that is not a bytes.Reader (the
// publisher's pooled bundle is not: it must know when the transport closed
// it) after flushing the headers, wrapped in an io.LimitedReader, with the
// connection's ReadFrom; a TCP connection's allocates a new 32 KB buffer for
// that each time. Over TLS the connection net/http writes to is the
// tls.Conn around this one, and HTTP/2 has buffers of its own.
type copyConn struct{ net.Conn }

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom copies r to the connection: a publisher's bundle straight from
// its buffer, anything else with a buffer from the pool.
func (c copyConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if br, ok := lr.R.(*bodyReader); ok {
			n, err := br.writeTo(c.Conn, lr.N)
			lr.N -= n
			return n, err
		}
	}
	buf := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(buf)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *buf)
}

// maxResponse bounds how much of a response body is read.
const maxResponse = 64 << 20

// httpResult is one HTTP answer, read in full.
type httpResult struct {
	status     int
	body       []byte
	header     http.Header
	retryAfter time.Duration
	// buf holds body when it came from responsePool.
	buf *bytes.Buffer
}

// maxPooledResponse is the largest response buffer kept for reuse.
const maxPooledResponse = 4 << 20

var responsePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// release gives a pooled body back; r.body must not be used after. Whatever
// is kept of an answer (an OperationOutcome, an entry's status) is decoded
// into values of its own before.
func (r *httpResult) release() {
	if r == nil || r.buf == nil {
		return
	}
	if r.buf.Cap() <= maxPooledResponse {
		responsePool.Put(r.buf)
	}
	r.buf, r.body = nil, nil
}

// statusError is an answer worth retrying (408, 409, 429, 5xx) of one
// request to a destination. A 429 matches ohx.ErrRateLimited, which no
// breaker counts; the others ohx.ErrTransient.
type statusError struct {
	dest, op string
	r        *httpResult
}

func (e *statusError) Error() string { return "http " + strconv.Itoa(e.r.status) }

// Is matches the sentinel of the status class.
func (e *statusError) Is(target error) bool { return target == statusSentinel(e.r.status) }

// RetryDelay returns the server's Retry-After; resilience.Retry waits it out.
func (e *statusError) RetryDelay() time.Duration { return e.r.retryAfter }

// Failure describes the answer for the breaker's log: the status and the
// OperationOutcome's codes and locations, never its free text.
func (e *statusError) Failure() resilience.Failure {
	return resilience.Failure{Destination: e.dest, Op: e.op, Kind: ohx.KindOf(e), HTTPStatus: e.r.status,
		Cause: outcomeSummary(parseOutcome(e.r.body))}
}

// netError is a request to a destination that got no answer (connection
// refused or reset, timeout, TLS failure). Its message names the method and
// the URL without its query, which may hold identifiers.
type netError struct {
	dest, op, method, url string // url is scheme://host/path
	err                   error
}

func newNetError(dest, op string, req *http.Request, err error) *netError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	u := url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}
	return &netError{dest: dest, op: op, method: req.Method, url: u.String(), err: err}
}

func (e *netError) Error() string {
	return e.method + " " + e.url + ": " + resilience.Scrub(e.err.Error())
}

func (e *netError) Unwrap() error { return e.err }

// Is matches ohx.ErrTransient.
func (e *netError) Is(target error) bool { return target == ohx.ErrTransient }

// Failure describes the failure for the breaker's log.
func (e *netError) Failure() resilience.Failure {
	return resilience.Failure{Destination: e.dest, Op: e.op, Kind: ohx.KindTransient, Cause: e.Error()}
}

// authError marks a failure to obtain an access token. Its message carries
// the token endpoint's HTTP status at most, never the response body. It
// matches ohx.ErrAuth: it says nothing about the FHIR server, so neither the
// breaker counts it nor a retry repeats it.
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

// Is matches ohx.ErrAuth.
func (e *authError) Is(target error) bool { return target == ohx.ErrAuth }

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
	body := pooledRequestBody()
	defer body.release()
	*body.buf = appendBundle(slices.Grow((*body.buf)[:0], bundleSize(chunk)), typ, chunk)
	return p.do(ctx, op, http.MethodPost, p.base, body)
}

// do sends one request with the destination's resilience: each attempt
// waits for the rate limit and goes through the breaker; 408, 409, 429, 5xx
// and network failures are retried (resilience.Retry: backoff or the
// server's Retry-After, within the retry settings). It returns the final
// answer, which may be a non-2xx status that is not worth retrying.
func (p *FHIR) do(ctx context.Context, op, method, url string, body *requestBody) (*httpResult, error) {
	var r *httpResult
	err := resilience.Retry(ctx, p.retry, retryable, func(ctx context.Context) error {
		if err := p.limiter.Wait(ctx, p.retry.MaxWait); err != nil {
			return err
		}
		err := p.breaker.Do(ctx, func(ctx context.Context) error {
			var err error
			r, err = p.attempt(ctx, op, method, url, body)
			return err
		})
		var se *statusError
		if errors.As(err, &se) && se.r.status == http.StatusTooManyRequests && se.r.retryAfter > 0 {
			// Every request to the destination waits, not only this one.
			p.limiter.Pause(time.Now().Add(se.r.retryAfter))
		}
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
	var se *statusError
	if errors.As(err, &se) {
		return nil, p.requestError(op, se.r)
	}
	var ne *netError
	if errors.As(err, &ne) {
		return nil, fmt.Errorf("publish: fhir %s %s: %w: %w", p.cfg.Name, op, ohx.ErrTransient, err)
	}
	// An open breaker, a rate-limit wait beyond MaxWait, a request that
	// cannot be built.
	return nil, fmt.Errorf("publish: fhir %s %s: %w", p.cfg.Name, op, err)
}

// retryable reports whether a request is sent again after err: after
// answers worth retrying, network failures and rate limits, not after a
// token failure or a permanent error.
func retryable(err error) bool {
	switch ohx.KindOf(err) {
	case ohx.KindTransient, ohx.KindRateLimited:
		return true
	}
	return false
}

// attempt makes one HTTP request.
func (p *FHIR) attempt(ctx context.Context, op, method, url string, body *requestBody) (*httpResult, error) {
	actx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, url, nil)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", ohx.ErrPermanent) // a malformed URL: not retryable
	}
	if body != nil {
		// The transport closes every body it is given, also on errors.
		req.Body = body.reader()
		req.ContentLength = int64(len(body.bytes()))
		req.GetBody = func() (io.ReadCloser, error) { return body.reader(), nil }
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
			return nil, ctx.Err()
		}
		return nil, newNetError(p.cfg.Name, op, req, err)
	}
	buf := responsePool.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
	p.metrics.FHIRLatency(op, time.Since(start))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, newNetError(p.cfg.Name, op, req, fmt.Errorf("reading body: %w", err))
	}
	wait, _ := resilience.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	r := &httpResult{status: resp.StatusCode, body: buf.Bytes(), buf: buf, header: resp.Header, retryAfter: wait}
	switch {
	case r.status == http.StatusTooManyRequests:
		return r, &statusError{dest: p.cfg.Name, op: op, r: r}
	case r.status >= 500, r.status == http.StatusRequestTimeout, r.status == http.StatusConflict:
		return r, &statusError{dest: p.cfg.Name, op: op, r: r}
	}
	return r, nil
}
