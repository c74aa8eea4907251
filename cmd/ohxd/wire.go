package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/metrics/prom"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store/seal"
)

// The daemon is built by small builders, each in the file of its part:
// logs and metrics (here), the store (store.go), the queue and refresh
// locks (queue.go), the providers (providers.go), the destination
// (destination.go), the engine and the server (here). wire runs them all
// for serve, demo and sync; keys rewrap opens the store alone.

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
	locker    ohx.Locker
	replays   provider.Replays // webhook replay marks; nil means each provider's in-process default
	breakers  *resilience.Breakers
	providers []ohx.Provider
	publisher ohx.Publisher
	fhir      *publish.FHIR // nil with NDJSON
	engine    *ohx.Engine   // nil without providers
	events    events.Sink   // nil without OHX_EVENTS_URL
	server    *server.Server
	schedule  queue.Clock // the scheduler's clock; nil means the system's
	closers   []func() error
}

// wireOptions lets the demo and tests adjust the wiring.
type wireOptions struct {
	httpClient *http.Client  // outbound client for providers (fakes' TLS)
	debounce   time.Duration // queue and webhook debounce; 0 means the configuration's
	logOut     io.Writer
	now        func() time.Time // engine, mapping and API clock
	clientNow  func() time.Time // providers' clock (token expiry); nil means now
	onSync     func(ohx.Job, *ohx.Report, error)
	fhirRetry  resilience.RetrySettings // FHIR publisher's retries; zero means publish's defaults
	schedule   queue.Clock              // the scheduler's clock; nil means the system's
}

// withDefaults fills the options the configuration decides.
func (o wireOptions) withDefaults(cfg *config) wireOptions {
	if o.logOut == nil {
		o.logOut = os.Stderr
	}
	if o.debounce == 0 {
		o.debounce = cfg.WebhookDebounce
	}
	if o.clientNow == nil {
		o.clientNow = o.now
	}
	return o
}

// wire builds every part of the daemon. On error, what was opened is closed.
func wire(ctx context.Context, cfg *config, opt wireOptions) (*app, error) {
	opt = opt.withDefaults(cfg)
	a := &app{cfg: cfg, schedule: opt.schedule}
	if err := a.build(ctx, opt); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// build runs the builders in order; each needs what the ones before built.
func (a *app) build(ctx context.Context, opt wireOptions) (err error) {
	if err = a.openLogs(opt.logOut); err != nil {
		return err
	}
	if a.registry, a.metrics, err = newMetrics(); err != nil {
		return err
	}
	if err = a.openStore(ctx); err != nil {
		return err
	}
	if err = a.openQueue(ctx, opt.debounce); err != nil {
		return err
	}
	a.breakers = resilience.NewBreakers(resilience.BreakersConfig{Metrics: a.metrics, Logger: a.log})
	if a.providers, err = a.newProviders(opt); err != nil {
		return err
	}
	if err = a.openDestination(opt); err != nil {
		return err
	}
	if a.engine, err = a.newEngine(opt.now); err != nil {
		return err
	}
	if a.events, err = a.newEventSink(); err != nil {
		return err
	}
	if a.server, err = a.newServer(opt); err != nil {
		return err
	}
	a.declareMetrics(ctx)
	return nil
}

// close closes what wire opened, last first.
func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
	a.closers = nil
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

// openLogs builds the operational log on out and the audit trail (the
// operational log's "audit" child, or a file of its own).
func (a *app) openLogs(out io.Writer) (err error) {
	if a.log, err = newLogger(a.cfg.LogLevel, out); err != nil {
		return err
	}
	a.audit = a.log.Named("audit")
	if a.cfg.AuditLog == "stderr" {
		return nil
	}
	f, err := os.OpenFile(a.cfg.AuditLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("OHX_AUDIT_LOG: %w", err)
	}
	a.closers = append(a.closers, f.Close)
	a.audit, err = newLogger("info", f)
	return err
}

// newMetrics returns a Prometheus registry with the Go and process
// collectors and the library's metrics.
func newMetrics() (*prometheus.Registry, *prom.Metrics, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := prom.New(reg)
	return reg, m, err
}

// newEngine builds the engine: the FHIR mapping, the aggregation policy and
// the default strategy (the engine aligns it to the hourly aggregator's
// buckets). Without providers there is no engine, and no error: serve still
// answers health probes and the API.
func (a *app) newEngine(now func() time.Time) (*ohx.Engine, error) {
	if len(a.providers) == 0 {
		return nil, nil
	}
	// In the conditional write modes the server assigns ids: a reference
	// names its resource by business identifier, which holds whatever call
	// wrote the resource (an hour's Provenance lists resources written by
	// earlier calls).
	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: version, Now: now, Version: a.cfg.FHIRVersion,
		LogicalReferences: a.cfg.FHIRWriteMode != publish.WritePut && a.cfg.FHIRURL != ""})
	if err != nil {
		return nil, err
	}
	policy := &ohx.Policy{DefaultAggregation: a.cfg.Aggregation,
		MaxLookback: days(a.cfg.MaxLookbackDays), MaxBackfill: days(a.cfg.MaxBackfillDays)}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	if err != nil {
		return nil, err
	}
	return ohx.NewEngine(ohx.EngineConfig{
		Providers: a.providers, Links: a.store, Cursors: a.store, Aggregator: agg, Transformer: tr,
		Publisher: a.publisher, Policy: policy, Logger: a.log, Metrics: a.metrics, Now: now,
		Strategy: ohx.DefaultStrategy{InitialLookback: days(a.cfg.InitialDays)},
	})
}

// newServer builds the HTTP face, the workers and the scheduler around the
// engine, with the queue and breaker operations of server.NewAdmin.
func (a *app) newServer(opt wireOptions) (*server.Server, error) {
	stateKey, err := a.ring.SubKey("oauth-state")
	if err != nil {
		return nil, err
	}
	return server.New(server.Config{
		Store: a.store, Queue: a.queue, Engine: a.engine, Providers: a.providers, PublicURL: a.cfg.PublicURL,
		StateKey: stateKey, APIKeys: a.cfg.APIKeys, RedirectAllowlist: a.cfg.RedirectAllowlist, Debounce: opt.debounce,
		Admin: server.NewAdmin(a.queue, a.breakers), Checks: a.checks(), Logger: a.log, Audit: a.audit,
		Metrics: a.metrics, APIMetrics: a.metrics, MetricsHandler: promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}),
		Now: opt.now, OnSync: opt.onSync, Events: a.events,
		OrganizationName: a.cfg.OrganizationName, ConnectTTL: a.cfg.ConnectTTL, StateTTL: a.cfg.ConnectTTL,
		PendingLinkTTL: a.cfg.PendingLinkTTL, MaxBackfill: days(a.cfg.MaxBackfillDays), SeparateOps: a.cfg.AdminAddr != "",
	})
}

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// checks are the readiness probes: the store and the queue, and the FHIR
// destination's breaker as an optional check.
func (a *app) checks() []server.Check {
	checks := []server.Check{
		{Name: "store", Probe: func(ctx context.Context) error {
			_, err := a.store.Link(ctx, "ohx-readiness-probe")
			return ignoreNotFound(err)
		}},
		{Name: "queue", Probe: func(ctx context.Context) error { _, err := a.queue.Stats(ctx); return err }},
	}
	if a.fhir != nil {
		checks = append(checks, server.Check{Name: "fhir", Optional: true, Probe: func(context.Context) error {
			if a.fhir.BreakerState() == int(resilience.BreakerOpen) {
				return fmt.Errorf("breaker open: %w", ohx.ErrCircuitOpen)
			}
			return nil
		}})
	}
	return checks
}

func ignoreNotFound(err error) error {
	if errors.Is(err, ohx.ErrNotFound) {
		return nil
	}
	return err
}
