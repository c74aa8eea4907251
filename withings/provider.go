package withings

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
)

// Name is the provider's stable name, used in links, samples, metrics and
// as the name of its circuit breaker.
const Name = "withings"

// Default endpoints of the Withings cloud. The token endpoint
// (/v2/oauth2, actions requesttoken and revoke) lives on the API host, so a
// Config that leaves TokenURL empty derives it from APIBaseURL.
const (
	DefaultAPIBaseURL = "https://wbsapi.withings.net"
	DefaultAuthURL    = "https://account.withings.com" + authorizePath
	DefaultTokenURL   = DefaultAPIBaseURL + tokenPath

	// DefaultAPIBase is the former name of DefaultAPIBaseURL.
	//
	// Deprecated: use DefaultAPIBaseURL.
	DefaultAPIBase = DefaultAPIBaseURL
	// DefaultAuthBase is the host of DefaultAuthURL, which Config.AuthBase
	// used to name.
	//
	// Deprecated: use DefaultAuthURL, the whole authorize endpoint.
	DefaultAuthBase = "https://account.withings.com"
)

// Paths of the OAuth endpoints below their hosts.
const (
	authorizePath = "/oauth2_user/authorize2"
	tokenPath     = "/v2/oauth2"
)

// DefaultRequestsPerMinute is Withings' request limit per application on the
// standard plan, counted over all its users (enterprise plans allow more):
// the default of Config.AppLimit. Withings documents no per-user limit.
const DefaultRequestsPerMinute = 120

// Scopes of the Withings OAuth 2.0 API.
const (
	ScopeInfo        = "user.info"
	ScopeMetrics     = "user.metrics"
	ScopeActivity    = "user.activity"
	ScopeSleepEvents = "user.sleepevents"
)

// StepsSource says where Steps samples come from. Withings has both a daily
// total (getactivity) and intraday counts (getintradayactivity); publishing
// both would count every step twice, so a provider uses one.
type StepsSource int

// Steps sources.
const (
	// StepsDaily: one Steps sample per civil day from getactivity, spanning
	// [local midnight, next local midnight) in the day's own time zone.
	StepsDaily StepsSource = iota
	// StepsIntraday: one Steps sample per intraday point from
	// getintradayactivity, spanning the point's duration.
	StepsIntraday
)

// Config configures a Provider. ClientID and ClientSecret are required;
// every other zero field means a sensible default.
type Config struct {
	// ClientID and ClientSecret are the Withings application's credentials.
	ClientID     string
	ClientSecret string
	// RedirectURL is the OAuth redirect URI registered with Withings; needed
	// by AuthCodeURL and Exchange.
	RedirectURL string
	// CallbackURL is the notification callback URL (including its secret)
	// given to Withings on subscribe; needed by Subscribe and Unsubscribe.
	CallbackURL string

	// APIBaseURL is the API host; empty means DefaultAPIBaseURL.
	APIBaseURL string
	// AuthURL is the authorize endpoint the patient is sent to; empty means
	// DefaultAuthURL.
	AuthURL string
	// TokenURL is the OAuth endpoint that issues, refreshes and revokes
	// tokens (actions requesttoken and revoke); empty means APIBaseURL +
	// "/v2/oauth2", where Withings serves it.
	TokenURL string

	// IncludeAmbiguous keeps measure groups Withings marks ambiguous (attrib
	// 1: measured by a device that several users share, possibly someone
	// else). They are skipped by default.
	IncludeAmbiguous bool
	// Steps chooses the source of Steps samples; the zero value is
	// StepsDaily.
	Steps StepsSource
	// Applis are the notification categories Subscribe subscribes, among
	// those the link's scopes allow; nil means DefaultApplis().
	Applis []int

	// Webhook configures the notification receiver (WebhookHandler).
	Webhook WebhookConfig

	// Common holds the settings every provider shares: the token store
	// (required by every call made for a link: Fetch, Devices, Subscribe,
	// Unsubscribe, Revoke), the refresh lock, the HTTP client, the breaker
	// (named "withings"; rate limits, status 601, never count), the logger,
	// the metrics and the clock. Withings' defaults: AppLimit is
	// DefaultRequestsPerMinute per minute for the whole application (Withings
	// counts requests per application, over all users); UserLimit is none;
	// Retry.MaxWait is DefaultMaxWait, long enough to wait for the next
	// minute after a 601.
	provider.Common
}

// Provider reads Withings data for linked users. It implements ohx.Provider,
// ohx.DataTypeLister, ohx.Authorizer, ohx.Revoker, ohx.Subscriber and
// ohx.WebhookReceiver. It is safe for concurrent use.
type Provider struct {
	cfg      Config // with every default applied
	apiBase  string
	authURL  string
	tokenURL string
	client   *provider.Client
	tokens   *provider.Tokens // nil without a token store
	log      *zap.Logger
	metrics  ohx.Metrics
	now      func() time.Time
}

// maxResponse bounds a response body (an ECG signal is ~100 KiB).
const maxResponse = 32 << 20

// DefaultMaxWait is the longest a call waits inside the provider for a rate
// limit to pass: a 601 asks to wait for the next minute, plus jitter.
const DefaultMaxWait = 75 * time.Second

var (
	_ ohx.Provider        = (*Provider)(nil)
	_ ohx.DataTypeLister  = (*Provider)(nil)
	_ ohx.Authorizer      = (*Provider)(nil)
	_ ohx.Revoker         = (*Provider)(nil)
	_ ohx.Subscriber      = (*Provider)(nil)
	_ ohx.WebhookReceiver = (*Provider)(nil)
)

// New checks cfg and returns a Provider.
func New(cfg Config) (*Provider, error) {
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("withings: config needs a client id and a client secret")
	}
	p := &Provider{}
	var err error
	if p.apiBase, err = baseURL(cfg.APIBaseURL, DefaultAPIBaseURL); err != nil {
		return nil, fmt.Errorf("withings: api base url: %w", err)
	}
	if p.authURL, err = baseURL(cfg.AuthURL, DefaultAuthURL); err != nil {
		return nil, fmt.Errorf("withings: auth url: %w", err)
	}
	if p.tokenURL, err = baseURL(cfg.TokenURL, p.apiBase+tokenPath); err != nil {
		return nil, fmt.Errorf("withings: token url: %w", err)
	}
	if cfg.RedirectURL != "" {
		if _, err := absURL(cfg.RedirectURL); err != nil {
			return nil, fmt.Errorf("withings: redirect url: %w", err)
		}
	}
	if cfg.CallbackURL != "" {
		if _, err := absURL(cfg.CallbackURL); err != nil {
			return nil, errors.New("withings: callback url is not an absolute URL")
		}
	}
	for _, a := range cfg.Applis {
		if _, ok := appliScopes[a]; !ok {
			return nil, fmt.Errorf("withings: unsupported appli %d", a)
		}
	}
	if _, err := parsePrefixes(cfg.Webhook.AllowCIDRs); err != nil {
		return nil, err
	}
	if cfg.Steps != StepsDaily && cfg.Steps != StepsIntraday {
		return nil, errors.New("withings: unknown steps source")
	}
	kit, err := cfg.Build(Name, provider.Defaults{
		AppLimit: resilience.PerMinute(DefaultRequestsPerMinute), MaxWait: DefaultMaxWait,
		RateLimitScope: provider.ScopeApp, MaxBodyBytes: maxResponse, Classify: p.classifier,
		Refresher: provider.RefresherFunc(p.refreshGrant), RefreshSkew: expiryMargin, RefreshLease: refreshLease,
	})
	if err != nil {
		return nil, err
	}
	cfg.Common = kit.Settings
	p.cfg, p.client, p.tokens = cfg, kit.Client, kit.Tokens
	p.log, p.metrics, p.now = cfg.Logger, cfg.Metrics, cfg.Now
	return p, nil
}

func absURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, errors.New("not an absolute URL")
	}
	return u, nil
}

func baseURL(s, def string) (string, error) {
	if s == "" {
		return def, nil
	}
	if _, err := absURL(s); err != nil {
		return "", err
	}
	return strings.TrimRight(s, "/"), nil
}

// Name implements ohx.Provider.
func (p *Provider) Name() string { return Name }

// offered is the data types Withings offers, in catalog order.
var offered = []ohx.DataType{
	ohx.HeartRate, ohx.Steps, ohx.HRVRMSSD, ohx.HRVSDNN, ohx.ECG, ohx.BloodPressure,
	ohx.BodyWeight, ohx.BodyFatRatio, ohx.FatMass, ohx.FatFreeMass, ohx.MuscleMass,
	ohx.Hydration, ohx.BoneMass, ohx.BodyTemperature, ohx.SkinTemperature, ohx.SpO2,
	ohx.RespiratoryRate, ohx.SleepSession, ohx.PulseWaveVelocity, ohx.VO2Max,
}

// scopeTypes says which scope grants which types. Heart rate comes from
// measures (user.metrics) and from intraday activity and sleep
// (user.activity): either scope allows it.
var scopeTypes = map[string][]ohx.DataType{
	ScopeMetrics: {
		ohx.HeartRate, ohx.ECG, ohx.BloodPressure, ohx.BodyWeight, ohx.BodyFatRatio, ohx.FatMass,
		ohx.FatFreeMass, ohx.MuscleMass, ohx.Hydration, ohx.BoneMass, ohx.BodyTemperature,
		ohx.SkinTemperature, ohx.SpO2, ohx.PulseWaveVelocity, ohx.VO2Max,
	},
	ScopeActivity: {
		ohx.HeartRate, ohx.Steps, ohx.HRVRMSSD, ohx.HRVSDNN, ohx.RespiratoryRate, ohx.SleepSession,
	},
}

// DataTypes implements ohx.DataTypeLister.
func (p *Provider) DataTypes() []ohx.DataType { return slices.Clone(offered) }

// splitScopes flattens scopes, splitting comma- or space-separated entries.
func splitScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		out = append(out, strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })...)
	}
	return out
}

// Allowed implements ohx.DataTypeLister: user.metrics allows measures, ECG
// and heart rate; user.activity allows steps, sleep, respiratory rate, HRV
// and heart rate.
func (p *Provider) Allowed(scopes []string, types []ohx.DataType) []ohx.DataType {
	granted := typeSet{}
	for _, s := range splitScopes(scopes) {
		for _, t := range scopeTypes[s] {
			granted[t] = true
		}
	}
	var out []ohx.DataType
	for _, t := range types {
		if granted[t] {
			out = append(out, t)
		}
	}
	return out
}

// scopesFor returns the scopes needed for types (all data scopes when types
// is empty), always with user.info, which devices and unlink notifications
// need.
func scopesFor(types []ohx.DataType) []string {
	if len(types) == 0 {
		return []string{ScopeInfo, ScopeMetrics, ScopeActivity}
	}
	out := []string{ScopeInfo}
	for _, scope := range []string{ScopeMetrics, ScopeActivity} {
		for _, t := range types {
			if slices.Contains(scopeTypes[scope], t) {
				out = append(out, scope)
				break
			}
		}
	}
	return out
}

// --- HTTP ------------------------------------------------------------------

// classifier judges a response for the toolkit client: HTTP status first,
// then the envelope's status (Withings answers errors with HTTP 200).
func (p *Provider) classifier(op string, r *provider.Response) error {
	if r.StatusCode != http.StatusOK {
		ra, _ := resilience.ParseRetryAfter(r.Header.Get("Retry-After"), p.now())
		return httpError(op, r.StatusCode, ra, p.now())
	}
	status, err := envelopeStatus(r.Body)
	if err != nil {
		return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindTransient, HTTPStatus: r.StatusCode, Err: err}
	}
	if status != statusOK {
		return statusError(op, r.StatusCode, status, p.now())
	}
	return nil
}

// classify judges a whole response as the client does and returns it when
// it is a success (used by the tests and benchmarks of the decoders).
func (p *Provider) classify(op string, httpStatus int, h http.Header, data []byte) ([]byte, error) {
	if h == nil {
		h = http.Header{}
	}
	if err := p.classifier(op, &provider.Response{StatusCode: httpStatus, Header: h, Body: data}); err != nil {
		return nil, err
	}
	return data, nil
}

// request describes one API call.
type request struct {
	op         string
	path       string // below the API base URL
	endpoint   string // an absolute URL instead of path (the token endpoint)
	form       url.Values
	creds      provider.Credentials // nil: no bearer token
	user       string               // the Withings user, for per-user limits
	idempotent bool
}

// post sends one form-encoded API call through the toolkit client (breaker,
// rate limits, retries of idempotent calls, one refresh on a rejected token)
// and returns the whole response, whose envelope status is 0.
func (p *Provider) post(ctx context.Context, r request) ([]byte, error) {
	endpoint := r.endpoint
	if endpoint == "" {
		endpoint = p.apiBase + r.path
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(r.form.Encode()))
	if err != nil {
		return nil, &ohx.ProviderError{Provider: Name, Op: r.op, Kind: ohx.KindPermanent, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := p.client.Do(ctx, provider.Op{Name: r.op, Idempotent: r.idempotent, User: r.user, Credentials: r.creds}, req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// decode decodes a successful response's body into out.
func decode(op string, data []byte, out any) error {
	if out == nil {
		return nil
	}
	if err := decodeResponse(data, out); err != nil {
		return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindPermanent, HTTPStatus: http.StatusOK, Err: err}
	}
	return nil
}

// call makes an authorized call for link and decodes the body into out
// (when not nil). The toolkit refreshes the token when it expired, and once
// more when Withings rejects it; a rejection of the refreshed token means the
// grant is gone (ohx.KindRevoked).
func (p *Provider) call(ctx context.Context, link ohx.Link, op, path string, form url.Values, out any) error {
	if p.tokens == nil {
		return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindPermanent, Err: errors.New("no token store configured")}
	}
	idempotent := !strings.HasPrefix(op, "notify.") || op == "notify.list"
	raw, err := p.post(ctx, request{op: op, path: path, form: form, creds: p.tokens.Source(link.ID),
		user: link.ExternalUserID, idempotent: idempotent})
	if err != nil {
		var pe *ohx.ProviderError
		if errors.As(err, &pe) && pe.Kind == ohx.KindAuth {
			revoked := *pe
			revoked.Kind = ohx.KindRevoked
			p.metrics.LinkStatus(Name, ohx.LinkNeedsReconsent)
			return &revoked
		}
		return err
	}
	return decode(op, raw, out)
}
