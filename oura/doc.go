// Package oura is the ohx provider for the Oura Ring, through the Oura API
// v2: OAuth 2.0 linking, the user collections ohx maps to its catalog, the
// user's rings as devices, signed webhooks and the application's webhook
// subscriptions. The facts it relies on, with their sources, are in
// docs/providers/oura.md.
//
// # Linking
//
// [New] takes a [Config] with the application's client id and secret and the
// OAuth redirect URL; the API base, authorize, token and revoke URLs are
// configurable ([PortalTokenURL] is the undocumented token endpoint apps of
// the newer developer portal were seen to need). [Provider.AuthCodeURL] asks
// for the scopes of the requested types ([ScopesFor]); PKCE only when
// Config.PKCE is set, because Oura does not document it.
// [Provider.Exchange] trades the code, reads personal_info for the user's id
// (link.ExternalUserID, the id webhooks name) and fills link.Scopes from the
// token response (its "extapi:" prefixes dropped) or, when Oura leaves the
// scope out, with the scopes asked for. Oura reports no time zone: daily
// summaries use link.TimeZone (UTC when empty).
//
// Refresh tokens are single use and rotate on every refresh: the toolkit
// refreshes under the link's lock (Config.Locker), re-reads the stored token
// once it holds the lock, and persists the rotated token before using it.
// [Provider.Revoke] revokes the grant with the current access token.
//
// # Data
//
// [Provider.Fetch] reads one collection after the other:
//
//   - heartrate (scope heartrate), in windows of at most 30 days
//     ([MaxHeartRateSpan]): HeartRate from every source; Oura reports one
//     instant under several sources, and one sample per instant is kept;
//   - sleep (daily): a SleepSession per period with its durations (total,
//     in bed, light, deep, REM, awake; "deleted" and "rest" periods are
//     rejected detections and left out), HRVRMSSD from the 5-minute hrv
//     series (Oura's HRV is rMSSD, never SDNN), and, from the day's longest
//     long_sleep, DailyHRV (average_hrv), DailyRestingHeartRate
//     (lowest_heart_rate, which Oura uses as resting heart rate) and
//     DailyRespiratoryRate (average_breath), each spanning that sleep
//     period (the values were computed over it) with the period's id as
//     record id;
//   - daily_activity (daily): Steps over Oura's activity day, 04:00 local
//     for 24 hours;
//   - daily_readiness (daily): SkinTemperatureDeviation
//     (temperature_deviation, °C from the user's baseline), dated by its day;
//   - daily_spo2 (spo2): DailySpO2, the night's average, dated by its day;
//   - vO2_max (heart_health): VO2Max.
//
// Every sample names Oura's own name of the measurement in
// ohx.Sample.ProviderType: the collection and the field, such as
// "sleep/average_hrv".
//
// Day-indexed collections are read by the rule Oura's date filters call
// for: they compare each document's timestamp (or bedtime start) with the
// bounds, not its day, so a night filed under a day is missed when that day
// is the start_date and an activity day starting at 04:00 is missed when it
// is the end_date. Fetch asks for the days that can hold a sample of the
// window, with a day more on each side for the zone, plus one more day on
// each side; keeps documents by day, each id once; and keeps samples that
// start in the window. Every read follows next_token to the end (bounded by
// Config.MaxPages) before its samples are yielded in Start order.
//
// # Errors
//
// Oura answers 401 both for a bad token and for a collection the grant does
// not cover ("Token is not authorized access <scope> scope."). The first is
// ohx.KindAuth (one refresh, then the call again; a refused refresh is
// ohx.KindRevoked). The second is ohx.KindPermanent with code
// "missing-scope:<scope>": no refresh, no revocation; Fetch yields an
// *ohx.TypeUnavailableError for each type of the collection and goes on, so
// the engine reports those types skipped with the reason while the others
// sync. 403 is a lapsed membership (permanent); 429 is rate limited, with
// the wait from Retry-After or X-RateLimit-Reset; 5xx is transient; 400,
// 404 and 422 are permanent. Calls are limited per user to
// [DefaultRequestsPerMinute] unless Config.UserLimit says otherwise.
//
// # Webhooks
//
// [Provider.WebhookHandler] answers Oura's verification call (the
// verification token compared in constant time, the challenge echoed) and
// accepts deliveries whose x-oura-signature is the HMAC-SHA256 under the
// client secret of x-oura-timestamp followed by the raw body, with the
// timestamp within WebhookConfig.Tolerance; [ParseEvent] turns an event into
// an ohx.Notification for the types its data type feeds, over the days
// before the event (WebhookConfig.Lookback). The handler does no I/O beyond
// the notify callback, which it bounds, so it answers within Oura's 10
// seconds: 204 once the callback made the notification durable, 503 when
// it could not (Oura retries; the handler never answers 410, which would
// cancel the subscription). Heart rate has no webhook: [Provider.PolledTypes]
// names it for the polled schedule (ohx's server polls it hourly for
// realtime links).
//
// Subscriptions belong to the application. [Provider.EnsureSubscriptions]
// subscribes WebhookConfig.CallbackURL to create, update and delete events
// of each WebhookConfig.DataTypes, renews those close to expiry and reports
// when to run again; a scheduler calls it at start-up and daily.
// [Provider.ListSubscriptions], [Provider.CreateSubscription],
// [Provider.RenewSubscription] and [Provider.DeleteSubscription] are the
// single calls.
//
// Package ouratest is a fake of the Oura cloud for tests and demos.
package oura
