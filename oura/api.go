package oura

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// Error codes the classifier puts in ohx.ProviderError.Code.
const (
	// CodeMissingScope prefixes the code of a read the user's grant does
	// not cover ("missing-scope:spo2"): a permanent condition of one type,
	// neither a refresh nor a revocation.
	CodeMissingScope = "missing-scope"
	// CodeMembership marks 403: the user's Oura membership lapsed (or the
	// application is not allowed for the user).
	CodeMembership = "forbidden"
)

// scopeDetail reads the scope name out of Oura's missing-scope detail,
// "Token is not authorized access stress scope."; the name is bounded to
// scope-name characters.
var scopeDetail = regexp.MustCompile(`(?i)authori[sz]ed\s+(?:to\s+)?access\s+(?:the\s+)?(?:extapi:)?([a-z0-9_]{1,40})\s+scope`)

// missingScope reports whether an error body says the token lacks a scope,
// and which one ("" when it does not say).
func missingScope(body []byte) (scope string, ok bool) {
	var e wire.ErrorBody
	if json.Unmarshal(body, &e) != nil {
		return "", false
	}
	d := e.DetailText()
	if m := scopeDetail.FindStringSubmatch(d); m != nil {
		return strings.ToLower(m[1]), true
	}
	// Tolerant: the wording is not documented; any rejection that talks
	// about a scope is one.
	return "", strings.Contains(strings.ToLower(d), "scope")
}

// classify is the toolkit Classifier of the Oura API: it keys on the HTTP
// status and, for 401 and 403, on the detail that tells a missing scope
// (permanent, for one collection) from a bad token (authentication, which
// the client answers with one refresh).
func (p *Provider) classify(op string, r *provider.Response) error {
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		return nil
	}
	pe := &ohx.ProviderError{Provider: Name, Op: op, HTTPStatus: r.StatusCode}
	switch s := r.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		if scope, ok := missingScope(r.Body); ok {
			pe.Kind, pe.Code = ohx.KindPermanent, CodeMissingScope
			if scope != "" {
				pe.Code += ":" + scope
			}
		} else if s == http.StatusUnauthorized {
			pe.Kind = ohx.KindAuth
		} else {
			pe.Kind, pe.Code = ohx.KindPermanent, CodeMembership
		}
	case s == http.StatusTooManyRequests:
		pe.Kind = ohx.KindRateLimited
		pe.RetryAfter = p.rateLimitWait(r.Header)
		if tier := boundedWord(r.Header.Get("X-RateLimit-Tier")); tier != "" {
			pe.Code = "tier:" + tier
		}
	case s == http.StatusRequestTimeout || s >= 500:
		pe.Kind = ohx.KindTransient
		pe.RetryAfter, _ = resilience.ParseRetryAfter(r.Header.Get("Retry-After"), p.now())
	case s == http.StatusNotFound:
		pe.Kind, pe.Code = ohx.KindPermanent, "not-found"
	case s == http.StatusUnprocessableEntity || s == http.StatusBadRequest:
		pe.Kind, pe.Code = ohx.KindPermanent, "invalid-request"
	case s == http.StatusUpgradeRequired:
		pe.Kind, pe.Code = ohx.KindPermanent, "upgrade-required"
	default:
		pe.Kind = ohx.KindPermanent
	}
	return pe
}

// rateLimitWait reads the wait of a 429: Retry-After (seconds or a date),
// else X-RateLimit-Reset (Unix seconds) minus now.
func (p *Provider) rateLimitWait(h http.Header) time.Duration {
	now := p.now()
	if d, ok := resilience.ParseRetryAfter(h.Get("Retry-After"), now); ok {
		return d
	}
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil && reset > 0 {
		if d := time.Unix(reset, 0).Sub(now); d > 0 && d < 24*time.Hour {
			return d.Round(time.Second)
		}
	}
	return 0
}

// boundedWord keeps a header value usable in an error code: at most 20
// letters, digits, '-' or '_'.
func boundedWord(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 0 || len(s) > 20 {
		return ""
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return ""
		}
	}
	return s
}

// request is one call of the Oura API.
type request struct {
	op     string // bounded operation name, e.g. "sleep.list"
	client *provider.Client
	method string
	path   string // below the API base, e.g. "/v2/usercollection/sleep"
	query  url.Values
	body   any
	header http.Header
	creds  provider.Credentials // nil: no bearer token
	user   string               // rate-limit key
	// idempotent: may be sent again after a transient failure.
	idempotent bool
}

// do sends r through the toolkit client (breaker, rate limits, retries of
// idempotent calls, one refresh on a rejected token) and decodes a JSON
// answer into out when out is not nil.
func (p *Provider) do(ctx context.Context, r request, out any) error {
	u := p.api + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body *bytes.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return &ohx.ProviderError{Provider: Name, Op: r.op, Kind: ohx.KindPermanent, Err: errors.New("cannot encode request")}
		}
		body = bytes.NewReader(b)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, r.method, u, body)
	} else {
		req, err = http.NewRequestWithContext(ctx, r.method, u, nil)
	}
	if err != nil {
		return &ohx.ProviderError{Provider: Name, Op: r.op, Kind: ohx.KindPermanent, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	c := r.client
	if c == nil {
		c = p.client
	}
	resp, err := c.Do(ctx, provider.Op{Name: r.op, Idempotent: r.idempotent, User: r.user, Credentials: r.creds}, req)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(resp.Body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.Body, out); err != nil {
		return &ohx.ProviderError{Provider: Name, Op: r.op, Kind: ohx.KindTransient, HTTPStatus: resp.StatusCode, Code: "bad-json",
			Err: errors.New("response is not the expected JSON")}
	}
	return nil
}

// get reads one page of a collection (or one document) for link.
func (p *Provider) get(ctx context.Context, link *ohx.Link, op, path string, q url.Values, out any) error {
	if p.tokens == nil {
		return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindPermanent, Err: errors.New("no token store configured")}
	}
	user := link.ExternalUserID
	if user == "" {
		user = link.ID
	}
	return p.do(ctx, request{op: op, method: http.MethodGet, path: path, query: q, creds: p.tokens.Source(link.ID), user: user, idempotent: true}, out)
}

// isMissingScope reports whether err is a missing-scope rejection, and the
// scope when Oura named it.
func isMissingScope(err error) (scope string, ok bool) {
	var pe *ohx.ProviderError
	if !errors.As(err, &pe) || !strings.HasPrefix(pe.Code, CodeMissingScope) {
		return "", false
	}
	return strings.TrimPrefix(strings.TrimPrefix(pe.Code, CodeMissingScope), ":"), true
}
