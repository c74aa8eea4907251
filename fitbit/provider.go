package fitbit

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

// Google endpoints used when Config leaves them empty.
const (
	DefaultAuthURL    = "https://accounts.google.com/o/oauth2/v2/auth"
	DefaultTokenURL   = "https://oauth2.googleapis.com/token"
	DefaultRevokeURL  = "https://oauth2.googleapis.com/revoke"
	DefaultAPIBaseURL = "https://health.googleapis.com/"
	DefaultKeysetURL  = "https://www.gstatic.com/googlehealthapi/webhooks/webhooks_public_keyset.json"
	// DefaultDataSourceFamily restricts list calls to Fitbit trackers and
	// Pixel Watches (manual logs excluded).
	DefaultDataSourceFamily = "users/me/dataSourceFamilies/google-wearables"
	// DefaultMaxWebhookBody is the largest notification body accepted.
	DefaultMaxWebhookBody = 1 << 20
	// DefaultPageSize is the page size of list calls (the API's maximum).
	DefaultPageSize = 10000
)

// Config configures a Provider. ClientID, ClientSecret and RedirectURL are
// needed for linking; Tokens for fetching. Every other zero field means the
// Google default or a sensible default.
type Config struct {
	// ClientID and ClientSecret are the OAuth client's credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the OAuth redirect URI registered for the client.
	RedirectURL string

	// AuthURL, TokenURL and RevokeURL are Google's OAuth endpoints.
	AuthURL, TokenURL, RevokeURL string
	// APIBaseURL is the Google Health API root (the "v4/" path is appended).
	APIBaseURL string
	// KeysetURL serves the Tink JSON public keyset that signs notifications.
	KeysetURL string

	// WebhookSecret is the exact Authorization header value configured on
	// the subscriber (scheme included, e.g. "Bearer …"). Empty disables the
	// verification handshake and secret-only notifications.
	WebhookSecret string
	// MaxWebhookBody limits a notification body; 0 means
	// DefaultMaxWebhookBody.
	MaxWebhookBody int64
	// KeysetMaxStale is how long a keyset may be used after a failed refetch;
	// 0 means 7 days.
	KeysetMaxStale time.Duration

	// DataSourceFamily is passed on list calls (not for sleep, which is
	// reconciled); empty means DefaultDataSourceFamily, "-" means none (all
	// sources).
	DataSourceFamily string
	// PageSize is the list page size; 0 means DefaultPageSize.
	PageSize int

	// Tokens holds the links' tokens; required by Fetch, Devices, Revoke.
	Tokens ohx.TokenStore
	// Locker serialises token refreshes across workers; nil means an
	// in-process lock.
	Locker ohx.Locker

	// RequestsPerMinute is the per-user request limit; 0 means Google's 300
	// a minute, a negative value means none.
	RequestsPerMinute int
	// Breakers is the registry the API's circuit breaker ("fitbit") lives
	// in; nil means a private one.
	Breakers *resilience.Breakers
	// Breaker configures the API's circuit breaker when this provider
	// creates it; the zero value means the toolkit's defaults.
	Breaker resilience.BreakerSettings
	// Retry tunes in-call retries of reads; the zero value means the
	// toolkit's defaults.
	Retry resilience.RetrySettings

	// HTTPClient is the base client for every outbound request (its
	// Transport is wrapped); nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger receives logs without tokens or health values; nil means none.
	Logger *zap.Logger
	// Metrics receives measurements; nil means ohx.NopMetrics.
	Metrics ohx.Metrics
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Provider reads Fitbit and Pixel device data from the Google Health API v4.
// It implements ohx.Provider, ohx.DataTypeLister, ohx.Authorizer,
// ohx.Revoker and ohx.WebhookReceiver. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	oauth  *oauth2.Config
	api    *url.URL
	http   *http.Client
	client *provider.Client
	log    *zap.Logger
	keys   *keyset
	tokens *provider.Tokens
}

var (
	_ ohx.Provider        = (*Provider)(nil)
	_ ohx.DataTypeLister  = (*Provider)(nil)
	_ ohx.Authorizer      = (*Provider)(nil)
	_ ohx.Revoker         = (*Provider)(nil)
	_ ohx.WebhookReceiver = (*Provider)(nil)
)

// New checks cfg and returns a provider.
func New(cfg Config) (*Provider, error) {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&cfg.AuthURL, DefaultAuthURL)
	def(&cfg.TokenURL, DefaultTokenURL)
	def(&cfg.RevokeURL, DefaultRevokeURL)
	def(&cfg.APIBaseURL, DefaultAPIBaseURL)
	def(&cfg.KeysetURL, DefaultKeysetURL)
	def(&cfg.DataSourceFamily, DefaultDataSourceFamily)
	if cfg.DataSourceFamily == "-" {
		cfg.DataSourceFamily = ""
	}
	for name, raw := range map[string]string{"auth": cfg.AuthURL, "token": cfg.TokenURL, "revoke": cfg.RevokeURL, "API base": cfg.APIBaseURL, "keyset": cfg.KeysetURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("fitbit: invalid %s URL", name)
		}
	}
	if cfg.PageSize < 0 || cfg.PageSize > DefaultPageSize {
		return nil, errors.New("fitbit: page size must be between 1 and 10000")
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = DefaultPageSize
	}
	if cfg.MaxWebhookBody < 0 {
		return nil, errors.New("fitbit: webhook body limit must not be negative")
	}
	if cfg.MaxWebhookBody == 0 {
		cfg.MaxWebhookBody = DefaultMaxWebhookBody
	}
	if cfg.KeysetMaxStale <= 0 {
		cfg.KeysetMaxStale = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = ohx.NopMetrics{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	api, _ := url.Parse(cfg.APIBaseURL)
	if !strings.HasSuffix(api.Path, "/") {
		api.Path += "/"
	}
	limit := resilience.PerMinute(300)
	switch {
	case cfg.RequestsPerMinute > 0:
		limit = resilience.PerMinute(cfg.RequestsPerMinute)
	case cfg.RequestsPerMinute < 0:
		limit = resilience.Limit{}
	}
	client, err := provider.NewClient(provider.Config{
		Provider:       ProviderName,
		HTTPClient:     base,
		Classify:       classifyResponse,
		Breakers:       cfg.Breakers,
		Breaker:        cfg.Breaker,
		UserLimit:      limit,
		RateLimitScope: provider.ScopeUser,
		Retry:          cfg.Retry,
		Logger:         cfg.Logger,
		Metrics:        cfg.Metrics,
	})
	if err != nil {
		return nil, fmt.Errorf("fitbit: %w", err)
	}
	p := &Provider{
		cfg: cfg,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		api:    api,
		http:   base,
		client: client,
		log:    cfg.Logger.Named("fitbit"),
	}
	p.keys = newKeyset(cfg.KeysetURL, base, cfg.KeysetMaxStale, cfg.Now)
	if cfg.Tokens != nil {
		locker := cfg.Locker
		if locker == nil {
			locker = &localLocker{}
		}
		p.tokens, err = provider.NewTokens(provider.TokensConfig{
			Provider:  ProviderName,
			Store:     cfg.Tokens,
			Locker:    locker,
			Refresher: provider.NewOAuth2Refresher(ProviderName, p.oauth, base),
		})
		if err != nil {
			return nil, fmt.Errorf("fitbit: %w", err)
		}
	}
	return p, nil
}

// Name implements ohx.Provider.
func (p *Provider) Name() string { return ProviderName }

// DataTypes implements ohx.DataTypeLister.
func (p *Provider) DataTypes() []ohx.DataType { return slices.Clone(offered) }

// Allowed implements ohx.DataTypeLister: a type is allowed when its read
// scope was granted.
func (p *Provider) Allowed(scopes []string, types []ohx.DataType) []ohx.DataType {
	granted := splitScopes(scopes)
	var out []ohx.DataType
	for _, t := range types {
		if s, ok := ScopeOf(t); ok && slices.Contains(granted, s) {
			out = append(out, t)
		}
	}
	return out
}
