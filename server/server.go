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
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"

	"github.com/openhealthexchange/ohx"
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
// (ohx.Store) and the listing of links its scheduler reads
// (store.LinkLister). store.Memory, store/sqlite and store/postgres implement
// it; a store that cannot list links does not compile as one. A store that
// also implements store.SyncStatusStore gets the outcome of every sync
// recorded, and GET /v1/links/{id} shows it.
type Store interface {
	ohx.Store
	store.LinkLister
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
	// StateTTL is how long a link's consent may take; 0 means 15 minutes.
	StateTTL time.Duration
	// APIKeys are the bearer keys of /v1. Empty disables /v1 (except the
	// OpenAPI document): there is no unauthenticated API.
	APIKeys []string
	// RedirectAllowlist holds the URL prefixes success and error URLs must
	// start with (scheme, host and path prefix).
	RedirectAllowlist []string
	// Debounce delays push jobs so a burst of webhooks coalesces; 0 means 10 s.
	Debounce time.Duration
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
	s := &Server{cfg: cfg, providers: map[string]ohx.Provider{}}
	for _, p := range cfg.Providers {
		s.providers[p.Name()] = p
	}
	if s.cfg.StateTTL <= 0 {
		s.cfg.StateTTL = 15 * time.Minute
	}
	s.state = stateSigner{key: cfg.StateKey, ttl: s.cfg.StateTTL}
	if s.cfg.Debounce == 0 {
		s.cfg.Debounce = 10 * time.Second
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
		if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("server: public URL must be an absolute http(s) URL")
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
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("server: redirect allow-list entry %q is not an absolute http(s) URL", a)
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
	api("GET /v1/providers", s.listProviders)
	api("POST /v1/links", s.createLink)
	api("GET /v1/links", s.listLinks)
	api("GET /v1/links/{id}", s.getLink)
	api("DELETE /v1/links/{id}", s.deleteLink)
	api("POST /v1/links/{id}/sync", s.syncLink)
	api("POST /v1/links/{id}/devices/sync", s.syncDevices)
	api("GET /v1/links/{id}/devices", s.listDevices)
	api("GET /v1/jobs/{id}", s.getJob)
	api("GET /v1/breakers", s.listBreakers)
	api("POST /v1/breakers/{name}/close", s.closeBreaker)
	api("GET /v1/queue", s.queueStats)
	api("POST /v1/queue/dead/{id}/retry", s.retryDead)

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

	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.MetricsHandler != nil {
		mux.Handle("GET /metrics", s.cfg.MetricsHandler)
	}
	return s.requestID(mux)
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
			w.Header().Set("WWW-Authenticate", `Bearer realm="ohx"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "a valid API key is required")
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
