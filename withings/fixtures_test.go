package withings

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// fixtureDir is the folder of real Withings payloads (origins in its
// README.md). A missing file fails the test: the fixtures are the proof.
func fixtureDir(t testing.TB) string {
	t.Helper()
	return filepath.Join("testdata", "fixtures")
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), name))
	require.NoError(t, err)
	return b
}

// okBody decodes a fixture's envelope through the provider's classifier and
// its body into out.
func okBody(t *testing.T, name string, out any) {
	t.Helper()
	p := newTestProvider(t)
	body, err := p.classify("test", 200, nil, fixture(t, name))
	require.NoError(t, err)
	require.NoError(t, decode("test", body, out))
}

func newTestProvider(t testing.TB) *Provider {
	t.Helper()
	p, err := New(Config{ClientID: "id", ClientSecret: "secret"})
	require.NoError(t, err)
	return p
}

var amsterdam = func() *time.Location {
	l, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		panic(err)
	}
	return l
}()

func allTypes() typeSet { return newTypeSet(offered) }

func TestFixtureEveryFileIsDecoded(t *testing.T) {
	entries, err := os.ReadDir(fixtureDir(t))
	require.NoError(t, err)
	covered := map[string]bool{
		"README.md": true, "getmeas_response.json": true, "getmeas_measuregrps_bpmconnect_bodycardio.json": true,
		"getmeas_measuregrps_bodyscan.json": true, "getactivity_response.json": true, "getdevice_response.json": true,
		"notify_list_response.json": true, "notify_subscribe_response.json": true, "sleep_getsummary_response.json": true,
		"getintradayactivity_body_series_scanwatch.json": true, "heart_list_response.json": true,
		"heart_get_response.json": true, "oauth2_requesttoken_response.json": true,
		"error_status401_invalid_token.json": true, "notify_post_appli1_doc_example.txt": true,
	}
	for _, e := range entries {
		assert.True(t, covered[e.Name()], "fixture %s has no test", e.Name())
	}
}

func TestFixtureGetmeasBodyPlus(t *testing.T) {
	var b measureBody
	okBody(t, "getmeas_response.json", &b)
	require.Len(t, b.MeasureGrps, 2)
	assert.Equal(t, "Europe/Amsterdam", b.Timezone)
	assert.False(t, bool(b.More))

	var got []ohx.Sample
	for i := range b.MeasureGrps {
		got = measureSamples(got, &b.MeasureGrps[i], allTypes(), location(b.Timezone, time.UTC), mapOptions{})
	}
	got = dedupe(got)
	require.Len(t, got, 1, "the attrib 8 copy of the group is the same weigh-in")
	w := got[0]
	assert.Equal(t, ohx.BodyWeight, w.Type)
	assert.Equal(t, 118.003, w.Value)
	assert.Equal(t, "kg", w.Unit)
	assert.Equal(t, "1", w.ProviderType, "the getmeas meastype of weight")
	assert.Equal(t, time.Unix(1693651151, 0).UTC(), w.Start)
	assert.Equal(t, w.Start, w.End)
	assert.Equal(t, 2*time.Hour, w.StartOffset, "Amsterdam is on CEST in September")
	assert.Equal(t, "4815757309", w.RecordID)
	assert.Equal(t, "f998be4b9ccc9e136fd8cd8e8e344c31ec3b271d", w.DeviceID)
	assert.Equal(t, ohx.RecordedByDevice, w.Recording)
	assert.Equal(t, time.Unix(1693651185, 0).UTC(), w.Created)
	assert.Equal(t, time.Unix(1693651185, 0).UTC(), w.Modified)
	require.NoError(t, w.Validate())
}

func decodeGroups(t *testing.T, name string) []measureGroup {
	t.Helper()
	var gs []measureGroup
	require.NoError(t, json.Unmarshal(fixture(t, name), &gs))
	return gs
}

func samplesOf(gs []measureGroup, want typeSet, opt mapOptions) []ohx.Sample {
	var out []ohx.Sample
	for i := range gs {
		out = measureSamples(out, &gs[i], want, amsterdam, opt)
	}
	return dedupe(out)
}

func find(ss []ohx.Sample, t ohx.DataType, recordID string) (ohx.Sample, bool) {
	for _, s := range ss {
		if s.Type == t && s.RecordID == recordID {
			return s, true
		}
	}
	return ohx.Sample{}, false
}

func TestFixtureGetmeasBPMConnectAndBodyCardio(t *testing.T) {
	gs := decodeGroups(t, "getmeas_measuregrps_bpmconnect_bodycardio.json")
	require.Len(t, gs, 11)
	assert.Empty(t, string(gs[0].DeviceID), "manual entries have deviceid null")

	got := samplesOf(gs, allTypes(), mapOptions{})
	for _, s := range got {
		require.NoError(t, s.Validate())
		assert.NotEqual(t, "2726389202", s.RecordID, "the ambiguous (attrib 1) group is skipped by default")
	}

	// attrib 17 BPM Connect reading: 9/10 paired, pulse 11 in the same group.
	bp, ok := find(got, ohx.BloodPressure, "2726388728")
	require.True(t, ok)
	sys, _ := bp.Component(ohx.ComponentSystolic)
	dia, _ := bp.Component(ohx.ComponentDiastolic)
	assert.Equal(t, 143.0, sys.Value)
	assert.Equal(t, 106.0, dia.Value)
	assert.Equal(t, "mm[Hg]", sys.Unit)
	assert.Equal(t, ohx.RecordedByDevice, bp.Recording)
	pulse, ok := find(got, ohx.HeartRate, "2726388728")
	require.True(t, ok)
	assert.Equal(t, 82.0, pulse.Value)
	assert.Equal(t, bp.Group, pulse.Group)
	assert.Equal(t, ohx.BloodPressure, pulse.CompanionOf)
	assert.Equal(t, bp.Start, pulse.Start)

	// Manual entry (attrib 2) with unit 0.
	manual, ok := find(got, ohx.BloodPressure, "2728397845")
	require.True(t, ok)
	sys, _ = manual.Component(ohx.ComponentSystolic)
	assert.Equal(t, 145.0, sys.Value)
	assert.Equal(t, ohx.RecordedByUser, manual.Recording)
	assert.Empty(t, manual.DeviceID)

	// Weight with unit -4, manual.
	wt, ok := find(got, ohx.BodyWeight, "3179960660")
	require.True(t, ok)
	assert.Equal(t, 67.0, wt.Value)

	// Height (type 4) is not mapped: group 2726375354 yields nothing.
	for _, s := range got {
		assert.NotEqual(t, "2726375354", s.RecordID)
	}

	// Body Cardio composition.
	for _, c := range []struct {
		t    ohx.DataType
		v    float64
		unit string
	}{
		{ohx.BodyWeight, 90.2, "kg"}, {ohx.FatMass, 10.4, "kg"}, {ohx.MuscleMass, 75.39, "kg"},
		{ohx.Hydration, 57.59, "kg"}, {ohx.BoneMass, 4.4, "kg"}, {ohx.BodyFatRatio, 11.53, "%"},
		{ohx.FatFreeMass, 79.8, "kg"},
	} {
		s, ok := find(got, c.t, "3373005073")
		require.True(t, ok, c.t)
		assert.Equal(t, c.v, s.Value, c.t)
		assert.Equal(t, c.unit, s.Unit, c.t)
		assert.Equal(t, "c57e2809f962b56b9c98c428e0240e16dba37d2f", s.DeviceID)
	}
	// Standalone pulse and the attrib 8 PWV group.
	hr, ok := find(got, ohx.HeartRate, "3373005179")
	require.True(t, ok)
	assert.Equal(t, 75.0, hr.Value)
	pwv, ok := find(got, ohx.PulseWaveVelocity, "3373005279")
	require.True(t, ok)
	assert.Equal(t, 7.2, pwv.Value)
	assert.Equal(t, "m/s", pwv.Unit)
	assert.Equal(t, ohx.RecordedByDevice, pwv.Recording)

	// Ambiguous groups come through when asked for, marked as such.
	amb := samplesOf(gs, allTypes(), mapOptions{includeAmbiguous: true})
	bpAmb, ok := find(amb, ohx.BloodPressure, "2726389202")
	require.True(t, ok)
	assert.Equal(t, ohx.RecordedAmbiguous, bpAmb.Recording)
}

func TestFixtureGetmeasBodyScan(t *testing.T) {
	gs := decodeGroups(t, "getmeas_measuregrps_bodyscan.json")
	require.Len(t, gs, 6)
	got := samplesOf(gs, allTypes(), mapOptions{})
	var composition []ohx.Sample
	for _, s := range got {
		require.NoError(t, s.Validate())
		if s.RecordID == "5114418400" {
			composition = append(composition, s)
		}
	}
	// 1, 5, 8, 76, 77, 88, 6: the repeated 5 and 8 and the segmental,
	// unmapped types (168–175, 226) yield nothing.
	require.Len(t, composition, 7)
	ffm, _ := find(composition, ohx.FatFreeMass, "5114418400")
	assert.Equal(t, 76.8, ffm.Value)
	ratio, _ := find(composition, ohx.BodyFatRatio, "5114418400")
	assert.Equal(t, 19.904, ratio.Value)
	// The AFib result (130) and nerve-health types are not quantities ohx maps;
	// the pulse in the same group is.
	hr, ok := find(got, ohx.HeartRate, "5122267193")
	require.True(t, ok)
	assert.Equal(t, 113.0, hr.Value)
	assert.True(t, hr.Modified.After(hr.Created), "a corrected record")
	pwv, ok := find(got, ohx.PulseWaveVelocity, "5183334781")
	require.True(t, ok)
	assert.Equal(t, 7.68, pwv.Value)
	// Only blood pressure wanted: no pulse without a reading.
	assert.Empty(t, samplesOf(gs, newTypeSet([]ohx.DataType{ohx.BloodPressure}), mapOptions{}))
}

func TestFixtureGetactivity(t *testing.T) {
	var b activityBody
	okBody(t, "getactivity_response.json", &b)
	require.Len(t, b.Activities, 2)
	assert.False(t, bool(b.More))
	assert.Equal(t, int64(200), int64(b.Offset))
	s, ok := activitySample(&b.Activities[0], time.UTC)
	require.True(t, ok)
	assert.Equal(t, ohx.Steps, s.Type)
	assert.Equal(t, 1209.0, s.Value)
	assert.Equal(t, "{steps}", s.Unit)
	assert.Equal(t, time.Date(2023, 10, 19, 22, 0, 0, 0, time.UTC), s.Start, "local midnight in Amsterdam (CEST)")
	assert.Equal(t, time.Date(2023, 10, 20, 22, 0, 0, 0, time.UTC), s.End)
	assert.Equal(t, 2*time.Hour, s.StartOffset)
	assert.Empty(t, s.DeviceID)
	assert.Equal(t, "GoogleFit tracker", s.DeviceName)
	assert.Equal(t, "measure/getactivity/steps", s.ProviderType, "Withings' own name: service, action, field")
	assert.Equal(t, time.Unix(1697884856, 0).UTC(), s.Modified)
	require.NoError(t, s.Validate())
}

func TestActivityDayAcrossDSTChange(t *testing.T) {
	a := activity{Date: "2023-10-29", Timezone: "Europe/Amsterdam", Steps: flexFloat{V: 10, Valid: true}}
	s, ok := activitySample(&a, time.UTC)
	require.True(t, ok)
	assert.Equal(t, 25*time.Hour, s.End.Sub(s.Start), "the day clocks go back lasts 25 h")
	assert.Equal(t, 2*time.Hour, s.StartOffset)
	assert.Equal(t, time.Hour, s.EndOffset)
}

func TestFixtureIntraday(t *testing.T) {
	var b intradayBody
	raw := append(append([]byte(`{"series":`), fixture(t, "getintradayactivity_body_series_scanwatch.json")...), '}')
	require.NoError(t, json.Unmarshal(raw, &b))
	require.Len(t, b.Series, 3)
	got := intradaySamples(nil, b.Series, newTypeSet([]ohx.DataType{ohx.HeartRate, ohx.Steps}), amsterdam)
	require.Len(t, got, 3)
	assert.Equal(t, ohx.HeartRate, got[0].Type)
	assert.Equal(t, 133.0, got[0].Value)
	assert.Equal(t, "measure/getintradayactivity/heart_rate", got[0].ProviderType)
	assert.Equal(t, "measure/getintradayactivity/steps", got[1].ProviderType, "a count over the point's duration, not a day total")
	assert.Equal(t, time.Unix(1697050739, 0).UTC(), got[0].Start)
	assert.Equal(t, ohx.Steps, got[1].Type)
	assert.Equal(t, 72.0, got[1].Value)
	assert.Equal(t, time.Unix(1697050740+60, 0).UTC(), got[1].End)
	assert.Equal(t, 128.0, got[2].Value)
	assert.Equal(t, "XXXXXXXXXXX", got[2].DeviceID)
	for _, s := range got {
		require.NoError(t, s.Validate())
	}
	// No data: Withings sends an empty array.
	var empty intradayBody
	require.NoError(t, json.Unmarshal([]byte(`{"series":[]}`), &empty))
	assert.Empty(t, empty.Series)
}

func TestFixtureHeart(t *testing.T) {
	var list heartListBody
	okBody(t, "heart_list_response.json", &list)
	require.Len(t, list.Series, 3)
	var sig heartGetBody
	okBody(t, "heart_get_response.json", &sig)
	assert.Equal(t, []int32{-20, 0, 20}, sig.Signal)
	assert.Equal(t, 500.0, sig.SamplingFrequency.V)

	want := []ohx.ECGClassification{ohx.ECGNoAtrialFibrillation, ohx.ECGAtrialFibrillation, ohx.ECGInconclusive}
	for i := range list.Series {
		got := ecgSamples(nil, &list.Series[i], &sig, time.UTC)
		require.Len(t, got, 2)
		ecg, hr := got[0], got[1]
		assert.Equal(t, ohx.ECG, ecg.Type)
		assert.Equal(t, want[i], ecg.Waveform.Classification)
		assert.Equal(t, []int32{-20, 0, 20}, ecg.Waveform.Samples)
		assert.Equal(t, 0.001, ecg.Waveform.FactorToMillivolts)
		assert.Equal(t, 6*time.Millisecond, ecg.End.Sub(ecg.Start), "3 samples at 500 Hz")
		assert.Equal(t, ohx.HeartRate, hr.Type)
		assert.Equal(t, ohx.ECG, hr.CompanionOf)
		assert.Equal(t, ecg.Group, hr.Group)
		assert.Equal(t, ecg.Start, hr.Start)
		assert.Equal(t, "heart/get/signal", ecg.ProviderType)
		assert.Equal(t, "heart/list/heart_rate", hr.ProviderType, "the list item's average heart rate")
		require.NoError(t, ecg.Validate())
		require.NoError(t, hr.Validate())
	}
	first := ecgSamples(nil, &list.Series[0], &sig, time.UTC)
	assert.Equal(t, "9876543", first[0].RecordID)
	assert.Equal(t, 78.0, first[1].Value)
	assert.Equal(t, time.Unix(1594911107, 0).UTC(), first[0].Start)
	item, withHR := list.Series[0], sig
	item.HeartRate, withHR.HeartRate = flexFloat{}, flexFloat{V: 80, Valid: true}
	got := ecgSamples(nil, &item, &withHR, time.UTC)
	require.Len(t, got, 2)
	assert.Equal(t, 80.0, got[1].Value)
	assert.Equal(t, "heart/get/heart_rate", got[1].ProviderType, "without it, the signal's heart rate")
}

func TestFixtureSleepSummary(t *testing.T) {
	var b sleepSummaryBody
	okBody(t, "sleep_getsummary_response.json", &b)
	require.Len(t, b.Series, 2)
	assert.True(t, bool(b.More))
	assert.Equal(t, int64(300), int64(b.Offset))
	s, ok := sleepSummarySample(&b.Series[0], time.UTC)
	require.True(t, ok)
	assert.Equal(t, ohx.SleepSession, s.Type)
	assert.Equal(t, time.Unix(1618691453, 0).UTC(), s.Start)
	assert.Equal(t, time.Unix(1618713173, 0).UTC(), s.End)
	assert.Equal(t, 2*time.Hour, s.StartOffset, "Paris, CEST")
	assert.Equal(t, "2081804182", s.RecordID)
	assert.Equal(t, "sleep/getsummary", s.ProviderType)
	for code, v := range map[string]float64{
		ohx.ComponentSleepTotal: 18660, ohx.ComponentSleepLight: 10440, ohx.ComponentSleepDeep: 5820,
		ohx.ComponentSleepREM: 2400, ohx.ComponentSleepAwake: 3060,
	} {
		c, ok := s.Component(code)
		require.True(t, ok, code)
		assert.Equal(t, v, c.Value, code)
		assert.Equal(t, "s", c.Unit)
	}
	_, ok = s.Component(ohx.ComponentInBed)
	assert.False(t, ok, "total_timeinbed is absent from this summary")
	require.NoError(t, s.Validate())
}

func TestSleepGetRRIsRespirationRate(t *testing.T) {
	var b sleepGetBody
	require.NoError(t, json.Unmarshal([]byte(`{"series":[{"startdate":1618691453,"enddate":1618692053,"state":1,
		"hr":{"1618691453":62,"1618691513":"61"},"rr":{"1618691453":14},"rmssd":{"1618691453":48},"sdnn_1":{"1618691453":55}}]}`), &b))
	got := sleepGetSamples(nil, b.Series, allTypes(), time.UTC)
	require.Len(t, got, 5)
	byType := map[ohx.DataType][]ohx.Sample{}
	for _, s := range got {
		byType[s.Type] = append(byType[s.Type], s)
		require.NoError(t, s.Validate())
	}
	assert.Equal(t, 14.0, byType[ohx.RespiratoryRate][0].Value)
	assert.Equal(t, "/min", byType[ohx.RespiratoryRate][0].Unit)
	assert.Empty(t, byType[ohx.RRIntervals], "Withings has no RR intervals")
	assert.Equal(t, 48.0, byType[ohx.HRVRMSSD][0].Value)
	assert.Equal(t, "ms", byType[ohx.HRVSDNN][0].Unit)
	assert.Equal(t, []float64{62, 61}, []float64{byType[ohx.HeartRate][0].Value, byType[ohx.HeartRate][1].Value})
	for typ, want := range map[ohx.DataType]string{ohx.HeartRate: "sleep/get/hr", ohx.RespiratoryRate: "sleep/get/rr",
		ohx.HRVRMSSD: "sleep/get/rmssd", ohx.HRVSDNN: "sleep/get/sdnn_1"} {
		assert.Equal(t, want, byType[typ][0].ProviderType, "%s: the Sleep v2 data field", typ)
	}
}

func TestFixtureGetdevice(t *testing.T) {
	var b deviceBody
	okBody(t, "getdevice_response.json", &b)
	require.Len(t, b.Devices, 5)
	devs := devicesOf(b.Devices)
	require.Len(t, devs, 1, "the five rows share one device id")
	d := devs[0]
	assert.Equal(t, "f998be4b9ccc9e136fd8cd8e8e344c31ec3b271d", d.ID)
	assert.Equal(t, ohx.DeviceScale, d.Kind)
	assert.Equal(t, "Body+", d.Model)
	assert.Equal(t, "5", d.ModelNumber)
	assert.Equal(t, "high", d.BatteryStatus)
	assert.Nil(t, d.BatteryPercent)
	assert.Equal(t, time.Unix(1693867179, 0).UTC(), d.LastSync)
	assert.Equal(t, time.Unix(1693867179, 0).UTC(), d.FirstUse, "filled from a later row")

	// Row by row: battery "unknown" is no battery word; an empty model is named from model_id.
	d2, ok := deviceOf(&b.Devices[2])
	require.True(t, ok)
	assert.Empty(t, d2.BatteryStatus)
	d4, ok := deviceOf(&b.Devices[4])
	require.True(t, ok)
	assert.Equal(t, ohx.DeviceSleepMonitor, d4.Kind)
	assert.Equal(t, "Aura Sensor V2", d4.Model)
}

func TestFixtureNotify(t *testing.T) {
	var list notifyListBody
	okBody(t, "notify_list_response.json", &list)
	require.Len(t, list.Profiles, 1)
	assert.Equal(t, int64(1), int64(list.Profiles[0].Appli))
	assert.Equal(t, "https://www.withings.com", list.Profiles[0].CallbackURL)
	assert.Equal(t, int64(2147483647), int64(list.Profiles[0].Expires))
	var empty struct{}
	okBody(t, "notify_subscribe_response.json", &empty)

	n, ok, err := ParseNotification(string(fixture(t, "notify_post_appli1_doc_example.txt")), time.Unix(1530698800, 0).UTC())
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "12345", n.ExternalUserID)
	assert.Equal(t, ohx.NotifyData, n.Kind)
	assert.Contains(t, n.DataTypes, ohx.BodyWeight)
	assert.Equal(t, time.Unix(1530576000, 0).UTC(), n.Window.Start)
	assert.Equal(t, time.Unix(1530698754, 0).UTC(), n.Window.End)
}

func TestFixtureToken(t *testing.T) {
	var b tokenBody
	okBody(t, "oauth2_requesttoken_response.json", &b)
	assert.Equal(t, "363", string(b.UserID), "an integer userid")
	assert.Equal(t, int64(10800), int64(b.ExpiresIn))
	assert.Equal(t, "user.info,user.metrics", b.Scope)
	var s tokenBody
	require.NoError(t, json.Unmarshal([]byte(`{"userid":"363","access_token":"a","refresh_token":"r","expires_in":"10800"}`), &s))
	assert.Equal(t, "363", string(s.UserID), "a string userid")
	assert.Equal(t, int64(10800), int64(s.ExpiresIn))
}

func TestEmptyBodyAsArray(t *testing.T) {
	var b notifyListBody
	require.NoError(t, decode("notify.list", []byte(`{"status":0,"body":[]}`), &b))
	assert.Empty(t, b.Profiles)
	require.NoError(t, decode("notify.list", []byte(`{"status":0}`), &b))
	err := decode("notify.list", []byte(`{"status":0,"body":[1]}`), &b)
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrPermanent)
}

func TestLenientScalars(t *testing.T) {
	var g measureGroup
	require.NoError(t, json.Unmarshal([]byte(`{"grpid":"4815757309","attrib":"99","date":1693651151,
		"deviceid":12345,"model_id":6,"measures":[{"value":"75232","type":"1","unit":"-3"}]}`), &g))
	assert.Equal(t, int64(4815757309), int64(g.GrpID))
	assert.Equal(t, "12345", string(g.DeviceID), "an integer deviceid")
	assert.Equal(t, int64(6), int64(g.ModelID2))
	ss := measureSamples(nil, &g, allTypes(), time.UTC, mapOptions{})
	require.Len(t, ss, 1)
	assert.Equal(t, 75.232, ss[0].Value)
	assert.Equal(t, ohx.RecordedUnknown, ss[0].Recording, "an unknown attrib is tolerated")

	var b struct {
		A flexBool `json:"a"`
		B flexBool `json:"b"`
		C flexBool `json:"c"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"a":1,"b":true,"c":"0"}`), &b))
	assert.True(t, bool(b.A))
	assert.True(t, bool(b.B))
	assert.False(t, bool(b.C))
	var bad struct {
		N flexInt `json:"n"`
	}
	err := json.Unmarshal([]byte(`{"n":"12abc"}`), &bad)
	require.Error(t, err)
	assert.NotContains(t, sanitize(err).Error(), "12abc", "no value in errors")
}

func TestFixtureError401(t *testing.T) {
	p := newTestProvider(t)
	_, err := p.classify("getmeas", 200, nil, fixture(t, "error_status401_invalid_token.json"))
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrAuth)
	var pe *ohx.ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "401", pe.Code)
	assert.NotContains(t, err.Error(), "invalid_token", "Withings' error text is not echoed")
}
