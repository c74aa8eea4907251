package withingstest

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
)

// Operations of the fake, as recorded in Call.Op and named in Fail: the API
// path's service and the action.
const (
	OpRequestToken        = "oauth2.requesttoken"
	OpRevoke              = "oauth2.revoke"
	OpGetNonce            = "signature.getnonce"
	OpGetmeas             = "measure.getmeas"
	OpGetActivity         = "measure.getactivity"
	OpGetIntradayActivity = "measure.getintradayactivity"
	OpHeartList           = "heart.list"
	OpHeartGet            = "heart.get"
	OpSleepGet            = "sleep.get"
	OpSleepGetSummary     = "sleep.getsummary"
	OpGetDevice           = "user.getdevice"
	OpNotifySubscribe     = "notify.subscribe"
	OpNotifyList          = "notify.list"
	OpNotifyRevoke        = "notify.revoke"
)

// Default credentials of the fake application.
const (
	DefaultClientID     = "withingstest-client"
	DefaultClientSecret = "withingstest-secret"
)

// Withings status codes the fake answers with.
const (
	StatusOK              = 0
	StatusInvalidToken    = 401
	StatusInvalidParams   = 503
	StatusUnauthorized    = 277
	StatusCallbackInvalid = 293
	StatusNotImplemented  = 2554
	StatusTooManyRequests = 601
)

// Config configures the fake. The zero value is usable.
type Config struct {
	// ClientID and ClientSecret are the only credentials the fake accepts;
	// empty means DefaultClientID and DefaultClientSecret.
	ClientID     string
	ClientSecret string
	// RedirectURIs, when not empty, are the registered redirect URIs;
	// otherwise any redirect URI is accepted.
	RedirectURIs []string
	// Now is the fake's clock (token lifetimes, rate-limit minutes, the end
	// of generated data); nil means time.Now.
	Now func() time.Time
	// PageSize is the page size of getmeas, getactivity, heart list and sleep
	// getsummary; 0 means 20.
	PageSize int
	// AccessTokenTTL is an access token's lifetime; 0 means 3 h.
	AccessTokenTTL time.Duration
	// RotationGrace is how long a rotated refresh token stays usable while
	// its successor access token is unused; 0 means 8 h.
	RotationGrace time.Duration
	// UserIDAsString makes the token endpoint send userid as a string, as
	// some Withings answers do; by default it is an integer, as in the
	// specification.
	UserIDAsString bool
	// Seed varies the generated data; users also have their own seed.
	Seed uint64
	// HTTPClient sends the subscribe HEAD probes and the notifications; nil
	// means a client with a 2 s timeout.
	HTTPClient *http.Client
}

// User is a Withings account of the fake.
type User struct {
	// ID is the Withings userid.
	ID int64
	// TimeZone is the user's IANA zone; empty means Europe/Paris.
	TimeZone string
	// Seed varies this user's data; zero means derived from ID.
	Seed uint64
}

// Call is one request the fake received. Params hold the form without
// secrets (tokens, codes, client secret, signatures, nonces).
type Call struct {
	Op     string
	UserID int64
	Params url.Values
	At     time.Time
}

// Subscription is a registered notification callback.
type Subscription struct {
	UserID      int64
	Appli       int
	CallbackURL string
	Comment     string
}

// Notification is what Notify posts to a callback.
type Notification struct {
	UserID     int64
	Appli      int
	Start, End time.Time // sent as startdate/enddate when not zero
	Date       string    // sent as date (Y-m-d) when not empty
	DeviceID   string
	Action     string // appli 46: "unlink", "delete", "update"
}

type user struct {
	User
	gen gen
}

type codeGrant struct {
	userID      int64
	scopes      []string
	redirectURI string
	expires     time.Time
}

type accessToken struct {
	userID      int64
	scopes      []string
	expires     time.Time
	fromRefresh string // the refresh token this pair rotated away from
}

type refreshToken struct {
	userID    int64
	scopes    []string
	expires   time.Time
	rotatedAt time.Time // zero until rotated
	dead      bool
}

type failure struct {
	op         string
	status     int // body status
	httpStatus int // when not 0, an HTTP error instead
	left       int
}

// Server is an httptest-based fake of the Withings cloud: OAuth authorize
// and token endpoints with rotating refresh tokens, the signature nonce,
// Measure (getmeas), Measure v2 (getactivity, getintradayactivity), Heart v2
// (list, get), Sleep v2 (get, getsummary), User v2 (getdevice) and Notify
// (subscribe, list, revoke), all with the {status, body} envelope, paging
// and the payload shapes of real Withings responses. Data is generated per
// user, deterministically. Errors can be injected per call (Fail,
// FailHTTP), tokens expired (ExpireAccessTokens) and a per-minute rate
// limit set (RateLimit). It is safe for concurrent use.
type Server struct {
	cfg     Config
	srv     *httptest.Server // nil for an in-process fake
	handler http.Handler
	client  *http.Client

	mu        sync.Mutex
	users     map[int64]*user
	approve   int64
	nextUser  int64
	codes     map[string]codeGrant
	access    map[string]*accessToken
	refresh   map[string]*refreshToken
	nonces    map[string]time.Time
	subs      []Subscription
	calls     []Call
	failures  []*failure
	rateLimit int
	minute    int64
	inMinute  int
	refreshes int
}

// InProcessURL is the base URL of a fake made by New: requests to it only
// work through the fake's Client.
const InProcessURL = "http://withingstest.invalid"

// NewServer starts a fake Withings cloud on a loopback listener; Close it
// when done.
func NewServer(cfg Config) *Server {
	s := New(cfg)
	// Set srv before serving: handlers read it, and a client may connect
	// as soon as the listener exists.
	s.srv = httptest.NewUnstartedServer(s.handler)
	s.srv.Start()
	return s
}

// New returns a fake that listens nowhere: its Client serves requests to
// InProcessURL in-process, without goroutines or sockets, so it also works
// inside a testing/synctest bubble (fake time for breakers and rate limits).
func New(cfg Config) *Server {
	cfg.ClientID = cmp.Or(cfg.ClientID, DefaultClientID)
	cfg.ClientSecret = cmp.Or(cfg.ClientSecret, DefaultClientSecret)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.PageSize = cmp.Or(cfg.PageSize, 20)
	cfg.AccessTokenTTL = cmp.Or(cfg.AccessTokenTTL, 3*time.Hour)
	cfg.RotationGrace = cmp.Or(cfg.RotationGrace, 8*time.Hour)
	s := &Server{
		cfg: cfg, client: cfg.HTTPClient,
		users: map[int64]*user{}, nextUser: 1000001,
		codes: map[string]codeGrant{}, access: map[string]*accessToken{}, refresh: map[string]*refreshToken{},
		nonces: map[string]time.Time{},
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 2 * time.Second}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth2_user/authorize2", s.authorize)
	mux.HandleFunc("/v2/oauth2", s.api(s.oauth2))
	mux.HandleFunc("/v2/signature", s.api(s.signature))
	mux.HandleFunc("/measure", s.api(s.measure))
	mux.HandleFunc("/v2/measure", s.api(s.measure))
	mux.HandleFunc("/v2/heart", s.api(s.heart))
	mux.HandleFunc("/v2/sleep", s.api(s.sleep))
	mux.HandleFunc("/v2/user", s.api(s.userAPI))
	mux.HandleFunc("/notify", s.api(s.notify))
	s.handler = mux
	return s
}

// URL is the base URL of both the API and the authorization host.
func (s *Server) URL() string {
	if s.srv == nil {
		return InProcessURL
	}
	return s.srv.URL
}

// Handler returns the fake's HTTP handler, to mount elsewhere.
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an HTTP client that reaches the fake: in-process for a
// fake made by New, through the listener for one made by NewServer.
func (s *Server) Client() *http.Client {
	if s.srv != nil {
		return s.srv.Client()
	}
	return &http.Client{Transport: inProcess{s.handler}}
}

// inProcess serves requests with a handler, without a network.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	sr := r.Clone(r.Context())
	if sr.Body == nil {
		sr.Body = http.NoBody
	}
	sr.RequestURI = r.URL.RequestURI()
	sr.RemoteAddr = "127.0.0.1:1"
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sr)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// ClientID returns the application id the fake accepts.
func (s *Server) ClientID() string { return s.cfg.ClientID }

// ClientSecret returns the application secret the fake accepts.
func (s *Server) ClientSecret() string { return s.cfg.ClientSecret }

// Close shuts the listener (if any) down.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.Close()
	}
}

// AddUser adds (or replaces) a user.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addUserLocked(u)
}

func (s *Server) addUserLocked(u User) *user {
	if u.TimeZone == "" {
		u.TimeZone = "Europe/Paris"
	}
	loc, err := time.LoadLocation(u.TimeZone)
	if err != nil {
		loc = time.UTC
		u.TimeZone = "UTC"
	}
	seed := u.Seed
	if seed == 0 {
		seed = uint64(u.ID) * 0x2545f4914f6cdd1d
	}
	x := &user{User: u, gen: gen{seed: seed ^ s.cfg.Seed, loc: loc}}
	s.users[u.ID] = x
	if u.ID >= s.nextUser {
		s.nextUser = u.ID + 1
	}
	return x
}

// ApproveAs makes the authorize endpoint approve as the given user (added
// if unknown). Zero (the default) creates a new user for every approval.
func (s *Server) ApproveAs(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if userID != 0 && s.users[userID] == nil {
		s.addUserLocked(User{ID: userID})
	}
	s.approve = userID
}

// IssueToken creates a token pair for a user (added if unknown) without the
// OAuth dance, with the given scopes (all when none).
func (s *Server) IssueToken(userID int64, scopes ...string) ohx.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.users[userID] == nil {
		s.addUserLocked(User{ID: userID})
	}
	if len(scopes) == 0 {
		scopes = []string{"user.info", "user.metrics", "user.activity"}
	}
	at, rt := s.issueLocked(userID, scopes, "")
	return ohx.Token{AccessToken: at, RefreshToken: rt, TokenType: "Bearer", Expiry: s.access[at].expires, Scope: strings.Join(scopes, ",")}
}

// ExpireAccessTokens makes every access token of the user expire now, as
// three hours passing would.
func (s *Server) ExpireAccessTokens(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	for _, a := range s.access {
		if a.userID == userID {
			a.expires = now.Add(-time.Second)
		}
	}
}

// RevokeUser invalidates every token of the user, as the user unlinking the
// application at Withings would.
func (s *Server) RevokeUser(userID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeLocked(userID)
}

func (s *Server) revokeLocked(userID int64) {
	for k, a := range s.access {
		if a.userID == userID {
			delete(s.access, k)
		}
	}
	for k, r := range s.refresh {
		if r.userID == userID {
			delete(s.refresh, k)
		}
	}
	s.subs = slices.DeleteFunc(s.subs, func(x Subscription) bool { return x.UserID == userID })
}

// Fail makes the next times calls of op (all operations when op is "")
// answer HTTP 200 with the given body status (401, 601, 522, …).
func (s *Server) Fail(op string, status, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{op: op, status: status, left: times})
}

// FailHTTP makes the next times calls of op answer with an HTTP error
// status (429, 502, …) and no envelope.
func (s *Server) FailHTTP(op string, httpStatus, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, &failure{op: op, httpStatus: httpStatus, left: times})
}

// ClearFailures removes every injected failure.
func (s *Server) ClearFailures() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = nil
}

// RateLimit limits the application to n calls per minute of the fake's
// clock (Withings allows 120); beyond it calls get status 601. Zero removes
// the limit.
func (s *Server) RateLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit = n
}

// Calls returns the calls received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsOf returns the calls of one operation.
func (s *Server) CallsOf(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the recorded calls.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Refreshes returns how many refresh-token grants succeeded.
func (s *Server) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshes
}

// Subscriptions returns the user's notification subscriptions.
func (s *Server) Subscriptions(userID int64) []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Subscription
	for _, x := range s.subs {
		if x.UserID == userID {
			out = append(out, x)
		}
	}
	return out
}

// Notify posts n, form-encoded as Withings does, to every callback the user
// subscribed for n.Appli, and fails when there is none or one does not
// answer with a status below 400.
func (s *Server) Notify(ctx context.Context, n Notification) error {
	var targets []string
	for _, x := range s.Subscriptions(n.UserID) {
		if x.Appli == n.Appli {
			targets = append(targets, x.CallbackURL)
		}
	}
	if len(targets) == 0 {
		return fmt.Errorf("withingstest: user %d has no subscription for appli %d", n.UserID, n.Appli)
	}
	form := url.Values{}
	form.Set("userid", strconv.FormatInt(n.UserID, 10))
	form.Set("appli", strconv.Itoa(n.Appli))
	if !n.Start.IsZero() {
		form.Set("startdate", strconv.FormatInt(n.Start.Unix(), 10))
	}
	if !n.End.IsZero() {
		form.Set("enddate", strconv.FormatInt(n.End.Unix(), 10))
	}
	if n.Date != "" {
		form.Set("date", n.Date)
	}
	if n.DeviceID != "" {
		form.Set("deviceid", n.DeviceID)
	}
	if n.Action != "" {
		form.Set("action", n.Action)
	}
	for _, cb := range targets {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, cb, strings.NewReader(form.Encode()))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := s.client.Do(req)
		if err != nil {
			return fmt.Errorf("withingstest: notify: %w", err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= 400 {
			return fmt.Errorf("withingstest: callback answered %d", resp.StatusCode)
		}
	}
	return nil
}

// --- plumbing ---------------------------------------------------------------

func randomToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Server) issueLocked(userID int64, scopes []string, from string) (string, string) {
	now := s.cfg.Now()
	at, rt := randomToken(), randomToken()
	s.access[at] = &accessToken{userID: userID, scopes: scopes, expires: now.Add(s.cfg.AccessTokenTTL), fromRefresh: from}
	s.refresh[rt] = &refreshToken{userID: userID, scopes: scopes, expires: now.Add(365 * 24 * time.Hour)}
	return at, rt
}

// request is one API call being served.
type request struct {
	op     string
	form   url.Values
	user   *user
	scopes []string
	now    time.Time
}

type reply struct {
	httpStatus int
	status     int
	body       any
	errText    string
}

func ok(body any) reply { return reply{status: StatusOK, body: body} }

func fail(status int, text string) reply { return reply{status: status, errText: text} }

var secretParams = []string{"access_token", "client_secret", "code", "refresh_token", "signature", "nonce"}

// opScopes says which scope each data operation needs.
var opScopes = map[string]string{
	OpGetmeas: "user.metrics", OpHeartList: "user.metrics", OpHeartGet: "user.metrics",
	OpGetActivity: "user.activity", OpGetIntradayActivity: "user.activity",
	OpSleepGet: "user.activity", OpSleepGetSummary: "user.activity", OpGetDevice: "user.info",
}

// api wraps an endpoint: it parses the form, records the call, applies
// injected failures and the rate limit, authenticates bearer calls and
// writes the envelope.
func (s *Server) api(h func(*request) reply) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			writeEnvelope(w, fail(StatusInvalidParams, "invalid form"))
			return
		}
		service := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/v2"), "/")
		req := &request{op: service + "." + r.Form.Get("action"), form: r.Form, now: s.cfg.Now()}
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if bearer == "" {
			bearer = r.Form.Get("access_token")
		}
		rep, done := s.gate(req, bearer)
		if !done {
			rep = h(req)
		}
		writeEnvelope(w, rep)
	}
}

// gate records the call and decides whether it is answered before its
// handler runs.
func (s *Server) gate(req *request, bearer string) (reply, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	params := url.Values{}
	for k, v := range req.form {
		if !slices.Contains(secretParams, k) {
			params[k] = slices.Clone(v)
		}
	}
	call := Call{Op: req.op, Params: params, At: req.now}
	var tok *accessToken
	if bearer != "" {
		tok = s.access[bearer]
		if tok != nil {
			call.UserID = tok.userID
		}
	}
	s.calls = append(s.calls, call)
	for _, f := range s.failures {
		if f.left > 0 && (f.op == "" || f.op == req.op) {
			f.left--
			if f.httpStatus != 0 {
				return reply{httpStatus: f.httpStatus}, true
			}
			return fail(f.status, "injected failure"), true
		}
	}
	if s.rateLimit > 0 {
		m := req.now.Unix() / 60
		if m != s.minute {
			s.minute, s.inMinute = m, 0
		}
		s.inMinute++
		if s.inMinute > s.rateLimit {
			return fail(StatusTooManyRequests, "Too Many Requests"), true
		}
	}
	need, data := opScopes[req.op]
	if !data && !strings.HasPrefix(req.op, "notify.") {
		return reply{}, false // token and signature endpoints authenticate themselves
	}
	if tok == nil || !req.now.Before(tok.expires) {
		return fail(StatusInvalidToken, "XRequestID: Not provided invalid_token: The access token provided is invalid"), true
	}
	if tok.fromRefresh != "" {
		// First use of a rotated pair's access token: the old refresh token dies.
		if old := s.refresh[tok.fromRefresh]; old != nil {
			old.dead = true
		}
		tok.fromRefresh = ""
	}
	if data && !slices.Contains(tok.scopes, need) {
		return fail(StatusUnauthorized, "scope not granted"), true
	}
	req.user = s.users[tok.userID]
	req.scopes = tok.scopes
	if req.user == nil {
		return fail(StatusInvalidToken, "unknown user"), true
	}
	return reply{}, false
}

func writeEnvelope(w http.ResponseWriter, rep reply) {
	if rep.httpStatus != 0 {
		http.Error(w, http.StatusText(rep.httpStatus), rep.httpStatus)
		return
	}
	env := map[string]any{"status": rep.status}
	if rep.body != nil {
		env["body"] = rep.body
	} else {
		env["body"] = struct{}{}
	}
	if rep.errText != "" {
		env["error"] = rep.errText
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(env)
}

func intParam(f url.Values, name string) (int64, bool) {
	v := f.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// --- OAuth ------------------------------------------------------------------

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	switch {
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("client_id") != s.cfg.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case redirect == "":
		http.Error(w, "redirect_uri is required", http.StatusBadRequest)
		return
	case len(s.cfg.RedirectURIs) > 0 && !slices.Contains(s.cfg.RedirectURIs, redirect):
		http.Error(w, "redirect_uri is not registered", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(redirect)
	if err != nil || u.Scheme == "" {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	var scopes []string
	for _, sc := range strings.Split(q.Get("scope"), ",") {
		switch sc = strings.TrimSpace(sc); sc {
		case "user.info", "user.metrics", "user.activity", "user.sleepevents":
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	if len(scopes) == 0 {
		http.Error(w, "no valid scope", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	id := s.approve
	if id == 0 {
		id = s.nextUser
		s.addUserLocked(User{ID: id})
	}
	code := randomToken()
	s.codes[code] = codeGrant{userID: id, scopes: scopes, redirectURI: redirect, expires: s.cfg.Now().Add(30 * time.Second)}
	s.mu.Unlock()
	rq := u.Query()
	rq.Set("code", code)
	rq.Set("state", q.Get("state"))
	u.RawQuery = rq.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (s *Server) sign(values ...string) string {
	m := hmac.New(sha256.New, []byte(s.cfg.ClientSecret))
	m.Write([]byte(strings.Join(values, ",")))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) oauth2(req *request) reply {
	f := req.form
	switch f.Get("action") {
	case "requesttoken":
		if f.Get("client_id") != s.cfg.ClientID || f.Get("client_secret") != s.cfg.ClientSecret {
			return fail(StatusInvalidParams, "invalid client")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var userID int64
		var scopes []string
		var from string
		switch f.Get("grant_type") {
		case "authorization_code":
			g, found := s.codes[f.Get("code")]
			delete(s.codes, f.Get("code"))
			if !found || !req.now.Before(g.expires) || g.redirectURI != f.Get("redirect_uri") {
				return fail(StatusInvalidParams, "invalid code")
			}
			userID, scopes = g.userID, g.scopes
		case "refresh_token":
			rt := f.Get("refresh_token")
			t := s.refresh[rt]
			if t == nil || t.dead || !req.now.Before(t.expires) ||
				(!t.rotatedAt.IsZero() && !req.now.Before(t.rotatedAt.Add(s.cfg.RotationGrace))) {
				return fail(StatusInvalidToken, "invalid refresh_token")
			}
			if t.rotatedAt.IsZero() {
				t.rotatedAt = req.now
			}
			userID, scopes, from = t.userID, t.scopes, rt
			s.refreshes++
		default:
			return fail(StatusInvalidParams, "invalid grant_type")
		}
		at, rt := s.issueLocked(userID, scopes, from)
		var uid any = userID
		if s.cfg.UserIDAsString {
			uid = strconv.FormatInt(userID, 10)
		}
		return ok(map[string]any{
			"userid": uid, "access_token": at, "refresh_token": rt,
			"expires_in": int(s.cfg.AccessTokenTTL / time.Second), "scope": strings.Join(scopes, ","),
			"csrf_token": randomToken()[:32], "token_type": "Bearer",
		})
	case "revoke":
		nonce := f.Get("nonce")
		s.mu.Lock()
		defer s.mu.Unlock()
		exp, found := s.nonces[nonce]
		delete(s.nonces, nonce)
		if f.Get("client_id") != s.cfg.ClientID || !found || !req.now.Before(exp) ||
			!hmac.Equal([]byte(f.Get("signature")), []byte(s.sign("revoke", s.cfg.ClientID, nonce))) {
			return fail(StatusInvalidParams, "invalid signature")
		}
		uid, _ := intParam(f, "userid")
		if s.users[uid] == nil {
			return fail(StatusInvalidParams, "unknown user")
		}
		s.revokeLocked(uid)
		return ok(nil)
	}
	return fail(StatusNotImplemented, "unknown action")
}

func (s *Server) signature(req *request) reply {
	f := req.form
	if f.Get("action") != "getnonce" {
		return fail(StatusNotImplemented, "unknown action")
	}
	ts := f.Get("timestamp")
	if f.Get("client_id") != s.cfg.ClientID ||
		!hmac.Equal([]byte(f.Get("signature")), []byte(s.sign("getnonce", s.cfg.ClientID, ts))) {
		return fail(StatusInvalidParams, "invalid signature")
	}
	n := randomToken()
	s.mu.Lock()
	s.nonces[n] = req.now.Add(30 * time.Minute)
	s.mu.Unlock()
	return ok(map[string]any{"nonce": n})
}

// --- data -------------------------------------------------------------------

func (s *Server) page(f url.Values, n int) (lo, hi int, more bool) {
	off, _ := intParam(f, "offset")
	lo = min(max(int(off), 0), n)
	hi = min(lo+s.cfg.PageSize, n)
	return lo, hi, hi < n
}

func epochRange(f url.Values, now time.Time, def time.Duration) (time.Time, time.Time) {
	to := now
	from := now.Add(-def)
	if v, ok := intParam(f, "startdate"); ok {
		from = time.Unix(v, 0)
	}
	if v, ok := intParam(f, "enddate"); ok {
		to = time.Unix(v, 0)
	}
	return from, to
}

func ymdRange(f url.Values, loc *time.Location, now time.Time) (time.Time, time.Time, bool) {
	a, err1 := time.ParseInLocation(time.DateOnly, f.Get("startdateymd"), loc)
	b, err2 := time.ParseInLocation(time.DateOnly, f.Get("enddateymd"), loc)
	if err1 != nil || err2 != nil || b.Before(a) {
		return time.Time{}, time.Time{}, false
	}
	return a, b, true
}

func (s *Server) measure(req *request) reply {
	g, f, now := req.user.gen, req.form, req.now
	switch f.Get("action") {
	case "getmeas":
		if f.Get("category") == "2" {
			return ok(map[string]any{"updatetime": now.Unix(), "timezone": req.user.TimeZone, "measuregrps": []any{}, "more": 0, "offset": 0})
		}
		var types []int
		for _, k := range []string{"meastype", "meastypes"} {
			for _, v := range strings.Split(f.Get(k), ",") {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					types = append(types, n)
				}
			}
		}
		var groups []MeasureGroup
		if lu, ok := intParam(f, "lastupdate"); ok {
			for _, grp := range g.measureGroups(time.Unix(lu, 0).Add(-48*time.Hour), now, now) {
				if grp.Modified >= lu {
					groups = append(groups, grp)
				}
			}
		} else {
			from, to := epochRange(f, now, 365*24*time.Hour)
			groups = g.measureGroups(from, to, now)
		}
		if len(types) > 0 {
			kept := groups[:0]
			for _, grp := range groups {
				grp.Measures = slices.DeleteFunc(slices.Clone(grp.Measures), func(m Measure) bool { return !slices.Contains(types, m.Type) })
				if len(grp.Measures) > 0 {
					kept = append(kept, grp)
				}
			}
			groups = kept
		}
		// Newest first, as Withings lists them.
		slices.SortStableFunc(groups, func(a, b MeasureGroup) int { return cmp.Compare(b.Date, a.Date) })
		lo, hi, more := s.page(f, len(groups))
		m := 0
		if more {
			m = 1
		}
		return ok(map[string]any{"updatetime": now.Unix(), "timezone": req.user.TimeZone,
			"measuregrps": groups[lo:hi], "more": m, "offset": hi})
	case "getactivity":
		var days []Activity
		if lu, ok := intParam(f, "lastupdate"); ok {
			for _, d := range g.days(time.Unix(lu, 0), now) {
				if a := g.activity(d, now); a.Modified >= lu && !d.midnight.After(now) {
					days = append(days, a)
				}
			}
		} else {
			a, b, valid := ymdRange(f, g.loc, now)
			if !valid {
				return fail(StatusInvalidParams, "invalid startdateymd/enddateymd")
			}
			for d := a; !d.After(b) && !d.After(now); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, g.loc) {
				days = append(days, g.activity(dayOf(d, g.loc), now))
			}
		}
		lo, hi, more := s.page(f, len(days))
		return ok(map[string]any{"activities": days[lo:hi], "more": more, "offset": hi})
	case "getintradayactivity":
		from, to := epochRange(f, now, 24*time.Hour)
		fields := f.Get("data_fields")
		hr := fields == "" || strings.Contains(fields, "heart_rate")
		steps := fields == "" || strings.Contains(fields, "steps")
		series := g.intraday(from, to, now, hr, steps)
		if len(series) == 0 {
			return ok(map[string]any{"series": []any{}})
		}
		return ok(map[string]any{"series": series})
	}
	return fail(StatusNotImplemented, "unknown action")
}

func (s *Server) heart(req *request) reply {
	g, f, now := req.user.gen, req.form, req.now
	switch f.Get("action") {
	case "list":
		from, to := epochRange(f, now, 365*24*time.Hour)
		items := g.ecgs(from, to, now)
		slices.Reverse(items) // newest first
		lo, hi, more := s.page(f, len(items))
		return ok(map[string]any{"series": items[lo:hi], "more": more, "offset": hi})
	case "get":
		id, valid := intParam(f, "signalid")
		if !valid || id%10 != 1 {
			return fail(StatusInvalidParams, "invalid signalid")
		}
		t := time.Unix(id/10, 0)
		et, has := g.ecgTime(dayOf(t, g.loc))
		if !has || !et.Equal(t) || t.After(now) {
			return fail(StatusInvalidParams, "invalid signalid")
		}
		it := g.ecgItem(t)
		return ok(map[string]any{"signal": g.ecgSignal(t, it.HeartRate), "sampling_frequency": ECGSamplingFrequency,
			"wearposition": 1, "model": 93, "heart_rate": it.HeartRate})
	}
	return fail(StatusNotImplemented, "unknown action")
}

func (s *Server) sleep(req *request) reply {
	g, f, now := req.user.gen, req.form, req.now
	switch f.Get("action") {
	case "getsummary":
		var out []SleepSummary
		if lu, ok := intParam(f, "lastupdate"); ok {
			for _, d := range g.days(time.Unix(lu, 0), now) {
				if sm := g.summary(d); sm.Modified >= lu && sm.EndDate <= now.Unix() {
					out = append(out, sm)
				}
			}
		} else {
			a, b, valid := ymdRange(f, g.loc, now)
			if !valid {
				return fail(StatusInvalidParams, "invalid startdateymd/enddateymd")
			}
			for d := a; !d.After(b); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, g.loc) {
				if sm := g.summary(dayOf(d, g.loc)); sm.EndDate <= now.Unix() {
					out = append(out, sm)
				}
			}
		}
		slices.Reverse(out) // newest first
		lo, hi, more := s.page(f, len(out))
		return ok(map[string]any{"series": out[lo:hi], "more": more, "offset": hi})
	case "get":
		from, to := epochRange(f, now, 24*time.Hour)
		fields := map[string]bool{}
		for _, k := range strings.Split(f.Get("data_fields"), ",") {
			fields[strings.TrimSpace(k)] = true
		}
		if f.Get("data_fields") == "" {
			fields = map[string]bool{"hr": true, "rr": true, "rmssd": true, "sdnn_1": true}
		}
		segs := g.sleepSegments(from, to, now, fields)
		if segs == nil {
			segs = []SleepSegment{}
		}
		return ok(map[string]any{"series": segs, "model": 32})
	}
	return fail(StatusNotImplemented, "unknown action")
}

func (s *Server) userAPI(req *request) reply {
	if req.form.Get("action") != "getdevice" {
		return fail(StatusNotImplemented, "unknown action")
	}
	tz := req.user.TimeZone
	now := req.now.Unix()
	dev := func(typ, model string, modelID int, battery, id string, first int64) map[string]any {
		return map[string]any{"type": typ, "battery": battery, "model": model, "model_id": modelID, "timezone": tz,
			"first_session_date": first, "last_session_date": now - 3600, "deviceid": id, "hash_deviceid": id}
	}
	first := req.now.AddDate(-1, 0, 0).Unix()
	return ok(map[string]any{"devices": []any{
		dev("Scale", "Body+", 5, "high", DeviceScale, first),
		dev("Blood Pressure Monitor", "BPM Connect", 45, "medium", DeviceBPM, first),
		dev("Activity Tracker", "ScanWatch", 93, "low", DeviceWatch, first),
		dev("Sleep Monitor", "Sleep Analyzer", 63, "unknown", DeviceSleep, first),
	}})
}

// --- notify -----------------------------------------------------------------

var validApplis = []int{1, 2, 4, 16, 44, 46, 50, 51, 52, 54, 55, 58}

func (s *Server) notify(req *request) reply {
	f := req.form
	uid := req.user.ID
	switch f.Get("action") {
	case "subscribe":
		cb := f.Get("callbackurl")
		appli, _ := intParam(f, "appli")
		if cb == "" || !slices.Contains(validApplis, int(appli)) {
			return fail(StatusInvalidParams, "invalid params")
		}
		for _, x := range s.Subscriptions(uid) {
			if x.Appli == int(appli) && x.CallbackURL == cb {
				return ok(nil)
			}
		}
		if !s.probe(cb) {
			return fail(StatusCallbackInvalid, "The callback URL is either unknown or invalid")
		}
		s.mu.Lock()
		s.subs = append(s.subs, Subscription{UserID: uid, Appli: int(appli), CallbackURL: cb, Comment: f.Get("comment")})
		s.mu.Unlock()
		return ok(nil)
	case "list":
		appli, filter := intParam(f, "appli")
		profiles := []map[string]any{}
		for _, x := range s.Subscriptions(uid) {
			if !filter || int64(x.Appli) == appli {
				profiles = append(profiles, map[string]any{"appli": x.Appli, "callbackurl": x.CallbackURL, "expires": 2147483647, "comment": x.Comment})
			}
		}
		return ok(map[string]any{"profiles": profiles})
	case "revoke":
		cb := f.Get("callbackurl")
		appli, _ := intParam(f, "appli")
		s.mu.Lock()
		s.subs = slices.DeleteFunc(s.subs, func(x Subscription) bool {
			return x.UserID == uid && x.Appli == int(appli) && x.CallbackURL == cb
		})
		s.mu.Unlock()
		return ok(nil)
	}
	return fail(StatusNotImplemented, "unknown action")
}

// probe sends the HEAD request Withings sends to a callback on subscribe.
func (s *Server) probe(cb string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, cb, nil)
	if err != nil {
		return false
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// APIBaseURL is the fake's API base URL, for withings.Config.APIBaseURL
// (the same as URL).
func (s *Server) APIBaseURL() string { return s.URL() }

// AuthURL is the fake's authorize endpoint, for withings.Config.AuthURL.
func (s *Server) AuthURL() string { return s.URL() + "/oauth2_user/authorize2" }

// TokenURL is the fake's token endpoint (/v2/oauth2 on the API host), which
// withings.Config derives from APIBaseURL when its TokenURL is empty.
func (s *Server) TokenURL() string { return s.URL() + "/v2/oauth2" }
