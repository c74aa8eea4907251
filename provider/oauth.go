package provider

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
)

// OAuth defaults.
const (
	// DefaultRefreshSkew is how long before its expiry an access token is
	// refreshed.
	DefaultRefreshSkew = time.Minute
	// DefaultRefreshLease bounds one refresh: the lease of the refresh lock
	// and the time allowed to refresh and persist the new token.
	DefaultRefreshLease = 30 * time.Second
)

// Refresher trades a refresh token for a new token at the provider. A
// refresh the provider refuses for good (OAuth "invalid_grant", or the
// provider's equivalent) must return an error of kind ohx.KindRevoked. The
// returned token's RefreshToken is empty when the provider did not rotate it.
type Refresher interface {
	// Refresh returns the token the provider issued for refreshToken.
	Refresh(ctx context.Context, refreshToken string) (ohx.Token, error)
}

// RefresherFunc adapts a function to Refresher.
type RefresherFunc func(ctx context.Context, refreshToken string) (ohx.Token, error)

// Refresh calls f.
func (f RefresherFunc) Refresh(ctx context.Context, refreshToken string) (ohx.Token, error) {
	return f(ctx, refreshToken)
}

// AuthCodeURL returns cfg's authorization URL with state and, when verifier
// is not empty (see oauth2.GenerateVerifier), the PKCE S256 challenge.
func AuthCodeURL(cfg *oauth2.Config, state, verifier string, opts ...oauth2.AuthCodeOption) string {
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	return cfg.AuthCodeURL(state, opts...)
}

// Exchange trades an authorization code (and the PKCE verifier, when not
// empty) for a token at cfg's token endpoint, sent with hc (nil means
// http.DefaultClient). Failures are classified like refreshes (see
// ClassifyOAuth2Error).
func Exchange(ctx context.Context, provider string, cfg *oauth2.Config, hc *http.Client, code, verifier string, opts ...oauth2.AuthCodeOption) (ohx.Token, error) {
	if verifier != "" {
		opts = append(opts, oauth2.VerifierOption(verifier))
	}
	t, err := cfg.Exchange(withHTTPClient(ctx, hc), code, opts...)
	if err != nil {
		return ohx.Token{}, ClassifyOAuth2Error(ctx, provider, "token.exchange", err)
	}
	return TokenFromOAuth2(t), nil
}

// TokenFromOAuth2 converts an x/oauth2 token, taking Scope from the token
// response's "scope" field.
func TokenFromOAuth2(t *oauth2.Token) ohx.Token {
	tok := ohx.Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, TokenType: t.TokenType, Expiry: t.Expiry}
	if s, ok := t.Extra("scope").(string); ok {
		tok.Scope = s
	}
	return tok
}

// ClassifyOAuth2Error classifies an error of x/oauth2's token requests as a
// *ohx.ProviderError: "invalid_grant" is KindRevoked (the patient must
// consent again), other OAuth error codes and 4xx answers are
// KindPermanent, 429 is KindRateLimited, 5xx and network failures are
// KindTransient. A done ctx gives ctx's error. The error keeps only the
// OAuth error code, never the response body, a token or a code.
func ClassifyOAuth2Error(ctx context.Context, provider, op string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	pe := &ohx.ProviderError{Provider: provider, Op: op, Kind: ohx.KindTransient}
	var re *oauth2.RetrieveError
	var ue *url.Error
	switch {
	case errors.As(err, &re):
		if re.Response != nil {
			pe.HTTPStatus = re.Response.StatusCode
		}
		pe.Code = re.ErrorCode
		switch re.ErrorCode {
		case "invalid_grant":
			pe.Kind = ohx.KindRevoked
		case "temporarily_unavailable", "server_error":
			pe.Kind = ohx.KindTransient
		case "":
			switch k := StatusKind(pe.HTTPStatus); k {
			case ohx.KindRateLimited, ohx.KindTransient:
				pe.Kind = k
				if re.Response != nil && k == ohx.KindRateLimited {
					pe.RetryAfter, _ = ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
				}
			default: // 401/403 at a token endpoint: the client itself is refused
				pe.Kind = ohx.KindPermanent
			}
		default:
			pe.Kind = ohx.KindPermanent
		}
	case errors.As(err, &ue):
		pe.Err = fmt.Errorf("%s %s: %w", ue.Op, redactString(ue.URL), ue.Err)
	default:
		pe.Err = errors.New("token request failed")
	}
	return pe
}

func redactString(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	return redactURL(u)
}

func withHTTPClient(ctx context.Context, hc *http.Client) context.Context {
	if hc == nil {
		return ctx
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// NewOAuth2Refresher returns a Refresher for a provider with standard OAuth
// 2.0 token responses, refreshing at cfg's token endpoint with hc (nil
// means http.DefaultClient).
func NewOAuth2Refresher(provider string, cfg *oauth2.Config, hc *http.Client) Refresher {
	return RefresherFunc(func(ctx context.Context, refreshToken string) (ohx.Token, error) {
		t, err := cfg.TokenSource(withHTTPClient(ctx, hc), &oauth2.Token{RefreshToken: refreshToken}).Token()
		if err != nil {
			return ohx.Token{}, ClassifyOAuth2Error(ctx, provider, "token.refresh", err)
		}
		return TokenFromOAuth2(t), nil
	})
}

// TokensConfig configures Tokens. Provider, Store, Locker and Refresher are
// required.
type TokensConfig struct {
	// Provider is the provider's name, used in errors.
	Provider string
	// Store holds the links' sealed tokens.
	Store ohx.TokenStore
	// Locker serializes refreshes of a link, across processes when it is
	// shared (lock name "refresh:<link id>").
	Locker ohx.Locker
	// Refresher trades refresh tokens at the provider.
	Refresher Refresher
	// Skew is how long before expiry a token is refreshed; 0 means
	// DefaultRefreshSkew.
	Skew time.Duration
	// Lease is the refresh lock's lease; the refresh and the save must end
	// within three quarters of it, so that the lock cannot pass to another
	// worker while the refresh token is being spent. 0 means
	// DefaultRefreshLease.
	Lease time.Duration
	// Logger logs refreshes by link id (never a token); nil means no logs.
	Logger *zap.Logger
}

// Tokens hands out the token sources of a provider's links.
type Tokens struct {
	cfg TokensConfig
}

// NewTokens checks cfg and returns Tokens.
func NewTokens(cfg TokensConfig) (*Tokens, error) {
	switch {
	case cfg.Provider == "":
		return nil, errors.New("provider: tokens need a provider name")
	case cfg.Store == nil:
		return nil, errors.New("provider: tokens need a token store")
	case cfg.Locker == nil:
		return nil, errors.New("provider: tokens need a locker")
	case cfg.Refresher == nil:
		return nil, errors.New("provider: tokens need a refresher")
	case cfg.Skew < 0, cfg.Lease < 0:
		return nil, errors.New("provider: token skew and lease must not be negative")
	}
	if cfg.Skew == 0 {
		cfg.Skew = DefaultRefreshSkew
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultRefreshLease
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Tokens{cfg: cfg}, nil
}

// Source returns the token source of a link.
func (t *Tokens) Source(linkID string) *TokenSource {
	return &TokenSource{cfg: &t.cfg, linkID: linkID}
}

// TokenSource returns a link's valid access token, refreshing it when it
// is about to expire. A refresh runs under the link's lock and re-reads the
// stored token once the lock is held, so a refresh token is spent once even
// by many workers in many processes; the rotated token is persisted before
// the new access token is returned. It is safe for concurrent use.
type TokenSource struct {
	cfg    *TokensConfig
	linkID string
}

var _ Credentials = (*TokenSource)(nil)

// Token returns a valid token of the link: the stored one, or a refreshed
// one when the stored one expires within the skew. A link without a token
// gives KindNotLinked; a refused refresh gives KindRevoked
// (ohx.ErrTokenRevoked).
func (s *TokenSource) Token(ctx context.Context) (ohx.Token, error) {
	tok, err := s.stored(ctx)
	if err != nil {
		return ohx.Token{}, err
	}
	if s.fresh(tok) {
		return tok, nil
	}
	return s.refresh(ctx, s.fresh)
}

// ForceRefresh refreshes the link's token because the provider rejected the
// access token rejected before its expiry. When the stored access token is
// no longer rejected (another worker refreshed meanwhile), it returns the
// stored one without refreshing.
func (s *TokenSource) ForceRefresh(ctx context.Context, rejected string) (ohx.Token, error) {
	return s.refresh(ctx, func(t ohx.Token) bool { return t.AccessToken != rejected && s.fresh(t) })
}

func (s *TokenSource) fresh(t ohx.Token) bool {
	return t.AccessToken != "" && (t.Expiry.IsZero() || time.Now().Add(s.cfg.Skew).Before(t.Expiry))
}

func (s *TokenSource) stored(ctx context.Context) (ohx.Token, error) {
	tok, err := s.cfg.Store.Token(ctx, s.linkID)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		return ohx.Token{}, &ohx.ProviderError{Provider: s.cfg.Provider, Op: "token", Kind: ohx.KindNotLinked, Err: ohx.ErrNotFound}
	case err != nil:
		if ctx.Err() != nil {
			return ohx.Token{}, ctx.Err()
		}
		return ohx.Token{}, fmt.Errorf("provider: %s: reading token: %w", s.cfg.Provider, err)
	}
	return tok, nil
}

// refresh refreshes under the link's lock unless the token stored once the
// lock is held is good.
func (s *TokenSource) refresh(ctx context.Context, good func(ohx.Token) bool) (ohx.Token, error) {
	release, err := s.cfg.Locker.Lock(ctx, "refresh:"+s.linkID, s.cfg.Lease)
	if err != nil {
		if ctx.Err() != nil {
			return ohx.Token{}, ctx.Err()
		}
		return ohx.Token{}, &ohx.ProviderError{Provider: s.cfg.Provider, Op: "token.lock", Kind: ohx.KindTransient, Err: err}
	}
	defer release()
	deadline := time.Now().Add(s.cfg.Lease - s.cfg.Lease/4)
	cur, err := s.stored(ctx)
	if err != nil {
		return ohx.Token{}, err
	}
	if good(cur) {
		return cur, nil
	}
	if cur.RefreshToken == "" {
		return ohx.Token{}, &ohx.ProviderError{Provider: s.cfg.Provider, Op: "token.refresh", Kind: ohx.KindRevoked, Code: "no-refresh-token"}
	}
	// Once the refresh request is sent the old refresh token may be spent:
	// finish the refresh and the save even if the caller gives up.
	rctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	log := s.cfg.Logger.With(zap.String("provider", s.cfg.Provider), zap.String("link", s.linkID))
	next, err := s.cfg.Refresher.Refresh(rctx, cur.RefreshToken)
	if err != nil {
		log.Info("token refresh failed", zap.Stringer("kind", ohx.KindOf(err)), zap.Error(err))
		return ohx.Token{}, err
	}
	if next.AccessToken == "" {
		return ohx.Token{}, &ohx.ProviderError{Provider: s.cfg.Provider, Op: "token.refresh", Kind: ohx.KindTransient, Code: "no-access-token"}
	}
	if next.RefreshToken == "" {
		next.RefreshToken = cur.RefreshToken
	}
	if next.Scope == "" {
		next.Scope = cur.Scope
	}
	if !next.Expiry.IsZero() {
		next.Expiry = next.Expiry.UTC() // as stores keep it
	}
	if err := s.cfg.Store.SaveToken(rctx, s.linkID, next); err != nil {
		log.Error("refreshed token not persisted; the old refresh token may be spent", zap.Error(err))
		return ohx.Token{}, &ohx.ProviderError{Provider: s.cfg.Provider, Op: "token.save", Kind: ohx.KindTransient,
			Err: fmt.Errorf("persisting the refreshed token: %w", err)}
	}
	log.Debug("token refreshed", zap.Time("expiry", next.Expiry))
	return next, nil
}
