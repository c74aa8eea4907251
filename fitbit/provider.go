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

// Name is the provider's stable name, used in links, samples, metrics and
// as the name of its circuit breaker.
const Name = "fitbit"

// ProviderName is the former name of Name.
//
// Deprecated: use Name.
const ProviderName = Name

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
	// DefaultWebhookReplayWindow is how long a signed delivery is
	// remembered against replays.
	DefaultWebhookReplayWindow = 24 * time.Hour
	// DefaultWebhookNotifyTimeout bounds the notify callback of one
	// delivery (Google asks for a prompt 204 and retries on a timeout).
	DefaultWebhookNotifyTimeout = 5 * time.Second
)

// DefaultRequestsPerMinute is the Google Health API's request limit per
// user: the default of Config.UserLimit. Google's per-project quota
// (120,000 a minute) is far above what one deployment's users reach, so
// Config.AppLimit has none by default.
const DefaultRequestsPerMinute = 300

// Config configures a Provider. ClientID, ClientSecret and RedirectURL are
// needed for linking; Tokens for fetching. Every other zero field means the
// Google default or a sensible default.
type Config struct {
	// ClientID and ClientSecret are the OAuth client's credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the OAuth redirect URI registered for the client.
	RedirectURL string

	// APIBaseURL is the Google Health API root (the "v4/" path is appended).
	APIBaseURL string
	// AuthURL, TokenURL and RevokeURL are Google's OAuth endpoints.
	AuthURL, TokenURL, RevokeURL string
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
	// WebhookReplays remembers signed deliveries already made durable, so a
	// replay (the same signature and body) within WebhookReplayWindow is
	// acknowledged without a new notification; nil means marks in this
	// process's memory (provider.NewMemoryReplays). Several processes behind
	// one URL should share marks (store/redisreplay).
	WebhookReplays provider.Replays
	// WebhookReplayWindow is how long a delivery's replay mark lives; 0
	// means DefaultWebhookReplayWindow.
	WebhookReplayWindow time.Duration
	// WebhookNotifyTimeout bounds the notify callback of one delivery; 0
	// means DefaultWebhookNotifyTimeout.
	WebhookNotifyTimeout time.Duration

	// DataSourceFamily is passed on list calls (not for sleep, which is
	// reconciled); empty means DefaultDataSourceFamily, "-" means none (all
	// sources).
	DataSourceFamily string
	// PageSize is the list page size; 0 means DefaultPageSize.
	PageSize int

	// Common holds the settings every provider shares: the token store
	// (required by Fetch, Devices and Revoke), the refresh lock, the HTTP
	// client (the base of every outbound request: API, OAuth, keyset), the
	// breaker (named "fitbit"), the logger, the metrics and the clock.
	// Google's defaults: UserLimit is DefaultRequestsPerMinute per minute for
	// each user (a 429 pauses that user's calls only); AppLimit is none.
	provider.Common
}

// Provider reads Fitbit and Pixel device data from the Google Health API v4.
// It implements ohx.Provider, ohx.DataTypeLister, ohx.Authorizer,
// ohx.Revoker and ohx.WebhookReceiver. It is safe for concurrent use.
type Provider struct {
	cfg     Config // with every default applied
	oauth   *oauth2.Config
	api     *url.URL
	http    *http.Client
	client  *provider.Client
	log     *zap.Logger
	keys    *keyset
	replays provider.Replays
	tokens  *provider.Tokens
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
	if cfg.WebhookReplayWindow < 0 || cfg.WebhookNotifyTimeout < 0 {
		return nil, errors.New("fitbit: webhook durations must not be negative")
	}
	if cfg.WebhookReplayWindow == 0 {
		cfg.WebhookReplayWindow = DefaultWebhookReplayWindow
	}
	if cfg.WebhookNotifyTimeout == 0 {
		cfg.WebhookNotifyTimeout = DefaultWebhookNotifyTimeout
	}
	defaults := provider.Defaults{
		UserLimit: resilience.PerMinute(DefaultRequestsPerMinute), RateLimitScope: provider.ScopeUser,
		Classify: classifyResponse,
	}
	// The OAuth client and the refresher need the HTTP client the defaults
	// pick, so they are applied first.
	cfg.Common = cfg.WithDefaults(defaults)
	api, _ := url.Parse(cfg.APIBaseURL)
	if !strings.HasSuffix(api.Path, "/") {
		api.Path += "/"
	}
	p := &Provider{
		cfg: cfg,
		oauth: &oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			RedirectURL:  cfg.RedirectURL,
			Endpoint:     oauth2.Endpoint{AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		api:  api,
		http: cfg.HTTPClient,
		log:  cfg.Logger.Named(Name),
	}
	defaults.Refresher = provider.NewOAuth2Refresher(Name, p.oauth, cfg.HTTPClient)
	kit, err := cfg.Build(Name, defaults)
	if err != nil {
		return nil, err
	}
	p.client, p.tokens = kit.Client, kit.Tokens
	p.keys = newKeyset(cfg.KeysetURL, cfg.HTTPClient, cfg.KeysetMaxStale, cfg.Now)
	p.replays = cfg.WebhookReplays
	if p.replays == nil {
		p.replays = provider.NewMemoryReplays(0, cfg.Now)
	}
	return p, nil
}

// Name implements ohx.Provider.
func (p *Provider) Name() string { return Name }

// DataTypes implements ohx.DataTypeLister.
func (p *Provider) DataTypes() []ohx.DataType { return slices.Clone(offered) }

// Allowed implements ohx.DataTypeLister: a type is allowed when its read
// scope was granted.
func (p *Provider) Allowed(scopes []string, types []ohx.DataType) []ohx.DataType {
	granted := splitScopes(scopes)
	var out []ohx.DataType
	for _, t := range types {
		if s, ok := scopeOf(t); ok && slices.Contains(granted, s) {
			out = append(out, t)
		}
	}
	return out
}
