package oura

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// AuthCodeURL implements ohx.Authorizer. It asks for the scopes of types
// (every offered type when empty, see ScopesFor). The verifier's PKCE
// challenge is sent only when Config.PKCE is set: Oura does not document
// PKCE.
func (p *Provider) AuthCodeURL(state, verifier string, types []ohx.DataType) string {
	c := *p.oauth
	c.Scopes = ScopesFor(types)
	if !p.cfg.PKCE {
		verifier = ""
	}
	return provider.AuthCodeURL(&c, state, verifier)
}

// Exchange implements ohx.Authorizer: it trades the code for a token (a
// refresh token that Oura rotates on every use), then reads personal_info
// with it for the user's id (link.ExternalUserID; webhooks name users by
// it). link.Scopes gets the scopes the token response names ("extapi:"
// prefixes dropped); Oura does not always send them, and then link.Scopes
// gets the scopes asked for the link's data types: a scope the user
// unticked shows when Oura refuses a read (the type is skipped with that
// reason). Oura reports no time zone: link.TimeZone is left as it is.
func (p *Provider) Exchange(ctx context.Context, code, verifier string, link *ohx.Link) (ohx.Token, error) {
	if link == nil {
		return ohx.Token{}, errors.New("oura: exchange needs a link to fill")
	}
	if !p.cfg.PKCE {
		verifier = ""
	}
	tok, err := provider.Exchange(ctx, Name, p.oauth, p.http, code, verifier)
	if err != nil {
		return ohx.Token{}, err
	}
	var info wire.PersonalInfo
	user := link.ID
	err = p.do(ctx, request{op: "personal_info.get", method: http.MethodGet, path: "/v2/usercollection/personal_info",
		creds: provider.FreshToken(Name, tok.AccessToken), user: user, idempotent: true}, &info)
	if err != nil {
		return ohx.Token{}, err
	}
	if info.ID == "" || len(info.ID) > 200 {
		return ohx.Token{}, &ohx.ProviderError{Provider: Name, Op: "personal_info.get", Kind: ohx.KindPermanent, Err: errors.New("personal_info has no usable id")}
	}
	link.Provider = Name
	link.ExternalUserID = info.ID
	if granted := normalizeScopes([]string{tok.Scope}); len(granted) > 0 {
		link.Scopes = granted
	} else {
		link.Scopes = ScopesFor(link.DataTypes)
	}
	return tok, nil
}

// Revoke implements ohx.Revoker: it revokes the link's grant at Oura's
// revocation endpoint with a valid access token (refreshed first when it
// expired). A grant already gone (no token, a refused refresh, a 400 or 401
// answer) counts as revoked.
func (p *Provider) Revoke(ctx context.Context, link ohx.Link) error {
	if p.tokens == nil {
		return errors.New("oura: revoke needs a token store")
	}
	tok, err := p.tokens.Source(link.ID).Token(ctx)
	switch ohx.KindOf(err) {
	case ohx.KindUnknown:
		if err != nil {
			return fmt.Errorf("oura: token of link %s: %w", link.ID, err)
		}
	case ohx.KindNotLinked, ohx.KindRevoked:
		return nil // nothing left to revoke
	default:
		return err
	}
	if tok.AccessToken == "" {
		return nil
	}
	u, err := url.Parse(p.cfg.RevokeURL)
	if err != nil {
		return errors.New("oura: invalid revoke URL")
	}
	q := u.Query()
	q.Set("access_token", tok.AccessToken)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return errors.New("oura: cannot build revoke request")
	}
	_, err = p.client.Do(ctx, provider.Op{Name: "token.revoke", User: link.ExternalUserID}, req)
	var pe *ohx.ProviderError
	if errors.As(err, &pe) && (pe.HTTPStatus == http.StatusBadRequest || pe.HTTPStatus == http.StatusUnauthorized) {
		return nil // the token is already invalid: the grant is gone
	}
	return err
}
