package fitbit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// maxAttempts bounds the in-call retries of one idempotent request.
const maxAttempts = 5

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 64 << 10

// tokenSources hands out a link's access token, refreshing it under a lock
// and saving the new token before it is used.
type tokenSources struct {
	p     *Provider
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newTokenSources(p *Provider) *tokenSources {
	return &tokenSources{p: p, locks: map[string]*sync.Mutex{}}
}

func (ts *tokenSources) lock(ctx context.Context, linkID string) (func(), error) {
	if l := ts.p.cfg.Locker; l != nil {
		return l.Lock(ctx, "fitbit:token:"+linkID, time.Minute)
	}
	ts.mu.Lock()
	m := ts.locks[linkID]
	if m == nil {
		m = &sync.Mutex{}
		ts.locks[linkID] = m
	}
	ts.mu.Unlock()
	m.Lock()
	return m.Unlock, nil
}

// token returns a valid access token of the link. stale, when not empty, is
// an access token the API refused: it is refreshed even if not expired.
func (ts *tokenSources) token(ctx context.Context, linkID, stale string) (string, error) {
	p := ts.p
	if p.cfg.Tokens == nil {
		return "", &ohx.ProviderError{Provider: ProviderName, Op: "token", Kind: ohx.KindPermanent, Err: errors.New("no token store configured")}
	}
	usable := func(t ohx.Token) bool {
		return t.AccessToken != "" && t.AccessToken != stale && (t.Expiry.IsZero() || t.Expiry.After(p.cfg.Now().Add(time.Minute)))
	}
	tok, err := p.loadToken(ctx, linkID)
	if err != nil {
		return "", err
	}
	if usable(tok) {
		return tok.AccessToken, nil
	}
	release, err := ts.lock(ctx, linkID)
	if err != nil {
		return "", fmt.Errorf("fitbit: lock token of link %s: %w", linkID, err)
	}
	defer release()
	// Another worker may have refreshed while we waited.
	if tok, err = p.loadToken(ctx, linkID); err != nil {
		return "", err
	}
	if usable(tok) {
		return tok.AccessToken, nil
	}
	if tok.RefreshToken == "" {
		return "", &ohx.ProviderError{Provider: ProviderName, Op: "token", Kind: ohx.KindRevoked, Err: errors.New("access token expired and no refresh token")}
	}
	fresh, err := p.oauth.TokenSource(p.oauthContext(ctx), &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Unix(1, 0)}).Token()
	if err != nil {
		return "", p.classifyOAuth("token.refresh", ctx, err)
	}
	next := fromOAuth(fresh)
	if next.RefreshToken == "" {
		next.RefreshToken = tok.RefreshToken // Google does not rotate refresh tokens
	}
	if next.Scope == "" {
		next.Scope = tok.Scope
	}
	if err := p.cfg.Tokens.SaveToken(ctx, linkID, next); err != nil {
		return "", fmt.Errorf("fitbit: save refreshed token of link %s: %w", linkID, err)
	}
	return next.AccessToken, nil
}

func (p *Provider) loadToken(ctx context.Context, linkID string) (ohx.Token, error) {
	tok, err := p.cfg.Tokens.Token(ctx, linkID)
	if errors.Is(err, ohx.ErrNotFound) {
		return tok, &ohx.ProviderError{Provider: ProviderName, Op: "token", Kind: ohx.KindNotLinked, Err: err}
	}
	if err != nil {
		return tok, fmt.Errorf("fitbit: load token of link %s: %w", linkID, err)
	}
	return tok, nil
}

// oauthContext makes x/oauth2 use the provider's HTTP client.
func (p *Provider) oauthContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, p.client)
}

func (p *Provider) classifyOAuth(op string, ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pe := &ohx.ProviderError{Provider: ProviderName, Op: op, Kind: ohx.KindTransient}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		pe.Code = re.ErrorCode
		if re.Response != nil {
			pe.HTTPStatus = re.Response.StatusCode
		}
		switch {
		case re.ErrorCode == "invalid_grant":
			pe.Kind = ohx.KindRevoked
		case pe.HTTPStatus == http.StatusTooManyRequests:
			pe.Kind = ohx.KindRateLimited
		case pe.HTTPStatus >= 500:
			pe.Kind = ohx.KindTransient
		case pe.HTTPStatus >= 400:
			pe.Kind = ohx.KindAuth
		}
		pe.Err = errors.New("token endpoint refused the request")
	} else {
		pe.Err = errors.New("token endpoint unreachable")
	}
	p.cfg.Metrics.ProviderError(ProviderName, pe.Kind)
	return pe
}

func fromOAuth(t *oauth2.Token) ohx.Token {
	out := ohx.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry.UTC()}
	if s, ok := t.Extra("scope").(string); ok {
		out.Scope = s
	}
	return out
}

// request is one call of the Google Health API.
type request struct {
	op     string // "dataPoints.list"
	method string
	path   string // below v4/, e.g. "users/me/identity"
	query  url.Values
	body   any
	// token, when set, is used instead of the link's stored token (right
	// after the code exchange).
	token string
}

// call sends r for link and decodes the JSON answer into out. Idempotent
// requests are retried on 429, 5xx and network failures with exponential
// backoff honouring Retry-After; a 401 refreshes the token once.
func (p *Provider) call(ctx context.Context, linkID string, r request, out any) error {
	u := *p.api
	u.Path += "v4/" + r.path
	if r.query != nil {
		u.RawQuery = r.query.Encode()
	}
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return fmt.Errorf("fitbit: encode %s request: %w", r.op, err)
		}
	}
	idempotent := r.method == http.MethodGet || r.method == http.MethodDelete
	stale := ""
	refreshed := false
	var last error
	for attempt := 0; attempt < maxAttempts; attempt++ {
		tok := r.token
		if tok == "" {
			var err error
			if tok, err = p.tokens.token(ctx, linkID, stale); err != nil {
				return err
			}
		}
		err := p.send(ctx, r, u.String(), body, tok, out)
		if err == nil {
			return nil
		}
		last = err
		var pe *ohx.ProviderError
		if !errors.As(err, &pe) {
			return err
		}
		switch {
		case pe.Kind == ohx.KindAuth && r.token == "" && !refreshed:
			stale, refreshed = tok, true
			continue
		case pe.Kind == ohx.KindRateLimited:
			p.cfg.Metrics.RateLimited(ProviderName)
		case pe.Kind == ohx.KindTransient:
		default:
			p.cfg.Metrics.ProviderError(ProviderName, pe.Kind)
			return err
		}
		if !idempotent || attempt == maxAttempts-1 {
			break
		}
		wait := backoff(attempt)
		if pe.RetryAfter > wait {
			wait = pe.RetryAfter
		}
		if err := p.sleep(ctx, wait); err != nil {
			return err
		}
	}
	var pe *ohx.ProviderError
	if errors.As(last, &pe) {
		p.cfg.Metrics.ProviderError(ProviderName, pe.Kind)
	}
	return last
}

func backoff(attempt int) time.Duration {
	d := time.Second << attempt
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	// ±20 % jitter.
	return d - d/5 + time.Duration(rand.Int64N(int64(d/5)*2+1))
}

// send makes one HTTP exchange.
func (p *Provider) send(ctx context.Context, r request, u string, body []byte, token string, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, rd)
	if err != nil {
		return fmt.Errorf("fitbit: build %s request: %w", r.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ohx.ProviderError{Provider: ProviderName, Op: r.op, Kind: ohx.KindTransient, Err: errors.New("request failed")}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode/100 == 2 {
		if out == nil || resp.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ohx.ProviderError{Provider: ProviderName, Op: r.op, Kind: ohx.KindTransient, HTTPStatus: resp.StatusCode, Err: fmt.Errorf("decode response: %w", err)}
		}
		return nil
	}
	return classify(r.op, resp)
}

// classify turns a non-2xx answer into a *ohx.ProviderError keyed on the
// HTTP status, the google.rpc.Status status and its ErrorInfo reason.
func classify(op string, resp *http.Response) error {
	pe := &ohx.ProviderError{Provider: ProviderName, Op: op, HTTPStatus: resp.StatusCode}
	var st wire.Status
	if b, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody)); err == nil && json.Unmarshal(b, &st) == nil {
		pe.Code = st.Error.Status
		if reason := st.Reason(); reason != "" {
			pe.Code += "/" + reason
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		pe.Kind = ohx.KindAuth
	case resp.StatusCode == http.StatusTooManyRequests:
		pe.Kind = ohx.KindRateLimited
		pe.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		pe.Kind = ohx.KindTransient
		pe.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
	case strings.Contains(pe.Code, "ACCOUNT_NOT_LINKED"):
		pe.Kind = ohx.KindNotLinked
	default:
		pe.Kind = ohx.KindPermanent
	}
	return pe
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}
