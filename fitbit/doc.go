// Package fitbit reads Fitbit and Pixel device data through the Google Health
// API v4 (health.googleapis.com, Google OAuth 2.0). The legacy Fitbit Web API
// and Fitbit OAuth were switched off on 2026-11-02; this is the only path.
//
// [New] takes a [Config] (every Google URL is configurable, so the provider
// can be pointed at the fake in fitbit/fitbittest) and returns a [Provider]
// implementing ohx.Provider, ohx.DataTypeLister, ohx.Authorizer, ohx.Revoker
// and ohx.WebhookReceiver.
//
// Config names its endpoints as every ohx provider does (APIBaseURL,
// AuthURL, TokenURL, plus Google's RevokeURL and KeysetURL) and embeds
// provider.Common, the settings every provider shares. Google limits each
// user to 300 requests a minute ([DefaultRequestsPerMinute], the default of
// Config.UserLimit; a 429 pauses that user's calls only); its per-project
// quota is far higher, so Config.AppLimit has none by default.
//
// # Linking
//
// [Provider.AuthCodeURL] asks for the googlehealth.*.readonly scopes of the
// wanted data types plus settings.readonly, with access_type=offline,
// prompt=consent and PKCE S256. [Provider.Exchange] trades the code, reads
// users/me/identity (healthUserId → Link.ExternalUserID, legacyUserId →
// Link.LegacyUserID) and users/me/settings (→ Link.TimeZone).
// [Provider.Revoke] revokes the grant at the revoke endpoint.
//
// # Data
//
// [Provider.Fetch] maps Google data types to ohx types:
//
//	heart-rate                          → HeartRate (google-wearables family, day by day, every page)
//	steps                               → Steps (1-minute intervals)
//	heart-rate-variability              → HRVRMSSD, HRVSDNN
//	oxygen-saturation                   → SpO2
//	respiratory-rate-sleep-summary      → RespiratoryRate (full sleep)
//	weight (grams)                      → BodyWeight (kg)
//	body-fat                            → BodyFatRatio
//	daily-heart-rate-variability        → DailyHRV
//	daily-resting-heart-rate            → DailyRestingHeartRate
//	daily-oxygen-saturation             → DailySpO2
//	daily-respiratory-rate              → DailyRespiratoryRate
//	daily-sleep-temperature-derivations → SkinTemperature (nightly °C)
//	                                      and SkinTemperatureDeviation (nightly − baseline, baseline component)
//	sleep (reconciled)                  → SleepSession with stage durations in seconds
//	electrocardiogram                   → ECG (whole waveform) + its average HeartRate
//	                                      (CompanionOf ECG, same Group, right after it)
//
// List calls pass Config.DataSourceFamily (google-wearables by default),
// except for weight and body fat, which come from scales and manual logs and
// are read from all sources, and sleep, which is read with
// dataPoints.reconcile (list takes no family for it).
//
// Filters use the snake_case type id and only >= and <; paths use the
// kebab-case id. Instants are UTC with the point's utcOffset kept on the
// sample (the link zone's offset when the point has none, as historic ECGs
// do). Daily types span the civil day's local midnights in the link's time
// zone. A "NaN" value yields no sample. Each sample records its recording
// method and device name when the point has a data source (reconciled sleep
// has none); RecordID is the point's name where it has one, else empty. A
// device name that is the product name (deviceVersion) of exactly one of the
// user's paired devices also sets DeviceID to that device, so the
// Observation refers to the Device a device sync writes; the paired devices
// are listed once per fetch, and without the settings scope the name stays a
// display only.
// Google Health has no RR-interval data: the provider never yields
// RRIntervals.
//
// # Webhooks
//
// [Provider.WebhookHandler] answers Google's verification handshake and
// accepts notifications signed with ECDSA P-256 (header
// Google-Health-Api-Signature, or the older X-Healthapi-Signature; Tink
// keyset fetched from Config.KeysetURL, cached, refetched on an unknown key
// id, by one request at a time outside any lock, at most once a minute and
// with a back-off after a failed fetch) or, without a signature, carrying
// the configured Authorization secret. It answers 204 only once the notify
// callback made every notification durable, else 503 (Google retries); a
// replay of a signed delivery already made durable is answered 204 without
// a new notification (Config.WebhookReplays). The project-level
// subscriber is managed by an operator with [Subscribers] (it needs project
// credentials, not a user's token):
//
//	subs := &fitbit.Subscribers{Client: projectClient, ProjectNumber: "123456789"}
//	_, err := subs.Create(ctx, "ohx", "https://ehr.example/webhooks/fitbit", "Bearer <secret>", nil)
//
// # Client choice
//
// The package talks JSON to the REST API with its own small client instead
// of the generated google.golang.org/api/health/v4 package. The generated
// client builds and can be pointed elsewhere, but: every request must pass
// through the project's HTTP path (token refresh under the store lock,
// breaker, per-user rate limit, classification into *ohx.ProviderError),
// which is direct here; the generated package drags gRPC, OpenTelemetry and
// the Google auth libraries into every program that links fitbit; and the
// hot path (86,400 heart-rate points a day) decodes into compact structs
// (internal/wire) that the fake in fitbittest shares. The wire structs follow
// the discovery document health/v4/health-api.json field for field, and the
// tests decode every captured payload in testdata/fixtures.
package fitbit
