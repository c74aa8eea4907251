package fitbittest

import (
	"net/http"
	"slices"
	"strings"

	"github.com/openhealthexchange/ohx/internal/fakeprovider"
)

// authorize auto-approves the consent screen: it redirects to redirect_uri
// with a code for the first user (or the one named by login_hint), granting
// the requested scopes minus Config.DenyScopes.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.count("authorize")
	c, ok := fakeprovider.ReadConsent(w, r, s.cfg.ClientID, "Error 401: invalid_client", "Error 400: redirect_uri_mismatch")
	if !ok {
		return
	}
	q := c.Query
	requested := strings.Fields(q.Get("scope"))
	if len(requested) == 0 {
		c.Deny("invalid_scope")
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		c.Deny("invalid_request")
		return
	}
	s.mu.Lock()
	u, ok := fakeprovider.User(c, s.users, func(u *user) string { return u.HealthUserID })
	if !ok {
		s.mu.Unlock()
		c.Deny("access_denied")
		return
	}
	var granted []string
	for _, sc := range requested {
		if !slices.Contains(s.cfg.DenyScopes, sc) {
			granted = append(granted, sc)
		}
	}
	code := "4/" + fakeprovider.RandomID(16)
	s.codes[code] = &grant{user: u, scopes: granted, redirectURI: c.RedirectURI(), challenge: q.Get("code_challenge"), offline: q.Get("access_type") == "offline"}
	s.mu.Unlock()
	c.Grant(code, granted)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// token serves grant_type authorization_code (with PKCE) and refresh_token.
// Refreshing returns a new access token and no new refresh token, as Google
// does.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.count("token")
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Bad Request")
		return
	}
	if !fakeprovider.ClientAuthenticated(r, s.cfg.ClientID, s.cfg.ClientSecret) {
		oauthError(w, 401, "invalid_client", "The OAuth client was not found.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var g *grant
	issueRefresh := ""
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		code := r.PostForm.Get("code")
		g = s.codes[code]
		delete(s.codes, code) // single use
		if g == nil || g.redirectURI != r.PostForm.Get("redirect_uri") {
			oauthError(w, 400, "invalid_grant", "Bad Request")
			return
		}
		if g.challenge != "" && !fakeprovider.PKCEVerified(g.challenge, r.PostForm.Get("code_verifier")) {
			oauthError(w, 400, "invalid_grant", "Missing code verifier.")
			return
		}
		if g.offline {
			issueRefresh = "1//" + fakeprovider.RandomID(24)
			s.refresh[issueRefresh] = g
		}
	case "refresh_token":
		g = s.refresh[r.PostForm.Get("refresh_token")]
		if g == nil || g.revoked {
			oauthError(w, 400, "invalid_grant", "Token has been expired or revoked.")
			return
		}
	default:
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	at := "ya29." + fakeprovider.RandomID(32)
	s.access[at] = &accessToken{grant: g, expires: s.cfg.Now().Add(s.cfg.AccessTokenTTL)}
	body := map[string]any{
		"access_token": at,
		"expires_in":   int(s.cfg.AccessTokenTTL.Seconds()),
		"scope":        strings.Join(g.scopes, " "),
		"token_type":   "Bearer",
	}
	if issueRefresh != "" {
		body["refresh_token"] = issueRefresh
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, body)
}

// revoke revokes a refresh token (and its grant) or an access token.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	s.count("revoke")
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Bad Request")
		return
	}
	tok := r.Form.Get("token")
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.refresh[tok]; g != nil && !g.revoked {
		g.revoked = true
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	if a := s.access[tok]; a != nil && !a.grant.revoked {
		a.grant.revoked = true
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	oauthError(w, 400, "invalid_token", "Token expired or revoked")
}

// Grants reports whether the user has a grant that is not revoked.
func (s *Server) Grants(healthUserID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.user.HealthUserID == healthUserID && !g.revoked {
			return true
		}
	}
	return false
}
