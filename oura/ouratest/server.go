package ouratest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/internal/fakeprovider"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// Default OAuth client of the fake.
const (
	DefaultClientID     = "ouratest-client"
	DefaultClientSecret = "ouratest-secret"
)

// Scopes the fake knows (every scope of Oura's consent screen); an unknown
// scope asked for is dropped at consent, as Oura does.
var knownScopes = []string{"email", "personal", "daily", "heartrate", "workout", "tag", "session", "spo2",
	"stress", "heart_health", "ring_configuration"}

// TokenScope says how the token endpoint reports the granted scopes, which
// real applications have seen differ.
type TokenScope int

// Token scope styles.
const (
	// ScopePlain: "scope": "daily heartrate …".
	ScopePlain TokenScope = iota
	// ScopeOmitted: no scope field.
	ScopeOmitted
	// ScopeExtAPI: "scope": "extapi:daily extapi:heartrate …".
	ScopeExtAPI
)

// Config tunes the fake. The zero value is a working fake with Oura's
// documented limits.
type Config struct {
	// ClientID and ClientSecret are the application the fake accepts; the
	// secret signs webhook deliveries. Empty means DefaultClientID /
	// DefaultClientSecret.
	ClientID, ClientSecret string
	// AccessTokenTTL is the lifetime of access tokens; 0 means 24 hours
	// (expires_in 86400, as documented).
	AccessTokenTTL time.Duration
	// TokenScope says how token responses report scopes.
	TokenScope TokenScope
	// DenyScopes are scopes the simulated user unticks on the consent
	// screen.
	DenyScopes []string
	// PageSize is the number of documents per page; 0 means 25.
	PageSize int
	// HeartRatePageSize is the number of heart-rate rows per page; 0 means
	// 1000 (a real page held 1,101).
	HeartRatePageSize int
	// HeartRateEvery is the spacing of background heart-rate rows; 0 means
	// 5 minutes. Workouts add rows every 5 seconds.
	HeartRateEvery time.Duration
	// RateLimit is the number of requests a token may make per
	// RateLimitWindow; 0 means 5000 (Oura's FAQ), a negative value none.
	RateLimit int
	// RateLimitWindow is the rate limit's window; 0 means 5 minutes.
	RateLimitWindow time.Duration
	// SubscriptionTTL is the lifetime of a webhook subscription; 0 means
	// 90 days.
	SubscriptionTTL time.Duration
	// ZonelessExpiry writes expiration_time without a zone, as Oura was
	// seen to.
	ZonelessExpiry bool
	// UnknownSubscriptionStatus answers a subscription id the fake does not
	// know; 0 means 403 (Oura's specification; 404 was seen too).
	UnknownSubscriptionStatus int
	// CallbackClient sends verification calls and deliveries; nil means a
	// client with a 10-second timeout.
	CallbackClient *http.Client
	// Now returns the current time (data lies before it; tokens and
	// subscriptions expire by it); nil means time.Now.
	Now func() time.Time
}

// Ring is a ring of a user.
type Ring struct {
	ID, Color, Design, Firmware, HardwareType string
	SetUpAt                                   time.Time
	Size                                      int
}

// User is an Oura user of the fake.
type User struct {
	// ID is personal_info.id, the user id of webhook events; empty means a
	// generated one.
	ID string
	// TimeZone is the IANA zone the user lives in (documents carry its
	// offsets); empty means Europe/Berlin.
	TimeZone string
	// Rings are the user's rings; nil means one Gen3 ring set up a year
	// before Now and one older ring with Oura's 1970 placeholder date.
	Rings []Ring
}

// Server is an httptest fake of the Oura API v2, its OAuth 2.0 endpoints and
// its webhooks. It is safe for concurrent use.
type Server struct {
	cfg Config
	srv *httptest.Server

	faults fakeprovider.Faults
	calls  fakeprovider.Calls

	mu       sync.Mutex
	users    []*user
	codes    map[string]*code
	access   map[string]*accessToken
	refresh  map[string]*grant // refresh token → grant; single use
	queries  map[string]url.Values
	requests map[string][]time.Time // access token → request times in the window
	subs     []*subscription
	days     map[dayKey]*dayData
}

type user struct {
	User
	loc *time.Location
}

type grant struct {
	user    *user
	scopes  []string
	revoked bool
}

type code struct {
	grant       *grant
	redirectURI string
	challenge   string
	expires     time.Time
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

// New starts a fake server; Close stops it.
func New(cfg Config) (*Server, error) {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = DefaultClientSecret
	}
	if cfg.AccessTokenTTL <= 0 {
		cfg.AccessTokenTTL = 24 * time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 25
	}
	if cfg.HeartRatePageSize <= 0 {
		cfg.HeartRatePageSize = 1000
	}
	if cfg.HeartRateEvery <= 0 {
		cfg.HeartRateEvery = 5 * time.Minute
	}
	if cfg.HeartRateEvery < 5*time.Second {
		return nil, errors.New("ouratest: heart rate spacing below 5 s")
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 5000
	}
	if cfg.RateLimitWindow <= 0 {
		cfg.RateLimitWindow = 5 * time.Minute
	}
	if cfg.SubscriptionTTL <= 0 {
		cfg.SubscriptionTTL = 90 * 24 * time.Hour
	}
	if cfg.UnknownSubscriptionStatus == 0 {
		cfg.UnknownSubscriptionStatus = http.StatusForbidden
	}
	if cfg.CallbackClient == nil {
		cfg.CallbackClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:      cfg,
		codes:    map[string]*code{},
		access:   map[string]*accessToken{},
		refresh:  map[string]*grant{},
		queries:  map[string]url.Values{},
		requests: map[string][]time.Time{},
		days:     map[dayKey]*dayData{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oauth/authorize", s.authorize)
	mux.HandleFunc("POST /oauth/token", s.token)
	mux.HandleFunc("/oauth/revoke", s.revoke)
	mux.HandleFunc("GET /v2/usercollection/", s.collection)
	mux.HandleFunc("/v2/webhook/subscription", s.subscriptions)
	mux.HandleFunc("/v2/webhook/subscription/", s.subscription)
	// Set srv before serving: handlers read it, and a client may connect
	// as soon as the listener exists.
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Start()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's root URL, the provider's APIBaseURL.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client that reaches the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AuthURL is the authorization endpoint.
func (s *Server) AuthURL() string { return s.srv.URL + "/oauth/authorize" }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/oauth/token" }

// RevokeURL is the revocation endpoint.
func (s *Server) RevokeURL() string { return s.srv.URL + "/oauth/revoke" }

// ClientID returns the application id the fake accepts.
func (s *Server) ClientID() string { return s.cfg.ClientID }

// ClientSecret returns the application secret the fake accepts (and signs
// deliveries with).
func (s *Server) ClientSecret() string { return s.cfg.ClientSecret }

// AddUser adds a user and returns it with its defaults filled in. The first
// user is the one the authorize endpoint approves unless the request names
// another with login_hint.
func (s *Server) AddUser(u User) (User, error) {
	if u.ID == "" {
		u.ID = fakeprovider.RandomID(16)
	}
	if u.TimeZone == "" {
		u.TimeZone = "Europe/Berlin"
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		return User{}, fmt.Errorf("ouratest: unknown time zone %q", u.TimeZone)
	}
	if u.Rings == nil {
		set := s.cfg.Now().UTC().AddDate(-1, 0, 0).Truncate(time.Second)
		u.Rings = []Ring{
			{ID: "ring-" + u.ID + "-1", Color: "stealth_black", Design: "heritage", Firmware: "2.9.32", HardwareType: "gen3", SetUpAt: time.Unix(0, 0).UTC(), Size: 11},
			{ID: "ring-" + u.ID + "-2", Color: "silver", Design: "heritage", Firmware: "3.0.3", HardwareType: "gen3", SetUpAt: set, Size: 11},
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.users {
		if o.ID == u.ID {
			return User{}, errors.New("ouratest: user exists")
		}
	}
	s.users = append(s.users, &user{User: u, loc: loc})
	return u, nil
}

func (s *Server) userLocked(id string) *user {
	for _, u := range s.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// IssueToken grants the user scopes (every scope when none is given)
// without the consent screen and returns the token, as a store keeps it.
func (s *Server) IssueToken(userID string, scopes ...string) (ohx.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(userID)
	if u == nil {
		return ohx.Token{}, errors.New("ouratest: unknown user")
	}
	if len(scopes) == 0 {
		scopes = slices.Clone(knownScopes)
	}
	g := &grant{user: u, scopes: scopes}
	at, rt := s.issueLocked(g)
	return ohx.Token{AccessToken: at, RefreshToken: rt, TokenType: "bearer", Expiry: s.access[at].expires, Scope: strings.Join(scopes, " ")}, nil
}

func (s *Server) issueLocked(g *grant) (access, refresh string) {
	access, refresh = fakeprovider.RandomID(24), fakeprovider.RandomID(24)
	s.access[access] = &accessToken{grant: g, expires: s.cfg.Now().Add(s.cfg.AccessTokenTTL)}
	s.refresh[refresh] = g
	return access, refresh
}

// ExpireAccessTokens makes every access token expired; refresh tokens stay
// valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		a.expires = time.Time{}
	}
}

// RevokeUser revokes every grant of the user, as removing the application
// in the Oura app would.
func (s *Server) RevokeUser(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.user.ID == userID {
			g.revoked = true
		}
	}
	for _, a := range s.access {
		if a.grant.user.ID == userID {
			a.grant.revoked = true
		}
	}
}

// Granted reports whether the user has a grant that is not revoked.
func (s *Server) Granted(userID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		if a.grant.user.ID == userID && !a.grant.revoked {
			return true
		}
	}
	return false
}

// FailNext makes the next n API calls (collections, not OAuth or webhooks)
// answer status with Oura's body for it (401, 403, 429, 500, 503);
// retryAfter, when positive, is sent as Retry-After.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.faults.Queue(n, fakeprovider.Failure{Status: status, RetryAfter: retryAfter})
}

// FailWith makes every API call answer status until restore is called.
func (s *Server) FailWith(status int) (restore func()) {
	return s.faults.Stand(fakeprovider.Failure{Status: status})
}

// Calls returns how many requests the fake served per operation
// ("authorize", "token", "revoke", a collection path such as "sleep" or
// "heartrate", "webhook.create", "webhook.list", "verify", "deliver", …).
func (s *Server) Calls(op string) int { return s.calls.Of(op) }

// LastQuery returns the query of the last request to a collection.
func (s *Server) LastQuery(collection string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[collection]
}

func (s *Server) count(op string) { s.calls.Count(op) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// detail writes Oura's {"detail": "…"} body.
func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

// validation writes Oura's 422 body for one invalid query parameter, in the
// shape of the sandbox's answer to ?start_date=nonsense.
func validation(w http.ResponseWriter, param, input string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []wire.ValidationError{{
		Type: "date_from_datetime_parsing", Loc: []any{"query", param, "date"},
		Msg: "Input should be a valid date or datetime, input is too short", In: mustJSON(input),
	}}})
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// standardError writes the fake's body for status. Oura documents the
// statuses, not every body: 401 and 403 bodies are assumed, the 429 body is
// undocumented (its headers are).
func (s *Server) standardError(w http.ResponseWriter, f fakeprovider.Failure) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(f.RetryAfter.Seconds())))
	}
	switch f.Status {
	case http.StatusUnauthorized:
		detail(w, f.Status, "Invalid or expired token.")
	case http.StatusForbidden:
		detail(w, f.Status, "Your Oura membership has expired.")
	case http.StatusTooManyRequests:
		s.rateLimitHeaders(w, s.cfg.Now().Add(max(f.RetryAfter, time.Second)))
		detail(w, f.Status, "Too many requests.")
	default:
		detail(w, f.Status, http.StatusText(f.Status))
	}
}

func (s *Server) rateLimitHeaders(w http.ResponseWriter, reset time.Time) {
	h := w.Header()
	if h.Get("Retry-After") == "" {
		secs := int(reset.Sub(s.cfg.Now()).Seconds() + 0.999)
		h.Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.cfg.RateLimit))
	h.Set("X-RateLimit-Window", strconv.Itoa(int(s.cfg.RateLimitWindow.Seconds())))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Tier", "token")
}
