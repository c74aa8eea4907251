// Package withings is the ohx provider for the Withings cloud: OAuth 2.0
// linking, the Measure, Measure v2, Heart v2, Sleep v2, User v2 and Notify
// APIs, and a receiver for Withings' data notifications.
//
// # Linking
//
// [New] takes a [Config] with the application's credentials, the OAuth
// redirect URL and the notification callback URL. [Provider.AuthCodeURL]
// sends the patient to Withings (comma-separated scopes, state, no PKCE);
// [Provider.Exchange] trades the code at /v2/oauth2 action=requesttoken,
// unwraps the {status, body} envelope and fills the link's Withings userid
// (ExternalUserID), granted scopes and time zone. Access tokens last 3 h;
// refresh tokens rotate on every refresh. The provider refreshes under the
// link's lock (Config.Locker), re-reads the stored token first so two workers
// never spend one refresh token, and saves the rotated token before using it.
// [Provider.Revoke] uses Withings' signed-request flow (getnonce, then
// HMAC-SHA256 over "revoke,<client_id>,<nonce>").
//
// # Data
//
// [Provider.Fetch] walks a window in 24 h steps (30 days when no requested
// type needs a 24 h endpoint) and, per step, calls the endpoints the
// requested types need:
//
//   - Measure getmeas (category 1, paged with more/offset): value × 10^unit;
//     weight, fat-free mass, fat ratio, fat mass, muscle, hydration, bone
//     mass, blood pressure (types 9/10 paired into one sample, pulse 11 as a
//     heart-rate sample of the same Group with CompanionOf BloodPressure,
//     yielded when either type is asked for), SpO2, body temperature (12 and
//     71, told apart by RecordID "<grpid>:<type>"), skin temperature, pulse
//     wave velocity and VO2max. attrib says how a group was recorded;
//     ambiguous groups (attrib 1) are skipped unless Config.IncludeAmbiguous.
//     [Provider.UpdatedMeasures] reads by lastupdate instead.
//   - Measure v2 getactivity: daily steps over the civil day in the day's own
//     time zone (or, with Config.Steps = StepsIntraday, intraday steps).
//   - Measure v2 getintradayactivity: heart rate (and steps) per timestamp;
//     Withings returns 24 h per call, which is why Fetch steps by 24 h.
//   - Heart v2 list + get: the whole ECG signal in µV (factor to mV
//     0.001) with its sampling frequency and AFib classification, followed by
//     its average heart rate as a HeartRate sample with CompanionOf ECG.
//   - Sleep v2 getsummary (sleep sessions with stage durations in seconds)
//     and get (hr → heart rate; rr → respiratory rate, not RR intervals;
//     rmssd and sdnn_1 → HRV).
//
// Every sample names Withings' own name of the measurement in
// ohx.Sample.ProviderType: the getmeas meastype ("1"), else the v2 service,
// action and field ("sleep/get/rmssd", "heart/get/signal").
//
// Within a step the samples are sorted by Start, so every type's samples come
// in non-decreasing Start order even when a type comes from several
// endpoints. [Provider.Devices] reads User v2 getdevice.
//
// # Errors
//
// Withings answers HTTP 200 with a non-zero body status on failure. The
// provider maps the documented status families to ohx error kinds: auth
// (the call is retried once after a refresh; a second rejection, or a refused
// refresh, is ohx.KindRevoked), 601 rate limited (RetryAfter: the next
// minute plus jitter), transient, permanent.
//
// # Notifications
//
// [Provider.WebhookHandler] is an http.Handler for Withings' form-encoded
// notifications: secret in the path or query (constant-time compare),
// optional CIDR allow-list, HEAD → 200, POST → 200 once the callback (an
// ohx.NotifyFunc, bounded by WebhookConfig.NotifyTimeout) made the
// ohx.Notification durable, 503 when it could not (Withings retries). [Provider.Subscribe]
// and [Provider.Unsubscribe] manage the per-appli subscriptions idempotently.
//
// # Configuration and rate limits
//
// Config names the endpoints as every ohx provider does: APIBaseURL (the
// API host), AuthURL (the authorize endpoint) and TokenURL (the OAuth
// endpoint, which Withings serves on the API host, so it follows
// APIBaseURL unless set). The settings every provider shares (token store,
// refresh lock, HTTP client, breaker, rate limits, retries, logs, metrics,
// clock) are the embedded provider.Common. Withings counts requests per
// application over all its users: 120 a minute on the standard plan
// ([DefaultRequestsPerMinute], the default of Config.AppLimit), more on
// enterprise plans; it documents no per-user limit, so Config.UserLimit has
// none by default. A 601 pauses every call of the application until the
// next minute.
//
// Package withingstest is a faithful fake of the Withings cloud for tests and
// demos.
package withings
