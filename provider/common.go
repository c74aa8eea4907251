package provider

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/openhealthexchange/ohx"
)

// Common is the part of a provider's configuration that every provider
// built on this toolkit shares: the token store and its refresh lock, the
// HTTP client, the circuit breaker, the rate limits, the retries and the
// observability hooks. A provider embeds it in its own Config, beside its
// credentials and endpoints, so that every provider names these settings
// alike:
//
//	type Config struct {
//		ClientID, ClientSecret, RedirectURL string
//		APIBaseURL, AuthURL, TokenURL       string
//		provider.Common
//	}
//
// and a user fills it as one field:
//
//	withings.Config{ClientID: id, ClientSecret: secret,
//		Common: provider.Common{Tokens: st, Locker: st, Logger: log}}
//
// The zero value of every field means a sensible default; where the best
// value depends on the provider (its documented rate limit, how long a call
// may wait for it), the provider says so in the [Defaults] it passes to
// [Common.Build].
type Common struct {
	// Tokens keeps each link's sealed token; every call made for a link
	// (fetching, devices, subscriptions, revoking) needs it. A provider
	// without one can still link (AuthCodeURL, Exchange).
	Tokens ohx.TokenStore
	// Locker serializes the token refreshes of a link (lock
	// "refresh:<link id>"), across processes when it is shared; nil means a
	// LocalLocker, enough for a single process.
	Locker ohx.Locker

	// HTTPClient sends every request of the provider (API, OAuth and key
	// endpoints); nil means NewHTTPClient() (TLS 1.2 or newer) with Timeout
	// as its overall timeout.
	HTTPClient *http.Client
	// Timeout bounds one API attempt, reading the body included; 0 means
	// DefaultTimeout.
	Timeout time.Duration

	// Breakers is the registry the provider's circuit breaker lives in,
	// under the provider's name; nil means a private one. Share one registry
	// between providers and destinations so that one place lists and closes
	// every breaker.
	Breakers *Breakers
	// Breaker configures the provider's breaker when Build creates it; the
	// zero value opens after 3 consecutive failures (server errors, network
	// failures, timeouts), stays open 30 s and closes after 2 successful
	// trial calls. Rate-limit answers never count.
	Breaker BreakerSettings

	// AppLimit limits the requests of the whole application, all users
	// together. The zero value means the provider's default
	// (Defaults.AppLimit, none unless the provider documents one);
	// NoLimit() means none.
	AppLimit Limit
	// UserLimit limits the requests made for one provider user. The zero
	// value means the provider's default (Defaults.UserLimit); NoLimit()
	// means none.
	UserLimit Limit
	// Retry tunes the retries of idempotent calls. Zero fields mean the
	// toolkit's defaults, except MaxWait, whose zero means the provider's
	// (Defaults.MaxWait, else DefaultMaxWait).
	Retry RetrySettings

	// Logger receives logs without tokens or health values; nil means none.
	Logger *zap.Logger
	// Metrics receives measurements; nil means ohx.NopMetrics.
	Metrics ohx.Metrics
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Defaults are the facts about one provider that the toolkit needs: the
// defaults of the Common fields whose best value depends on the provider,
// and how its API answers. A provider writes them once, in its New, and
// passes them to Common.Build.
type Defaults struct {
	// AppLimit is the default of Common.AppLimit: the provider's documented
	// limit per application, if any (zero: none).
	AppLimit Limit
	// UserLimit is the default of Common.UserLimit: the provider's
	// documented limit per user, if any (zero: none).
	UserLimit Limit
	// MaxWait is the default of Common.Retry.MaxWait, for a provider whose
	// rate-limit answer asks for a known wait (zero: DefaultMaxWait).
	MaxWait time.Duration
	// RateLimitScope says whom the provider's rate-limit answers pause: the
	// whole application (ScopeApp) or the user the call was made for
	// (ScopeUser).
	RateLimitScope Scope
	// MaxBodyBytes bounds a response body (zero: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Classify classifies the API's responses (nil: ClassifyHTTP).
	Classify Classifier
	// Refresher trades a link's refresh token; required when
	// Common.Tokens is set.
	Refresher Refresher
	// RefreshSkew is how long before its expiry an access token is
	// refreshed (zero: DefaultRefreshSkew).
	RefreshSkew time.Duration
	// RefreshLease is the refresh lock's lease (zero: DefaultRefreshLease).
	RefreshLease time.Duration
}

// Kit is what Common.Build makes for a provider: its settings with every
// default applied, the client of its API and the token sources of its
// links.
type Kit struct {
	// Settings are the provider's settings with every default applied:
	// Locker, HTTPClient, Timeout, Retry.MaxWait, Logger, Metrics and Now
	// are set, and so are AppLimit and UserLimit when the provider has
	// defaults.
	Settings Common
	// Client sends the provider's API calls (breaker, rate limits, retries,
	// classification).
	Client *Client
	// Tokens hands out the links' token sources; nil when Settings.Tokens
	// (the token store) is nil.
	Tokens *Tokens
}

// NoLimit returns the Limit that never waits, for a Common limit whose zero
// value means the provider's default.
func NoLimit() Limit { return Limit{Rate: rate.Inf, Burst: 1} }

// noLimit reports whether l is NoLimit().
func noLimit(l Limit) bool { return math.IsInf(float64(l.Rate), 1) }

// WithDefaults returns c with its zero fields set to d's defaults and the
// toolkit's: a LocalLocker, DefaultTimeout, NewHTTPClient() bounded by the
// timeout, the provider's limits and MaxWait, no-op logs and metrics, and
// time.Now. Applying it twice changes nothing.
func (c Common) WithDefaults(d Defaults) Common {
	if c.Locker == nil {
		c.Locker = &LocalLocker{}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient()
		if c.Timeout > 0 {
			c.HTTPClient.Timeout = c.Timeout
		}
	}
	if c.AppLimit == (Limit{}) {
		c.AppLimit = d.AppLimit
	}
	if c.UserLimit == (Limit{}) {
		c.UserLimit = d.UserLimit
	}
	if c.Retry.MaxWait == 0 {
		c.Retry.MaxWait = d.MaxWait
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.Metrics == nil {
		c.Metrics = ohx.NopMetrics{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Build applies d's and the toolkit's defaults to c (see WithDefaults) and
// makes the provider's Kit: the Client of its API, whose breaker is named
// name in c.Breakers, and, when c.Tokens is set, the Tokens that refresh
// its links' tokens with d.Refresher under c.Locker. name is the provider's
// stable name, carried by errors, metrics and logs. Build fails on negative
// settings and on a token store without a refresher.
func (c Common) Build(name string, d Defaults) (*Kit, error) {
	if name == "" {
		return nil, errors.New("provider: a provider needs a name")
	}
	c = c.WithDefaults(d)
	limit := func(l Limit) Limit {
		if noLimit(l) {
			return Limit{} // the client's zero value is unlimited
		}
		return l
	}
	client, err := NewClient(Config{
		Provider: name, HTTPClient: c.HTTPClient, Timeout: c.Timeout, MaxBodyBytes: d.MaxBodyBytes,
		Classify: d.Classify, Breakers: c.Breakers, BreakerName: name, Breaker: c.Breaker,
		AppLimit: limit(c.AppLimit), UserLimit: limit(c.UserLimit), RateLimitScope: d.RateLimitScope,
		Retry: c.Retry, Logger: c.Logger, Metrics: c.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	k := &Kit{Settings: c, Client: client}
	if c.Tokens != nil {
		k.Tokens, err = NewTokens(TokensConfig{
			Provider: name, Store: c.Tokens, Locker: c.Locker, Refresher: d.Refresher,
			Skew: d.RefreshSkew, Lease: d.RefreshLease, Logger: c.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return k, nil
}
