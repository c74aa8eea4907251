package fitbittest

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/internal/fakeprovider"
)

// Default OAuth client of the fake.
const (
	DefaultClientID     = "fitbittest-client.apps.googleusercontent.com"
	DefaultClientSecret = "fitbittest-secret"
)

// Config tunes the fake. The zero value is a working fake with Google's
// limits.
type Config struct {
	// ClientID and ClientSecret are the OAuth client the fake accepts;
	// empty means DefaultClientID / DefaultClientSecret.
	ClientID, ClientSecret string
	// AccessTokenTTL is the lifetime of issued access tokens; 0 means one
	// hour, as Google.
	AccessTokenTTL time.Duration
	// HeartRateEvery is the spacing of raw heart-rate samples; 0 means 5 s.
	// Values below one second are raised to one second.
	HeartRateEvery time.Duration
	// ECGSamplingHz is the ECG sampling frequency; 0 means 250 Hz.
	ECGSamplingHz int
	// ECGDuration is the length of an ECG recording; 0 means 30 s.
	ECGDuration time.Duration
	// RateLimitPerMinute is the per-user request limit; 0 means 300, a
	// negative value disables it.
	RateLimitPerMinute int
	// DenyScopes are scopes the simulated user unticks on the consent
	// screen (partial consent).
	DenyScopes []string
	// Now returns the current time (data lies before it; tokens expire by
	// it); nil means time.Now.
	Now func() time.Time
}

// User is a Google Health user of the fake.
type User struct {
	// HealthUserID is the user's healthUserId; empty means a generated one.
	HealthUserID string
	// LegacyUserID is the former Fitbit user id ("" for new users).
	LegacyUserID string
	// TimeZone is the IANA zone of the user's settings; empty means
	// America/New_York.
	TimeZone string
	// Devices are the paired devices; nil means a Fitbit Charge 6 and an
	// Aria Air scale.
	Devices []wire.PairedDevice
}

// Server is an httptest fake of the Google Health API v4 and of Google's
// OAuth 2.0 endpoints, with a webhook keyset and notification delivery. It is
// safe for concurrent use.
type Server struct {
	cfg Config
	srv *httptest.Server

	faults fakeprovider.Faults
	calls  fakeprovider.Calls

	mu          sync.Mutex
	users       []*user
	codes       map[string]*grant
	access      map[string]*accessToken
	refresh     map[string]*grant
	windowStart map[string]time.Time
	windowCount map[string]int
	subscribers map[string]*subscriber
	keys        []*signingKey
}

type user struct {
	User
	loc *time.Location
}

type grant struct {
	user        *user
	scopes      []string
	redirectURI string
	challenge   string
	offline     bool
	revoked     bool
}

type accessToken struct {
	grant   *grant
	expires time.Time
}

type signingKey struct {
	id   uint32
	priv *ecdsa.PrivateKey
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
		cfg.AccessTokenTTL = time.Hour
	}
	if cfg.HeartRateEvery <= 0 {
		cfg.HeartRateEvery = 5 * time.Second
	}
	if cfg.HeartRateEvery < time.Second {
		cfg.HeartRateEvery = time.Second
	}
	if cfg.ECGSamplingHz <= 0 {
		cfg.ECGSamplingHz = 250
	}
	if cfg.ECGDuration <= 0 {
		cfg.ECGDuration = 30 * time.Second
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = 300
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{
		cfg:         cfg,
		codes:       map[string]*grant{},
		access:      map[string]*accessToken{},
		refresh:     map[string]*grant{},
		faults:      fakeprovider.Faults{StandingFirst: true},
		windowStart: map[string]time.Time{},
		windowCount: map[string]int{},
		subscribers: map[string]*subscriber{},
	}
	if err := s.RotateKey(); err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /o/oauth2/v2/auth", s.authorize)
	mux.HandleFunc("GET /o/oauth2/auth", s.authorize)
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("POST /revoke", s.revoke)
	mux.HandleFunc("GET /webhooks_public_keyset.json", s.keyset)
	mux.HandleFunc("/v4/", s.api)
	// Set srv before serving: handlers read it, and a client may connect
	// as soon as the listener exists.
	s.srv = httptest.NewUnstartedServer(mux)
	s.srv.Start()
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the server's root URL.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client that reaches the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// AuthURL is the authorization endpoint.
func (s *Server) AuthURL() string { return s.srv.URL + "/o/oauth2/v2/auth" }

// TokenURL is the token endpoint.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// RevokeURL is the revoke endpoint.
func (s *Server) RevokeURL() string { return s.srv.URL + "/revoke" }

// APIBaseURL is the API root (requests go to APIBaseURL + "v4/…").
func (s *Server) APIBaseURL() string { return s.srv.URL + "/" }

// KeysetURL serves the public keyset that signs notifications.
func (s *Server) KeysetURL() string { return s.srv.URL + "/webhooks_public_keyset.json" }

// ClientID returns the OAuth client id the fake accepts.
func (s *Server) ClientID() string { return s.cfg.ClientID }

// ClientSecret returns the OAuth client secret the fake accepts.
func (s *Server) ClientSecret() string { return s.cfg.ClientSecret }

// AddUser adds a user and returns it with its defaults filled in. The first
// user is the one the authorize endpoint approves unless the request names
// another with login_hint.
func (s *Server) AddUser(u User) (User, error) {
	if u.HealthUserID == "" {
		u.HealthUserID = fakeprovider.RandomID(10)
	}
	if u.TimeZone == "" {
		u.TimeZone = "America/New_York"
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		return User{}, fmt.Errorf("fitbittest: unknown time zone %q", u.TimeZone)
	}
	if u.Devices == nil {
		battery, scale := 80, 55
		last := s.cfg.Now().UTC().Add(-20 * time.Minute).Truncate(time.Second)
		u.Devices = []wire.PairedDevice{
			{Name: "users/me/pairedDevices/tracker-1", DeviceType: "TRACKER", DeviceVersion: "Charge 6", BatteryLevel: &battery, BatteryStatus: "High", LastSyncTime: &last, Features: []string{"HEART_RATE", "SPO2", "SKIN_TEMPERATURE", "SMART_SLEEP", "STEPS", "ECG"}},
			{Name: "users/me/pairedDevices/scale-1", DeviceType: "SCALE", DeviceVersion: "Aria Air", BatteryLevel: &scale, BatteryStatus: "Medium", LastSyncTime: &last, Features: []string{"WEIGHT", "BODY_FAT"}},
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.users {
		if o.HealthUserID == u.HealthUserID {
			return User{}, errors.New("fitbittest: user exists")
		}
	}
	s.users = append(s.users, &user{User: u, loc: loc})
	return u, nil
}

// FailNext makes the next n API calls (not OAuth) answer status with
// Google's error body for it (401, 403, 429, 500, 503). retryAfter, when
// positive, is sent as Retry-After.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.faults.Queue(n, fakeprovider.Failure{Status: status, RetryAfter: retryAfter})
}

// FailWith makes every API call (not OAuth) answer status with Google's
// error body for it until restore is called.
func (s *Server) FailWith(status int) (restore func()) {
	return s.faults.Stand(fakeprovider.Failure{Status: status})
}

// ExpireAccessTokens makes every issued access token expired, as if an hour
// had passed; refresh tokens stay valid.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		a.expires = time.Time{}
	}
}

// RevokeGrants revokes every grant of the user (as if they removed the app
// in their Google account).
func (s *Server) RevokeGrants(healthUserID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.user.HealthUserID == healthUserID {
			g.revoked = true
		}
	}
	for _, a := range s.access {
		if a.grant.user.HealthUserID == healthUserID {
			a.grant.revoked = true
		}
	}
}

// Calls returns how many requests the fake served per operation ("token",
// "identity", "settings", "pairedDevices", "list:heart-rate",
// "reconcile:sleep", …).
func (s *Server) Calls(op string) int { return s.calls.Of(op) }

func (s *Server) count(op string) { s.calls.Count(op) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError writes a google.rpc.Status body.
func apiError(w http.ResponseWriter, code int, status, message string, details ...wire.StatusDetails) {
	var st wire.Status
	st.Error.Code = code
	st.Error.Status = status
	st.Error.Message = message
	st.Error.Details = details
	writeJSON(w, code, st)
}

func errorInfo(reason, domain string, md map[string]string) wire.StatusDetails {
	return wire.StatusDetails{Type: "type.googleapis.com/google.rpc.ErrorInfo", Reason: reason, Domain: domain, Metadata: md}
}

func badRequest(field, desc string) wire.StatusDetails {
	return wire.StatusDetails{Type: "type.googleapis.com/google.rpc.BadRequest", FieldViolations: []wire.FieldViolation{{Field: field, Description: desc}}}
}

// standardError writes Google's body for status, as the fixtures show.
func standardError(w http.ResponseWriter, status int, retryAfter time.Duration) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())))
	}
	switch status {
	case http.StatusUnauthorized:
		apiError(w, 401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
			errorInfo("ACCESS_TOKEN_EXPIRED", "googleapis.com", nil))
	case http.StatusForbidden:
		apiError(w, 403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.",
			errorInfo("ACCESS_TOKEN_SCOPE_INSUFFICIENT", "googleapis.com", nil))
	case http.StatusTooManyRequests:
		apiError(w, 429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'health.googleapis.com'.",
			errorInfo("RATE_LIMIT_EXCEEDED", "googleapis.com", nil),
			wire.StatusDetails{Type: "type.googleapis.com/google.rpc.QuotaFailure", Violations: []wire.QuotaViolation{{Subject: "user", Description: "Quota exceeded"}}})
	case http.StatusServiceUnavailable:
		apiError(w, 503, "UNAVAILABLE", "The service is currently unavailable.")
	default:
		apiError(w, status, "INTERNAL", "Internal error encountered.")
	}
}
