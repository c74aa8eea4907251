package provider

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/resilience"
)

// Response is a provider's answer as the Client read it: status, headers and
// the whole body (bounded by Config.MaxBodyBytes), so that a classifier and a
// decoder can both look at it.
type Response struct {
	// StatusCode is the HTTP status code.
	StatusCode int
	// Header holds the response headers.
	Header http.Header
	// Body is the response body.
	Body []byte
}

// Classifier turns a response into nil (success) or a classified error,
// normally a *ohx.ProviderError. Providers plug one in because their error
// envelopes differ: Withings answers HTTP 200 with {"status":601}, Google
// answers google.rpc.Status JSON with an HTTP error code.
//
// The Client fills the Provider, Op and HTTPStatus of a returned
// *ohx.ProviderError when they are empty, and its RetryAfter from the
// Retry-After header when the kind is rate-limited and no wait was set. A
// classifier must never put the body, a token or a query string into the
// error.
type Classifier func(op string, r *Response) error

// StatusKind classifies an HTTP status code: 2xx and 3xx are KindUnknown (not
// a failure), 401 and 403 are KindAuth, 429 is KindRateLimited, 408, 425 and
// 5xx are KindTransient, and every other 4xx is KindPermanent.
func StatusKind(status int) ohx.ErrorKind {
	switch {
	case status < 400:
		return ohx.KindUnknown
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return ohx.KindAuth
	case status == http.StatusTooManyRequests:
		return ohx.KindRateLimited
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status >= 500:
		return ohx.KindTransient
	}
	return ohx.KindPermanent
}

// ClassifyHTTP is the default Classifier: a 2xx answer is a success, anything
// else a *ohx.ProviderError of StatusKind's kind (with the Retry-After wait
// on a 429 or 503). It looks at no body.
func ClassifyHTTP(op string, r *Response) error {
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		return nil
	}
	kind := StatusKind(r.StatusCode)
	if kind == ohx.KindUnknown {
		kind = ohx.KindPermanent // an unfollowed redirect or 1xx
	}
	pe := &ohx.ProviderError{Op: op, Kind: kind, HTTPStatus: r.StatusCode}
	if kind == ohx.KindRateLimited || r.StatusCode == http.StatusServiceUnavailable {
		pe.RetryAfter, _ = resilience.ParseRetryAfter(r.Header.Get("Retry-After"), time.Now())
	}
	return pe
}

// redactURL returns scheme://host/path of u: no query (which may carry
// secrets), no user info, no fragment.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// transportError describes a failed round trip without the request URL's
// query string; the underlying error's text is scrubbed too (a transport
// may quote the whole URL or a body), while errors.Is and errors.As still
// reach it.
func transportError(req *http.Request, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &scrubbedError{prefix: req.Method + " " + redactURL(req.URL), err: err}
}

type scrubbedError struct {
	prefix string
	err    error
}

func (e *scrubbedError) Error() string { return e.prefix + ": " + resilience.Scrub(e.err.Error()) }

func (e *scrubbedError) Unwrap() error { return e.err }
