// Package provider is the toolkit for writing ohx providers: the shared
// configuration every provider embeds, the outbound HTTP client, error
// classification, circuit breakers and OAuth 2.0 token handling. Package
// providertest holds the conformance suite every ohx.Provider runs in its
// tests.
//
// # A provider's configuration
//
// Every provider embeds [Common] in its Config: the token store and the
// refresh lock, the HTTP client and timeout, the breaker registry and
// settings, the per-application and per-user rate limits, the retries, the
// logger, the metrics and the clock. Its New passes the provider's own facts
// as [Defaults] (its documented rate limits, how long a rate-limit answer
// asks to wait, its response classifier, its token refresher) to
// [Common.Build], which applies every default once and returns a [Kit]:
// the settings with defaults applied, the API [Client] and the links'
// [Tokens]. A new provider needs nothing else from this package to be
// configured like the others:
//
//	type Config struct {
//		ClientID, ClientSecret, RedirectURL string
//		APIBaseURL, AuthURL, TokenURL       string
//		provider.Common
//	}
//
//	func New(cfg Config) (*Provider, error) {
//		p := &Provider{cfg: cfg}
//		kit, err := cfg.Build(Name, provider.Defaults{
//			UserLimit: provider.PerMinute(DefaultRequestsPerMinute),
//			RateLimitScope: provider.ScopeUser,
//			Classify: classify, Refresher: provider.RefresherFunc(p.refresh),
//		})
//		if err != nil {
//			return nil, err
//		}
//		p.kit = kit
//		return p, nil
//	}
//
// A zero Limit in Common means the provider's default; [NoLimit] turns a
// limit off. [LocalLocker] is the default refresh lock, enough for a single
// process.
//
// # Outbound calls
//
// [NewClient] returns a [Client] for one provider API. [Client.Do] sends a
// request described by an [Op] (a bounded name, whether it is idempotent,
// the provider user it is made for and its [Credentials]) and returns the
// whole body, bounded in size, as a [Response], so that a provider's
// decoder and its [Classifier] can both read it:
//
//	resp, err := c.Do(ctx, provider.Op{Name: "getmeas", Idempotent: true,
//		User: link.ExternalUserID, Credentials: tokens.Source(link.ID)}, req)
//
// Each attempt waits for the app's and the user's rate limits
// (resilience.Limit, resilience.PerMinute) and for any pause a rate-limit
// answer imposed (Retry-After or the wait the classifier set), runs with a
// per-attempt timeout through the provider API's resilience.Breaker, and is
// classified. Idempotent operations are retried by resilience.Retry, with
// exponential backoff and jitter or the wait the provider asked for, after
// transient failures and rate-limit answers; the others are sent once.
// Classify by operation, not by HTTP method: Withings reads are POSTs. When
// the provider rejects an access token, the client forces one refresh
// ([Credentials.ForceRefresh]) and sends the request once more.
//
// # Errors
//
// Every failure is an *ohx.ProviderError of one of ohx's kinds
// (ohx.KindAuth, KindRateLimited, KindTransient, KindPermanent,
// KindNotLinked, KindRevoked), tested with ohx.KindOf, errors.Is against
// ohx's sentinels and ohx.RetryAfter. [ClassifyHTTP] is the default
// [Classifier]; [StatusKind] and resilience.ParseRetryAfter help write one
// for a provider's own envelope. A cancelled context is returned as the context's
// error and never counts as a failure. Error strings never hold a token, a
// URL query or a body.
//
// # Breakers
//
// Breakers, rate limits and retry settings live in package resilience,
// which the FHIR publisher shares; the names this package used to export
// for them (BreakerSettings, Breakers, Limit, RetrySettings,
// ParseRetryAfter, …) remain as deprecated aliases. A Client's breaker is
// the resilience.Breakers entry named after the provider API
// (Config.BreakerName, default Config.Provider); give every client the
// application's registry so that an operator lists and closes all breakers
// in one place.
//
// # OAuth 2.0
//
// [AuthCodeURL] builds the authorization URL with the caller's state and
// PKCE (oauth2.GenerateVerifier) where the provider supports it; [Exchange]
// trades the code. [NewTokens] hands out a [TokenSource] per link
// ([Tokens.Source]) that reads the sealed token from an ohx.TokenStore,
// refreshes it shortly before expiry under the store's lock
// ("refresh:<link id>"), re-reads the stored token once the lock is held so
// that a refresh token is spent once across workers and processes, and
// persists the rotated token before handing out the new access token. The
// refresh step is a [Refresher]: [NewOAuth2Refresher] adapts a standard
// *oauth2.Config; providers with their own token envelope (Withings)
// implement it ([RefresherFunc]). A refresh refused with invalid_grant is
// ohx.KindRevoked (ohx.ErrTokenRevoked): the patient must consent again. A
// refresh, once sent, is finished and saved even if the caller gives up, and
// must end within three quarters of the lock's lease. [ClassifyOAuth2Error]
// and [TokenFromOAuth2] help providers that call x/oauth2 themselves.
//
// # Metrics and logs
//
// The client reports rate-limit answers (ohx.Metrics.RateLimited); breakers
// report their states (BreakerState). Failed calls are counted once by the
// engine (ProviderError), not per attempt here. Every failure the breaker
// counts is logged at warn by the breaker registry's logger with the
// provider, operation, kind, status and scrubbed cause; other failed
// attempts at debug. Logs carry a link id for token refreshes, never a
// token, a URL query or a body.
package provider
