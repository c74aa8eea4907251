package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/metrics/prom"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/redisq"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/postgres"
	"github.com/openhealthexchange/ohx/store/redislock"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
	"github.com/openhealthexchange/ohx/withings"
)

// durableStore is what the daemon needs of a store.
type durableStore interface {
	ohx.Store
	store.LinkLister
	store.SyncStatusStore
	store.Rewrapper
	Close() error
}

// adminQueue is what the daemon needs of a queue.
type adminQueue interface {
	ohx.Queue
	queue.Inspector
}

// app is the wired daemon: every part built from the configuration.
type app struct {
	cfg       *config
	log       *zap.Logger
	audit     *zap.Logger
	registry  *prometheus.Registry
	metrics   *prom.Metrics
	ring      *seal.KeyRing
	store     durableStore
	queue     adminQueue
	breakers  *resilience.Breakers
	providers []ohx.Provider
	publisher ohx.Publisher
	fhir      *publish.FHIR // nil with NDJSON
	ndjson    *publish.NDJSON
	engine    *ohx.Engine
	server    *server.Server
	closers   []func() error
}

// wireOptions lets the demo and tests adjust the wiring.
type wireOptions struct {
	httpClient *http.Client  // outbound client for providers (fakes' TLS)
	debounce   time.Duration // queue and webhook debounce
	logOut     io.Writer
	now        func() time.Time // engine, mapping and API clock
	clientNow  func() time.Time // providers' clock (token expiry); nil means now
	onSync     func(ohx.Job, *ohx.Report, error)
	fhirRetry  resilience.RetrySettings // FHIR destination retries; zero means publish's defaults
}

func newLogger(level string, out io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(out), lvl)
	return zap.New(core), nil
}

// loadKeyRing reads OHX_SECRET_KEYS or, for the embedded SQLite store only,
// creates (once) a key file in the data directory with mode 0600.
func loadKeyRing(cfg *config, log *zap.Logger) (*seal.KeyRing, error) {
	if cfg.SecretKeys != "" {
		ring, err := seal.ParseKeyRing(cfg.SecretKeys)
		if err != nil {
			return nil, fmt.Errorf("OHX_SECRET_KEYS: %w", err)
		}
		return ring, nil
	}
	if cfg.DatabaseURL != "" {
		return nil, errors.New("OHX_SECRET_KEYS is required with PostgreSQL")
	}
	path := filepath.Join(cfg.DataDir, "secret-keys")
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		ring, err := seal.ParseKeyRing(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return ring, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("key file: %w", err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	k, err := seal.GenerateKey("k1")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(k.Encode() + "\n"); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	log.Warn("generated a secret key ring in the data directory; back it up, or set OHX_SECRET_KEYS", zap.String("path", path))
	return seal.NewKeyRing(k)
}

func wire(ctx context.Context, cfg *config, opt wireOptions) (a *app, err error) {
	if opt.logOut == nil {
		opt.logOut = os.Stderr
	}
	a = &app{cfg: cfg}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.log, err = newLogger(cfg.LogLevel, opt.logOut); err != nil {
		return nil, err
	}
	a.audit = a.log.Named("audit")
	if cfg.AuditLog != "stderr" {
		f, err := os.OpenFile(cfg.AuditLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("OHX_AUDIT_LOG: %w", err)
		}
		a.closers = append(a.closers, f.Close)
		if a.audit, err = newLogger("info", f); err != nil {
			return nil, err
		}
	}
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if a.metrics, err = prom.New(a.registry); err != nil {
		return nil, err
	}
	if a.ring, err = loadKeyRing(cfg, a.log); err != nil {
		return nil, err
	}

	// Store: PostgreSQL when configured, else the embedded SQLite file.
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, a.ring, postgres.WithLogger(a.log))
		if err != nil {
			return nil, fmt.Errorf("open PostgreSQL store: %w", err)
		}
		a.store = pgStore{st}
	} else {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, err
		}
		st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ohx.db"), a.ring, sqlite.WithLogger(a.log))
		if err != nil {
			return nil, fmt.Errorf("open SQLite store: %w", err)
		}
		a.store = st
	}
	a.closers = append(a.closers, a.store.Close)

	// Queue and refresh locks: Redis when configured, else in memory and the
	// store's own lease lock.
	var locker ohx.Locker = a.store
	debounce := opt.debounce
	if debounce == 0 {
		debounce = cfg.WebhookDebounce
	}
	clientNow := opt.clientNow
	if clientNow == nil {
		clientNow = opt.now
	}
	if cfg.RedisURL != "" {
		ropt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, errors.New("OHX_REDIS_URL is not a valid redis URL")
		}
		if ropt.PoolSize == 0 {
			// Webhook bursts enqueue concurrently (each enqueue is a short
			// WATCH/MULTI transaction holding a connection); go-redis's default
			// of 10 per CPU starves them. A pool_size in the URL wins.
			ropt.PoolSize = 128
		}
		rdb := redis.NewClient(ropt)
		a.closers = append(a.closers, rdb.Close)
		if err := rdb.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("redis: %w", err)
		}
		q, err := redisq.New(rdb, redisq.Config{Namespace: cfg.RedisNamespace, Concurrency: cfg.Workers, Debounce: debounce, Logger: a.log, Metrics: a.metrics})
		if err != nil {
			return nil, err
		}
		a.queue = q
		if locker, err = redislock.New(rdb, redislock.WithLogger(a.log)); err != nil {
			return nil, err
		}
	} else {
		q, err := queue.NewMemory(queue.Config{Concurrency: cfg.Workers, Debounce: debounce, Logger: a.log, Metrics: a.metrics})
		if err != nil {
			return nil, err
		}
		a.queue = q
	}

	a.breakers = resilience.NewBreakers(resilience.BreakersConfig{Metrics: a.metrics, Logger: a.log})
	if cfg.WithingsClientID != "" {
		p, err := withings.New(withings.Config{
			ClientID: cfg.WithingsClientID, ClientSecret: cfg.WithingsClientSecret,
			RedirectURL: cfg.PublicURL + "/oauth/withings/callback",
			CallbackURL: cfg.PublicURL + "/webhooks/withings/" + cfg.WithingsWebhookSecret,
			APIBaseURL:  cfg.WithingsAPIURL, AuthURL: cfg.WithingsAuthURL,
			Webhook: withings.WebhookConfig{Secret: cfg.WithingsWebhookSecret, AllowCIDRs: cidrStrings(cfg)},
			Common: provider.Common{
				Tokens: a.store, Locker: locker, HTTPClient: opt.httpClient, Breakers: a.breakers,
				AppLimit: resilience.PerMinute(cfg.WithingsPerMinute), Logger: a.log,
				Metrics: a.metrics, Now: clientNow,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("withings: %w", err)
		}
		a.providers = append(a.providers, p)
	}
	if cfg.GoogleClientID != "" {
		p, err := fitbit.New(fitbit.Config{
			ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
			RedirectURL: cfg.PublicURL + "/oauth/fitbit/callback",
			AuthURL:     cfg.GoogleAuthURL, TokenURL: cfg.GoogleTokenURL, RevokeURL: cfg.GoogleRevokeURL,
			APIBaseURL: cfg.GoogleHealthAPIURL, KeysetURL: cfg.GoogleKeysetURL, WebhookSecret: cfg.GoogleWebhookSecret,
			Common: provider.Common{
				Tokens: a.store, Locker: locker, Breakers: a.breakers, HTTPClient: opt.httpClient,
				UserLimit: resilience.PerMinute(cfg.GooglePerMinute), Logger: a.log,
				Metrics: a.metrics, Now: clientNow,
			},
		})
		if err != nil {
			return nil, fmt.Errorf("fitbit: %w", err)
		}
		a.providers = append(a.providers, p)
	}
	if len(a.providers) == 0 {
		a.log.Warn("no provider is configured: set OHX_WITHINGS_CLIENT_ID and/or OHX_GOOGLE_CLIENT_ID")
	}

	// Destination: a FHIR server when configured, else NDJSON files.
	if cfg.FHIRURL != "" {
		auth, err := fhirAuth(cfg, opt.httpClient)
		if err != nil {
			return nil, err
		}
		a.fhir, err = publish.NewFHIR(publish.FHIRConfig{BaseURL: cfg.FHIRURL, BundleSize: cfg.FHIRBundleSize, Mode: cfg.FHIRWriteMode,
			HTTPClient: opt.httpClient, Auth: auth, Retry: opt.fhirRetry, Breakers: a.breakers, Logger: a.log, Metrics: a.metrics})
		if err != nil {
			return nil, fmt.Errorf("FHIR destination: %w", err)
		}
		a.publisher = a.fhir
	} else {
		a.ndjson, err = publish.NewNDJSON(cfg.NDJSONDir, publish.WithNDJSONLogger(a.log), publish.WithNDJSONMetrics(a.metrics))
		if err != nil {
			return nil, fmt.Errorf("NDJSON destination: %w", err)
		}
		a.closers = append(a.closers, a.ndjson.Close)
		a.publisher = flushingNDJSON{a.ndjson}
	}

	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: version, Now: opt.now})
	if err != nil {
		return nil, err
	}
	policy := &ohx.Policy{DefaultAggregation: ohx.AggregationMode(cfg.Aggregation)}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	if err != nil {
		return nil, err
	}
	a.engine, err = ohx.NewEngine(ohx.EngineConfig{
		Providers: a.providers, Links: a.store, Cursors: a.store, Aggregator: agg, Transformer: tr,
		Publisher: a.publisher, Policy: policy, Logger: a.log, Metrics: a.metrics, Now: opt.now,
		Strategy: ohx.DefaultStrategy{InitialLookback: time.Duration(cfg.InitialDays) * 24 * time.Hour, Align: alignerOf(agg)},
	})
	if err != nil && len(a.providers) == 0 {
		// An engine needs a provider; serve still answers health and API
		// calls without one.
		a.engine = nil
	} else if err != nil {
		return nil, err
	}

	checks := []server.Check{
		{Name: "store", Probe: func(ctx context.Context) error {
			_, err := a.store.Link(ctx, "ohx-readiness-probe")
			return ignoreNotFound(err)
		}},
		{Name: "queue", Probe: func(ctx context.Context) error { _, err := a.queue.Stats(ctx); return err }},
	}
	if a.fhir != nil {
		checks = append(checks, server.Check{Name: "fhir", Optional: true, Probe: func(context.Context) error {
			if a.fhir.Breaker().Status().State == resilience.BreakerOpen {
				return fmt.Errorf("breaker open: %w", ohx.ErrCircuitOpen)
			}
			return nil
		}})
	}
	stateKey, err := a.ring.SubKey("oauth-state")
	if err != nil {
		return nil, err
	}
	if a.engine != nil {
		a.server, err = server.New(server.Config{
			Store: a.store, Queue: a.queue, Engine: a.engine, Providers: a.providers, PublicURL: cfg.PublicURL,
			StateKey: stateKey, APIKeys: cfg.APIKeys, RedirectAllowlist: cfg.RedirectAllowlist, Debounce: debounce,
			Admin: adminOf{a}, Checks: checks, Logger: a.log, Audit: a.audit, Metrics: a.metrics, APIMetrics: a.metrics,
			MetricsHandler: promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}), Now: opt.now, OnSync: opt.onSync,
		})
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
}

func cidrStrings(cfg *config) []string {
	var out []string
	for _, n := range cfg.WithingsAllowedCIDRs {
		out = append(out, n.String())
	}
	return out
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ohx.ErrNotFound) {
		return nil
	}
	return err
}

func alignerOf(agg ohx.Aggregator) ohx.BucketAligner {
	if al, ok := agg.(ohx.BucketAligner); ok {
		return al
	}
	return nil
}

// fhirAuth builds the FHIR destination's token source: SMART Backend
// Services (private key), client credentials (secret), a static bearer
// token, or none.
func fhirAuth(cfg *config, client *http.Client) (oauth2.TokenSource, error) {
	switch {
	case cfg.FHIRTokenURL != "" && cfg.FHIRPrivateKeyFile != "":
		pemBytes, err := os.ReadFile(cfg.FHIRPrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("OHX_FHIR_PRIVATE_KEY_FILE: %w", err)
		}
		key, err := parsePrivateKey(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("OHX_FHIR_PRIVATE_KEY_FILE: %w", err)
		}
		return publish.SMARTBackend(publish.SMARTConfig{TokenURL: cfg.FHIRTokenURL, ClientID: cfg.FHIRClientID,
			Key: key, Scopes: cfg.FHIRScopes, HTTPClient: client})
	case cfg.FHIRTokenURL != "":
		return publish.ClientCredentials(clientcredentials.Config{ClientID: cfg.FHIRClientID, ClientSecret: cfg.FHIRClientSecret,
			TokenURL: cfg.FHIRTokenURL, Scopes: cfg.FHIRScopes}, client, 0), nil
	case cfg.FHIRBearerToken != "":
		return publish.StaticToken(cfg.FHIRBearerToken), nil
	}
	return nil, nil
}

func parsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported private key (want PKCS#8, PKCS#1 RSA or SEC 1 EC)")
}

// flushingNDJSON flushes the NDJSON files after every publish, so what the
// daemon acknowledged is on disk before cursors move.
type flushingNDJSON struct{ *publish.NDJSON }

func (f flushingNDJSON) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	res, err := f.NDJSON.Publish(ctx, rs)
	if err != nil {
		return res, err
	}
	return res, f.Flush(ctx)
}

// adminOf adapts the queue's inspector and the breaker registries to the
// server's Admin.
type adminOf struct{ a *app }

func jobStatus(ji queue.JobInfo) server.JobStatus {
	updated := ji.FinishedAt
	if updated.IsZero() {
		updated = ji.NextRunAt
	}
	return server.JobStatus{ID: ji.Job.ID, State: string(ji.State), Job: ji.Job, Attempts: ji.Job.Attempt,
		LastError: ji.LastError, Updated: updated}
}

func (ad adminOf) Job(ctx context.Context, id string) (server.JobStatus, error) {
	ji, err := ad.a.queue.Job(ctx, id)
	if err != nil {
		return server.JobStatus{}, err
	}
	return jobStatus(ji), nil
}

func (ad adminOf) QueueStats(ctx context.Context) (server.QueueStats, error) {
	st, err := ad.a.queue.Stats(ctx)
	if err != nil {
		return server.QueueStats{}, err
	}
	out := server.QueueStats{Depth: map[string]int{}, Dead: []server.JobStatus{}}
	for _, p := range st.Priorities {
		out.Depth[fmt.Sprintf("priority-%d", p.Priority)] = p.Depth()
	}
	dead, err := ad.a.queue.DeadLetters(ctx)
	if err != nil {
		return server.QueueStats{}, err
	}
	for _, d := range dead {
		out.Dead = append(out.Dead, jobStatus(d))
	}
	return out, nil
}

func (ad adminOf) RetryDead(ctx context.Context, id string) error {
	err := ad.a.queue.Replay(ctx, id)
	if errors.Is(err, queue.ErrNotDead) {
		return fmt.Errorf("%w: job is not a dead letter", ohx.ErrNotFound)
	}
	return err
}

// Breakers lists the shared registry, which holds every breaker (providers
// and the FHIR destination) under the name CloseBreaker takes.
func (ad adminOf) Breakers() []server.BreakerStatus {
	var out []server.BreakerStatus
	for _, b := range ad.a.breakers.Status() {
		out = append(out, server.BreakerStatus{Name: b.Name, State: b.State.String(), Failures: b.ConsecutiveFailures,
			OpenedAt: b.OpenedAt, LastFailure: b.LastFailure})
	}
	return out
}

func (ad adminOf) CloseBreaker(name string) error {
	if err := ad.a.breakers.ForceClose(name); err != nil {
		return fmt.Errorf("%w: %w", ohx.ErrNotFound, err)
	}
	return nil
}

// pgStore gives the PostgreSQL store the Close signature of the others.
type pgStore struct{ *postgres.Store }

func (s pgStore) Close() error {
	s.Store.Close()
	return nil
}
