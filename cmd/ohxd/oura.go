package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
)

// The Oura provider in the daemon: its configuration rows, its builder and
// the keeping of the application's webhook subscriptions. Oura's
// subscriptions belong to the application, not to a link (one per event and
// data type), so they are not an ohx.Subscriber's per-link subscriptions:
// the daemon ensures them once its HTTP server listens (Oura calls the
// callback to verify each new one) and then daily, renewing them before
// they expire. Heart rate has no webhook: the server's scheduler polls it
// hourly for realtime Oura links (oura.Provider.PolledTypes).

// ouraConfig is the Oura part of the configuration.
type ouraConfig struct {
	ClientID, ClientSecret, WebhookToken string
	APIURL, AuthURL, TokenURL, RevokeURL string
	PerMinute                            int
	ManageSubscriptions                  bool
}

func setOuraManage(c *config, v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.Oura.ManageSubscriptions = true
		return errors.New("must be true or false")
	}
	c.Oura.ManageSubscriptions = b
	return nil
}

// checkOura returns the problems of the Oura rows together.
func (c *config) checkOura() []error {
	if c.Oura.ClientID == "" {
		return nil
	}
	var errs []error
	if c.Oura.ClientSecret == "" {
		errs = append(errs, errors.New("OHX_OURA_CLIENT_SECRET: required when OHX_OURA_CLIENT_ID is set"))
	}
	if len(c.Oura.WebhookToken) < 16 {
		errs = append(errs, errors.New("OHX_OURA_WEBHOOK_TOKEN: required when the oura provider is enabled, at least 16 characters"))
	}
	return errs
}

// ouraCallbackPath is where the daemon mounts Oura's webhook receiver
// (server.Server mounts every provider's at /webhooks/{name}).
const ouraCallbackPath = "/webhooks/" + oura.Name

func (a *app) newOura(opt wireOptions) (*oura.Provider, error) {
	cfg := a.cfg
	return oura.New(oura.Config{
		ClientID: cfg.Oura.ClientID, ClientSecret: cfg.Oura.ClientSecret,
		RedirectURL: cfg.PublicURL + "/oauth/" + oura.Name + "/callback",
		APIBaseURL:  cfg.Oura.APIURL, AuthURL: cfg.Oura.AuthURL, TokenURL: cfg.Oura.TokenURL, RevokeURL: cfg.Oura.RevokeURL,
		Webhook: oura.WebhookConfig{CallbackURL: cfg.PublicURL + ouraCallbackPath, VerificationToken: cfg.Oura.WebhookToken},
		Common: provider.Common{
			Tokens: a.store, Locker: a.locker, Breakers: a.breakers, HTTPClient: opt.httpClient,
			UserLimit: resilience.PerMinute(cfg.Oura.PerMinute), Logger: a.log,
			Metrics: a.metrics, Now: opt.clientNow,
		},
	})
}

// ouraProvider returns the wired Oura provider, or nil.
func (a *app) ouraProvider() *oura.Provider {
	for _, p := range a.providers {
		if o, ok := p.(*oura.Provider); ok {
			return o
		}
	}
	return nil
}

// ouraSubscriptionRun bounds one run of EnsureSubscriptions: creating the 15
// subscriptions waits for Oura's verification call each time, which took
// up to a minute.
const ouraSubscriptionRun = 30 * time.Minute

// subscriptionKeeper keeps the Oura application's webhook subscriptions.
// One run at a time: a run still going when another is asked for (start-up
// and the scheduler, or a slow verification) is not doubled.
type subscriptionKeeper struct {
	p       *oura.Provider
	log     *zap.Logger
	running atomic.Bool
}

// newSubscriptionKeeper returns the keeper of the wired Oura provider, or
// nil when Oura is not enabled or the operator manages the subscriptions.
func (a *app) newSubscriptionKeeper() *subscriptionKeeper {
	p := a.ouraProvider()
	if p == nil || !a.cfg.Oura.ManageSubscriptions {
		return nil
	}
	k := &subscriptionKeeper{p: p, log: a.log.With(zap.String("provider", oura.Name))}
	if !strings.HasPrefix(a.cfg.PublicURL, "https://") {
		k.log.Warn("OHX_PUBLIC_URL is not https: Oura verifies webhook callbacks over HTTPS with a complete certificate chain, so creating subscriptions will likely fail")
	}
	return k
}

// ensure runs EnsureSubscriptions once (unless a run is going on) and logs
// what it did; failures are returned for the scheduler's log.
func (k *subscriptionKeeper) ensure(ctx context.Context, _ time.Time) error {
	if !k.running.CompareAndSwap(false, true) {
		k.log.Info("oura webhook subscriptions: a run is still going on")
		return nil
	}
	defer k.running.Store(false)
	ctx, cancel := context.WithTimeout(ctx, ouraSubscriptionRun)
	defer cancel()
	rep, err := k.p.EnsureSubscriptions(ctx)
	fields := []zap.Field{zap.Int("created", len(rep.Created)), zap.Int("renewed", len(rep.Renewed)), zap.Int("kept", len(rep.Kept))}
	if !rep.NextRenewal.IsZero() {
		fields = append(fields, zap.Time("next_renewal", rep.NextRenewal))
	}
	k.log.Info("oura webhook subscriptions ensured", fields...)
	return err
}

// entries are the keeper's scheduler entries: a daily run (renewal is due
// 14 days before expiry, so a day late changes nothing).
func (k *subscriptionKeeper) entries() []queue.Entry {
	if k == nil {
		return nil
	}
	daily, _ := queue.Every(24 * time.Hour)
	return []queue.Entry{{Name: "oura-subscriptions", Schedule: daily, Run: k.ensure}}
}

// ensureOnStart runs the keeper once in the background, for a daemon that
// serves the webhook receiver: its HTTP server already listens, so Oura's
// verification calls reach it.
func (k *subscriptionKeeper) ensureOnStart(ctx context.Context, wg *sync.WaitGroup) {
	if k == nil {
		return
	}
	wg.Go(func() {
		if err := k.ensure(ctx, time.Time{}); err != nil && ctx.Err() == nil {
			k.log.Warn("oura webhook subscriptions could not all be ensured; the daily run tries again", zap.Error(err))
		}
	})
}
