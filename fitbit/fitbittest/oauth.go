package fitbittest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// authorize auto-approves the consent screen: it redirects to redirect_uri
// with a code for the first user (or the one named by login_hint), granting
// the requested scopes minus Config.DenyScopes.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	s.count("authorize")
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	switch {
	case q.Get("client_id") != s.cfg.ClientID:
		http.Error(w, "Error 401: invalid_client", http.StatusUnauthorized)
		return
	case redirect == "" || err != nil || ru.Scheme == "" || ru.Host == "":
		http.Error(w, "Error 400: redirect_uri_mismatch", http.StatusBadRequest)
		return
	}
	fail := func(code string) {
		v := ru.Query()
		v.Set("error", code)
		if st := q.Get("state"); st != "" {
			v.Set("state", st)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type")
		return
	}
	requested := strings.Fields(q.Get("scope"))
	if len(requested) == 0 {
		fail("invalid_scope")
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		fail("invalid_request")
		return
	}
	s.mu.Lock()
	var u *user
	for _, c := range s.users {
		if hint := q.Get("login_hint"); hint == "" || hint == c.HealthUserID {
			u = c
			break
		}
	}
	if u == nil {
		s.mu.Unlock()
		fail("access_denied")
		return
	}
	var granted []string
	for _, sc := range requested {
		if !hasScope(s.cfg.DenyScopes, sc) {
			granted = append(granted, sc)
		}
	}
	code := "4/" + randomID(16)
	s.codes[code] = &grant{user: u, scopes: granted, redirectURI: redirect, challenge: q.Get("code_challenge"), offline: q.Get("access_type") == "offline"}
	s.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	v.Set("scope", strings.Join(granted, " "))
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
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
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.cfg.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
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
		if g.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
				oauthError(w, 400, "invalid_grant", "Missing code verifier.")
				return
			}
		}
		if g.offline {
			issueRefresh = "1//" + randomID(24)
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
	at := "ya29." + randomID(32)
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
