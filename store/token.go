package store

import (
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store/seal"
)

// Token field names, used in the sealing context.
const (
	fieldAccess  = "access_token"
	fieldRefresh = "refresh_token"
)

// SealedToken is an ohx.Token as durable stores keep it: the access and
// refresh tokens are sealed (see package seal), bound to their link and field;
// the rest is not secret.
type SealedToken struct {
	// AccessToken is the sealed access token.
	AccessToken string
	// RefreshToken is the sealed refresh token.
	RefreshToken string
	// TokenType is usually "Bearer".
	TokenType string
	// Expiry is when the access token expires.
	Expiry time.Time
	// Scope is the granted scope string.
	Scope string
}

// TokenContext returns the sealing context of a token field of a link, for
// stores that seal other secrets the same way.
func TokenContext(linkID, field string) []byte {
	return seal.Context("ohx/token", linkID, field)
}

// SealToken seals t for linkID under the ring's primary key.
func SealToken(r *seal.KeyRing, linkID string, t ohx.Token) (SealedToken, error) {
	access, err := r.Seal([]byte(t.AccessToken), TokenContext(linkID, fieldAccess))
	if err != nil {
		return SealedToken{}, fmt.Errorf("store: sealing token of link %q: %w", linkID, err)
	}
	refresh, err := r.Seal([]byte(t.RefreshToken), TokenContext(linkID, fieldRefresh))
	if err != nil {
		return SealedToken{}, fmt.Errorf("store: sealing token of link %q: %w", linkID, err)
	}
	return SealedToken{AccessToken: access, RefreshToken: refresh, TokenType: t.TokenType, Expiry: t.Expiry, Scope: t.Scope}, nil
}

// OpenToken opens a token sealed for linkID. It fails (wrapping seal.ErrOpen
// or seal.ErrUnknownKey) when a field was sealed for another link or field,
// was tampered with, or names a key the ring no longer holds.
func OpenToken(r *seal.KeyRing, linkID string, s SealedToken) (ohx.Token, error) {
	access, err := r.Open(s.AccessToken, TokenContext(linkID, fieldAccess))
	if err != nil {
		return ohx.Token{}, fmt.Errorf("store: access token of link %q: %w", linkID, err)
	}
	refresh, err := r.Open(s.RefreshToken, TokenContext(linkID, fieldRefresh))
	if err != nil {
		return ohx.Token{}, fmt.Errorf("store: refresh token of link %q: %w", linkID, err)
	}
	return ohx.Token{AccessToken: string(access), RefreshToken: string(refresh), TokenType: s.TokenType, Expiry: s.Expiry, Scope: s.Scope}, nil
}

// RewrapToken re-seals under the ring's primary key the fields of s that use
// another key. It reports whether anything changed.
func RewrapToken(r *seal.KeyRing, linkID string, s SealedToken) (SealedToken, bool, error) {
	access, c1, err := r.Rewrap(s.AccessToken, TokenContext(linkID, fieldAccess))
	if err != nil {
		return s, false, fmt.Errorf("store: rewrapping access token of link %q: %w", linkID, err)
	}
	refresh, c2, err := r.Rewrap(s.RefreshToken, TokenContext(linkID, fieldRefresh))
	if err != nil {
		return s, false, fmt.Errorf("store: rewrapping refresh token of link %q: %w", linkID, err)
	}
	s.AccessToken, s.RefreshToken = access, refresh
	return s, c1 || c2, nil
}
