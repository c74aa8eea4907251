package fitbittest_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
)

var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// fixture reads a real Google Health payload from the parent package's
// testdata: one copy serves the provider's decoding tests and the fake's.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "fixtures", name))
	require.NoError(t, err)
	return string(b)
}

const allScopes = "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly https://www.googleapis.com/auth/googlehealth.sleep.readonly https://www.googleapis.com/auth/googlehealth.settings.readonly https://www.googleapis.com/auth/googlehealth.ecg.readonly"

// login runs the OAuth flow by hand and returns the token response.
func login(t *testing.T, f *fitbittest.Server, scope string) map[string]any {
	t.Helper()
	verifier := "a-verifier-0123456789-0123456789-0123456789-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {f.ClientID()}, "redirect_uri": {"https://app.example/cb"}, "response_type": {"code"},
		"scope": {scope}, "access_type": {"offline"}, "state": {"xyz"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(f.AuthURL() + "?" + q.Encode())
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "xyz", loc.Query().Get("state"))
	form := url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")}, "redirect_uri": {"https://app.example/cb"},
		"client_id": {f.ClientID()}, "client_secret": {f.ClientSecret()}, "code_verifier": {verifier}}
	status, body := postForm(t, f.TokenURL(), form)
	require.Equal(t, http.StatusOK, status, body)
	var tok map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &tok))
	return tok
}

func postForm(t *testing.T, u string, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, form)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, u, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func newFake(t *testing.T, cfg fitbittest.Config) *fitbittest.Server {
	t.Helper()
	cfg.Now = func() time.Time { return now }
	f, err := fitbittest.New(cfg)
	require.NoError(t, err)
	t.Cleanup(f.Close)
	_, err = f.AddUser(fitbittest.User{HealthUserID: "user-1", TimeZone: "America/New_York"})
	require.NoError(t, err)
	return f
}

func list(f *fitbittest.Server, typ string, q url.Values) string {
	return f.APIBaseURL() + "v4/users/me/dataTypes/" + typ + "/dataPoints?" + q.Encode()
}

func TestRealErrorShapes(t *testing.T) {
	f := newFake(t, fitbittest.Config{})
	tok := login(t, f, allScopes)["access_token"].(string)

	status, body := get(t, list(f, "heartRate", nil), tok)
	assert.Equal(t, 400, status)
	assert.JSONEq(t, fixture(t, "error_400_invalid_parent_data_type.json"), body)

	filter := `daily_heart_rate_variability.interval.civil_start_time >= "2026-01-01" AND daily_heart_rate_variability.interval.civil_start_time < "2026-01-08"`
	status, body = get(t, list(f, "daily-heart-rate-variability", url.Values{"filter": {filter}}), tok)
	assert.Equal(t, 400, status)
	assert.JSONEq(t, fixture(t, "error_400_invalid_filter_member.json"), body)

	status, body = get(t, list(f, "heart-rate", nil), "")
	assert.Equal(t, 401, status)
	assert.JSONEq(t, fixture(t, "error_401_unauthenticated.json"), body)

	status, body = get(t, list(f, "steps", nil), tok)
	assert.Equal(t, 403, status, "activity scope not granted")
	assert.JSONEq(t, fixture(t, "error_403_scope_insufficient.json"), body)
}

func TestFilterRules(t *testing.T) {
	f := newFake(t, fitbittest.Config{})
	tok := login(t, f, allScopes)["access_token"].(string)
	tests := []struct {
		name, typ, filter string
		reason            string
	}{
		{"hyphenated type in filter", "heart-rate", `heart-rate.sample_time.physical_time >= "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_DATA_TYPE_RESTRICTION"},
		{"camelCase type in filter", "heart-rate", `heartRate.sample_time.physical_time >= "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_MIXED_DATA_TYPE_RESTRICTION"},
		{"greater than", "heart-rate", `heart_rate.sample_time.physical_time > "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_RESTRICTION_COMPARABLE"},
		{"less or equal", "heart-rate", `heart_rate.sample_time.physical_time <= "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_RESTRICTION_COMPARABLE"},
		{"daily civil_date", "daily-resting-heart-rate", `daily_resting_heart_rate.civil_date >= "2026-11-01"`, "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"},
		{"sleep start time", "sleep", `sleep.interval.start_time >= "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"},
		{"ecg upper bound", "electrocardiogram", `electrocardiogram.interval.start_time < "2026-11-18T00:00:00Z"`, "INVALID_DATA_POINT_FILTER_RESTRICTION_COMPARABLE"},
		{"dangling AND", "heart-rate", `heart_rate.sample_time.physical_time >= "2026-11-18T00:00:00Z" AND`, "INVALID_DATA_POINT_FILTER_UNEXPECTED_END_OF_INPUT"},
		{"unterminated", "heart-rate", `heart_rate.sample_time.physical_time >= "2026`, "INVALID_DATA_POINT_FILTER_SYNTAX"},
		{"bad timestamp", "heart-rate", `heart_rate.sample_time.physical_time >= "yesterday"`, "INVALID_DATA_POINT_FILTER_SYNTAX"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, list(f, tt.typ, url.Values{"filter": {tt.filter}}), tok)
			require.Equal(t, 400, status, body)
			var st struct {
				Error struct {
					Status  string `json:"status"`
					Details []struct {
						Reason   string            `json:"reason"`
						Metadata map[string]string `json:"metadata"`
					} `json:"details"`
				} `json:"error"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &st))
			assert.Equal(t, "INVALID_ARGUMENT", st.Error.Status)
			require.NotEmpty(t, st.Error.Details)
			assert.Equal(t, "INVALID_DATA_POINT_FILTER", st.Error.Details[0].Reason)
			assert.Equal(t, tt.reason, st.Error.Details[0].Metadata["detailedReasons"])
		})
	}
	status, body := get(t, list(f, "heart-rate", url.Values{"filter": {`heart_rate.sample_time.physical_time >= "2026-11-18T00:00:00Z" AND heart_rate.sample_time.physical_time < "2026-11-18T00:00:00Z"`}}), tok)
	assert.Equal(t, 400, status)
	assert.Contains(t, body, "Query end time must be strictly larger than start time")
	status, _ = get(t, list(f, "sleep", url.Values{"dataSourceFamily": {"users/me/dataSourceFamilies/google-wearables"}}), tok)
	assert.Equal(t, 400, status, "sleep list takes no data source family")
	status, _ = get(t, f.APIBaseURL()+"v4/users/me/dataTypes/electrocardiogram/dataPoints:reconcile", tok)
	assert.Equal(t, 400, status, "ECG cannot be reconciled")
}

func TestPagingNewestFirst(t *testing.T) {
	f := newFake(t, fitbittest.Config{HeartRateEvery: 10 * time.Second})
	tok := login(t, f, allScopes)["access_token"].(string)
	q := url.Values{"pageSize": {"1000"}, "filter": {`heart_rate.sample_time.physical_time >= "2026-11-18T00:00:00Z" AND heart_rate.sample_time.physical_time < "2026-11-18T06:00:00Z"`}}
	var times []time.Time
	pages := 0
	for {
		status, body := get(t, list(f, "heart-rate", q), tok)
		require.Equal(t, 200, status, body)
		var page struct {
			DataPoints []struct {
				HeartRate struct {
					BeatsPerMinute string `json:"beatsPerMinute"`
					SampleTime     struct {
						PhysicalTime time.Time `json:"physicalTime"`
						UTCOffset    string    `json:"utcOffset"`
					} `json:"sampleTime"`
				} `json:"heartRate"`
			} `json:"dataPoints"`
			NextPageToken string `json:"nextPageToken"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &page))
		pages++
		for _, p := range page.DataPoints {
			times = append(times, p.HeartRate.SampleTime.PhysicalTime)
			assert.Equal(t, "-18000s", p.HeartRate.SampleTime.UTCOffset)
			assert.NotEmpty(t, p.HeartRate.BeatsPerMinute, "int64 as a string")
		}
		if page.NextPageToken == "" {
			break
		}
		// Changing another parameter with a page token is refused.
		changed := url.Values{"pageSize": {"999"}, "filter": q["filter"], "pageToken": {page.NextPageToken}}
		status, _ = get(t, list(f, "heart-rate", changed), tok)
		require.Equal(t, 400, status)
		q.Set("pageToken", page.NextPageToken)
	}
	assert.Equal(t, 3, pages)
	require.Len(t, times, 6*360)
	for i := 1; i < len(times); i++ {
		require.Equal(t, 10*time.Second, times[i-1].Sub(times[i]), "newest first, no gaps")
	}
}

func TestTokenEndpoint(t *testing.T) {
	f := newFake(t, fitbittest.Config{})
	tok := login(t, f, allScopes)
	rt := tok["refresh_token"].(string)
	assert.Equal(t, allScopes, tok["scope"])
	assert.EqualValues(t, 3600, tok["expires_in"])

	status, body := postForm(t, f.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.ClientID()}, "client_secret": {f.ClientSecret()}})
	require.Equal(t, 200, status, body)
	assert.NotContains(t, body, "refresh_token", "Google does not rotate refresh tokens")

	status, body = postForm(t, f.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.ClientID()}, "client_secret": {"wrong"}})
	assert.Equal(t, 401, status)
	assert.Contains(t, body, "invalid_client")

	status, _ = postForm(t, f.RevokeURL(), url.Values{"token": {rt}})
	require.Equal(t, 200, status)
	status, body = postForm(t, f.TokenURL(), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {f.ClientID()}, "client_secret": {f.ClientSecret()}})
	assert.Equal(t, 400, status)
	assert.JSONEq(t, `{"error":"invalid_grant","error_description":"Token has been expired or revoked."}`, body)
	status, _ = get(t, f.APIBaseURL()+"v4/users/me/identity", tok["access_token"].(string))
	assert.Equal(t, 401, status, "revoking the grant kills its access tokens")
}

func TestFailuresOnDemand(t *testing.T) {
	f := newFake(t, fitbittest.Config{})
	tok := login(t, f, allScopes)["access_token"].(string)
	f.FailNext(1, 429, 7*time.Second)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.APIBaseURL()+"v4/users/me/identity", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "7", resp.Header.Get("Retry-After"))
	assert.Contains(t, string(b), "RESOURCE_EXHAUSTED")
	status, body := get(t, f.APIBaseURL()+"v4/users/me/identity", tok)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"name":"users/me/identity","healthUserId":"user-1"}`, body)
	restore := f.FailWith(503)
	status, _ = get(t, f.APIBaseURL()+"v4/users/me/identity", tok)
	assert.Equal(t, 503, status)
	restore()
	status, _ = get(t, f.APIBaseURL()+"v4/users/user-2/identity", tok)
	assert.Equal(t, 403, status, "another user's data")
	assert.True(t, strings.HasPrefix(f.KeysetURL(), f.URL()))
}
