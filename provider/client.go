package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

// Client defaults.
const (
	// DefaultTimeout bounds one HTTP attempt, body included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxBodyBytes bounds a response body.
	DefaultMaxBodyBytes = 64 << 20
)

// Scope says who a provider's rate-limit answer applies to.
type Scope int

// Rate-limit scopes.
const (
	// ScopeApp: a rate-limit answer pauses every call of the app (Withings:
	// 120 requests per minute per application).
	ScopeApp Scope = iota
	// ScopeUser: a rate-limit answer pauses the calls made for the same
	// provider user (Op.User) only.
	ScopeUser
)

// Config configures a Client. Provider is required; the zero value of every
// other field is a sensible default.
type Config struct {
	// Provider is the provider's name, used in errors, metrics and as the
	// default breaker name.
	Provider string
	// HTTPClient sends the requests; nil means NewHTTPClient().
	HTTPClient *http.Client
	// Timeout bounds one attempt, reading the body included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds a response body; a larger one is a permanent
	// error. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Classify classifies responses; nil means ClassifyHTTP.
	Classify Classifier
	// Breakers is the registry the client's breaker lives in; nil means a
	// private registry.
	Breakers *resilience.Breakers
	// BreakerName names the client's breaker (one per provider API); empty
	// means Provider.
	BreakerName string
	// Breaker configures the breaker when the client creates it.
	Breaker resilience.BreakerSettings
	// AppLimit limits the requests of the whole app; zero means unlimited.
	AppLimit resilience.Limit
	// UserLimit limits the requests per provider user (Op.User); zero means
	// unlimited.
	UserLimit resilience.Limit
	// RateLimitScope says whom a rate-limit answer pauses.
	RateLimitScope Scope
	// Retry tunes retries of idempotent operations; zero fields take the
	// resilience defaults (4 attempts, backoff from 250 ms to 10 s, waits
	// of at most a minute inside the call).
	Retry resilience.RetrySettings
	// Logger logs failed attempts (never a URL query, token or body); nil
	// means no logs. The failures the breaker counts are logged at warn by
	// the breaker registry's logger.
	Logger *zap.Logger
	// Metrics counts rate-limit answers (RateLimited) and receives the
	// breaker's state changes when the client creates its own registry; nil
	// means ohx.NopMetrics. Failed calls are counted by the engine
	// (ProviderError), not here, so that a failure is counted once.
	Metrics ohx.Metrics
}

// Credentials supply the bearer token of a request. *TokenSource implements
// it.
type Credentials interface {
	// Token returns a valid access token.
	Token(ctx context.Context) (ohx.Token, error)
	// ForceRefresh replaces an access token the provider rejected before its
	// expiry, unless it was already replaced meanwhile, and returns the
	// current token.
	ForceRefresh(ctx context.Context, rejected string) (ohx.Token, error)
}

// Op describes one provider operation.
type Op struct {
	// Name is the operation's bounded name ("getmeas",
	// "dataPoints.list"), used in errors and logs.
	Name string
	// Idempotent declares that the operation may be sent again after a
	// transient failure or a rate-limit answer. Classify by operation, not
	// by HTTP method: Withings reads are POSTs.
	Idempotent bool
	// User is the provider user the call is made for, the key of the
	// per-user rate limit; empty means none. It is never logged.
	User string
	// Credentials, when set, put "Authorization: Bearer <token>" on the
	// request; when the provider rejects the token (KindAuth), the client
	// forces one refresh and sends the request once more.
	Credentials Credentials

	consume func(status int, body io.Reader) error // set by Stream
}

// Client sends provider API requests with timeouts, a circuit breaker, rate
// limits, Retry-After handling and retries of idempotent operations, and
// classifies every failure as a *ohx.ProviderError. It is safe for
// concurrent use; make one per provider API.
type Client struct {
	cfg     Config
	hc      *http.Client
	breaker *resilience.Breaker
	app     *resilience.Limiter
	users   *resilience.Limiters
	log     *zap.Logger
	metrics ohx.Metrics
}

// NewHTTPClient returns an *http.Client with a clone of
// http.DefaultTransport that requires TLS 1.2 or newer.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{}
	}
	t.TLSClientConfig.MinVersion = tls.VersionTLS12
	return &http.Client{Transport: t}
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	switch {
	case cfg.Provider == "":
		return nil, errors.New("provider: client needs a provider name")
	case cfg.Timeout < 0, cfg.MaxBodyBytes < 0, cfg.Retry.Validate() != nil:
		return nil, errors.New("provider: client timeouts, sizes and retry settings must not be negative")
	case cfg.AppLimit.Validate() != nil, cfg.UserLimit.Validate() != nil:
		return nil, errors.New("provider: client rate limits must not be negative")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Classify == nil {
		cfg.Classify = ClassifyHTTP
	}
	if cfg.BreakerName == "" {
		cfg.BreakerName = cfg.Provider
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, log: cfg.Logger, metrics: cfg.Metrics}
	if c.hc == nil {
		c.hc = NewHTTPClient()
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	if c.metrics == nil {
		c.metrics = ohx.NopMetrics{}
	}
	reg := cfg.Breakers
	if reg == nil {
		reg = resilience.NewBreakers(resilience.BreakersConfig{Metrics: c.metrics, Logger: c.log})
	}
	c.breaker = reg.Get(cfg.BreakerName, cfg.Breaker)
	c.app = resilience.NewLimiter(cfg.AppLimit)
	c.users = resilience.NewLimiters(cfg.UserLimit)
	return c, nil
}

// Breaker returns the client's circuit breaker.
func (c *Client) Breaker() *resilience.Breaker { return c.breaker }

// Do sends req (its context is replaced by ctx) as operation op and returns
// the response, whose body was read whole, once the classifier accepted it.
// Any failure is returned as an error (normally a *ohx.ProviderError, see
// ohx.KindOf and ohx.RetryAfter), with a nil response; a cancelled ctx is
// returned as ctx's error and counts as no failure.
//
// A request body is buffered when req.GetBody is nil, so that it can be sent
// again.
func (c *Client) Do(ctx context.Context, op Op, req *http.Request) (*Response, error) {
	if op.Name == "" {
		return nil, errors.New("provider: operation needs a name")
	}
	if req == nil || req.URL == nil {
		return nil, fmt.Errorf("provider: %s %s: no request", c.cfg.Provider, op.Name)
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("provider: %s %s: reading request body: %w", c.cfg.Provider, op.Name, err)
		}
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	retry := c.cfg.Retry
	if !op.Idempotent {
		retry.MaxAttempts = 1
	}
	var resp *Response
	err := resilience.Retry(ctx, retry, retryable, func(ctx context.Context) error {
		var err error
		resp, err = c.authorized(ctx, op, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// retryable reports whether an idempotent operation is sent again after
// err: after transient failures and rate-limit answers (whose wait
// resilience.Retry bounds).
func retryable(err error) bool {
	switch ohx.KindOf(err) {
	case ohx.KindTransient, ohx.KindRateLimited:
		return true
	}
	return false
}

// authorized sends the request with op's credentials, forcing one refresh
// when the provider rejects the access token.
func (c *Client) authorized(ctx context.Context, op Op, req *http.Request) (*Response, error) {
	if op.Credentials == nil {
		return c.attempt(ctx, op, req, "")
	}
	tok, err := op.Credentials.Token(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := c.attempt(ctx, op, req, tok.AccessToken)
	if err == nil || ohx.KindOf(err) != ohx.KindAuth || ctx.Err() != nil {
		return resp, err
	}
	tok, rerr := op.Credentials.ForceRefresh(ctx, tok.AccessToken)
	if rerr != nil {
		return nil, rerr
	}
	return c.attempt(ctx, op, req, tok.AccessToken)
}

// attempt waits for the rate limits, then sends the request once through
// the breaker.
func (c *Client) attempt(ctx context.Context, op Op, req *http.Request, token string) (*Response, error) {
	scope := c.app
	ls := []*resilience.Limiter{c.app}
	if op.User != "" && (!c.cfg.UserLimit.Unlimited() || c.cfg.RateLimitScope == ScopeUser) {
		u := c.users.Get(op.User)
		ls = append(ls, u)
		if c.cfg.RateLimitScope == ScopeUser {
			scope = u
		}
	}
	for _, l := range ls {
		if err := l.Wait(ctx, c.cfg.Retry.MaxWait); err != nil {
			var le *resilience.LimitError
			if errors.As(err, &le) {
				return nil, &ohx.ProviderError{Provider: c.cfg.Provider, Op: op.Name, Kind: ohx.KindRateLimited, Code: le.Reason, RetryAfter: le.RetryAfter}
			}
			return nil, err
		}
	}
	var resp *Response
	err := c.breaker.Do(ctx, func(ctx context.Context) error {
		var err error
		resp, err = c.roundTrip(ctx, op, req, token)
		return err
	})
	if err == nil {
		return resp, nil
	}
	if ctx.Err() != nil {
		return nil, ctxErr(ctx)
	}
	kind := ohx.KindOf(err)
	if kind == ohx.KindRateLimited {
		c.metrics.RateLimited(c.cfg.Provider)
		if wait := ohx.RetryAfter(err); wait > 0 {
			scope.Pause(time.Now().Add(wait))
		}
	}
	var pe *ohx.ProviderError
	status := 0
	if errors.As(err, &pe) {
		status = pe.HTTPStatus
	}
	c.log.Debug("provider call failed", zap.String("provider", c.cfg.Provider), zap.String("op", op.Name),
		zap.Stringer("kind", kind), zap.Int("status", status))
	return nil, err
}

// roundTrip sends the request once and classifies the answer.
func (c *Client) roundTrip(ctx context.Context, op Op, req *http.Request, token string) (*Response, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	r := req.Clone(actx)
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return nil, c.fail(op, ohx.KindPermanent, 0, "", fmt.Errorf("request body: %w", err))
		}
		r.Body = body
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	hr, err := c.hc.Do(r)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, c.fail(op, ohx.KindTransient, 0, "", transportError(req, err))
	}
	defer func() { _ = hr.Body.Close() }()
	if op.consume != nil && hr.StatusCode >= 200 && hr.StatusCode < 300 {
		return c.stream(ctx, op, req, hr)
	}
	body, err := io.ReadAll(io.LimitReader(hr.Body, c.cfg.MaxBodyBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctxErr(ctx)
		}
		return nil, c.fail(op, ohx.KindTransient, hr.StatusCode, "", fmt.Errorf("reading body: %w", transportError(req, err)))
	}
	if int64(len(body)) > c.cfg.MaxBodyBytes {
		return nil, c.fail(op, ohx.KindPermanent, hr.StatusCode, "body-too-large", nil)
	}
	resp := &Response{StatusCode: hr.StatusCode, Header: hr.Header, Body: body}
	if err := c.cfg.Classify(op.Name, resp); err != nil {
		return nil, c.complete(op, resp, err)
	}
	return resp, nil
}

// complete fills the blanks of a classifier's error.
func (c *Client) complete(op Op, resp *Response, err error) error {
	var pe *ohx.ProviderError
	if !errors.As(err, &pe) {
		return &ohx.ProviderError{Provider: c.cfg.Provider, Op: op.Name, Kind: ohx.KindOf(err), HTTPStatus: resp.StatusCode, Err: err}
	}
	if pe.Provider == "" {
		pe.Provider = c.cfg.Provider
	}
	if pe.Op == "" {
		pe.Op = op.Name
	}
	if pe.HTTPStatus == 0 {
		pe.HTTPStatus = resp.StatusCode
	}
	if pe.Kind == ohx.KindRateLimited && pe.RetryAfter == 0 {
		pe.RetryAfter, _ = resilience.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return err
}

func (c *Client) fail(op Op, kind ohx.ErrorKind, status int, code string, err error) error {
	return &ohx.ProviderError{Provider: c.cfg.Provider, Op: op.Name, Kind: kind, HTTPStatus: status, Code: code, Err: err}
}

// ctxErr returns ctx's error (context.Canceled or DeadlineExceeded).
func ctxErr(ctx context.Context) error { return ctx.Err() }
