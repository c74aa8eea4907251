// Package fakeprovider holds what the provider fakes (fitbittest,
// ouratest) do the same way: injected failures, call counts, random ids,
// and the parts of an OAuth 2.0 authorization server whose logic Google
// and Oura share (the consent redirect, client authentication, PKCE,
// bearer tokens). Each fake keeps what its provider does its own way:
// error bodies, scopes, token lifetimes and rotation.
package fakeprovider

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Failure is an injected failure: an HTTP status and, when positive, the
// Retry-After to send with it.
type Failure struct {
	Status     int
	RetryAfter time.Duration
}

// Faults holds the failures injected into a fake's API calls: a queue for
// the next calls and one that stands for every call until restored. It is
// safe for concurrent use.
type Faults struct {
	// StandingFirst makes the standing failure win over queued ones
	// (fitbittest); otherwise queued ones come first (ouratest).
	StandingFirst bool

	mu       sync.Mutex
	queue    []Failure
	standing *Failure
}

// Queue makes the next n calls fail with f.
func (fs *Faults) Queue(n int, f Failure) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for range n {
		fs.queue = append(fs.queue, f)
	}
}

// Stand makes every call fail with f until restore is called.
func (fs *Faults) Stand(f Failure) (restore func()) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.standing = &f
	return func() {
		fs.mu.Lock()
		fs.standing = nil
		fs.mu.Unlock()
	}
}

// Next returns the failure of a call, if any, taking it off the queue.
func (fs *Faults) Next() (Failure, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.standing != nil && (fs.StandingFirst || len(fs.queue) == 0) {
		return *fs.standing, true
	}
	if len(fs.queue) == 0 {
		return Failure{}, false
	}
	f := fs.queue[0]
	fs.queue = fs.queue[1:]
	return f, true
}

// Calls counts a fake's requests per operation. It is safe for concurrent
// use; the zero value is ready.
type Calls struct {
	mu sync.Mutex
	n  map[string]int
}

// Count counts a request of op.
func (c *Calls) Count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[op]++
}

// Of returns how many requests of op were counted.
func (c *Calls) Of(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

// RandomID returns n random bytes in hex.
func RandomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Bearer returns the bearer token of a request's Authorization header, or
// "".
func Bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ClientAuthenticated reports whether a token request (its form parsed)
// authenticates as the client id with secret, by HTTP Basic or by the
// form's client_id and client_secret.
func ClientAuthenticated(r *http.Request, id, secret string) bool {
	gotID, gotSecret, ok := r.BasicAuth()
	if !ok {
		gotID, gotSecret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return gotID == id && subtle.ConstantTimeCompare([]byte(gotSecret), []byte(secret)) == 1
}

// PKCEVerified reports whether verifier answers an S256 code challenge.
func PKCEVerified(challenge, verifier string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:]) == challenge
}

// Consent is an authorization request that a fake's consent screen
// answers by redirecting to the request's redirect_uri.
type Consent struct {
	// Query is the request's query.
	Query    url.Values
	w        http.ResponseWriter
	r        *http.Request
	redirect *url.URL
}

// ReadConsent reads an authorization request. A client_id other than
// clientID is answered 401 with the text badClient, a missing or relative
// redirect_uri 400 with badRedirect, and a response_type other than "code"
// by a redirect with error=unsupported_response_type; ok is false then.
func ReadConsent(w http.ResponseWriter, r *http.Request, clientID, badClient, badRedirect string) (_ *Consent, ok bool) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	ru, err := url.Parse(redirect)
	switch {
	case q.Get("client_id") != clientID:
		http.Error(w, badClient, http.StatusUnauthorized)
		return nil, false
	case redirect == "" || err != nil || ru.Scheme == "" || ru.Host == "":
		http.Error(w, badRedirect, http.StatusBadRequest)
		return nil, false
	}
	c := &Consent{Query: q, w: w, r: r, redirect: ru}
	if q.Get("response_type") != "code" {
		c.Deny("unsupported_response_type")
		return nil, false
	}
	return c, true
}

// RedirectURI returns the request's redirect_uri.
func (c *Consent) RedirectURI() string { return c.Query.Get("redirect_uri") }

// User returns the user the consent screen approves as: the first of
// users, or the one whose id (as id reads it) the request's login_hint
// names; ok is false when there is none.
func User[U any](c *Consent, users []U, id func(U) string) (u U, ok bool) {
	hint := c.Query.Get("login_hint")
	for _, x := range users {
		if hint == "" || hint == id(x) {
			return x, true
		}
	}
	return u, false
}

// Answer redirects (302 Found) to the redirect_uri with the values v set
// in its query, and the request's state when it has one.
func (c *Consent) Answer(v url.Values) {
	q := c.redirect.Query()
	for k, vs := range v {
		q[k] = vs
	}
	if st := c.Query.Get("state"); st != "" {
		q.Set("state", st)
	}
	c.redirect.RawQuery = q.Encode()
	http.Redirect(c.w, c.r, c.redirect.String(), http.StatusFound)
}

// Deny answers with the OAuth error code.
func (c *Consent) Deny(code string) { c.Answer(url.Values{"error": {code}}) }

// Grant answers with the authorization code and the granted scopes.
func (c *Consent) Grant(code string, scopes []string) {
	c.Answer(url.Values{"code": {code}, "scope": {strings.Join(scopes, " ")}})
}
