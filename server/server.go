package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/store"
)

// APIMetrics receives one observation per API request, by route pattern.
type APIMetrics interface {
	// APIRequest observes a request.
	APIRequest(method, route string, status int, d time.Duration)
}

// Check is a dependency probe for /readyz and /healthz.
type Check struct {
	// Name names the dependency ("store", "queue", "fhir").
	Name string
	// Probe returns nil when the dependency answers.
	Probe func(ctx context.Context) error
	// Optional checks are reported but do not make /readyz fail (a FHIR
	// destination whose breaker is open is degraded, not unready).
	Optional bool
}

// Store is what a Server needs of a store: links, sealed tokens and cursors
// (ohx.Store), the listing of links its scheduler reads (store.LinkLister),
// the patient connect flows (store.ConnectStore) and the deletion of a
// revoked link's token (store.TokenDeleter). store.Memory, store/sqlite and store/postgres implement
// it; a store that cannot list links does not compile as one. A store that
// also implements store.SyncStatusStore gets the outcome of every sync
// recorded, and GET /v1/links/{id} shows it.
type Store interface {
	ohx.Store
	store.LinkLister
	store.ConnectStore
	store.TokenDeleter
}

// Config wires a Server. Store, Queue and StateKey are required, and Engine
// when there are Providers; the zero value of every other field is a
// sensible default.
type Config struct {
	// Store holds links, sealed tokens and cursors.
	Store Store
	// Queue receives jobs; the worker consumes it.
	Queue ohx.Queue
	// Engine runs jobs. It may be nil only when Providers is empty: such a
	// server answers health probes and the API (GET /v1/providers lists
	// nothing, POST /v1/links answers 400), and RunWorkers refuses to start.
	Engine *ohx.Engine
	// Providers are the enabled providers (the same as the engine's).
	Providers []ohx.Provider
	// PublicURL is the externally visible base URL (OAuth callbacks).
	PublicURL string
	// StateKey signs OAuth states and derives PKCE verifiers; 32 bytes at
	// least (derive it from the key ring, never reuse the sealing key).
	StateKey []byte
	// StateTTL is how long the patient may take at the provider, from the
	// connect page's button to the OAuth callback; 0 means 15 minutes.
	StateTTL time.Duration
	// OrganizationName is the organisation the connect page names as the
	// one asking for the data; empty means the catalog's "org.default"
	// ("Your care provider").
	OrganizationName string
	// ConnectTTL is how long a connect page may wait to be opened (and its
	// form to be sent); 0 means DefaultConnectTTL (15 minutes).
	ConnectTTL time.Duration
	// PendingLinkTTL is how long a link may stay pending; the scheduler
	// then deletes it and its connect flow. 0 means DefaultPendingLinkTTL
	// (1 hour); it must be at least ConnectTTL + StateTTL.
	PendingLinkTTL time.Duration
	// Messages are translations of the patient-facing pages by BCP 47
	// language tag ("de", "fr-CA"), picked by the browser's
	// Accept-Language; English (DefaultMessages) is the default and fills
	// every id a translation lacks.
	Messages map[string]Messages
	// APIKeys are the bearer keys of /v1. Empty disables /v1 (except the
	// OpenAPI document): there is no unauthenticated API.
	APIKeys []string
	// RedirectAllowlist holds the URL prefixes success and error URLs must
	// start with (scheme, host and path prefix).
	RedirectAllowlist []string
	// Debounce delays push jobs so a burst of webhooks coalesces; 0 means 10 s.
	Debounce time.Duration
	// PushMaxAge bounds how far before its arrival a notification's window
	// may start (earlier is cut); 0 means DefaultPushMaxAge (7 days).
	PushMaxAge time.Duration
	// PushMaxAhead bounds how far after now a notification's window may end
	// (later is cut); 0 means DefaultPushMaxAhead (5 minutes).
	PushMaxAhead time.Duration
	// MaxBackfill is the furthest back a backfill window of
	// POST /v1/links/{id}/sync may start (400 beyond it, and for a window
	// ending in the future); 0 means DefaultMaxBackfill (365 days).
	MaxBackfill time.Duration
	// AuthFailuresPerMinute is how many failed API authentications one
	// client address may make per minute (burst as many) before every
	// request from it answers 429 for a while; 0 means 10. Each failure is
	// audited ("api.auth_failed"), the throttled ones are counted in the log.
	AuthFailuresPerMinute int
	// ClientIP returns a request's client address for the limit of failed
	// authentications and its audit records; nil means the connection's
	// remote address. Behind a reverse proxy, read the header it sets.
	ClientIP func(r *http.Request) (netip.Addr, bool)
	// SeparateOps takes /metrics, /livez, /readyz and /healthz off Handler;
	// serve OpsHandler on an internal listener instead.
	SeparateOps bool
	// GroupCommit tunes how concurrent notifications share the queue's
	// round trips when Queue implements queue.BatchEnqueuer (queue.Memory
	// and redisq.Queue do); the zero value is queue's defaults. A queue that
	// does not batch gets one Enqueue per notification.
	GroupCommit queue.GroupCommitConfig
	// NotifyLinkTTL is how long the link a notification was looked up for
	// is reused for later notifications of the same user, so a burst costs
	// a few store queries instead of one each; 0 means
	// DefaultNotifyLinkTTL, negative turns it off. Only found links are
	// kept, this server's own link writes forget them, and the worker
	// re-checks the link before it syncs, so a stale answer costs at most a
	// job that ends at once.
	NotifyLinkTTL time.Duration
	// Admin exposes queue and breaker operations; optional.
	Admin Admin
	// Checks are the readiness and health probes.
	Checks []Check
	// RateLimit and Burst limit /v1 requests per API key; 0 means 20/s, 40.
	RateLimit rate.Limit
	Burst     int
	// MaxBodyBytes limits request bodies of the API and webhooks; 0 means 1 MiB.
	MaxBodyBytes int64
	// Logger receives operational logs, Audit the audit trail; nil means none.
	Logger *zap.Logger
	Audit  *zap.Logger
	// Metrics receives library metrics; APIMetrics API request metrics.
	Metrics    ohx.Metrics
	APIMetrics APIMetrics
	// MetricsHandler serves /metrics when set.
	MetricsHandler http.Handler
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnSync, when set, is called after every job the worker ran, with the
	// engine's report (counts only).
	OnSync func(j ohx.Job, rep *ohx.Report, err error)
	// Events receives the events of links and syncs (package events): an
	// events.Webhook to the EHR, or an application's in-process sink. Each
	// event is written to the store's outbox in the same transaction as the
	// change it reports (the store must be a store.Changer and a
	// store.Outbox, as every store of ohx is), and RunEvents delivers it.
	// nil writes no event.
	Events events.Sink
	// EventDelivery tunes RunEvents; its zero value is ready to use.
	EventDelivery EventDelivery
}

// Server serves the API, the OAuth callback, webhooks and health endpoints,
// and runs workers and the scheduler.
type Server struct {
	cfg       Config
	providers map[string]ohx.Provider
	state     stateSigner
	keys      []apiKey
	limiters  sync.Map           // key id → *rate.Limiter
	group     *queue.GroupCommit // notified jobs; nil when the queue does not batch
	lookups   singleflight.Group // notified users' link lookups in flight
	notified  *notifyLinks       // links looked up for notifications
	allow     []*url.URL
	secure    bool // PublicURL is https: the binding cookie is __Host- and Secure
	messages  *catalogs
	failures  authFailures
	outbox    eventStore    // the store's outbox when events are configured
	wake      chan struct{} // wakes RunEvents after events were written
}

type apiKey struct {
	id  string
	sum [32]byte
}

// New checks cfg and returns a server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("server: a store is required")
	case cfg.Queue == nil:
		return nil, errors.New("server: a queue is required")
	case cfg.Engine == nil && len(cfg.Providers) > 0:
		return nil, errors.New("server: an engine is required to sync the providers")
	case len(cfg.StateKey) < 32:
		return nil, errors.New("server: the state key must be at least 32 bytes")
	}
	s := &Server{cfg: cfg, providers: map[string]ohx.Provider{}, wake: make(chan struct{}, 1)}
	if cfg.Events != nil {
		es, ok := cfg.Store.(eventStore)
		if !ok {
			return nil, errors.New("server: events need a store with an outbox (store.Changer and store.Outbox)")
		}
		s.outbox = es
	}
	s.cfg.EventDelivery = cfg.EventDelivery.withDefaults()
	for _, p := range cfg.Providers {
		s.providers[p.Name()] = p
	}
	if s.cfg.StateTTL <= 0 {
		s.cfg.StateTTL = 15 * time.Minute
	}
	if err := s.consentDefaults(); err != nil {
		return nil, err
	}
	s.state = stateSigner{key: cfg.StateKey, ttl: s.cfg.StateTTL}
	if s.cfg.Debounce == 0 {
		s.cfg.Debounce = 10 * time.Second
	}
	if err := s.boundDefaults(); err != nil {
		return nil, err
	}
	if s.cfg.NotifyLinkTTL == 0 {
		s.cfg.NotifyLinkTTL = DefaultNotifyLinkTTL
	}
	if bq, ok := cfg.Queue.(queue.BatchEnqueuer); ok {
		g, err := queue.NewGroupCommit(bq, cfg.GroupCommit)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.group = g
	}
	if s.cfg.RateLimit == 0 {
		s.cfg.RateLimit, s.cfg.Burst = 20, 40
	}
	if s.cfg.MaxBodyBytes <= 0 {
		s.cfg.MaxBodyBytes = 1 << 20
	}
	if s.cfg.Logger == nil {
		s.cfg.Logger = zap.NewNop()
	}
	if s.cfg.Audit == nil {
		s.cfg.Audit = zap.NewNop()
	}
	if s.cfg.Metrics == nil {
		s.cfg.Metrics = ohx.NopMetrics{}
	}
	if s.cfg.Now == nil {
		s.cfg.Now = time.Now
	}
	s.notified = &notifyLinks{ttl: s.cfg.NotifyLinkTTL, now: s.cfg.Now, links: map[notifyKey]cachedLink{}}
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, errors.New("server: public URL must be an absolute http(s) URL without query")
		}
		s.secure = u.Scheme == "https"
	}
	for _, p := range cfg.Providers {
		if _, ok := p.(ohx.Authorizer); ok && cfg.PublicURL == "" {
			return nil, errors.New("server: a public URL is required to link accounts (the connect page and OAuth callbacks live there)")
		}
	}
	for _, k := range cfg.APIKeys {
		if len(k) < 16 {
			return nil, errors.New("server: API keys must be at least 16 characters")
		}
		s.keys = append(s.keys, apiKey{id: KeyID(k), sum: sha256.Sum256([]byte(k))})
	}
	for _, a := range cfg.RedirectAllowlist {
		u, err := url.Parse(a)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("server: redirect allow-list entry %q is not an absolute http(s) URL without query", a)
		}
		if _, ok := pathSegments(u); !ok {
			return nil, fmt.Errorf("server: redirect allow-list entry %q has dot or encoded-slash segments", a)
		}
		s.allow = append(s.allow, u)
	}
	return s, nil
}

// KeyID returns the public id of an API key (for audit records and logs):
// the first 12 hex digits of its SHA-256.
func KeyID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "key-" + hex.EncodeToString(sum[:6])
}

// Handler returns the whole HTTP surface: /v1, /oauth, /webhooks, health and
// /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	api := func(pattern string, h http.HandlerFunc) {
		method, route, _ := strings.Cut(pattern, " ")
		mux.Handle(pattern, s.observe(method, route, s.authenticate(h)))
	}
	mux.Handle("GET /v1/openapi.json", s.observe("GET", "/v1/openapi.json", http.HandlerFunc(serveOpenAPI)))
	for _, r := range s.routes() {
		api(r.Method+" "+r.Pattern, r.handler)
	}

	mux.Handle("GET /connect/{secret}", s.observe("GET", "/connect/{secret}", http.HandlerFunc(s.connectPage)))
	mux.Handle("POST /connect/{secret}", s.observe("POST", "/connect/{secret}", http.HandlerFunc(s.connectContinue)))
	mux.Handle("GET /oauth/{provider}/callback", s.observe("GET", "/oauth/{provider}/callback", http.HandlerFunc(s.callback)))
	mux.Handle("HEAD /oauth/{provider}/callback", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))

	for name, p := range s.providers {
		wr, ok := p.(ohx.WebhookReceiver)
		if !ok {
			continue
		}
		h := s.webhook(name, wr.WebhookHandler(s.Notify))
		mux.Handle("/webhooks/"+name, h)
		mux.Handle("/webhooks/"+name+"/", h)
	}

	if !s.cfg.SeparateOps {
		s.opsRoutes(mux)
	}
	return s.requestID(mux)
}

// OpsHandler serves what an operator's tools read: /livez, /readyz,
// /healthz and /metrics (when Config.MetricsHandler is set). Handler serves
// them too unless Config.SeparateOps moves them here alone, for a listener
// the internet does not reach.
func (s *Server) OpsHandler() http.Handler {
	mux := http.NewServeMux()
	s.opsRoutes(mux)
	return s.requestID(mux)
}

func (s *Server) opsRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.cfg.MetricsHandler)
	}
}

// Route is one /v1 route: its method, its pattern (as metrics and logs name
// it) and the status of a successful answer.
type Route struct {
	Method, Pattern string
	Status          int
	handler         http.HandlerFunc
}

// routes is the table of the authenticated /v1 routes.
func (s *Server) routes() []Route {
	return []Route{
		{"GET", "/v1/providers", http.StatusOK, s.listProviders},
		{"POST", "/v1/links", http.StatusCreated, s.createLink},
		{"GET", "/v1/links", http.StatusOK, s.listLinks},
		{"GET", "/v1/links/{id}", http.StatusOK, s.getLink},
		{"DELETE", "/v1/links/{id}", http.StatusOK, s.deleteLink},
		{"POST", "/v1/links/{id}/sync", http.StatusAccepted, s.syncLink},
		{"POST", "/v1/links/{id}/devices/sync", http.StatusAccepted, s.syncDevices},
		{"GET", "/v1/links/{id}/devices", http.StatusOK, s.listDevices},
		{"GET", "/v1/links/{id}/jobs", http.StatusOK, s.linkJobs},
		{"GET", "/v1/jobs/{id}", http.StatusOK, s.getJob},
		{"DELETE", "/v1/jobs/{id}", http.StatusAccepted, s.cancelJob},
		{"GET", "/v1/breakers", http.StatusOK, s.listBreakers},
		{"POST", "/v1/breakers/{name}/close", http.StatusOK, s.closeBreaker},
		{"GET", "/v1/queue", http.StatusOK, s.queueStats},
		{"POST", "/v1/queue/dead/{id}/retry", http.StatusAccepted, s.retryDead},
		{"GET", "/v1/events", http.StatusOK, s.listEvents},
		{"POST", "/v1/events/{id}/retry", http.StatusAccepted, s.retryEvent},
	}
}

// Routes returns the /v1 routes Handler serves (the OpenAPI document's
// included), for an application that declares its API metrics up front.
func Routes() []Route {
	rs := (*Server)(nil).routes()
	out := []Route{{Method: "GET", Pattern: "/v1/openapi.json", Status: http.StatusOK}}
	for _, r := range rs {
		r.handler = nil
		out = append(out, r)
	}
	return out
}

type ctxKey int

const (
	keyIDKey ctxKey = iota
	requestIDKey
)

func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := newID("req-")
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// observe logs and measures a request by its route pattern, never its raw
// path or query (which may hold ids or codes).
func (s *Server) observe(method, route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(sw, r)
		d := s.cfg.Now().Sub(start)
		if s.cfg.APIMetrics != nil {
			s.cfg.APIMetrics.APIRequest(method, route, sw.code(), d)
		}
		rid, _ := r.Context().Value(requestIDKey).(string)
		s.cfg.Logger.Info("api request", zap.String("request_id", rid), zap.String("method", method),
			zap.String("route", route), zap.Int("status", sw.code()), zap.Duration("duration", d))
	})
}

// webhook wraps a provider's webhook handler with a body limit, metrics and
// a log line without payload.
func (s *Server) webhook(provider string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Now()
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		next.ServeHTTP(sw, r)
		s.cfg.Metrics.WebhookRequest(provider, sw.code())
		rid, _ := r.Context().Value(requestIDKey).(string)
		s.cfg.Logger.Info("webhook", zap.String("request_id", rid), zap.String("provider", provider),
			zap.Int("status", sw.code()), zap.Duration("duration", s.cfg.Now().Sub(start)))
	})
}

// authenticate checks the bearer API key in constant time against every
// configured key, then the key's rate limit.
func (s *Server) authenticate(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.authThrottled(w, r) {
			return
		}
		auth := r.Header.Get("Authorization")
		token, ok := strings.CutPrefix(auth, "Bearer ")
		var id string
		if ok && token != "" {
			sum := sha256.Sum256([]byte(token))
			for _, k := range s.keys {
				if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
					id = k.id
				}
			}
		}
		if id == "" {
			s.authFailed(w, r)
			return
		}
		lim, _ := s.limiters.LoadOrStore(id, rate.NewLimiter(s.cfg.RateLimit, s.cfg.Burst))
		if !lim.(*rate.Limiter).Allow() {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusTooManyRequests, "rate_limited", "too many requests")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), keyIDKey, id)))
	}
}

func keyIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyIDKey).(string)
	return id
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the error body of every /v1 answer.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// decodeJSON reads a JSON body strictly: the content type must be JSON and
// unknown fields are rejected.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "the body is too large")
			return false
		}
		writeError(w, http.StatusBadRequest, "invalid_body", "the body is not valid JSON for this operation")
		return false
	}
	return true
}
