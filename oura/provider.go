package oura

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// Name is the provider's stable name, used in links, samples and metrics.
const Name = "oura"

// Oura endpoints used when Config leaves them empty.
const (
	// DefaultAPIBaseURL is the API host; collections live below
	// /v2/usercollection/, webhook subscriptions below /v2/webhook/.
	DefaultAPIBaseURL = "https://api.ouraring.com"
	// DefaultAuthURL is the authorization endpoint.
	DefaultAuthURL = "https://cloud.ouraring.com/oauth/authorize"
	// DefaultTokenURL is the documented token endpoint.
	DefaultTokenURL = "https://api.ouraring.com/oauth/token"
	// PortalTokenURL is the token endpoint that applications registered on
	// the newer developer portal (developer.ouraring.com) were seen to need
	// in 2026, after 401 or 400 invalid_request answers at DefaultTokenURL.
	// It is undocumented: set Config.TokenURL to it only when the
	// documented endpoint refuses your application.
	PortalTokenURL = "https://moi.ouraring.com/oauth/v2/ext/oauth-token"
	// DefaultRevokeURL is the revocation endpoint (GET ?access_token=…).
	DefaultRevokeURL = "https://api.ouraring.com/oauth/revoke"
)

// Limits and sizes.
const (
	// DefaultRequestsPerMinute is the per-user (per access token) request
	// rate used when Config.UserLimit is zero: Oura's FAQ documents 5,000
	// requests per 5 minutes. Oura now also has per-application tiers
	// without published numbers; their 429 answers (Retry-After,
	// X-RateLimit-Reset) pause the user's calls.
	DefaultRequestsPerMinute = 1000
	// MaxHeartRateSpan is the longest window Oura's heartrate collection
	// answers (longer ones fail); Fetch reads heart rate in windows of at
	// most this.
	MaxHeartRateSpan = 30 * 24 * time.Hour
	// DefaultDailySpan is the longest window of one read of a day-indexed
	// collection (sleep, daily_activity, …) when Config.DailySpan is zero.
	// Oura answers two years in one call; the bound keeps what Fetch holds
	// in memory (one read's documents) small.
	DefaultDailySpan = 31 * 24 * time.Hour
	// DefaultMaxPages bounds the next_token pages of one read.
	DefaultMaxPages = 1000
	// maxResponse bounds one response body.
	maxResponse = 32 << 20
)

// Config configures a Provider. ClientID and ClientSecret are required;
// every other zero field means Oura's endpoint or a sensible default.
type Config struct {
	// ClientID and ClientSecret are the Oura application's credentials. The
	// secret also signs webhook deliveries.
	ClientID     string
	ClientSecret string
	// RedirectURL is the OAuth redirect URI registered for the
	// application (exact match); needed by AuthCodeURL and Exchange.
	RedirectURL string

	// APIBaseURL is the API host; empty means DefaultAPIBaseURL.
	APIBaseURL string
	// AuthURL is the authorization endpoint; empty means DefaultAuthURL.
	AuthURL string
	// TokenURL is the token endpoint; empty means DefaultTokenURL (see
	// PortalTokenURL for applications of the newer developer portal).
	TokenURL string
	// RevokeURL is the revocation endpoint; empty means DefaultRevokeURL.
	RevokeURL string
	// PKCE sends the PKCE S256 challenge and verifier. Oura does not
	// document PKCE, so it is off by default and AuthCodeURL and Exchange
	// ignore the verifier.
	PKCE bool

	// Webhook configures the webhook receiver and the subscriptions.
	Webhook WebhookConfig

	// DailySpan bounds one read of a day-indexed collection; 0 means
	// DefaultDailySpan.
	DailySpan time.Duration
	// HeartRateSpan bounds one read of heart rate; 0 means (and more than
	// it is lowered to) MaxHeartRateSpan.
	HeartRateSpan time.Duration
	// MaxPages bounds the pages of one read; 0 means DefaultMaxPages.
	MaxPages int

	// Common holds the settings every provider shares: the token store
	// (required by every call made for a link: Fetch, Devices, Revoke), the
	// refresh lock (Oura's refresh tokens are single use: share a locker
	// across processes), the HTTP client, the breakers ("oura" for the data
	// API, "oura-subscriptions" for webhook management), the logger, the
	// metrics and the clock. Oura's defaults: UserLimit is
	// DefaultRequestsPerMinute per minute for each user (a 429 pauses that
	// user's calls); AppLimit is none, since Oura publishes no
	// per-application number. Timeout bounds one data API attempt;
	// subscription creation, which waits for Oura's verification call, has
	// its own bound (WebhookConfig.CreateTimeout), and when HTTPClient is nil
	// the subscription calls get a client of their own bounded by it.
	provider.Common
}

// Provider reads Oura Ring data from the Oura API v2. It implements
// ohx.Provider, ohx.DataTypeLister, ohx.Authorizer, ohx.Revoker and
// ohx.WebhookReceiver, and manages the application's webhook subscriptions
// (EnsureSubscriptions). It is safe for concurrent use.
type Provider struct {
	cfg     Config
	oauth   *oauth2.Config
	api     string // base URL without trailing slash
	http    *http.Client
	client  *provider.Client // data API
	subs    *provider.Client // webhook subscription API
	tokens  *provider.Tokens // nil without a token store
	log     *zap.Logger
	metrics ohx.Metrics
	now     func() time.Time
}

var (
	_ ohx.Provider        = (*Provider)(nil)
	_ ohx.DataTypeLister  = (*Provider)(nil)
	_ ohx.Authorizer      = (*Provider)(nil)
	_ ohx.Revoker         = (*Provider)(nil)
	_ ohx.WebhookReceiver = (*Provider)(nil)
)

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("oura: config needs a client id and a client secret")
	}
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.APIBaseURL, DefaultAPIBaseURL)
	def(&cfg.AuthURL, DefaultAuthURL)
	def(&cfg.TokenURL, DefaultTokenURL)
	def(&cfg.RevokeURL, DefaultRevokeURL)
	for _, u := range []struct{ name, raw string }{
		{"API base", cfg.APIBaseURL}, {"auth", cfg.AuthURL}, {"token", cfg.TokenURL}, {"revoke", cfg.RevokeURL},
	} {
		if !absURL(u.raw) {
			return nil, fmt.Errorf("oura: invalid %s URL", u.name)
		}
	}
	if cfg.RedirectURL != "" && !absURL(cfg.RedirectURL) {
		return nil, errors.New("oura: redirect URL is not an absolute URL")
	}
	if err := cfg.Webhook.check(); err != nil {
		return nil, err
	}
	switch {
	case cfg.DailySpan < 0, cfg.HeartRateSpan < 0, cfg.MaxPages < 0:
		return nil, errors.New("oura: spans and page bounds must not be negative")
	}
	if cfg.DailySpan == 0 {
		cfg.DailySpan = DefaultDailySpan
	}
	if cfg.HeartRateSpan == 0 || cfg.HeartRateSpan > MaxHeartRateSpan {
		cfg.HeartRateSpan = MaxHeartRateSpan
	}
	if cfg.MaxPages == 0 {
		cfg.MaxPages = DefaultMaxPages
	}
	defaults := provider.Defaults{
		UserLimit: resilience.PerMinute(DefaultRequestsPerMinute), RateLimitScope: provider.ScopeUser,
		MaxBodyBytes: maxResponse,
	}
	// The OAuth client and the refresher need the HTTP client the defaults
	// pick, so they are applied first.
	ownHTTP := cfg.HTTPClient == nil
	cfg.Common = cfg.WithDefaults(defaults)
	p := &Provider{
		cfg: cfg,
		oauth: &oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		api:     strings.TrimRight(cfg.APIBaseURL, "/"),
		http:    cfg.HTTPClient,
		log:     cfg.Logger.Named(Name),
		metrics: cfg.Metrics,
		now:     cfg.Now,
	}
	defaults.Classify = p.classify
	defaults.Refresher = provider.NewOAuth2Refresher(Name, p.oauth, cfg.HTTPClient)
	kit, err := cfg.Build(Name, defaults)
	if err != nil {
		return nil, err
	}
	p.client, p.tokens = kit.Client, kit.Tokens
	// Subscription calls have a breaker of their own (a stalled verification
	// must not open the data API's) and the creation's longer bound.
	subsHTTP := cfg.HTTPClient
	if ownHTTP {
		c := *cfg.HTTPClient
		c.Timeout = cfg.Webhook.CreateTimeout
		subsHTTP = &c
	}
	p.subs, err = provider.NewClient(provider.Config{
		Provider: Name, HTTPClient: subsHTTP, Timeout: cfg.Webhook.CreateTimeout, MaxBodyBytes: 1 << 20,
		Classify: p.classify, Breakers: cfg.Breakers, BreakerName: Name + "-subscriptions", Breaker: cfg.Breaker,
		Retry: cfg.Retry, Logger: p.log, Metrics: cfg.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("oura: %w", err)
	}
	return p, nil
}

func absURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// Name implements ohx.Provider.
func (p *Provider) Name() string { return Name }

// DataTypes implements ohx.DataTypeLister.
func (p *Provider) DataTypes() []ohx.DataType { return slices.Clone(offered) }

// Allowed implements ohx.DataTypeLister: a type is allowed when the scope of
// its collection was granted (names compared without Oura's "extapi:"
// prefix and case; spo2Daily counts as spo2). Oura's token response does
// not always say which scopes were granted: with no scopes at all, every
// type is allowed and Oura's own answer (401, missing scope) decides, type
// by type, during Fetch.
func (p *Provider) Allowed(scopes []string, types []ohx.DataType) []ohx.DataType {
	granted := normalizeScopes(scopes)
	var out []ohx.DataType
	for _, t := range types {
		c := collectionOf(t)
		if c == nil {
			continue
		}
		if len(granted) == 0 || slices.Contains(granted, c.scope) {
			out = append(out, t)
		}
	}
	return out
}
