package oura_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/ouratest"
)

// rawList reads one page of a collection from the fake, as an application
// asking Oura directly would.
func rawList(t *testing.T, e *env, collection, query string) []map[string]any {
	t.Helper()
	tok, err := e.fake.IssueToken(userID)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, e.fake.URL()+"/v2/usercollection/"+collection+"?"+query, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var page struct {
		Data []map[string]any `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	return page.Data
}

func days(docs []map[string]any) []string {
	var out []string
	for _, d := range docs {
		out = append(out, d["day"].(string))
	}
	return out
}

// TestFakeDateFilters pins the fake to what Oura was seen to do: the
// fixtures' window 2024-11-11..12 returned both readiness days but only the
// first activity day, and a sleep filed under start_date is missed.
func TestFakeDateFilters(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	assert.Equal(t, []string{"2026-11-15", "2026-11-16"}, days(rawList(t, e, "daily_readiness", "start_date=2026-11-15&end_date=2026-11-16")))
	assert.Equal(t, []string{"2026-11-15"}, days(rawList(t, e, "daily_activity", "start_date=2026-11-15&end_date=2026-11-16")),
		"the 04:00 timestamp of the end day is after end_date 00:00")
	for _, d := range rawList(t, e, "sleep", "start_date=2026-11-15&end_date=2026-11-16") {
		if d["type"] == "long_sleep" {
			assert.NotEqual(t, "2026-11-15", d["day"], "the night filed under start_date began the evening before")
		}
	}
}

// TestWindowRule: one Berlin day is read with a day more on each side than
// it could need, so the night and the activity day filed under it are found.
func TestWindowRule(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	day := ohx.Window{Start: time.Date(2026, 11, 15, 0, 0, 0, 0, berlin).UTC(), End: time.Date(2026, 11, 16, 0, 0, 0, 0, berlin).UTC()}
	got := byType(collect(t, e.p, e.link, []ohx.DataType{ohx.SleepSession, ohx.DailyHRV, ohx.Steps, ohx.SkinTemperatureDeviation, ohx.DailySpO2}, day))
	require.Len(t, got[ohx.DailyHRV], 1, "the night that began in the day (Oura files it under the next day)")
	hrv := got[ohx.DailyHRV][0]
	assert.True(t, day.Contains(hrv.Start))
	assert.Equal(t, 16, hrv.LocalEnd().Day(), "it ends on the morning of the 16th")
	assert.True(t, slices.ContainsFunc(got[ohx.SleepSession], func(s ohx.Sample) bool {
		return s.RecordID == hrv.RecordID && s.Start.Equal(hrv.Start) && s.End.Equal(hrv.End)
	}), "the summary spans its sleep session")
	require.Len(t, got[ohx.SkinTemperatureDeviation], 1)
	assert.Equal(t, day.Start, got[ohx.SkinTemperatureDeviation][0].Start, "daily_readiness gives a day only")
	require.Len(t, got[ohx.Steps], 1, "the activity day starting at 04:00")
	assert.Equal(t, day.Start.Add(4*time.Hour), got[ohx.Steps][0].Start)
	q := e.fake.LastQuery("sleep")
	assert.Equal(t, "2026-11-13", q.Get("start_date"), "the day before the day before")
	assert.Equal(t, "2026-11-18", q.Get("end_date"), "the day after the day after the window's end day")
}

func TestHeartRateInThirtyDayWindows(t *testing.T) {
	e := newEnv(t, ouratest.Config{HeartRateEvery: 30 * time.Minute, HeartRatePageSize: 700})
	w := ohx.Window{Start: now.Add(-65 * 24 * time.Hour), End: now}
	samples := collect(t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, w)
	require.NotEmpty(t, samples)
	q := e.fake.LastQuery("heartrate")
	start, err := time.Parse(time.RFC3339, q.Get("start_datetime"))
	require.NoError(t, err)
	end, err := time.Parse(time.RFC3339, q.Get("end_datetime"))
	require.NoError(t, err)
	assert.Equal(t, w.Start.Add(60*24*time.Hour), start, "the third window")
	assert.Equal(t, w.End, end)
	assert.Greater(t, e.fake.Calls("heartrate"), 3, "three windows, several pages each")
	seen := map[time.Time]bool{}
	sources := 0
	for i, s := range samples {
		require.False(t, seen[s.Start], "sample %d repeats an instant: duplicates across sources are dropped", i)
		seen[s.Start] = true
		if i > 0 {
			require.True(t, s.Start.After(samples[i-1].Start))
		}
		if s.Start.Truncate(time.Hour).Equal(s.Start) {
			sources++ // the fake reports every full hour awake under two sources
		}
	}
	assert.Positive(t, sources)
}

func TestPagingFollowsNextToken(t *testing.T) {
	big := newEnv(t, ouratest.Config{})
	small := newEnv(t, ouratest.Config{PageSize: 2, HeartRatePageSize: 50})
	types := small.p.DataTypes()
	a := collect(t, big.p, big.link, types, week)
	b := collect(t, small.p, small.link, types, week)
	assert.Equal(t, a, b, "the same samples whatever the page size")
	assert.Greater(t, small.fake.Calls("sleep"), 3)
	assert.Equal(t, 1, big.fake.Calls("sleep"))
}

func TestMissingScopeSkipsItsTypes(t *testing.T) {
	e := newEnv(t, ouratest.Config{DenyScopes: []string{"spo2", "heart_health"}})
	tokenCalls := e.fake.Calls("token")
	var samples []ohx.Sample
	var unavailable []*ohx.TypeUnavailableError
	for s, err := range e.p.Fetch(t.Context(), e.link, e.p.DataTypes(), week) {
		if err != nil {
			var tu *ohx.TypeUnavailableError
			require.ErrorAs(t, err, &tu, "only whole types fail")
			unavailable = append(unavailable, tu)
			continue
		}
		samples = append(samples, s)
	}
	require.Len(t, unavailable, 2)
	assert.Equal(t, ohx.DailySpO2, unavailable[0].Type)
	assert.Equal(t, "scope spo2 not granted by the user (oura daily_spo2 answered 401)", unavailable[0].Reason)
	assert.Equal(t, ohx.VO2Max, unavailable[1].Type)
	assert.Equal(t, ohx.KindPermanent, ohx.KindOf(unavailable[0]))
	var pe *ohx.ProviderError
	require.ErrorAs(t, unavailable[0], &pe)
	assert.Equal(t, "missing-scope:spo2", pe.Code)
	assert.Equal(t, 401, pe.HTTPStatus)
	assert.Equal(t, tokenCalls, e.fake.Calls("token"), "a missing scope is no reason to refresh")
	got := byType(samples)
	assert.NotEmpty(t, got[ohx.HeartRate], "the other types are read")
	assert.NotEmpty(t, got[ohx.Steps])
	assert.Equal(t, 1, e.fake.Calls("daily_spo2"), "asked once")

	stored, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.True(t, e.fake.Granted(userID), "the grant stays")
	assert.NotEmpty(t, stored.AccessToken)
	assert.ElementsMatch(t, []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.HRVRMSSD, ohx.SkinTemperatureDeviation, ohx.SleepSession,
		ohx.DailyRestingHeartRate, ohx.DailyHRV, ohx.DailyRespiratoryRate}, e.p.Allowed(e.link.Scopes, e.p.DataTypes()),
		"the link's scopes, as Oura reported them, already leave the types out")
}

func TestFetchOnlyRequestedTypesAndCollections(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	samples := collect(t, e.p, e.link, []ohx.DataType{ohx.DailySpO2, ohx.BodyWeight}, week)
	assert.Len(t, samples, 7-1, "one night in six has no SpO2 reading (the fake's calendar)")
	for _, s := range samples {
		assert.Equal(t, ohx.DailySpO2, s.Type)
	}
	assert.Zero(t, e.fake.Calls("heartrate"))
	assert.Zero(t, e.fake.Calls("sleep"))
	assert.Equal(t, 1, e.fake.Calls("daily_spo2"))
}

func TestFetchRejectsBadWindow(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	for _, err := range e.p.Fetch(t.Context(), e.link, e.p.DataTypes(), ohx.Window{Start: now, End: now}) {
		require.Error(t, err)
		return
	}
	t.Fatal("no error for an empty window")
}

func TestDevices(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	ds, err := e.p.Devices(t.Context(), e.link)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, "Oura Ring Gen3", ds[0].Model)
	assert.True(t, ds[0].FirstUse.IsZero(), "Oura's 1970 placeholder is no first use")
	assert.Equal(t, now.AddDate(-1, 0, 0), ds[1].FirstUse)

	denied := newEnv(t, ouratest.Config{DenyScopes: []string{"ring_configuration"}})
	ds, err = denied.p.Devices(t.Context(), denied.link)
	require.NoError(t, err, "a user who does not share ring details has no devices")
	assert.Empty(t, ds)
}
