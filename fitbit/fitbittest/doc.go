// Package fitbittest is an httptest fake of the Google Health API v4 and of
// Google's OAuth 2.0 endpoints, for testing code that uses the fitbit
// provider without network. It follows the facts in docs/providers/googlehealth.md
// and the captured payloads in fitbit/testdata/fixtures:
//
//   - OAuth: an authorize endpoint that auto-approves (redirect with code and
//     state; PKCE S256 checked at the token endpoint; Config.DenyScopes
//     simulates partial consent), a token endpoint for authorization_code and
//     refresh_token grants (Google does not rotate refresh tokens), and a
//     revoke endpoint.
//   - API: users/me/identity, users/me/settings, users/me/pairedDevices
//     (paged), and dataPoints.list / dataPoints.reconcile for heart-rate,
//     steps, heart-rate-variability, oxygen-saturation,
//     respiratory-rate-sleep-summary, weight, body-fat, sleep,
//     electrocardiogram and the daily-* summaries, with deterministic seeded
//     data (heart rate every Config.HeartRateEvery, down to 1 s), newest
//     first, nextPageToken paging bound to the query, AIP-160 filter checks
//     (snake_case type ids, only >= and <, the members each record type
//     allows) answered with Google's 400 shapes, camelCase type ids rejected
//     with INVALID_PARENT_DATA_TYPE_COLLECTION, dataSourceFamily handling,
//     scopes (403), expired tokens (401), a per-user limit of 300 requests a
//     minute (429 RESOURCE_EXHAUSTED) and failures on demand ([Server.FailNext]).
//   - Webhooks: a Tink JSON public keyset (P-256, rotatable with
//     [Server.RotateKey]), projects.subscribers create/list/patch/delete with
//     Google's verification handshake (it needs project credentials: pass
//     [Server.ProjectClient] to fitbit.Subscribers), and signed notification
//     delivery to active subscribers ([Server.Notify], [Server.Deliver]).
//
// Data is generated on the fly from the user id and the time, so the same
// query always returns the same points and nothing is generated after
// Config.Now.
package fitbittest
