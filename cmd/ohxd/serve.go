package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
)

func init() { commands["serve"] = runServe }

// runServe runs the API, webhooks, workers and scheduler (or some of them)
// until SIGTERM or SIGINT, then shuts down gracefully: the listener stops
// taking requests, in-flight requests get 10 s, workers finish or hand back
// their jobs. Without a provider it serves health, metrics and the API
// only, and warns.
func runServe(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	apiOnly := fs.Bool("api-only", false, "serve the API and webhooks only (no workers, no scheduler)")
	workerOnly := fs.Bool("worker-only", false, "run workers and the scheduler only (health endpoints still served)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *apiOnly && *workerOnly {
		return errors.New("-api-only and -worker-only exclude each other")
	}
	cfg, err := loadConfig(environ)
	if err != nil {
		return err
	}
	if cfg.TLSKeyFile != "" {
		if _, err := readPrivate(cfg.TLSKeyFile); err != nil {
			return fmt.Errorf("OHX_TLS_KEY_FILE: %w", err)
		}
	}
	a, err := wire(ctx, cfg, wireOptions{logOut: stderr})
	if err != nil {
		return err
	}
	defer a.close()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.AdminAddr != "" {
		adminLn, err := lc.Listen(ctx, "tcp", cfg.AdminAddr)
		if err != nil {
			_ = ln.Close()
			return err
		}
		stop := a.serveOps(adminLn)
		defer stop()
	}
	return a.serve(ctx, ln, !*workerOnly, !*apiOnly)
}

// serveOps serves /metrics and the health probes on their own listener
// (OHX_ADMIN_ADDR) and returns the function that stops it.
func (a *app) serveOps(ln net.Listener) func() {
	srv := &http.Server{Handler: a.server.OpsHandler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("admin listener failed", zap.Error(err))
		}
	}()
	a.log.Info("ohxd serving metrics and health on the admin listener", zap.String("addr", ln.Addr().String()))
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// serve runs the HTTP server on ln and, when asked and a provider is
// configured, the workers and the scheduler, until ctx ends.
func (a *app) serve(ctx context.Context, ln net.Listener, api, workers bool) error {
	srv := a.httpServer(api)
	if workers && a.engine == nil {
		// Jobs already queued (a shared Redis queue, links of a provider
		// no longer configured) wait for a daemon that can run them.
		a.log.Warn("no provider is configured: no workers and no scheduler run")
		workers = false
	}
	a.log.Info("ohxd serving", zap.String("addr", ln.Addr().String()), zap.Bool("api", api), zap.Bool("workers", workers),
		zap.Int("providers", len(a.providers)), zap.String("version", version))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	subs := a.newSubscriptionKeeper() // oura.go
	wg.Go(func() {
		var err error
		if a.cfg.TLSCertFile != "" {
			err = srv.ServeTLS(ln, a.cfg.TLSCertFile, a.cfg.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
		}
	})
	if api {
		subs.ensureOnStart(ctx, &wg) // the listener is open: Oura's verification calls queue until Serve takes them
	}
	if workers {
		// The FHIR server's release is checked before any worker writes;
		// the listener already answers the health probes meanwhile.
		if err := a.checkDestination(ctx); err != nil {
			errs <- fmt.Errorf("FHIR destination: %w", err)
		} else {
			a.runWorkers(ctx, &wg, errs, subs.entries())
		}
	}
	wg.Go(func() { a.runEvents(ctx, errs) })
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	a.log.Info("ohxd shutting down")
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		a.log.Warn("http shutdown", zap.Error(err))
	}
	cancel()
	wg.Wait()
	return runErr
}

// httpServer returns the HTTP server of the whole surface or, for a
// worker-only replica, of the health probes and /metrics only.
func (a *app) httpServer(api bool) *http.Server {
	h := a.server.Handler()
	if !api {
		mux := http.NewServeMux()
		if a.cfg.AdminAddr == "" {
			for _, p := range []string{"/livez", "/readyz", "/healthz", "/metrics"} {
				mux.Handle(p, h)
			}
		}
		h = mux
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
}

// runWorkers starts the workers and the scheduler (with the daemon's own
// entries besides the server's) on wg; their failures go to errs.
func (a *app) runWorkers(ctx context.Context, wg *sync.WaitGroup, errs chan<- error, entries []queue.Entry) {
	wg.Go(func() {
		if err := a.server.RunWorkers(ctx); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("workers: %w", err)
		}
	})
	wg.Go(func() {
		if err := a.server.RunScheduler(ctx, server.SchedulerConfig{Nightly: a.cfg.Nightly, Entries: entries, Clock: a.schedule}); err != nil && ctx.Err() == nil {
			errs <- fmt.Errorf("scheduler: %w", err)
		}
	})
}
