package withingstest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// These tests hold the fake to the real payloads: every key path of a real
// Withings response in withings/testdata/fixtures must appear in the fake's
// answer, with a JSON value of the same kind.

// fixtureDir is the parent package's folder of real Withings payloads: one
// copy serves the provider's decoding tests and the fake's shape tests.
func fixtureDir(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "testdata", "fixtures")
}

// shape maps each key path ("body.measuregrps[].measures[].value") to the
// JSON kinds seen there. Objects keyed by epoch seconds collapse to "<t>".
func shape(v any, path string, out map[string]map[string]bool) {
	kind := "null"
	switch x := v.(type) {
	case map[string]any:
		kind = "object"
		epoch := len(x) > 0
		for k := range x {
			if strings.Trim(k, "0123456789") != "" {
				epoch = false
			}
		}
		for k, e := range x {
			if epoch {
				k = "<t>"
			}
			shape(e, path+"."+k, out)
		}
	case []any:
		kind = "array"
		for _, e := range x {
			shape(e, path+"[]", out)
		}
	case string:
		kind = "string"
	case float64:
		kind = "number"
	case bool:
		kind = "bool"
	}
	if out[path] == nil {
		out[path] = map[string]bool{}
	}
	out[path][kind] = true
}

func shapeOf(t *testing.T, data []byte, prefix string) map[string]map[string]bool {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(data, &v))
	out := map[string]map[string]bool{}
	shape(v, prefix, out)
	return out
}

// optional are real keys the fake leaves out: segmental and app metadata of
// some groups, and the blood pressure only BPM Core ECGs carry.
var optional = []string{"position", "algo_params", "apppfmid", "appliver", "bloodpressure", "diastole", "systole", "1"}

func assertShape(t *testing.T, fixture, fake map[string]map[string]bool) {
	t.Helper()
	for path, kinds := range fixture {
		last := path[strings.LastIndexAny(path, ".]")+1:]
		if slices.Contains(optional, last) || strings.Contains(path, "bloodpressure") || strings.Contains(path, "algo_params") {
			continue
		}
		got, ok := fake[path]
		if !assert.True(t, ok, "the fake lacks %s", path) {
			continue
		}
		match := kinds["null"] && len(kinds) == 1
		for k := range kinds {
			if k != "null" && got[k] {
				match = true
			}
		}
		assert.True(t, match, "%s: fixture kinds %v, fake kinds %v", path, kinds, got)
	}
}

type harness struct {
	fake  *withingstest.Server
	token string
	now   time.Time
}

func newHarness(t *testing.T) *harness {
	now := time.Now().UTC()
	fake := withingstest.New(withingstest.Config{Now: func() time.Time { return now }, PageSize: 5})
	fake.AddUser(withingstest.User{ID: 1, TimeZone: "Europe/Amsterdam"})
	return &harness{fake: fake, token: fake.IssueToken(1).AccessToken, now: now}
}

func (h *harness) post(t *testing.T, path string, form url.Values) []byte {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.fake.URL()+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := h.fake.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	require.NoError(t, err)
	return b
}

func epoch(t time.Time) string { return json.Number(itoa(t.Unix())).String() }

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestShapesMatchRealPayloads(t *testing.T) {
	h := newHarness(t)
	week := url.Values{"startdate": {epoch(h.now.Add(-7 * 24 * time.Hour))}, "enddate": {epoch(h.now)}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, x := range v {
			out[k] = x
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	days := url.Values{"startdateymd": {h.now.AddDate(0, 0, -7).Format(time.DateOnly)}, "enddateymd": {h.now.AddDate(0, 0, -1).Format(time.DateOnly)}}

	getmeas := h.post(t, "/measure", with(week, "action", "getmeas", "category", "1"))
	assertShape(t, shapeOf(t, readFixture(t, "getmeas_response.json"), ""), shapeOf(t, getmeas, ""))
	assertShape(t, shapeOf(t, readFixture(t, "getmeas_measuregrps_bpmconnect_bodycardio.json"), ".body.measuregrps"), shapeOf(t, getmeas, ""))
	assertShape(t, shapeOf(t, readFixture(t, "getmeas_measuregrps_bodyscan.json"), ".body.measuregrps"), shapeOf(t, getmeas, ""))
	var gm struct {
		Body struct {
			More int `json:"more"`
		} `json:"body"`
	}
	require.NoError(t, json.Unmarshal(getmeas, &gm))
	assert.Equal(t, 1, gm.Body.More, "getmeas says more as 0/1")

	activity := h.post(t, "/v2/measure", with(days, "action", "getactivity"))
	assertShape(t, shapeOf(t, readFixture(t, "getactivity_response.json"), ""), shapeOf(t, activity, ""))

	day := url.Values{"startdate": {epoch(h.now.Add(-30 * time.Hour))}, "enddate": {epoch(h.now.Add(-6 * time.Hour))}}
	intraday := h.post(t, "/v2/measure", with(day, "action", "getintradayactivity"))
	assertShape(t, shapeOf(t, readFixture(t, "getintradayactivity_body_series_scanwatch.json"), ".body.series"), shapeOf(t, intraday, ""))

	list := h.post(t, "/v2/heart", with(week, "action", "list"))
	assertShape(t, shapeOf(t, readFixture(t, "heart_list_response.json"), ""), shapeOf(t, list, ""))
	var hl struct {
		Body struct {
			Series []struct {
				ECG struct {
					SignalID int64 `json:"signalid"`
				} `json:"ecg"`
			} `json:"series"`
		} `json:"body"`
	}
	require.NoError(t, json.Unmarshal(list, &hl))
	require.NotEmpty(t, hl.Body.Series)
	get := h.post(t, "/v2/heart", url.Values{"action": {"get"}, "signalid": {itoa(hl.Body.Series[0].ECG.SignalID)}})
	assertShape(t, shapeOf(t, readFixture(t, "heart_get_response.json"), ""), shapeOf(t, get, ""))

	summary := h.post(t, "/v2/sleep", with(days, "action", "getsummary"))
	assertShape(t, shapeOf(t, readFixture(t, "sleep_getsummary_response.json"), ""), shapeOf(t, summary, ""))

	devices := h.post(t, "/v2/user", url.Values{"action": {"getdevice"}})
	assertShape(t, shapeOf(t, readFixture(t, "getdevice_response.json"), ""), shapeOf(t, devices, ""))

	token := h.post(t, "/v2/oauth2", url.Values{"action": {"requesttoken"}, "grant_type": {"refresh_token"},
		"client_id": {h.fake.ClientID()}, "client_secret": {h.fake.ClientSecret()}, "refresh_token": {h.fake.IssueToken(1).RefreshToken}})
	assertShape(t, shapeOf(t, readFixture(t, "oauth2_requesttoken_response.json"), ""), shapeOf(t, token, ""))

	h.fake.Fail(withingstest.OpGetDevice, 401, 1)
	expired := h.post(t, "/v2/user", url.Values{"action": {"getdevice"}})
	assertShape(t, shapeOf(t, readFixture(t, "error_status401_invalid_token.json"), ""), shapeOf(t, expired, ""))
}

func TestNotifyShapesAndProbe(t *testing.T) {
	h := newHarness(t)
	var probes []string
	cb := httptestServer(t, func(r *http.Request) { probes = append(probes, r.Method) })
	h.fake = withingstest.NewServer(withingstest.Config{})
	t.Cleanup(h.fake.Close)
	h.token = h.fake.IssueToken(1).AccessToken
	sub := h.post(t, "/notify", url.Values{"action": {"subscribe"}, "callbackurl": {cb + "/ok"}, "appli": {"1"}, "comment": {"My notification subscription"}})
	assertShape(t, shapeOf(t, readFixture(t, "notify_subscribe_response.json"), ""), shapeOf(t, sub, ""))
	assert.Equal(t, []string{http.MethodHead}, probes)
	list := h.post(t, "/notify", url.Values{"action": {"list"}})
	assertShape(t, shapeOf(t, readFixture(t, "notify_list_response.json"), ""), shapeOf(t, list, ""))

	bad := h.post(t, "/notify", url.Values{"action": {"subscribe"}, "callbackurl": {cb + "/fail"}, "appli": {"4"}})
	var env struct {
		Status int `json:"status"`
	}
	require.NoError(t, json.Unmarshal(bad, &env))
	assert.Equal(t, withingstest.StatusCallbackInvalid, env.Status)
	assert.Len(t, h.fake.Subscriptions(1), 1)

	require.NoError(t, h.fake.Notify(t.Context(), withingstest.Notification{UserID: 1, Appli: 1, Start: time.Unix(1530576000, 0), End: time.Unix(1530698753, 0)}))
	assert.Equal(t, []string{http.MethodHead, http.MethodHead, http.MethodPost}, probes)
	assert.Error(t, h.fake.Notify(t.Context(), withingstest.Notification{UserID: 1, Appli: 4}), "no subscription for appli 4")
}
