// Package withingstest is a fake of the Withings cloud for tests and demos,
// built on net/http/httptest. An EHR vendor uses it to test its own
// integration of package withings without network:
//
//	fake := withingstest.NewServer(withingstest.Config{})
//	defer fake.Close()
//	p, _ := withings.New(withings.Config{
//		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
//		APIBaseURL: fake.APIBaseURL(), AuthURL: fake.AuthURL(),
//		Common: provider.Common{HTTPClient: fake.Client(), ...},
//	})
//
// It serves the OAuth authorize redirect (auto-approving, as a new user or
// the one named by ApproveAs), the token endpoint with the {status, body}
// envelope and rotating refresh tokens (the old refresh token lasts 8 h or
// until the new access token is used), the signed nonce and revoke calls,
// getmeas, getactivity, getintradayactivity (24 h per call), Heart v2 list
// and get, Sleep v2 getsummary and get, getdevice, and notify subscribe
// (with the HEAD probe of the callback, status 293 when it fails), list and
// revoke. Payloads follow real Withings responses (modelid in getmeas, more
// as 0/1 in getmeas and as a bool elsewhere, newest-first pages, an empty
// intraday series as []).
//
// Data is generated per user from a seed and the time, on a daily schedule
// in the user's time zone (see gen.go), so the same window always gives the
// same answers. Failures are injected per operation (Fail, FailHTTP), tokens
// expired (ExpireAccessTokens) or revoked (RevokeUser), and a per-minute rate
// limit answers 601 (RateLimit). Calls records every request without its
// secrets; Notify posts a notification to the registered callbacks.
package withingstest
