package main

import (
	"fmt"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/withings"
)

// newProviders builds the providers whose client id is set. The store, the
// locker and the breaker registry must be ready. None is not an error: serve
// then answers health probes and the API, and says so in the log.
func (a *app) newProviders(opt wireOptions) ([]ohx.Provider, error) {
	var out []ohx.Provider
	if a.cfg.WithingsClientID != "" {
		p, err := a.newWithings(opt)
		if err != nil {
			return nil, fmt.Errorf("withings: %w", err)
		}
		out = append(out, p)
	}
	if a.cfg.GoogleClientID != "" {
		p, err := a.newFitbit(opt)
		if err != nil {
			return nil, fmt.Errorf("fitbit: %w", err)
		}
		out = append(out, p)
	}
	if a.cfg.Oura.ClientID != "" {
		p, err := a.newOura(opt) // oura.go
		if err != nil {
			return nil, fmt.Errorf("oura: %w", err)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		a.log.Warn("no provider is configured: set OHX_WITHINGS_CLIENT_ID, OHX_GOOGLE_CLIENT_ID and/or OHX_OURA_CLIENT_ID; " +
			"the API and health endpoints answer, but nothing can be linked or synced")
	}
	return out, nil
}

func (a *app) newWithings(opt wireOptions) (*withings.Provider, error) {
	cfg := a.cfg
	return withings.New(withings.Config{
		ClientID: cfg.WithingsClientID, ClientSecret: cfg.WithingsClientSecret,
		RedirectURL: cfg.PublicURL + "/oauth/withings/callback",
		CallbackURL: cfg.PublicURL + "/webhooks/withings/" + cfg.WithingsWebhookSecret,
		APIBaseURL:  cfg.WithingsAPIURL, AuthURL: cfg.WithingsAuthURL,
		Webhook: withings.WebhookConfig{Secret: cfg.WithingsWebhookSecret, AllowCIDRs: cidrStrings(cfg)},
		Common: provider.Common{
			Tokens: a.store, Locker: a.locker, HTTPClient: opt.httpClient, Breakers: a.breakers,
			AppLimit: resilience.PerMinute(cfg.WithingsPerMinute), Logger: a.log,
			Metrics: a.metrics, Now: opt.clientNow,
		},
	})
}

func (a *app) newFitbit(opt wireOptions) (*fitbit.Provider, error) {
	cfg := a.cfg
	return fitbit.New(fitbit.Config{
		ClientID: cfg.GoogleClientID, ClientSecret: cfg.GoogleClientSecret,
		RedirectURL: cfg.PublicURL + "/oauth/fitbit/callback",
		AuthURL:     cfg.GoogleAuthURL, TokenURL: cfg.GoogleTokenURL, RevokeURL: cfg.GoogleRevokeURL,
		APIBaseURL: cfg.GoogleHealthAPIURL, KeysetURL: cfg.GoogleKeysetURL, WebhookSecret: cfg.GoogleWebhookSecret,
		WebhookReplays: a.replays,
		Common: provider.Common{
			Tokens: a.store, Locker: a.locker, Breakers: a.breakers, HTTPClient: opt.httpClient,
			UserLimit: resilience.PerMinute(cfg.GooglePerMinute), Logger: a.log,
			Metrics: a.metrics, Now: opt.clientNow,
		},
	})
}

func cidrStrings(cfg *config) []string {
	var out []string
	for _, n := range cfg.WithingsAllowedCIDRs {
		out = append(out, n.String())
	}
	return out
}
