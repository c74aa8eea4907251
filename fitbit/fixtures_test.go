package fitbit

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// fixtureDir is the folder of real Google Health API payloads (origins in
// its README.md); a missing file fails the test.
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

func decodeList(t *testing.T, name string) wire.ListResponse {
	t.Helper()
	var r wire.ListResponse
	require.NoError(t, json.Unmarshal(fixture(t, name), &r))
	return r
}

var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

func mapAll(r wire.ListResponse, loc *time.Location, types ...ohx.DataType) []ohx.Sample {
	m := &mapper{loc: loc}
	if len(types) > 0 {
		m.want = map[ohx.DataType]bool{}
		for _, t := range types {
			m.want[t] = true
		}
	}
	var out []ohx.Sample
	for i := range r.DataPoints {
		out = m.mapPoint(out, &r.DataPoints[i])
	}
	return out
}

// TestFixturesCovered makes sure every fixture file is decoded by a test
// below, so a new capture cannot be silently ignored.
func TestFixturesCovered(t *testing.T) {
	covered := map[string]bool{
		"README.md": true, "daily_rollup_steps.json": true, "error_400_daily_rollup_bad_range.json": true,
		"error_400_invalid_filter_member.json": true, "error_400_invalid_parent_data_type.json": true,
		"error_401_unauthenticated.json": true, "error_403_scope_insufficient.json": true,
		"error_403_service_disabled.json": true, "error_429_resource_exhausted.json": true,
		"list_daily_heart_rate_variability.json": true, "list_daily_oxygen_saturation.json": true,
		"list_daily_resting_heart_rate.json": true, "list_daily_sleep_temperature_derivations.json": true,
		"list_heart_rate.json": true, "list_sleep.json": true, "list_steps.json": true,
		"paired_devices.json": true, "profile.json": true, "settings.json": true,
		"subscriber_create_request.json": true, "subscriber_list_response.json": true,
		"webhook_notification_upsert_steps.json": true, "webhook_verification_request.json": true,
	}
	entries, err := os.ReadDir(fixtureDir(t))
	require.NoError(t, err)
	for _, e := range entries {
		assert.True(t, covered[e.Name()], "fixture %s has no decoding test", e.Name())
	}
}

func TestFixtureHeartRate(t *testing.T) {
	r := decodeList(t, "list_heart_rate.json")
	assert.Equal(t, "redacted-nextPageToken", r.NextPageToken)
	got := mapAll(r, newYork)
	require.Len(t, got, len(r.DataPoints))
	require.NotEmpty(t, got)
	s := got[0]
	assert.Equal(t, ohx.HeartRate, s.Type)
	assert.Equal(t, 60.0, s.Value)
	assert.Equal(t, "/min", s.Unit)
	assert.Equal(t, time.Date(2026, 1, 8, 2, 25, 14, 0, time.UTC), s.Start)
	assert.Equal(t, s.Start, s.End)
	assert.Equal(t, -4*time.Hour, s.StartOffset)
	assert.Equal(t, ohx.RecordedByDevice, s.Recording)
	assert.Empty(t, s.RecordID, "heart-rate points have no name")
	assert.Equal(t, "fitbit", s.Provider)
	for _, s := range got {
		require.NoError(t, s.Validate())
	}
	// Newest first, as the API documents.
	assert.True(t, got[0].Start.After(got[len(got)-1].Start))
}

func TestFixtureSteps(t *testing.T) {
	got := mapAll(decodeList(t, "list_steps.json"), newYork)
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, ohx.Steps, s.Type)
	assert.Equal(t, 100.0, s.Value)
	assert.Equal(t, time.Date(2026, 1, 8, 1, 54, 0, 0, time.UTC), s.Start)
	assert.Equal(t, time.Date(2026, 1, 8, 1, 55, 0, 0, time.UTC), s.End)
	assert.Equal(t, -4*time.Hour, s.EndOffset)
	require.NoError(t, s.Validate())
}

func TestFixtureSleep(t *testing.T) {
	r := decodeList(t, "list_sleep.json")
	got := mapAll(r, newYork)
	require.Len(t, got, 1)
	s := got[0]
	assert.Equal(t, ohx.SleepSession, s.Type)
	assert.Equal(t, "redacted-name", s.RecordID)
	assert.Equal(t, ohx.RecordedDerived, s.Recording)
	assert.Equal(t, time.Date(2026, 1, 6, 7, 31, 0, 0, time.UTC), s.Start)
	assert.Equal(t, time.Date(2026, 1, 6, 14, 50, 0, 0, time.UTC), s.End)
	assert.Equal(t, time.Date(2026, 1, 6, 14, 57, 45, 142575000, time.UTC), s.Modified)
	// Stage sums computed from the fixture's 30 stages.
	var want = map[string]float64{}
	for _, st := range r.DataPoints[0].Sleep.Stages {
		want[st.Type] += st.EndTime.Sub(st.StartTime).Seconds()
	}
	comp := func(code string) float64 {
		c, ok := s.Component(code)
		require.True(t, ok, code)
		assert.Equal(t, "s", c.Unit)
		return c.Value
	}
	assert.Equal(t, want["LIGHT"], comp(ohx.ComponentSleepLight))
	assert.Equal(t, want["DEEP"], comp(ohx.ComponentSleepDeep))
	assert.Equal(t, want["REM"], comp(ohx.ComponentSleepREM))
	assert.Equal(t, 360.0, comp(ohx.ComponentSleepAwake), "one 6-minute AWAKE stage")
	assert.Equal(t, 439*60.0, comp(ohx.ComponentInBed))
	assert.Equal(t, 439*60.0-360, comp(ohx.ComponentSleepTotal))
	require.NoError(t, s.Validate())
}

func TestFixtureDailyTypes(t *testing.T) {
	tests := []struct {
		file  string
		typ   ohx.DataType
		value float64
	}{
		{"list_daily_heart_rate_variability.json", ohx.DailyHRV, 45},
		{"list_daily_oxygen_saturation.json", ohx.DailySpO2, 96},
		{"list_daily_resting_heart_rate.json", ohx.DailyRestingHeartRate, 60},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := mapAll(decodeList(t, tt.file), newYork)
			require.Len(t, got, 4)
			s := got[0]
			assert.Equal(t, tt.typ, s.Type)
			assert.Equal(t, tt.value, s.Value)
			// 2026-01-06 in New York: EST, -5h.
			assert.Equal(t, time.Date(2026, 1, 6, 5, 0, 0, 0, time.UTC), s.Start)
			assert.Equal(t, time.Date(2026, 1, 7, 5, 0, 0, 0, time.UTC), s.End)
			assert.Equal(t, -5*time.Hour, s.StartOffset)
			assert.Equal(t, time.Date(2026, 1, 3, 5, 0, 0, 0, time.UTC), got[3].Start)
			for _, s := range got {
				require.NoError(t, s.Validate())
			}
		})
	}
}

func TestFixtureDailyHRVExtras(t *testing.T) {
	r := decodeList(t, "list_daily_heart_rate_variability.json")
	d := r.DataPoints[0].DailyHeartRateVariability
	require.NotNil(t, d.NonRemHeartRateBeatsPerMinute)
	assert.Equal(t, wire.Int64(59), *d.NonRemHeartRateBeatsPerMinute)
	assert.Equal(t, wire.Float64(1.5), *d.Entropy)
	assert.Equal(t, "WITH_SLEEP", decodeList(t, "list_daily_resting_heart_rate.json").DataPoints[0].DailyRestingHeartRate.Metadata.CalculationMethod)
	assert.Equal(t, wire.Float64(94), *decodeList(t, "list_daily_oxygen_saturation.json").DataPoints[0].DailyOxygenSaturation.LowerBoundPercentage)
}

func TestFixtureSleepTemperatureNaN(t *testing.T) {
	r := decodeList(t, "list_daily_sleep_temperature_derivations.json")
	require.Len(t, r.DataPoints, 4)
	third := r.DataPoints[2].DailySleepTemperatureDerivations
	require.NotNil(t, third.BaselineTemperatureCelsius)
	assert.True(t, math.IsNaN(float64(*third.BaselineTemperatureCelsius)), "\"NaN\" decodes to NaN")
	assert.True(t, math.IsNaN(float64(*third.RelativeNightlyStddev30dCelsius)))

	got := mapAll(r, newYork)
	var abs, dev []ohx.Sample
	for _, s := range got {
		require.NoError(t, s.Validate())
		switch s.Type {
		case ohx.SkinTemperature:
			abs = append(abs, s)
		case ohx.SkinTemperatureDeviation:
			dev = append(dev, s)
		}
	}
	require.Len(t, abs, 4, "nightly values are numbers on all four days")
	require.Len(t, dev, 2, "no deviation where the baseline is NaN")
	assert.Equal(t, 34.0, abs[0].Value)
	assert.Equal(t, 34.0, abs[2].Value, "a NaN baseline does not hide the nightly value")
	b, ok := dev[0].Component(ohx.ComponentBaseline)
	require.True(t, ok)
	assert.Equal(t, 33.8, b.Value)
	assert.InDelta(t, 0.2, dev[0].Value, 1e-9)
	assert.Equal(t, "K", dev[0].Unit, "a deviation is a difference: K")
	assert.Equal(t, "Cel", b.Unit, "the baseline is a temperature")
	assert.Equal(t, "daily-sleep-temperature-derivations", dev[0].ProviderType)
	assert.Equal(t, time.Date(2026, 1, 6, 5, 0, 0, 0, time.UTC), dev[0].Start)
}

func TestFixturePairedDevices(t *testing.T) {
	var r wire.PairedDevicesResponse
	require.NoError(t, json.Unmarshal(fixture(t, "paired_devices.json"), &r))
	require.Len(t, r.PairedDevices, 1)
	d := deviceOf(&r.PairedDevices[0])
	assert.Equal(t, "redacted-name", d.ID)
	assert.Equal(t, ohx.DeviceActivityTracker, d.Kind)
	assert.Equal(t, "Fitbit Air", d.Model)
	assert.Equal(t, "Fitbit", d.Manufacturer)
	require.NotNil(t, d.BatteryPercent)
	assert.Equal(t, 80.0, *d.BatteryPercent)
	assert.Equal(t, "high", d.BatteryStatus)
	assert.Equal(t, time.Date(2026, 1, 8, 2, 26, 7, 0, time.UTC), d.LastSync)
	assert.Contains(t, d.Features, "HEART_RATE")
	assert.Len(t, d.Features, 47)
}

func TestFixtureSettingsAndProfile(t *testing.T) {
	var s wire.Settings
	require.NoError(t, json.Unmarshal(fixture(t, "settings.json"), &s))
	assert.Equal(t, "America/New_York", s.TimeZone)
	require.NotNil(t, s.UTCOffset)
	assert.Equal(t, -4*time.Hour, time.Duration(*s.UTCOffset))
	var p struct {
		Age                 int       `json:"age"`
		MembershipStartDate wire.Date `json:"membershipStartDate"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "profile.json"), &p))
	assert.Equal(t, 30, p.Age)
	assert.Equal(t, "2026-01-02", p.MembershipStartDate.String())
}

func TestFixtureDailyRollup(t *testing.T) {
	var f struct {
		Response struct {
			RollupDataPoints []struct {
				CivilStartTime wire.CivilDateTime `json:"civilStartTime"`
				Steps          struct {
					CountSum wire.Int64 `json:"countSum"`
				} `json:"steps"`
			} `json:"rollupDataPoints"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, "daily_rollup_steps.json"), &f))
	require.Len(t, f.Response.RollupDataPoints, 7)
	assert.Equal(t, wire.Int64(9000), f.Response.RollupDataPoints[0].Steps.CountSum)
	assert.Equal(t, "2026-01-06", f.Response.RollupDataPoints[0].CivilStartTime.Date.String())
}

func TestFixtureErrors(t *testing.T) {
	tests := []struct {
		file   string
		status int
		kind   ohx.ErrorKind
		code   string
	}{
		{"error_400_invalid_filter_member.json", 400, ohx.KindPermanent, "INVALID_ARGUMENT/INVALID_DATA_POINT_FILTER"},
		{"error_400_invalid_parent_data_type.json", 400, ohx.KindPermanent, "INVALID_ARGUMENT/INVALID_PARENT_DATA_TYPE_COLLECTION"},
		{"error_401_unauthenticated.json", 401, ohx.KindAuth, "UNAUTHENTICATED/CREDENTIALS_MISSING"},
		{"error_403_scope_insufficient.json", 403, ohx.KindPermanent, "PERMISSION_DENIED/ACCESS_TOKEN_SCOPE_INSUFFICIENT"},
		{"error_403_service_disabled.json", 403, ohx.KindPermanent, "PERMISSION_DENIED/SERVICE_DISABLED"},
		{"error_429_resource_exhausted.json", 429, ohx.KindRateLimited, "RESOURCE_EXHAUSTED/RATE_LIMIT_EXCEEDED"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			err := classify("dataPoints.list", fakeResponse(tt.status, fixture(t, tt.file)))
			var pe *ohx.ProviderError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.kind, pe.Kind)
			assert.Equal(t, tt.status, pe.HTTPStatus)
			assert.Equal(t, tt.code, pe.Code)
		})
	}
	t.Run("daily rollup bad range", func(t *testing.T) {
		var f struct {
			Response json.RawMessage `json:"response"`
		}
		require.NoError(t, json.Unmarshal(fixture(t, "error_400_daily_rollup_bad_range.json"), &f))
		var st wire.Status
		require.NoError(t, json.Unmarshal(f.Response, &st))
		assert.Equal(t, "INVALID_ARGUMENT", st.Error.Status)
		require.Len(t, st.Error.Details, 1)
		assert.Len(t, st.Error.Details[0].FieldViolations, 6)
		assert.Equal(t, "range.start", st.Error.Details[0].FieldViolations[0].Field)
	})
}

func TestFixtureSubscribers(t *testing.T) {
	var req wire.Subscriber
	require.NoError(t, json.Unmarshal(fixture(t, "subscriber_create_request.json"), &req))
	assert.Equal(t, "https://myapp.com/webhooks/health", req.EndpointURI)
	assert.Equal(t, "Bearer example-secret-token", req.EndpointAuthorization.Secret)
	require.Len(t, req.SubscriberConfigs, 2)
	assert.Equal(t, "AUTOMATIC", req.SubscriberConfigs[0].SubscriptionCreatePolicy)

	var list wire.SubscribersResponse
	require.NoError(t, json.Unmarshal(fixture(t, "subscriber_list_response.json"), &list))
	require.Len(t, list.Subscribers, 1)
	s := subscriberOf(list.Subscribers[0])
	assert.Equal(t, "projects/project-id/subscribers/subscriber-id", s.Name)
	assert.True(t, s.SecretSet)
	assert.Equal(t, []string{"steps", "altitude", "distance", "floors", "weight"}, s.DataTypes)
	assert.Equal(t, 1, list.TotalSize)
}

func TestFixtureNotifications(t *testing.T) {
	now := time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC)
	ns, err := parseNotifications(fixture(t, "webhook_notification_upsert_steps.json"), now)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	n := ns[0]
	assert.Equal(t, "health-user-id", n.ExternalUserID)
	assert.Equal(t, ohx.NotifyData, n.Kind)
	assert.Equal(t, []ohx.DataType{ohx.Steps}, n.DataTypes)
	assert.Equal(t, time.Date(2026, 3, 8, 1, 29, 0, 0, time.UTC), n.Window.Start)
	assert.Equal(t, time.Date(2026, 3, 8, 1, 34, 0, 0, time.UTC), n.Window.End)
	assert.Equal(t, now, n.Received)
	assert.True(t, isVerification(fixture(t, "webhook_verification_request.json")))
	assert.False(t, isVerification(fixture(t, "webhook_notification_upsert_steps.json")))
}

func TestMapECGWithoutDataSource(t *testing.T) {
	var r wire.ListResponse
	require.NoError(t, json.Unmarshal([]byte(`{"dataPoints":[{"name":"users/me/dataTypes/electrocardiogram/dataPoints/1","electrocardiogram":{
		"interval":{"startTime":"2026-01-05T17:00:00Z","endTime":"2026-01-05T17:00:00Z"},
		"waveformSamples":[10,-20,300,-5],"samplingFrequencyHertz":250,"millivoltsScalingFactor":500,"leadNumber":1,
		"beatsPerMinuteAvg":"71","resultClassification":"ATRIAL_FIBRILLATION",
		"medicalDeviceInfo":{"deviceModel":"Pixel Watch 3","firmwareVersion":"1.2"}}}]}`), &r))
	got := mapAll(r, newYork)
	require.Len(t, got, 2)
	e := got[0]
	assert.Equal(t, ohx.ECG, e.Type)
	assert.Equal(t, []int32{10, -20, 300, -5}, e.Waveform.Samples)
	assert.Equal(t, 0.002, e.Waveform.FactorToMillivolts)
	assert.Equal(t, ohx.ECGAtrialFibrillation, e.Waveform.Classification)
	assert.Equal(t, 16*time.Millisecond, e.End.Sub(e.Start), "start == end: the waveform gives the length")
	assert.Equal(t, -5*time.Hour, e.StartOffset, "no utcOffset: the link zone's offset")
	assert.Equal(t, "Pixel Watch 3", e.DeviceName)
	assert.Equal(t, ohx.RecordedUnknown, e.Recording)
	hr := got[1]
	assert.Equal(t, 71.0, hr.Value)
	assert.Equal(t, ohx.ECG, hr.CompanionOf)
	assert.Equal(t, e.Group, hr.Group)
	assert.Equal(t, e.RecordID, hr.RecordID)
	require.NoError(t, e.Validate())
	require.NoError(t, hr.Validate())
}
