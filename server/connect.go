package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// The patient connect page. POST /v1/links answers an authorize_url that
// opens ohx's own page, {PublicURL}/connect/{secret}: it names the
// organisation, the provider and the data types, and holds one form whose
// button continues to the provider. The first browser that opens it gets a
// binding cookie; the page then opens in that browser only, the form is
// accepted from it only, and the OAuth callback completes the link only
// with that cookie. The flow lives in the store (store.ConnectStore), so any
// replica serves any step; the secret of the URL is kept as its SHA-256.

//go:embed templates
var templateFS embed.FS

var (
	pageTemplates = template.Must(template.ParseFS(templateFS, "templates/*.html"))
	pageStyle     = mustRead("templates/style.css")
	// pageCSP allows the page's one inline style sheet (by hash) and
	// nothing else: no script, no frame, no foreign base.
	pageCSP = "default-src 'none'; style-src '" + styleHash() + "'; base-uri 'none'; frame-ancestors 'none'"
)

func mustRead(name string) string {
	b, err := templateFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func styleHash() string {
	sum := sha256.Sum256([]byte(pageStyle))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Connect settings' defaults.
const (
	// DefaultConnectTTL is how long a connect page may wait to be opened
	// and its form to be sent.
	DefaultConnectTTL = 15 * time.Minute
	// DefaultPendingLinkTTL is how long a link may stay pending before the
	// scheduler deletes it.
	DefaultPendingLinkTTL = time.Hour
)

// secretBytes is the size of the connect URL's secret and of the browser
// binding cookie.
const secretBytes = 32

// randomSecret returns secretBytes of randomness, base64url (43 characters).
func randomSecret() (string, error) {
	b := make([]byte, secretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// wellFormed reports whether v looks like a secret of randomSecret.
func wellFormed(v string) bool {
	if len(v) != 43 {
		return false
	}
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func hashHex(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// cookieName is the binding cookie's name: __Host- prefixed on https.
func (s *Server) cookieName() string {
	if s.secure {
		return "__Host-ohx-connect"
	}
	return "ohx-connect"
}

// browserOf returns the hash of the request's binding cookie, or "".
func (s *Server) browserOf(r *http.Request) string {
	c, err := r.Cookie(s.cookieName())
	if err != nil || !wellFormed(c.Value) {
		return ""
	}
	return hashHex(c.Value)
}

// bindBrowser returns the hash of the request's binding cookie, setting a
// new cookie when the request has none; the cookie's life is renewed.
func (s *Server) bindBrowser(w http.ResponseWriter, r *http.Request) (string, error) {
	value := ""
	if c, err := r.Cookie(s.cookieName()); err == nil && wellFormed(c.Value) {
		value = c.Value
	} else if value, err = randomSecret(); err != nil {
		return "", err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: value, Path: "/", HttpOnly: true, Secure: s.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int((s.cfg.ConnectTTL + s.cfg.StateTTL) / time.Second)})
	return hashHex(value), nil
}

// newConnectFlow stores the flow of a new link and returns its page's URL.
func (s *Server) newConnectFlow(ctx context.Context, link ohx.Link, success, failure string) (string, error) {
	secret, err := randomSecret()
	if err != nil {
		return "", err
	}
	now := s.cfg.Now().UTC()
	f := store.ConnectFlow{ID: hashHex(secret), LinkID: link.ID, Provider: link.Provider, DataTypes: link.DataTypes,
		SuccessURL: success, ErrorURL: failure, Created: now, Expires: now.Add(s.cfg.ConnectTTL)}
	if err := s.cfg.Store.CreateConnectFlow(ctx, f); err != nil {
		return "", err
	}
	return strings.TrimRight(s.cfg.PublicURL, "/") + "/connect/" + secret, nil
}

// formToken binds the page's form to its flow and browser.
func (s *Server) formToken(flowID, browser string) string {
	return base64.RawURLEncoding.EncodeToString(s.state.mac("connect-form", flowID+"|"+browser))
}

// pageHeaders are the headers of every patient-facing page.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
}

// messagePage answers a page with a title and one paragraph.
func (s *Server) messagePage(w http.ResponseWriter, r *http.Request, status int, id, provider string) {
	m := s.messages.pick(r)
	org := s.orgName(m)
	pname := m.providerName(provider)
	pageHeaders(w)
	w.WriteHeader(status)
	_ = pageTemplates.ExecuteTemplate(w, "message.html", map[string]any{
		"Lang": m["lang"], "Style": template.CSS(pageStyle), "Org": org, // #nosec G203 -- our own embedded style sheet
		"Title": m.text(id+".title", org, pname), "Body": m.text(id+".body", org, pname),
	})
}

func (s *Server) orgName(m Messages) string {
	if s.cfg.OrganizationName != "" {
		return s.cfg.OrganizationName
	}
	return m["org.default"]
}

// flowError answers a connect flow the store refused.
func (s *Server) flowError(w http.ResponseWriter, r *http.Request, err error, provider string) {
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		s.messagePage(w, r, http.StatusNotFound, "notfound", provider)
	case errors.Is(err, store.ErrConnectUsed), errors.Is(err, store.ErrConnectExpired):
		s.messagePage(w, r, http.StatusGone, "gone", provider)
	case errors.Is(err, store.ErrConnectBrowser):
		s.messagePage(w, r, http.StatusForbidden, "browser", provider)
	default:
		rid, _ := r.Context().Value(requestIDKey).(string)
		s.cfg.Logger.Error("connect flow failed", zap.String("request_id", rid), zap.Error(err))
		s.messagePage(w, r, http.StatusInternalServerError, "error", provider)
	}
}

// openFlow opens the flow of the request's secret for its browser. ok is
// false when the answer was written.
func (s *Server) openFlow(w http.ResponseWriter, r *http.Request, browser string) (store.ConnectFlow, ohx.Link, bool) {
	secret := r.PathValue("secret")
	if !wellFormed(secret) {
		s.messagePage(w, r, http.StatusNotFound, "notfound", "")
		return store.ConnectFlow{}, ohx.Link{}, false
	}
	f, err := s.cfg.Store.OpenConnectFlow(r.Context(), hashHex(secret), browser, s.cfg.Now())
	if err != nil {
		if errors.Is(err, store.ErrConnectUsed) {
			s.cfg.Logger.Warn("connect page opened by a second browser refused")
			s.audit(r.Context(), "connect.refused", zap.String("reason", "page_used"))
		}
		s.flowError(w, r, err, "")
		return f, ohx.Link{}, false
	}
	link, err := s.cfg.Store.Link(r.Context(), f.LinkID)
	if err != nil || link.Status != ohx.LinkPending {
		s.messagePage(w, r, http.StatusGone, "gone", f.Provider)
		return f, link, false
	}
	return f, link, true
}

// connectPage serves GET /connect/{secret}: the first browser that opens it
// is bound to the flow; a reload in that browser shows it again.
func (s *Server) connectPage(w http.ResponseWriter, r *http.Request) {
	browser, err := s.bindBrowser(w, r)
	if err != nil {
		s.flowError(w, r, err, "")
		return
	}
	f, link, ok := s.openFlow(w, r, browser)
	if !ok {
		return
	}
	m := s.messages.pick(r)
	org, pname := s.orgName(m), m.providerName(f.Provider)
	types := make([]string, 0, len(f.DataTypes))
	for _, t := range f.DataTypes {
		if v := m["type."+string(t)]; v != "" {
			types = append(types, v)
		} else {
			types = append(types, string(t))
		}
	}
	pageHeaders(w)
	w.WriteHeader(http.StatusOK)
	_ = pageTemplates.ExecuteTemplate(w, "connect.html", map[string]any{
		"Lang": m["lang"], "Style": template.CSS(pageStyle), "Org": org, // #nosec G203 -- our own embedded style sheet
		"Title": m.text("connect.title", org, pname), "Lead": m.text("connect.lead", org, pname),
		"TypesHeading": m.text("connect.types", org, pname), "Types": types,
		"How": m.text("connect.how", org, pname), "Button": m.text("connect.button", org, pname),
		"Once": m.text("connect.once", org, pname),
		// Relative: the form posts back to this page's URL, whatever
		// prefix the server is mounted under.
		"Action": r.PathValue("secret"), "FormToken": s.formToken(f.ID, browser),
	})
	s.audit(r.Context(), "connect.opened", zap.String("link_id", link.ID), zap.String("provider", f.Provider))
}

// connectContinue serves POST /connect/{secret}: the form of the page, from
// the browser that opened it, sends the patient on to the provider.
func (s *Server) connectContinue(w http.ResponseWriter, r *http.Request) {
	browser := s.browserOf(r)
	if browser == "" {
		s.messagePage(w, r, http.StatusForbidden, "browser", "")
		return
	}
	if err := r.ParseForm(); err != nil || len(r.PostForm) > 4 {
		s.messagePage(w, r, http.StatusBadRequest, "invalid", "")
		return
	}
	f, link, ok := s.openFlow(w, r, browser)
	if !ok {
		return
	}
	got, err := base64.RawURLEncoding.DecodeString(r.PostForm.Get("form"))
	want, _ := base64.RawURLEncoding.DecodeString(s.formToken(f.ID, browser))
	if err != nil || !hmac.Equal(got, want) {
		s.cfg.Logger.Warn("connect form with a wrong token refused", zap.String("link_id", link.ID))
		s.messagePage(w, r, http.StatusForbidden, "invalid", f.Provider)
		return
	}
	auth, ok := s.providers[f.Provider].(ohx.Authorizer)
	if !ok {
		s.messagePage(w, r, http.StatusGone, "gone", f.Provider)
		return
	}
	nonce, err := newNonce()
	if err != nil {
		s.flowError(w, r, err, f.Provider)
		return
	}
	st := oauthState{LinkID: link.ID, Provider: f.Provider, Nonce: nonce, Flow: f.ID,
		Expires: s.cfg.Now().Add(s.cfg.StateTTL).Unix()}
	signed, err := s.state.sign(st)
	if err != nil {
		s.flowError(w, r, err, f.Provider)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, auth.AuthCodeURL(signed, s.state.verifier(st), f.DataTypes), http.StatusSeeOther)
}

// consentDefaults fills and checks the connect settings of s.cfg.
func (s *Server) consentDefaults() error {
	if s.cfg.ConnectTTL <= 0 {
		s.cfg.ConnectTTL = DefaultConnectTTL
	}
	if s.cfg.PendingLinkTTL <= 0 {
		s.cfg.PendingLinkTTL = DefaultPendingLinkTTL
	}
	if s.cfg.PendingLinkTTL < s.cfg.ConnectTTL+s.cfg.StateTTL {
		return errors.New("server: the pending link TTL must be at least the connect TTL plus the state TTL")
	}
	if len(s.cfg.OrganizationName) > 200 {
		return errors.New("server: the organisation name is longer than 200 characters")
	}
	var err error
	s.messages, err = newCatalogs(s.cfg.Messages)
	return err
}
