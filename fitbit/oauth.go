package fitbit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// AuthCodeURL implements ohx.Authorizer. It asks for the read scopes of types
// (all offered types when empty) plus settings, for offline access with a
// consent prompt (so Google issues a refresh token), with PKCE S256 when
// verifier is set.
func (p *Provider) AuthCodeURL(state, verifier string, types []ohx.DataType) string {
	c := *p.oauth
	c.Scopes = scopesFor(types)
	opts := []oauth2.AuthCodeOption{
		oauth2.AccessTypeOffline,
		oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.SetAuthURLParam("include_granted_scopes", "true"),
	}
	if verifier != "" {
		opts = append(opts, oauth2.S256ChallengeOption(verifier))
	}
	return c.AuthCodeURL(state, opts...)
}

// Exchange implements ohx.Authorizer: it trades the code (with the PKCE
// verifier) for a token, then reads users/me/identity (healthUserId →
// ExternalUserID, legacyUserId → LegacyUserID) and users/me/settings (time
// zone). The scopes the user actually granted go to link.Scopes.
func (p *Provider) Exchange(ctx context.Context, code, verifier string, link *ohx.Link) (ohx.Token, error) {
	if link == nil {
		return ohx.Token{}, errors.New("fitbit: exchange needs a link to fill")
	}
	tok, err := provider.Exchange(ctx, Name, p.oauth, p.http, code, verifier)
	if err != nil {
		return ohx.Token{}, err
	}
	var id wire.Identity
	if err := p.call(ctx, link, request{op: "users.getIdentity", method: http.MethodGet, path: "users/me/identity", token: tok.AccessToken}, &id); err != nil {
		return ohx.Token{}, err
	}
	if id.HealthUserID == "" {
		return ohx.Token{}, &ohx.ProviderError{Provider: Name, Op: "users.getIdentity", Kind: ohx.KindPermanent, Err: errors.New("identity has no healthUserId")}
	}
	link.Provider = Name
	link.ExternalUserID = id.HealthUserID
	link.LegacyUserID = id.LegacyUserID
	if tok.Scope != "" {
		link.Scopes = strings.Fields(tok.Scope)
	}
	// The settings scope may have been unticked: the zone is then left as
	// it was (UTC when empty), which is no reason to fail the link.
	var st wire.Settings
	err = p.call(ctx, link, request{op: "users.getSettings", method: http.MethodGet, path: "users/me/settings", token: tok.AccessToken}, &st)
	switch {
	case err == nil:
		if st.TimeZone != "" {
			link.TimeZone = st.TimeZone
		}
	case ohx.KindOf(err) == ohx.KindPermanent:
		p.log.Info("settings not readable; time zone left unset")
	default:
		return ohx.Token{}, err
	}
	return tok, nil
}

// Revoke implements ohx.Revoker: it revokes the link's grant at Google's
// revoke endpoint (revoking the refresh token ends the whole grant).
func (p *Provider) Revoke(ctx context.Context, link ohx.Link) error {
	if p.cfg.Tokens == nil {
		return errors.New("fitbit: revoke needs a token store")
	}
	tok, err := p.cfg.Tokens.Token(ctx, link.ID)
	if errors.Is(err, ohx.ErrNotFound) {
		return nil // nothing to revoke
	}
	if err != nil {
		return fmt.Errorf("fitbit: load token of link %s: %w", link.ID, err)
	}
	t := tok.RefreshToken
	if t == "" {
		t = tok.AccessToken
	}
	if t == "" {
		return nil
	}
	form := url.Values{"token": {t}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.RevokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return errors.New("fitbit: build revoke request")
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &ohx.ProviderError{Provider: Name, Op: "revoke", Kind: ohx.KindTransient, Err: errors.New("request failed")}
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest:
		// invalid_token: already revoked or expired; the grant is gone.
		return nil
	}
	return classify("revoke", resp)
}
