package ouratest

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/internal/fakeprovider"
)

// codeTTL is an authorization code's lifetime (Oura: 10 minutes).
const codeTTL = 10 * time.Minute

// authorize auto-approves the consent screen: it redirects to redirect_uri
// with a code for the first user (or the one named by login_hint), granting
// the requested scopes that Oura knows, minus Config.DenyScopes. No scope
// means every scope.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.count("authorize")
	consent, ok := fakeprovider.ReadConsent(w, r, s.cfg.ClientID, "invalid_client", "invalid_redirect_uri")
	if !ok {
		return
	}
	requested := strings.Fields(consent.Query.Get("scope"))
	if len(requested) == 0 {
		requested = knownScopes
	}
	s.mu.Lock()
	u, ok := fakeprovider.User(consent, s.users, func(u *user) string { return u.ID })
	if !ok {
		s.mu.Unlock()
		consent.Deny("access_denied")
		return
	}
	var granted []string
	for _, sc := range requested {
		if slices.Contains(knownScopes, sc) && !slices.Contains(s.cfg.DenyScopes, sc) && !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	c := fakeprovider.RandomID(16)
	s.codes[c] = &code{grant: &grant{user: u, scopes: granted}, redirectURI: consent.RedirectURI(), challenge: consent.Query.Get("code_challenge"), expires: s.cfg.Now().Add(codeTTL)}
	s.mu.Unlock()
	consent.Grant(c, granted)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token serves grant_type authorization_code and refresh_token. Codes and
// refresh tokens are single use: every refresh returns a new refresh token
// and spends the old one, as Oura does.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Bad Request")
		return
	}
	if !fakeprovider.ClientAuthenticated(r, s.cfg.ClientID, s.cfg.ClientSecret) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Invalid client credentials.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *grant
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		c := s.codes[r.PostForm.Get("code")]
		delete(s.codes, r.PostForm.Get("code"))
		if c == nil || s.cfg.Now().After(c.expires) || c.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid authorization code.")
			return
		}
		if c.challenge != "" && !fakeprovider.PKCEVerified(c.challenge, r.PostForm.Get("code_verifier")) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid code verifier.")
			return
		}
		g = c.grant
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		g = s.refresh[rt]
		delete(s.refresh, rt) // single use
		if g == nil || g.revoked {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Invalid refresh token.")
			return
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant type.")
		return
	}
	at, rt := s.issueLocked(g)
	body := map[string]any{
		"token_type":    "bearer",
		"access_token":  at,
		"expires_in":    int(s.cfg.AccessTokenTTL.Seconds()),
		"refresh_token": rt,
	}
	switch s.cfg.TokenScope {
	case ScopePlain:
		body["scope"] = strings.Join(g.scopes, " ")
	case ScopeExtAPI:
		ext := make([]string, len(g.scopes))
		for i, sc := range g.scopes {
			ext[i] = "extapi:" + sc
		}
		body["scope"] = strings.Join(ext, " ")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// revoke revokes the grant of an access token (?access_token=…, GET or
// POST): its access and refresh tokens stop working.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	s.count("revoke")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	tok := r.URL.Query().Get("access_token")
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.access[tok]
	if a == nil || a.grant.revoked {
		oauthError(w, http.StatusBadRequest, "invalid_token", "Invalid token.")
		return
	}
	a.grant.revoked = true
	writeJSON(w, http.StatusOK, map[string]any{})
}
