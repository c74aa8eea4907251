package withings

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

// expiryMargin is how long before its expiry an access token is refreshed.
const expiryMargin = 2 * time.Minute

// refreshLease bounds how long a crashed refresher can hold a link's lock.
const refreshLease = 30 * time.Second

// AuthCodeURL implements ohx.Authorizer. It returns the Withings authorize
// URL with the comma-separated scopes the types need (user.info always) and
// state. Withings documents no PKCE, so verifier is ignored.
func (p *Provider) AuthCodeURL(state, _ string, types []ohx.DataType) string {
	q := url.Values{}
	q.Set("response_type", "code")
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", p.cfg.RedirectURL)
	q.Set("state", state)
	scopes := scopesFor(types)
	for i, s := range scopes {
		scopes[i] = url.QueryEscape(s)
	}
	// Withings wants literal commas between scopes.
	sep := "?"
	if strings.Contains(p.authURL, "?") {
		sep = "&"
	}
	return p.authURL + sep + q.Encode() + "&scope=" + strings.Join(scopes, ",")
}

// Exchange implements ohx.Authorizer: it trades the code at the token
// endpoint (action=requesttoken) and fills link's ExternalUserID (Withings
// userid), Scopes and, when user.info was granted and link has none, TimeZone
// (from the user's devices).
func (p *Provider) Exchange(ctx context.Context, code, _ string, link *ohx.Link) (ohx.Token, error) {
	if code == "" {
		return ohx.Token{}, &ohx.ProviderError{Provider: Name, Op: "requesttoken", Kind: ohx.KindPermanent, Err: errors.New("empty authorization code")}
	}
	form := url.Values{}
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", p.cfg.RedirectURL)
	tok, userID, err := p.requestToken(ctx, form)
	if err != nil {
		return ohx.Token{}, err
	}
	if userID == "" {
		return ohx.Token{}, &ohx.ProviderError{Provider: Name, Op: "requesttoken", Kind: ohx.KindPermanent, Err: errors.New("token response has no userid")}
	}
	if link != nil {
		link.Provider = Name
		link.ExternalUserID = userID
		link.Scopes = splitScopes([]string{tok.Scope})
		if link.TimeZone == "" && containsScope(link.Scopes, ScopeInfo) {
			var body deviceBody
			form := url.Values{"action": {"getdevice"}}
			raw, err := p.post(ctx, request{op: "getdevice", path: "/v2/user", form: form,
				creds: provider.FreshToken(Name, tok.AccessToken), user: userID, idempotent: true})
			if err == nil && decode("getdevice", raw, &body) == nil {
				for _, d := range body.Devices {
					if d.Timezone != "" && location(d.Timezone, nil) != nil {
						link.TimeZone = d.Timezone
						break
					}
				}
			} else {
				p.log.Info("could not read the user's time zone at link time", zap.Error(err))
			}
		}
	}
	return tok, nil
}

func containsScope(scopes []string, s string) bool {
	for _, x := range scopes {
		if x == s {
			return true
		}
	}
	return false
}

// requestToken calls action=requesttoken with form (grant-specific fields)
// plus the client credentials, and decodes the {status, body} envelope.
func (p *Provider) requestToken(ctx context.Context, form url.Values) (ohx.Token, string, error) {
	form.Set("action", "requesttoken")
	form.Set("client_id", p.cfg.ClientID)
	form.Set("client_secret", p.cfg.ClientSecret)
	raw, err := p.post(ctx, request{op: "requesttoken", endpoint: p.tokenURL, form: form})
	if err != nil {
		return ohx.Token{}, "", err
	}
	var b tokenBody
	if err := decode("requesttoken", raw, &b); err != nil {
		return ohx.Token{}, "", err
	}
	if b.AccessToken == "" || b.RefreshToken == "" {
		return ohx.Token{}, "", &ohx.ProviderError{Provider: Name, Op: "requesttoken", Kind: ohx.KindPermanent, Err: errors.New("token response lacks a token")}
	}
	t := ohx.Token{
		AccessToken: b.AccessToken, RefreshToken: b.RefreshToken, TokenType: b.TokenType,
		Scope: b.Scope,
	}
	if t.TokenType == "" {
		t.TokenType = "Bearer"
	}
	if b.ExpiresIn > 0 {
		t.Expiry = p.now().Add(time.Duration(b.ExpiresIn) * time.Second)
	}
	return t, string(b.UserID), nil
}

// refreshGrant spends a refresh token (grant_type refresh_token). The
// toolkit calls it under the link's lock and saves the rotated token before
// anyone uses it. A refusal for authentication or parameter reasons means
// the grant is gone (ohx.KindRevoked).
func (p *Provider) refreshGrant(ctx context.Context, refreshToken string) (ohx.Token, error) {
	form := url.Values{}
	form.Set("grant_type", "refresh_token")
	form.Set("refresh_token", refreshToken)
	t, _, err := p.requestToken(ctx, form)
	if err != nil {
		var pe *ohx.ProviderError
		if errors.As(err, &pe) && (pe.Kind == ohx.KindAuth || pe.Kind == ohx.KindPermanent) {
			revoked := *pe
			revoked.Op, revoked.Kind = "refresh", ohx.KindRevoked
			p.metrics.LinkStatus(Name, ohx.LinkNeedsReconsent)
			return ohx.Token{}, &revoked
		}
		return ohx.Token{}, err
	}
	return t, nil
}

// sign returns the hex HMAC-SHA256 of the comma-joined values under the
// client secret, as Withings' signed requests need.
func (p *Provider) sign(values ...string) string {
	m := hmac.New(sha256.New, []byte(p.cfg.ClientSecret))
	m.Write([]byte(strings.Join(values, ",")))
	return hex.EncodeToString(m.Sum(nil))
}

// nonce gets a one-time nonce (action=getnonce, signed over
// "getnonce,<client_id>,<timestamp>").
func (p *Provider) nonce(ctx context.Context) (string, error) {
	ts := strconv.FormatInt(p.now().Unix(), 10)
	form := url.Values{}
	form.Set("action", "getnonce")
	form.Set("client_id", p.cfg.ClientID)
	form.Set("timestamp", ts)
	form.Set("signature", p.sign("getnonce", p.cfg.ClientID, ts))
	raw, err := p.post(ctx, request{op: "getnonce", path: "/v2/signature", form: form, idempotent: true})
	if err != nil {
		return "", err
	}
	var b nonceBody
	if err := decode("getnonce", raw, &b); err != nil || b.Nonce == "" {
		return "", &ohx.ProviderError{Provider: Name, Op: "getnonce", Kind: ohx.KindTransient, Err: errors.New("no nonce in response")}
	}
	return b.Nonce, nil
}

// Revoke implements ohx.Revoker with Withings' signed request flow: a fresh
// nonce, then action=revoke with userid, signed over
// "revoke,<client_id>,<nonce>". Withings then invalidates the tokens and
// removes the user's notification subscriptions.
func (p *Provider) Revoke(ctx context.Context, link ohx.Link) error {
	if link.ExternalUserID == "" {
		return &ohx.ProviderError{Provider: Name, Op: "revoke", Kind: ohx.KindPermanent, Err: errors.New("link has no Withings user id")}
	}
	n, err := p.nonce(ctx)
	if err != nil {
		return err
	}
	form := url.Values{}
	form.Set("action", "revoke")
	form.Set("client_id", p.cfg.ClientID)
	form.Set("nonce", n)
	form.Set("signature", p.sign("revoke", p.cfg.ClientID, n))
	form.Set("userid", link.ExternalUserID)
	_, err = p.post(ctx, request{op: "revoke", endpoint: p.tokenURL, form: form})
	return err
}
