// Package ouratest is an httptest fake of the Oura API v2, its OAuth 2.0
// endpoints and its webhooks, for testing code that uses the oura provider
// without network. It follows the facts the provider relies on
// (docs/providers/oura.md) and real responses (the provider's testdata):
//
//   - OAuth: an authorize endpoint that auto-approves (redirect with code,
//     granted scope and state; unknown scopes dropped, Config.DenyScopes
//     unticked), a token endpoint for authorization_code (10-minute,
//     single-use codes) and refresh_token grants where every refresh token
//     is single use and rotates, expires_in 86400, the scope field plain,
//     "extapi:"-prefixed or absent (Config.TokenScope), and a revocation
//     endpoint (?access_token=…).
//   - Collections: heartrate (start_datetime/end_datetime, at most 30 days,
//     no window meaning the last 24 hours, one instant reported under
//     several sources), sleep (long_sleep nights with 5-minute hrv and
//     heart_rate series and stages, plus naps, "rest" and "deleted"
//     periods), daily_activity (04:00 local timestamps), daily_readiness
//     and daily_sleep (T00:00+00:00 timestamps), daily_spo2 (some nights
//     null), vO2_max (weekly), daily_stress, daily_resilience,
//     daily_cardiovascular_age, workout, ring_configuration and
//     personal_info, read by id too (404 "Document not found."). Date
//     filters behave as observed: the document's timestamp (or
//     bedtime_start, or day) is compared as wall-clock time with the
//     bounds, a date meaning 00:00. Every list pages with a next_token bound
//     to its query. Scopes are enforced with Oura's 401 "Token is not
//     authorized access <scope> scope.", bad parameters get the 422 body,
//     each token may make Config.RateLimit requests per window (429 with
//     Retry-After and X-RateLimit-* headers), and failures come on demand
//     ([Server.FailNext], [Server.FailWith]).
//   - Webhooks: the subscription API (list, create, get, update, delete,
//     renew) with x-client-id/x-client-secret, the verification call to the
//     callback before a creation succeeds, 90-day expiries (optionally
//     zone-less), 403 for unknown ids, and delivery of events signed with
//     the client secret ([Server.Deliver], [Server.Sign], [Server.EventFor]).
//
// Data is generated from the user id and the civil day in the user's zone,
// so the same query always returns the same documents, and nothing exists
// before Config.Now says so. Statuses and bodies Oura does not document
// (409 for a duplicate subscription, 400 for a failed verification, the 429
// and 401 bodies) are assumptions and say so.
package ouratest
