package fitbit_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/internal/testkit"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

// now is the fake's clock: data exists before it.
var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// day is a whole UTC day before now.
var day = ohx.Window{Start: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)}

type env struct {
	fake  *fitbittest.Server
	p     *fitbit.Provider
	store *store.Memory
	link  ohx.Link
	user  fitbittest.User
	m     *testkit.Metrics
}

const secret = "Bearer test-webhook-secret"

// newEnv starts a fake, builds a provider pointed at it and links a user
// through the real OAuth code flow.
func newEnv(t *testing.T, fc fitbittest.Config, mutate ...func(*fitbit.Config)) *env {
	t.Helper()
	if fc.Now == nil {
		fc.Now = func() time.Time { return now }
	}
	fake, err := fitbittest.New(fc)
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	user, err := fake.AddUser(fitbittest.User{HealthUserID: "hu-4711", LegacyUserID: "A1B2C3", TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	st := store.NewMemory()
	m := &testkit.Metrics{}
	cfg := fitbit.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), RedirectURL: "https://ehr.example/oauth/callback",
		AuthURL: fake.AuthURL(), TokenURL: fake.TokenURL(), RevokeURL: fake.RevokeURL(), APIBaseURL: fake.APIBaseURL(), KeysetURL: fake.KeysetURL(),
		WebhookSecret: secret,
		Common: provider.Common{
			Tokens: st, Locker: st, Metrics: m,
			Retry: resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: 2 * time.Second},
			Now:   func() time.Time { return now },
		},
	}
	for _, f := range mutate {
		f(&cfg)
	}
	p, err := fitbit.New(cfg)
	require.NoError(t, err)
	e := &env{fake: fake, p: p, store: st, user: user, m: m}
	e.link = e.linkUser(t, nil)
	return e
}

// linkUser runs authorize → redirect → exchange and stores link and token.
func (e *env) linkUser(t *testing.T, types []ohx.DataType) ohx.Link {
	t.Helper()
	verifier := "verifier-0123456789-0123456789-0123456789-0123456789"
	code := testkit.Consent(t, e.p.AuthCodeURL("state-1", verifier, types), "state-1")
	link := ohx.Link{ID: "link-1", Patient: "Patient/p1", Status: ohx.LinkActive}
	tok, err := e.p.Exchange(t.Context(), code, verifier, &link)
	require.NoError(t, err)
	require.NoError(t, e.store.SaveToken(t.Context(), link.ID, tok))
	require.NoError(t, e.store.SaveLink(t.Context(), link))
	return link
}

func collect(t *testing.T, p ohx.Provider, link ohx.Link, types []ohx.DataType, w ohx.Window) []ohx.Sample {
	t.Helper()
	var out []ohx.Sample
	for s, err := range p.Fetch(t.Context(), link, types, w) {
		require.NoError(t, err)
		out = append(out, s)
	}
	return out
}

func TestLinkFillsIdentitySettingsAndScopes(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	u, err := url.Parse(e.p.AuthCodeURL("s", "v-0123456789-0123456789-0123456789-0123456789", []ohx.DataType{ohx.HeartRate, ohx.ECG}))
	require.NoError(t, err)
	q := u.Query()
	assert.Equal(t, "offline", q.Get("access_type"))
	assert.Equal(t, "consent", q.Get("prompt"))
	assert.Equal(t, "S256", q.Get("code_challenge_method"))
	assert.NotEmpty(t, q.Get("code_challenge"))
	assert.ElementsMatch(t, []string{fitbit.ScopeECG, fitbit.ScopeHealthMetrics, fitbit.ScopeSettings}, strings.Fields(q.Get("scope")))

	assert.Equal(t, "hu-4711", e.link.ExternalUserID)
	assert.Equal(t, "A1B2C3", e.link.LegacyUserID)
	assert.Equal(t, "Europe/Berlin", e.link.TimeZone)
	assert.Equal(t, "fitbit", e.link.Provider)
	assert.Contains(t, e.link.Scopes, fitbit.ScopeSleep)
	tok, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.NotEmpty(t, tok.RefreshToken, "offline access yields a refresh token")
	assert.Equal(t, e.p.DataTypes(), e.p.Allowed(e.link.Scopes, e.p.DataTypes()))
}

func TestExchangeRejectsWrongVerifier(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	authURL := e.p.AuthCodeURL("st", "right-verifier-0123456789-0123456789-0123456789", nil)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(authURL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	var link ohx.Link
	_, err = e.p.Exchange(t.Context(), loc.Query().Get("code"), "wrong-verifier-0123456789-0123456789-0123456789", &link)
	require.Error(t, err)
	assert.Equal(t, ohx.KindRevoked, ohx.KindOf(err), "invalid_grant")
	assert.NotContains(t, err.Error(), loc.Query().Get("code"))
	assert.Empty(t, link.ExternalUserID)
}

func TestPartialConsent(t *testing.T) {
	e := newEnv(t, fitbittest.Config{DenyScopes: []string{fitbit.ScopeECG}})
	allowed := e.p.Allowed(e.link.Scopes, e.p.DataTypes())
	assert.NotContains(t, allowed, ohx.ECG)
	assert.Contains(t, allowed, ohx.HeartRate)
	// The API refuses the unticked scope with 403, a permanent failure.
	var err error
	for _, ferr := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.ECG}, day) {
		err = ferr
	}
	require.Error(t, err)
	assert.Equal(t, ohx.KindPermanent, ohx.KindOf(err))
	var pe *ohx.ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, 403, pe.HTTPStatus)
	assert.Equal(t, "PERMISSION_DENIED/ACCESS_TOKEN_SCOPE_INSUFFICIENT", pe.Code)
}

func TestHeartRateOneSecondDayIsCompleteAndOrdered(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: time.Second})
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, day)
	require.Len(t, got, 86400)
	for i, s := range got {
		require.Equal(t, day.Start.Add(time.Duration(i)*time.Second), s.Start, "sample %d", i)
		require.Equal(t, ohx.HeartRate, s.Type)
	}
	assert.Equal(t, 9, e.fake.Calls("list:heart-rate"), "86,400 points at 10,000 a page")
	assert.Equal(t, time.Hour, got[0].StartOffset, "Europe/Berlin in November")
	assert.Equal(t, "Charge 6", got[0].DeviceName)
	assert.Equal(t, ohx.RecordedByDevice, got[0].Recording)
}

func TestHeartRateSeveralDaysAscending(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 5 * time.Second})
	w := ohx.Window{Start: day.Start.Add(-36 * time.Hour), End: day.End.Add(7 * time.Hour)}
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, w)
	require.Len(t, got, int(w.Duration()/(5*time.Second)))
	for i := 1; i < len(got); i++ {
		require.True(t, got[i].Start.After(got[i-1].Start), "sample %d", i)
	}
	assert.Equal(t, w.Start, got[0].Start)
}

func TestECGWaveformIsNeverTruncated(t *testing.T) {
	e := newEnv(t, fitbittest.Config{ECGSamplingHz: 320})
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.ECG}, day)
	require.Len(t, got, 2, "one ECG a day and its heart rate")
	ecg, hr := got[0], got[1]
	require.Equal(t, ohx.ECG, ecg.Type)
	require.NotNil(t, ecg.Waveform)
	assert.Len(t, ecg.Waveform.Samples, 9600)
	assert.Equal(t, 320.0, ecg.Waveform.SamplingFrequency)
	assert.Equal(t, 0.001, ecg.Waveform.FactorToMillivolts)
	assert.Equal(t, ohx.ECGSinusRhythm, ecg.Waveform.Classification)
	assert.Equal(t, 30*time.Second, ecg.End.Sub(ecg.Start))
	assert.Contains(t, ecg.RecordID, "/dataTypes/electrocardiogram/dataPoints/")
	require.NoError(t, ecg.Validate())

	assert.Equal(t, ohx.HeartRate, hr.Type)
	assert.Equal(t, ohx.ECG, hr.CompanionOf)
	assert.Equal(t, ecg.Group, hr.Group)
	assert.NotEmpty(t, hr.Group)
	assert.Equal(t, ecg.Start, hr.Start)
	assert.GreaterOrEqual(t, hr.Value, 60.0)
}

func TestECGCompanionKeepsHeartRateOrder(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 30 * time.Second})
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.HeartRate, ohx.ECG}, day)
	var lastHR time.Time
	companions := 0
	for i, s := range got {
		if s.Type == ohx.HeartRate {
			require.False(t, s.Start.Before(lastHR), "heart rate out of order at %d", i)
			lastHR = s.Start
		}
		if s.CompanionOf == ohx.ECG {
			companions++
			require.Equal(t, ohx.ECG, got[i-1].Type, "the companion follows its ECG")
		}
	}
	assert.Equal(t, 1, companions)
}

func TestEveryTypeMapsValidSamples(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: time.Minute})
	w := ohx.Window{Start: time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 19, 0, 0, 0, 0, time.UTC)}
	types := e.p.DataTypes()
	got := collect(t, e.p, e.link, types, w)
	byType := map[ohx.DataType][]ohx.Sample{}
	for _, s := range got {
		require.NoError(t, s.Validate(), "%s", s.Type)
		require.True(t, w.Contains(s.Start), "%s at %s outside the window", s.Type, s.Start)
		if prev := byType[s.Type]; len(prev) > 0 {
			require.False(t, s.Start.Before(prev[len(prev)-1].Start), "%s out of order", s.Type)
		}
		byType[s.Type] = append(byType[s.Type], s)
	}
	for _, typ := range types {
		assert.NotEmpty(t, byType[typ], "no %s samples", typ)
	}
	assert.NotContains(t, byType, ohx.RRIntervals)

	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, typ := range []ohx.DataType{ohx.DailyHRV, ohx.DailyRestingHeartRate, ohx.DailySpO2, ohx.DailyRespiratoryRate, ohx.SkinTemperature} {
		s := byType[typ][0]
		l := s.Start.In(berlin)
		assert.Equal(t, 0, l.Hour()*60+l.Minute(), "%s starts at local midnight", typ)
		assert.Equal(t, 24*time.Hour, s.End.Sub(s.Start), typ)
		assert.Equal(t, time.Hour, s.StartOffset, typ)
	}
	w0 := byType[ohx.BodyWeight][0]
	assert.InDelta(t, 72.75, w0.Value, 0.8, "grams become kilograms")
	assert.Equal(t, "kg", w0.Unit)
	assert.Equal(t, "Aria Air", w0.DeviceName)
	assert.NotEmpty(t, w0.RecordID)

	sl := byType[ohx.SleepSession][0]
	total, _ := sl.Component(ohx.ComponentSleepTotal)
	inBed, _ := sl.Component(ohx.ComponentInBed)
	deep, ok := sl.Component(ohx.ComponentSleepDeep)
	require.True(t, ok)
	assert.Equal(t, 7.5*3600, inBed.Value)
	assert.Greater(t, total.Value, deep.Value)
	assert.Less(t, total.Value, inBed.Value)
	assert.NotEmpty(t, sl.RecordID, "reconciled points keep their dataPointName")
	assert.Equal(t, ohx.RecordedUnknown, sl.Recording, "reconciled points have no data source")

	assert.Len(t, byType[ohx.HRVRMSSD], len(byType[ohx.HRVSDNN]))
	for _, s := range byType[ohx.SkinTemperatureDeviation] {
		b, ok := s.Component(ohx.ComponentBaseline)
		require.True(t, ok)
		assert.InDelta(t, 33.9, b.Value, 1e-9)
	}
	assert.Equal(t, 1, e.fake.Calls("reconcile:sleep"))
	assert.Zero(t, e.fake.Calls("list:sleep"))
}

func TestExpiredAccessTokenIsRefreshed(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	before, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	tokenCalls := e.fake.Calls("token")
	e.fake.ExpireAccessTokens()

	got := collect(t, e.p, e.link, []ohx.DataType{ohx.Steps}, day)
	assert.NotEmpty(t, got)
	assert.Equal(t, tokenCalls+1, e.fake.Calls("token"), "one refresh")
	after, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.NotEqual(t, before.AccessToken, after.AccessToken, "the new access token is stored")
	assert.Equal(t, before.RefreshToken, after.RefreshToken, "Google keeps the refresh token")
}

func TestRevokedGrantNeedsReconsent(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	e.fake.RevokeGrants("hu-4711")
	var err error
	for _, ferr := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps}, day) {
		err = ferr
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrTokenRevoked)
}

func TestRateLimitBacksOff(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	e.fake.FailNext(2, http.StatusTooManyRequests, 0)
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.Steps}, day)
	assert.NotEmpty(t, got)
	assert.Equal(t, 3, e.fake.Calls("list:steps"), "two 429 answers, then the page")
	assert.Equal(t, 2, e.m.RateLimits())
}

func TestRateLimitLongerThanMaxWaitFailsWithRetryAfter(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	e.fake.FailNext(1, http.StatusTooManyRequests, 5*time.Minute)
	var err error
	for _, ferr := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps}, day) {
		err = ferr
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrRateLimited)
	assert.Equal(t, 5*time.Minute, ohx.RetryAfter(err))
	assert.Equal(t, 1, e.fake.Calls("list:steps"), "no retry inside the call")
}

func TestFakeRateLimitPerUser(t *testing.T) {
	e := newEnv(t, fitbittest.Config{RateLimitPerMinute: 3}, func(c *fitbit.Config) {
		c.Retry = resilience.RetrySettings{MaxAttempts: 1}
	})
	// identity + settings used 2 of the 3 requests of this minute.
	var err error
	n := 0
	for _, ferr := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.Steps}, ohx.Window{Start: day.Start, End: day.Start.Add(72 * time.Hour)}) {
		if ferr != nil {
			err = ferr
		}
		n++
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrRateLimited)
	var pe *ohx.ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "RESOURCE_EXHAUSTED/RATE_LIMIT_EXCEEDED", pe.Code)
}

func TestDevices(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	devs, err := e.p.Devices(t.Context(), e.link)
	require.NoError(t, err)
	require.Len(t, devs, 2)
	assert.Equal(t, "tracker-1", devs[0].ID)
	assert.Equal(t, ohx.DeviceActivityTracker, devs[0].Kind)
	assert.Equal(t, "Charge 6", devs[0].Model)
	require.NotNil(t, devs[0].BatteryPercent)
	assert.Equal(t, 80.0, *devs[0].BatteryPercent)
	assert.Equal(t, ohx.DeviceScale, devs[1].Kind)
	assert.Equal(t, "medium", devs[1].BatteryStatus)
	assert.Contains(t, devs[0].Features, "HEART_RATE")
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	require.True(t, e.fake.Grants("hu-4711"))
	require.NoError(t, e.p.Revoke(t.Context(), e.link))
	assert.False(t, e.fake.Grants("hu-4711"))
	require.NoError(t, e.p.Revoke(t.Context(), e.link), "revoking twice is fine")
}

func TestFetchStopsWhenConsumerStops(t *testing.T) {
	e := newEnv(t, fitbittest.Config{HeartRateEvery: 5 * time.Second})
	n := 0
	for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.HeartRate}, ohx.Window{Start: day.Start, End: day.End.Add(24 * time.Hour)}) {
		require.NoError(t, err)
		n++
		if n == 10 {
			break
		}
	}
	assert.Equal(t, 10, n)
	assert.Equal(t, 2, e.fake.Calls("list:heart-rate"), "17,280 points of the first day in two pages; the second day is never read")
}

func TestFetchCancelled(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var err error
	for _, ferr := range e.p.Fetch(ctx, e.link, []ohx.DataType{ohx.Steps}, day) {
		err = ferr
	}
	assert.ErrorIs(t, err, context.Canceled)
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := fitbit.New(fitbit.Config{APIBaseURL: "not a url"})
	assert.Error(t, err)
	_, err = fitbit.New(fitbit.Config{PageSize: 20000})
	assert.Error(t, err)
	p, err := fitbit.New(fitbit.Config{})
	require.NoError(t, err)
	assert.Equal(t, "fitbit", p.Name())
}

func TestShortWindowWithoutMidnightAsksNoDailyData(t *testing.T) {
	e := newEnv(t, fitbittest.Config{})
	// 10:00–12:00 UTC is 11:00–13:00 in Berlin: no day starts in it.
	w := ohx.Window{Start: day.Start.Add(10 * time.Hour), End: day.Start.Add(12 * time.Hour)}
	got := collect(t, e.p, e.link, []ohx.DataType{ohx.DailyRestingHeartRate, ohx.Steps}, w)
	for _, s := range got {
		assert.Equal(t, ohx.Steps, s.Type)
	}
	assert.NotEmpty(t, got)
	assert.Zero(t, e.fake.Calls("list:daily-resting-heart-rate"))
	// 22:00–24:00 UTC holds Berlin's midnight.
	w = ohx.Window{Start: day.Start.Add(22 * time.Hour), End: day.End}
	got = collect(t, e.p, e.link, []ohx.DataType{ohx.DailyRestingHeartRate}, w)
	require.Len(t, got, 1)
	assert.Equal(t, day.Start.Add(23*time.Hour), got[0].Start)
}

// TestFetchNamesPairedDevice: a data point that names its device by display
// name only refers to the paired device of that product name, listed once
// per fetch; without the settings scope it keeps the display name.
func TestFetchNamesPairedDevice(t *testing.T) {
	types := []ohx.DataType{ohx.HeartRate, ohx.BodyWeight}
	t.Run("one paired device matches", func(t *testing.T) {
		e := newEnv(t, fitbittest.Config{})
		before := e.fake.Calls("pairedDevices")
		ss := collect(t, e.p, e.link, types, day)
		require.NotEmpty(t, ss)
		named := map[string]string{}
		for _, s := range ss {
			require.NotEmpty(t, s.DeviceName, "%s at %s", s.Type, s.Start)
			named[s.DeviceName] = s.DeviceID
		}
		assert.Equal(t, map[string]string{"Charge 6": "tracker-1", "Aria Air": "scale-1"}, named)
		assert.Equal(t, 1, e.fake.Calls("pairedDevices")-before, "paired devices listed once per fetch")
	})
	t.Run("settings scope not granted", func(t *testing.T) {
		e := newEnv(t, fitbittest.Config{DenyScopes: []string{fitbit.ScopeSettings}})
		ss := collect(t, e.p, e.link, types, day)
		require.NotEmpty(t, ss)
		for _, s := range ss {
			assert.NotEmpty(t, s.DeviceName)
			assert.Empty(t, s.DeviceID, "no paired device list: the display name stays")
		}
	})
}
