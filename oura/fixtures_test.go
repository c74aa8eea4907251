package oura

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// The fixtures in testdata/fixtures are real Oura responses (see its
// README.md for where each came from).

// TestEveryFixtureIsTested fails on a fixture no test names.
func TestEveryFixtureIsTested(t *testing.T) {
	sources, err := filepath.Glob("*_test.go")
	require.NoError(t, err)
	var all []byte
	for _, f := range sources {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		all = append(all, b...)
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "fixtures"))
	require.NoError(t, err)
	require.Len(t, entries, 26)
	for _, e := range entries {
		if e.Name() != "README.md" {
			assert.Contains(t, string(all), `"`+e.Name()+`"`, "fixture %s has no test", e.Name())
		}
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fixtures", name))
	require.NoError(t, err)
	return b
}

func decodeFixture[T any](t testing.TB, name string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(fixture(t, name), &v), name)
	return v
}

var (
	berlin   = mustZone("Europe/Berlin")
	pacific  = mustZone("America/Los_Angeles")
	plus2    = 2 * time.Hour
	minus7   = -7 * time.Hour
	allTypes = func() map[ohx.DataType]bool {
		m := map[ohx.DataType]bool{}
		for _, t := range offered {
			m[t] = true
		}
		return m
	}()
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func ofType(ss []ohx.Sample, t ohx.DataType) []ohx.Sample {
	var out []ohx.Sample
	for _, s := range ss {
		if s.Type == t {
			out = append(out, s)
		}
	}
	return out
}

func TestSleepDocument(t *testing.T) {
	d := decodeFixture[wire.Sleep](t, "sleep_document.json")
	m := &mapper{loc: berlin, want: allTypes}
	out := m.sleeps(nil, []wire.Sleep{d})

	sessions := ofType(out, ohx.SleepSession)
	require.Len(t, sessions, 1)
	s := sessions[0]
	assert.Equal(t, "96e7772a-64a7-4342-9c5f-3e5ed9e64d6d", s.RecordID)
	assert.Equal(t, utc("2024-10-09T23:01:59Z"), s.Start)
	assert.Equal(t, utc("2024-10-10T07:04:12Z"), s.End)
	assert.Equal(t, plus2, s.StartOffset)
	assert.Equal(t, plus2, s.EndOffset)
	assert.Equal(t, []ohx.Component{
		{Code: ohx.ComponentSleepTotal, Value: 23220, Unit: "s"},
		{Code: ohx.ComponentInBed, Value: 28933, Unit: "s"},
		{Code: ohx.ComponentSleepLight, Value: 17160, Unit: "s"},
		{Code: ohx.ComponentSleepDeep, Value: 3060, Unit: "s"},
		{Code: ohx.ComponentSleepREM, Value: 3000, Unit: "s"},
		{Code: ohx.ComponentSleepAwake, Value: 5713, Unit: "s"},
	}, s.Components)
	require.NoError(t, s.Validate())

	hrv := ofType(out, ohx.HRVRMSSD)
	require.Len(t, hrv, 93, "96 five-minute items, 3 of them null")
	assert.Equal(t, utc("2024-10-09T23:01:59Z"), hrv[0].Start)
	assert.Equal(t, 12.0, hrv[0].Value)
	assert.Equal(t, "ms", hrv[0].Unit)
	assert.Equal(t, plus2, hrv[0].StartOffset)
	assert.Equal(t, utc("2024-10-09T23:06:59Z"), hrv[1].Start)
	assert.Equal(t, 9.0, hrv[1].Value)
	last := hrv[len(hrv)-1]
	assert.Equal(t, utc("2024-10-09T23:01:59Z").Add(95*5*time.Minute), last.Start, "item 95")
	assert.Equal(t, 32.0, last.Value)

	assert.Equal(t, "sleep", s.ProviderType)
	assert.Equal(t, "sleep/hrv", hrv[0].ProviderType)
	for typ, want := range map[ohx.DataType]struct {
		v     float64
		ptype string
	}{
		ohx.DailyHRV:              {38, "sleep/average_hrv"},
		ohx.DailyRestingHeartRate: {60, "sleep/lowest_heart_rate"},
		ohx.DailyRespiratoryRate:  {14.5, "sleep/average_breath"},
	} {
		got := ofType(out, typ)
		require.Len(t, got, 1, "%s", typ)
		assert.Equal(t, want.v, got[0].Value, "%s", typ)
		assert.Equal(t, want.ptype, got[0].ProviderType, "%s: Oura's field", typ)
		assert.Equal(t, s.Start, got[0].Start, "%s spans the sleep period Oura computed it over", typ)
		assert.Equal(t, s.End, got[0].End)
		assert.Equal(t, plus2, got[0].StartOffset)
		assert.Equal(t, plus2, got[0].EndOffset)
		assert.Equal(t, s.RecordID, got[0].RecordID, "identified by the period, whose times Oura may revise")
		assert.Equal(t, ohx.RecordedDerived, got[0].Recording)
		require.NoError(t, got[0].Validate())
	}
	for _, s := range out {
		assert.NotEqual(t, ohx.HRVSDNN, s.Type, "Oura's HRV is rMSSD")
	}
}

func TestSleepResponse(t *testing.T) {
	page := decodeFixture[wire.Page[wire.Sleep]](t, "sleep_response.json")
	require.Len(t, page.Data, 2)
	assert.Empty(t, page.Next())
	out := (&mapper{loc: pacific, want: allTypes}).sleeps(nil, page.Data)
	sessions := ofType(out, ohx.SleepSession)
	require.Len(t, sessions, 2)
	assert.Equal(t, utc("2024-07-27T05:25:28Z"), sessions[0].Start)
	assert.Equal(t, minus7, sessions[0].StartOffset)
	assert.Equal(t, utc("2024-07-27T12:28:45Z"), sessions[0].End)
	total, _ := sessions[1].Component(ohx.ComponentSleepTotal)
	assert.Equal(t, 19170.0, total.Value)
	assert.Len(t, ofType(out, ohx.HRVRMSSD), 72+76)
	hrv := ofType(out, ohx.DailyHRV)
	require.Len(t, hrv, 2)
	assert.Equal(t, 24.0, hrv[0].Value)
	assert.Equal(t, sessions[0].Start, hrv[0].Start, "the night of 2024-07-26/27, Oura's day 2024-07-27")
	assert.Equal(t, sessions[0].End, hrv[0].End)
	assert.Equal(t, sessions[1].RecordID, hrv[1].RecordID)
	assert.Equal(t, 22.0, hrv[1].Value)
	rhr := ofType(out, ohx.DailyRestingHeartRate)
	assert.Equal(t, []float64{67, 66}, []float64{rhr[0].Value, rhr[1].Value})
	rr := ofType(out, ohx.DailyRespiratoryRate)
	assert.Equal(t, []float64{12.375, 13}, []float64{rr[0].Value, rr[1].Value})
}

func TestSleepTypesLeftOut(t *testing.T) {
	d := decodeFixture[wire.Sleep](t, "sleep_document.json")
	for _, typ := range []string{"deleted", "rest", "some_future_type"} {
		d.Type = typ
		assert.Empty(t, (&mapper{loc: berlin, want: allTypes}).sleeps(nil, []wire.Sleep{d}), typ)
	}
	d.Type = "late_nap"
	out := (&mapper{loc: berlin, want: allTypes}).sleeps(nil, []wire.Sleep{d})
	assert.Len(t, ofType(out, ohx.SleepSession), 1, "a nap is a session")
	assert.Empty(t, ofType(out, ohx.DailyHRV), "but not the night's summary")
}

func TestMainSleepOfADay(t *testing.T) {
	d := decodeFixture[wire.Sleep](t, "sleep_document.json")
	second := d
	second.ID, second.TotalSleepDuration, second.AverageHRV = "second", ptr(30000.0), ptr(55.0)
	second.BedtimeStart.Time = d.BedtimeStart.Add(-time.Hour)
	out := (&mapper{loc: berlin, want: allTypes}).sleeps(nil, []wire.Sleep{d, second})
	hrv := ofType(out, ohx.DailyHRV)
	require.Len(t, hrv, 1, "one summary per day")
	assert.Equal(t, 55.0, hrv[0].Value, "from the longest long_sleep")
}

func ptr[T any](v T) *T { return &v }

func TestSandboxSleepDocument(t *testing.T) {
	d := decodeFixture[wire.Sleep](t, "sandbox_sleep_document.json")
	out := (&mapper{loc: time.UTC, want: allTypes}).sleeps(nil, []wire.Sleep{d})
	assert.Empty(t, ofType(out, ohx.SleepSession), "the sandbox's period has no length")
	hrv := ofType(out, ohx.HRVRMSSD)
	require.Len(t, hrv, 10)
	assert.Equal(t, utc("2021-01-01T00:01:00Z"), hrv[1].Start, "60-second interval")
	assert.Equal(t, 73.0, hrv[1].Value)
	hrvDay := ofType(out, ohx.DailyHRV)[0]
	assert.Equal(t, 70.0, hrvDay.Value)
	assert.Equal(t, time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), hrvDay.Start, "a period without a length: dated by its day")
	assert.Equal(t, time.Date(2025, 6, 2, 0, 0, 0, 0, time.UTC), hrvDay.End)
	assert.Equal(t, 54.0, ofType(out, ohx.DailyRestingHeartRate)[0].Value)
	assert.Equal(t, 10.0, ofType(out, ohx.DailyRespiratoryRate)[0].Value)
}

func TestDailyActivityResponse(t *testing.T) {
	page := decodeFixture[wire.Page[wire.DailyActivity]](t, "daily_activity_response.json")
	require.Len(t, page.Data, 1)
	d := page.Data[0]
	require.NotNil(t, d.MET)
	assert.Len(t, d.MET.Items, 1440)
	assert.Equal(t, 60.0, d.MET.Interval)
	out := (&mapper{loc: berlin, want: allTypes}).activities(nil, page.Data)
	require.Len(t, out, 1)
	s := out[0]
	assert.Equal(t, ohx.Steps, s.Type)
	assert.Equal(t, 15185.0, s.Value)
	assert.Equal(t, "{steps}", s.Unit)
	assert.Equal(t, "3e8de08b-9fa1-4fb0-8edc-0ccf097f6693", s.RecordID)
	assert.Equal(t, "daily_activity/steps", s.ProviderType)
	assert.Equal(t, utc("2024-11-11T03:00:00Z"), s.Start, "04:00 local")
	assert.Equal(t, time.Hour, s.StartOffset)
	assert.Equal(t, utc("2024-11-12T03:00:00Z"), s.End)
	require.NoError(t, s.Validate())
}

func TestDailyReadinessResponse(t *testing.T) {
	page := decodeFixture[wire.Page[wire.DailyReadiness]](t, "daily_readiness_response.json")
	out := (&mapper{loc: berlin, want: allTypes}).readiness(nil, page.Data)
	require.Len(t, out, 2)
	assert.Equal(t, ohx.SkinTemperatureDeviation, out[0].Type)
	assert.Equal(t, 0.1, out[0].Value)
	assert.Equal(t, "K", out[0].Unit, "a deviation is a temperature difference: K, never Cel")
	assert.Equal(t, "93b2a8ec-ccdb-49bf-84f5-d06a77873f25", out[0].RecordID)
	assert.Equal(t, "daily_readiness/temperature_deviation", out[0].ProviderType)
	assert.Equal(t, time.Date(2024, 11, 12, 0, 0, 0, 0, berlin).UTC(), out[0].End, "daily_readiness gives a day only: the civil day")
	assert.Equal(t, time.Date(2024, 11, 11, 0, 0, 0, 0, berlin).UTC(), out[0].Start)
	assert.Equal(t, -0.29, out[1].Value)
	assert.Empty(t, out[0].Components, "Oura gives no baseline")
	assert.Equal(t, 86.0, *page.Data[0].Score)
}

func TestDailySpO2Response(t *testing.T) {
	page := decodeFixture[wire.Page[wire.DailySpO2]](t, "daily_spo2_response.json")
	out := (&mapper{loc: berlin, want: allTypes}).spo2(nil, page.Data)
	require.Len(t, out, 2)
	assert.Equal(t, ohx.DailySpO2, out[0].Type)
	assert.Equal(t, 98.072, out[0].Value)
	assert.Equal(t, "daily_spo2/spo2_percentage.average", out[0].ProviderType)
	assert.Equal(t, "%", out[0].Unit)
	assert.Equal(t, 96.153, out[1].Value)
	assert.Equal(t, time.Date(2024, 11, 12, 0, 0, 0, 0, berlin).UTC(), out[1].Start)
	assert.Equal(t, 15.0, *page.Data[0].BreathingDisturbanceIndex)

	page.Data[0].SpO2Percentage = nil
	page.Data[1].SpO2Percentage.Average = nil
	assert.Empty(t, (&mapper{loc: berlin, want: allTypes}).spo2(nil, page.Data), "nights without a reading yield nothing")
}

func TestHeartRateResponses(t *testing.T) {
	page := decodeFixture[wire.Page[wire.HeartRate]](t, "heartrate_response_trimmed.json")
	require.Len(t, page.Data, 43)
	w := ohx.Window{Start: utc("2024-12-13T00:00:00Z"), End: utc("2024-12-15T00:00:00Z")}
	out := (&mapper{loc: berlin, want: allTypes}).heartRates(nil, page.Data, w)
	require.Len(t, out, 43)
	assert.Equal(t, utc("2024-12-13T12:31:21Z"), out[0].Start)
	assert.Equal(t, 91.0, out[0].Value)
	assert.Equal(t, "/min", out[0].Unit)
	assert.Equal(t, time.Hour, out[0].StartOffset, "rows are UTC; the offset is the link zone's")
	assert.Equal(t, "heartrate/bpm", out[0].ProviderType)
	assert.Equal(t, 201.0, out[38].Value, "a workout row")
	assert.Nil(t, page.Data[0].TimestampUnix, "2024 data has no timestamp_unix")

	sandbox := decodeFixture[wire.Page[wire.HeartRate]](t, "sandbox_heartrate_response.json")
	out = (&mapper{loc: time.UTC, want: allTypes}).heartRates(nil, sandbox.Data, ohx.Window{Start: utc("2025-06-01T00:00:00Z"), End: utc("2025-06-03T00:00:00Z")})
	require.Len(t, out, 2)
	assert.Equal(t, 60.0, out[0].Value)
	assert.Equal(t, utc("2025-06-02T00:00:00Z"), out[1].Start)
}

// TestVO2Max: an estimate at its timestamp, or, without one, dated by its
// day alone.
func TestVO2Max(t *testing.T) {
	at := wire.Time{Time: time.Date(2026, 11, 15, 8, 30, 0, 0, time.FixedZone("", 3600))}
	docs := []wire.VO2Max{
		{ID: "v1", Day: wire.DateOf(at.Time), Timestamp: at, VO2Max: ptr(44.0)},
		{ID: "v2", Day: wire.DateOf(at.Time).AddDays(7), VO2Max: ptr(45.0)},
		{ID: "v3", Day: wire.DateOf(at.Time).AddDays(14), VO2Max: ptr(0.0)},
	}
	out := (&mapper{loc: berlin, want: allTypes}).vo2Max(nil, docs)
	require.Len(t, out, 2, "no estimate of zero")
	assert.Equal(t, at.UTC(), out[0].Start)
	assert.Equal(t, out[0].Start, out[0].End)
	assert.Equal(t, "v1", out[0].RecordID)
	assert.Equal(t, "vO2_max/vo2_max", out[0].ProviderType)
	assert.Equal(t, time.Date(2026, 11, 22, 0, 0, 0, 0, berlin).UTC(), out[1].Start)
	assert.Equal(t, time.Date(2026, 11, 23, 0, 0, 0, 0, berlin).UTC(), out[1].End, "the civil day: a date-only value in FHIR")
	for _, s := range out {
		require.NoError(t, s.Validate())
	}
}

func TestHeartRateDuplicatesAcrossSources(t *testing.T) {
	at := wire.Time{Time: utc("2024-12-13T13:00:00Z")}
	rows := []wire.HeartRate{
		{BPM: 70, Source: "awake", Timestamp: at},
		{BPM: 64, Source: "rest", Timestamp: at},
		{BPM: 118, Source: "workout", Timestamp: at},
		{BPM: 72, Source: "awake", Timestamp: wire.Time{Time: at.Add(time.Minute)}},
		{BPM: 0, Source: "awake", Timestamp: wire.Time{Time: at.Add(2 * time.Minute)}},
	}
	out := (&mapper{loc: time.UTC, want: allTypes}).heartRates(nil, rows, ohx.Window{Start: at.Add(-time.Hour), End: at.Add(time.Hour)})
	require.Len(t, out, 2, "one sample per instant; no zero reading")
	assert.Equal(t, 118.0, out[0].Value, "the workout reading wins over background readings")
	assert.Equal(t, 72.0, out[1].Value)
}

func TestOtherCollectionsDecode(t *testing.T) {
	rc := decodeFixture[wire.Page[wire.RingConfiguration]](t, "ring_configuration_response.json")
	require.Len(t, rc.Data, 2)
	assert.Equal(t, "gen3", *rc.Data[0].HardwareType)
	assert.Equal(t, 11.0, *rc.Data[1].Size)

	pi := decodeFixture[wire.PersonalInfo](t, "personal_info_response.json")
	assert.Equal(t, "8b97e1b67-144-5e9a8c067-e62331-968-b", pi.ID)
	assert.Equal(t, 90.2, *pi.Weight)
	assert.Equal(t, 1.8, *pi.Height)

	cv := decodeFixture[wire.Page[wire.CardiovascularAge]](t, "daily_cardiovascular_age_response_2024.json")
	require.Len(t, cv.Data, 2)
	assert.Empty(t, cv.Data[0].ID, "2024 documents have no id")
	assert.Equal(t, 35.0, *cv.Data[1].VascularAge)

	ds := decodeFixture[wire.Page[wire.DailySleep]](t, "daily_sleep_response.json")
	assert.Equal(t, 83.0, *ds.Data[1].Score)
	assert.Equal(t, 93.0, *ds.Data[0].Contributors["efficiency"])

	st := decodeFixture[wire.Page[wire.DailyStress]](t, "daily_stress_response.json")
	require.Len(t, st.Data, 3)
	assert.Equal(t, 4500.0, *st.Data[0].RecoveryHigh)
	assert.Nil(t, st.Data[2].DaySummary)

	rs := decodeFixture[wire.Page[wire.DailyResilience]](t, "daily_resilience_response.json")
	assert.Equal(t, "adequate", rs.Data[0].Level)
	assert.Equal(t, 46.7, *rs.Data[1].Contributors["sleep_recovery"])

	wo := decodeFixture[wire.Workout](t, "workout_document.json")
	assert.Equal(t, "walking", wo.Activity)
	assert.Nil(t, wo.Distance)
	assert.Equal(t, utc("2024-10-09T07:07:00Z"), wo.StartDatetime.UTC())

	var session struct {
		ID        string       `json:"id"`
		Type      string       `json:"type"`
		HeartRate *wire.Series `json:"heart_rate"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "session_document.json"), &session))
	assert.Equal(t, "body_status", session.Type)
	assert.Equal(t, 5.0, session.HeartRate.Interval)
	assert.Nil(t, session.HeartRate.Items[0])

	subs := decodeFixture[[]wire.Subscription](t, "webhook_subscription_list_response_libtest.json")
	require.Len(t, subs, 1)
	sub := subscriptionOf(subs[0])
	assert.Equal(t, "c534043e-ba54-4131-9dce-e40537823bfd", sub.ID)
	assert.Equal(t, "tag", sub.DataType)
	assert.Equal(t, utc("2024-08-24T14:15:22Z"), sub.Expires)
}

func TestDevicesFromRingConfiguration(t *testing.T) {
	// Devices maps what readAll returns; the mapping is checked here on the
	// real response through a provider wired to a one-route server.
	p, done := fixtureProvider(t, map[string]string{"/v2/usercollection/ring_configuration": "ring_configuration_response.json"})
	defer done()
	ds, err := p.Devices(t.Context(), ohx.Link{ID: "l"})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	assert.Equal(t, ohx.Device{Provider: Name, ID: "cb3317b2-3ec6-46f2-b62d-210e87c41268", Kind: ohx.DeviceActivityTracker,
		Manufacturer: "Oura", Model: "Oura Ring Gen3", ModelNumber: "gen3", Firmware: "2.9.32"}, ds[0], "1970 is no first use")
	assert.Equal(t, utc("2024-03-09T10:48:37Z"), ds[1].FirstUse)
	assert.Equal(t, "3.0.3", ds[1].Firmware)
}

func TestErrorBodiesClassified(t *testing.T) {
	p := &Provider{now: func() time.Time { return utc("2026-01-01T00:00:00Z") }}
	tests := []struct {
		file   string
		status int
		kind   ohx.ErrorKind
		code   string
	}{
		{"error_401_missing_scope.json", 401, ohx.KindPermanent, "missing-scope:stress"},
		{"error_404_document_not_found.json", 404, ohx.KindPermanent, "not-found"},
		{"error_422_validation_sandbox.json", 422, ohx.KindPermanent, "invalid-request"},
		{"error_422_webhook_bad_data_type_2024.json", 422, ohx.KindPermanent, "invalid-request"},
		{"error_400_sandbox_missing_auth.json", 400, ohx.KindPermanent, "invalid-request"},
	}
	for _, tc := range tests {
		err := p.classify("op", &provider.Response{StatusCode: tc.status, Header: http.Header{}, Body: fixture(t, tc.file)})
		var pe *ohx.ProviderError
		require.ErrorAs(t, err, &pe, tc.file)
		assert.Equal(t, tc.kind, pe.Kind, tc.file)
		assert.Equal(t, tc.code, pe.Code, tc.file)
		assert.NotContains(t, pe.Error(), "Token is not", "no body in errors")
	}
	var e wire.ErrorBody
	require.NoError(t, json.Unmarshal(fixture(t, "error_422_webhook_bad_data_type_2024.json"), &e))
	assert.Contains(t, e.DetailText(), "Input should be 'tag'")
}

func TestExchangeWithTheDocumentedTokenResponse(t *testing.T) {
	p, done := fixtureProvider(t, map[string]string{
		"/oauth/token":                     "oauth_token_response_doc_example.json",
		"/v2/usercollection/personal_info": "personal_info_response.json",
	})
	defer done()
	link := ohx.Link{ID: "new", DataTypes: []ohx.DataType{ohx.HeartRate, ohx.DailySpO2}}
	before := time.Now()
	tok, err := p.Exchange(t.Context(), "the-code", "", &link)
	require.NoError(t, err)
	assert.Equal(t, "ACCESS_TOKEN", tok.AccessToken)
	assert.Equal(t, "REFRESH_TOKEN", tok.RefreshToken)
	assert.WithinDuration(t, before.Add(86400*time.Second), tok.Expiry, time.Minute, "expires_in is read")
	assert.Equal(t, Name, link.Provider)
	assert.Equal(t, "8b97e1b67-144-5e9a8c067-e62331-968-b", link.ExternalUserID)
	assert.Equal(t, []string{"heartrate", "ring_configuration", "spo2", "spo2Daily"}, link.Scopes,
		"no scope in the answer: the scopes asked for the link's types")
	assert.Equal(t, []ohx.DataType{ohx.HeartRate, ohx.DailySpO2}, p.Allowed(link.Scopes, []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.DailySpO2}))
}

// synthetic is testdata/fixtures/webhook_delivery_signed_SYNTHETIC.json.
type synthetic struct {
	ClientSecret string `json:"client_secret"`
	Request      struct {
		Headers map[string]string `json:"headers"`
		Body    string            `json:"body"`
	} `json:"request"`
}

func TestSyntheticSignedDelivery(t *testing.T) {
	fx := decodeFixture[synthetic](t, "webhook_delivery_signed_SYNTHETIC.json")
	at := time.Unix(1728545400, 0).Add(30 * time.Second)
	p, err := New(Config{ClientID: "id", ClientSecret: fx.ClientSecret, Common: provider.Common{Now: func() time.Time { return at }}})
	require.NoError(t, err)
	h := http.Header{}
	for k, v := range fx.Request.Headers {
		h.Set(k, v)
	}
	body := []byte(fx.Request.Body)
	require.NoError(t, p.VerifySignature(h, body))

	n, ok, err := ParseEvent(body, at, 0)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, ohx.NotifyData, n.Kind)
	assert.Equal(t, "8b97e1b67-144-5e9a8c067-e62331-968-b", n.ExternalUserID)
	assert.Equal(t, sleepCollection.types, n.DataTypes)
	assert.Equal(t, ohx.Window{Start: utc("2024-10-07T07:30:00Z"), End: utc("2024-10-10T07:31:00Z")}, n.Window,
		"three days before event_time, so the night the ring announced is re-read")

	tampered := []byte(fx.Request.Body[:len(fx.Request.Body)-2] + "c\"}")
	assert.ErrorIs(t, p.VerifySignature(h, tampered), ErrBadSignature)
	h2 := h.Clone()
	h2.Set(TimestampHeader, "1728545401")
	assert.ErrorIs(t, p.VerifySignature(h2, body), ErrBadSignature, "the timestamp is signed")
	late, err := New(Config{ClientID: "id", ClientSecret: fx.ClientSecret, Common: provider.Common{Now: func() time.Time { return at.Add(3 * time.Hour) }}})
	require.NoError(t, err)
	assert.ErrorIs(t, late.VerifySignature(h, body), ErrStale)
}

func TestDocumentedEventExample(t *testing.T) {
	n, ok, err := ParseEvent(fixture(t, "webhook_event_doc_example.json"), utc("2022-11-16T08:21:30Z"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "tags are not synced: answered, nothing to do")
	assert.Zero(t, n)
}
