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

	"github.com/openhealthexchange/ohx/server"
)

func init() { commands["serve"] = runServe }

// runServe runs the API, webhooks, workers and scheduler (or some of them)
// until SIGTERM or SIGINT, then shuts down gracefully: the listener stops
// taking requests, in-flight requests get 10 s, workers finish or hand back
// their jobs.
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
	a, err := wire(ctx, cfg, wireOptions{logOut: stderr})
	if err != nil {
		return err
	}
	defer a.close()
	if a.server == nil {
		return errors.New("no provider is configured: set OHX_WITHINGS_CLIENT_ID and/or OHX_GOOGLE_CLIENT_ID (see README)")
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return a.serve(ctx, ln, !*workerOnly, !*apiOnly)
}

// serve runs the HTTP server on ln and, when asked, the workers and the
// scheduler, until ctx ends.
func (a *app) serve(ctx context.Context, ln net.Listener, api, workers bool) error {
	h := a.server.Handler()
	if !api {
		// Worker-only replicas still answer health probes and /metrics.
		mux := http.NewServeMux()
		for _, p := range []string{"/livez", "/readyz", "/healthz", "/metrics"} {
			mux.Handle(p, h)
		}
		h = mux
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	a.log.Info("ohxd serving", zap.String("addr", ln.Addr().String()), zap.Bool("api", api), zap.Bool("workers", workers),
		zap.Int("providers", len(a.providers)), zap.String("version", version))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
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
	if workers {
		wg.Go(func() {
			if err := a.server.RunWorkers(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("workers: %w", err)
			}
		})
		wg.Go(func() {
			if err := a.server.RunScheduler(ctx, server.SchedulerConfig{NightlyAt: a.cfg.NightlyAt}); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("scheduler: %w", err)
			}
		})
	}
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
