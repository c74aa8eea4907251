package withings_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// clock is a settable test clock shared by the fake and the provider.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

const userID = 4242

type env struct {
	fake  *withingstest.Server
	p     *withings.Provider
	store *store.Memory
	clock *clock
	link  ohx.Link
}

// newEnv starts a fake with one user (Europe/Paris), a provider pointed at it
// and a stored token for the link.
func newEnv(t *testing.T, fakeCfg withingstest.Config, mut func(*withings.Config)) *env {
	t.Helper()
	// The toolkit judges token expiry by the wall clock, so the fake's
	// clock starts at the real time.
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	fakeCfg.Now = clk.Now
	fake := withingstest.NewServer(fakeCfg)
	t.Cleanup(fake.Close)
	fake.AddUser(withingstest.User{ID: userID, TimeZone: "Europe/Paris"})
	st := store.NewMemory()
	cfg := withings.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: "https://ehr.example/callback/withings",
		APIBaseURL:  fake.URL(), AuthURL: fake.AuthURL(),
		Common: provider.Common{Tokens: st, Locker: st, Now: clk.Now, AppLimit: provider.NoLimit()},
	}
	if mut != nil {
		mut(&cfg)
	}
	p, err := withings.New(cfg)
	require.NoError(t, err)
	link := ohx.Link{ID: "link-1", Provider: withings.Name, ExternalUserID: strconv.Itoa(userID),
		Scopes: []string{"user.info", "user.metrics", "user.activity"}, TimeZone: "Europe/Paris", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(t.Context(), link))
	require.NoError(t, st.SaveToken(t.Context(), link.ID, fake.IssueToken(userID)))
	return &env{fake: fake, p: p, store: st, clock: clk, link: link}
}

func collect(ctx context.Context, t *testing.T, p ohx.Provider, link ohx.Link, types []ohx.DataType, w ohx.Window) ([]ohx.Sample, error) {
	t.Helper()
	var out []ohx.Sample
	for s, err := range p.Fetch(ctx, link, types, w) {
		if err != nil {
			return out, err
		}
		out = append(out, s)
	}
	return out, nil
}

func TestOAuthCodeFlowAgainstFake(t *testing.T) {
	e := newEnv(t, withingstest.Config{UserIDAsString: true}, nil)
	e.fake.ApproveAs(777)
	u := e.p.AuthCodeURL("st4te", "", []ohx.DataType{ohx.BodyWeight, ohx.Steps})
	assert.True(t, strings.HasPrefix(u, e.fake.URL()+"/oauth2_user/authorize2?"))
	assert.Contains(t, u, "scope=user.info,user.metrics,user.activity")
	assert.Contains(t, u, "state=st4te")
	assert.NotContains(t, u, "code_challenge")

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "ehr.example", loc.Host)
	assert.Equal(t, "st4te", loc.Query().Get("state"))

	var link ohx.Link
	tok, err := e.p.Exchange(t.Context(), loc.Query().Get("code"), "", &link)
	require.NoError(t, err)
	assert.Equal(t, "777", link.ExternalUserID)
	assert.Equal(t, []string{"user.info", "user.metrics", "user.activity"}, link.Scopes)
	assert.Equal(t, "Europe/Paris", link.TimeZone, "from the user's devices")
	assert.NotEmpty(t, tok.AccessToken)
	assert.NotEmpty(t, tok.RefreshToken)
	assert.Equal(t, e.clock.Now().Add(3*time.Hour), tok.Expiry)

	// A code is single-use.
	_, err = e.p.Exchange(t.Context(), loc.Query().Get("code"), "", &ohx.Link{})
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrPermanent)
}

func TestFetchAllTypesOrderedAndInWindow(t *testing.T) {
	e := newEnv(t, withingstest.Config{PageSize: 3}, nil)
	start := e.clock.Now().Truncate(24 * time.Hour).Add(-10*24*time.Hour + 5*time.Hour + 30*time.Minute)
	w := ohx.Window{Start: start, End: start.Add(4 * 24 * time.Hour)}
	got, err := collect(t.Context(), t, e.p, e.link, e.p.DataTypes(), w)
	require.NoError(t, err)

	last := map[ohx.DataType]time.Time{}
	count := map[ohx.DataType]int{}
	for i, s := range got {
		require.NoError(t, s.Validate(), "sample %d", i)
		assert.True(t, w.Contains(s.Start), "sample %d (%s) outside the window", i, s.Type)
		assert.False(t, s.Start.Before(last[s.Type]), "%s out of order at %d", s.Type, i)
		last[s.Type] = s.Start
		count[s.Type]++
		if s.Type == ohx.ECG {
			require.Less(t, i+1, len(got))
			hr := got[i+1]
			assert.Equal(t, ohx.HeartRate, hr.Type, "the ECG's heart rate comes right after it")
			assert.Equal(t, ohx.ECG, hr.CompanionOf)
			assert.Equal(t, s.Group, hr.Group)
			assert.Len(t, s.Waveform.Samples, withingstest.ECGSamplingFrequency*withingstest.ECGSeconds, "never truncated")
			assert.Equal(t, 30*time.Second, s.End.Sub(s.Start))
		}
		if s.Type == ohx.BloodPressure {
			assert.Equal(t, ohx.RecordedByDevice, s.Recording, "ambiguous readings are skipped")
		}
		assert.NotEqual(t, ohx.RRIntervals, s.Type)
	}
	for _, typ := range []ohx.DataType{ohx.BodyWeight, ohx.FatMass, ohx.BloodPressure, ohx.HeartRate, ohx.SpO2,
		ohx.BodyTemperature, ohx.SkinTemperature, ohx.Steps, ohx.ECG, ohx.SleepSession, ohx.RespiratoryRate,
		ohx.HRVRMSSD, ohx.HRVSDNN} {
		assert.Positive(t, count[typ], typ)
	}
	assert.Equal(t, 8, count[ohx.BloodPressure], "two readings a day for four days")
	assert.Equal(t, 4, count[ohx.SleepSession])
	// One device weigh-in a day, plus a manual entry on some days of the
	// fake's calendar; the attrib 8 copy of a weigh-in (same instant) is
	// dropped, so no two weights share an instant.
	assert.GreaterOrEqual(t, count[ohx.BodyWeight], 4, "one weigh-in a day")
	assert.LessOrEqual(t, count[ohx.BodyWeight], 8)
	weighIns := map[time.Time]int{}
	for _, s := range got {
		if s.Type == ohx.BodyWeight {
			weighIns[s.Start]++
		}
	}
	for at, n := range weighIns {
		assert.Equal(t, 1, n, "the attrib 8 copy at %s is dropped", at)
	}
	assert.Greater(t, len(e.fake.CallsOf(withingstest.OpGetmeas)), 5, "getmeas was paged")
}

func TestFetchSplitsIntradayInto24hCalls(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	end := e.clock.Now()
	w := ohx.Window{Start: end.Add(-30 * 24 * time.Hour), End: end}
	got, err := collect(t.Context(), t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, w)
	require.NoError(t, err)
	assert.NotEmpty(t, got)

	calls := e.fake.CallsOf(withingstest.OpGetIntradayActivity)
	require.Len(t, calls, 30)
	prevEnd := w.Start.Unix() - 1
	for _, c := range calls {
		s, _ := strconv.ParseInt(c.Params.Get("startdate"), 10, 64)
		en, _ := strconv.ParseInt(c.Params.Get("enddate"), 10, 64)
		assert.Equal(t, prevEnd+1, s, "contiguous")
		assert.LessOrEqual(t, en-s, int64(24*3600), "at most 24 h per call")
		prevEnd = en
	}
	assert.Equal(t, w.End.Unix()-1, prevEnd)
}

func TestMeasuresOnlyFetchUsesLongCalls(t *testing.T) {
	e := newEnv(t, withingstest.Config{PageSize: 50}, nil)
	end := e.clock.Now()
	w := ohx.Window{Start: end.Add(-30 * 24 * time.Hour), End: end}
	got, err := collect(t.Context(), t, e.p, e.link, []ohx.DataType{ohx.BodyWeight, ohx.BloodPressure, ohx.SleepSession, ohx.Steps}, w)
	require.NoError(t, err)
	last := map[ohx.DataType]time.Time{}
	for _, s := range got {
		assert.False(t, s.Start.Before(last[s.Type]), "%s in order", s.Type)
		last[s.Type] = s.Start
	}
	assert.GreaterOrEqual(t, len(got), 30+60+29+29)
	calls := e.fake.CallsOf(withingstest.OpGetmeas)
	require.NotEmpty(t, calls)
	assert.LessOrEqual(t, len(calls), 3, "about a hundred groups, 50 a page")
	for i, c := range calls {
		assert.Equal(t, strconv.FormatInt(w.Start.Unix(), 10), c.Params.Get("startdate"), "one 30-day range")
		assert.Equal(t, strconv.Itoa(50*i), cmpOr(c.Params.Get("offset"), "0"))
	}
	assert.Len(t, e.fake.CallsOf(withingstest.OpGetActivity), 1)
	assert.Len(t, e.fake.CallsOf(withingstest.OpSleepGetSummary), 1)
	assert.Empty(t, e.fake.CallsOf(withingstest.OpGetIntradayActivity))
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

func TestRefreshOn401PersistsRotatedToken(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	before, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	e.fake.Fail(withingstest.OpGetDevice, 401, 1)
	devs, err := e.p.Devices(t.Context(), e.link)
	require.NoError(t, err)
	assert.Len(t, devs, 4)
	after, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.NotEqual(t, before.AccessToken, after.AccessToken)
	assert.NotEqual(t, before.RefreshToken, after.RefreshToken, "the rotated refresh token is stored")
	assert.Equal(t, 1, e.fake.Refreshes())

	// The new access token was used, so the old refresh token is dead now.
	require.NoError(t, e.store.SaveToken(t.Context(), e.link.ID, ohx.Token{AccessToken: "stale", RefreshToken: before.RefreshToken}))
	_, err = e.p.Devices(t.Context(), e.link)
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrTokenRevoked)
}

func TestExpiredTokenIsRefreshedBeforeTheCall(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	tok, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	tok.Expiry = time.Now().Add(-time.Minute)
	require.NoError(t, e.store.SaveToken(t.Context(), e.link.ID, tok))
	_, err = e.p.Devices(t.Context(), e.link)
	require.NoError(t, err)
	assert.Equal(t, 1, e.fake.Refreshes())
	calls := e.fake.CallsOf(withingstest.OpGetDevice)
	require.Len(t, calls, 1, "no failed call first")
	assert.Equal(t, int64(userID), calls[0].UserID)
	stored, err := e.store.Token(t.Context(), e.link.ID)
	require.NoError(t, err)
	assert.NotEqual(t, tok.RefreshToken, stored.RefreshToken, "the rotated refresh token is stored")
}

func TestConcurrentRefreshesSpendTheRefreshTokenOnce(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	e.fake.ExpireAccessTokens(userID)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.p.Devices(t.Context(), e.link)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, e.fake.Refreshes())
}

func TestRevokedGrantNeedsReconsent(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	e.fake.RevokeUser(userID)
	_, err := e.p.Devices(t.Context(), e.link)
	require.Error(t, err)
	assert.ErrorIs(t, err, ohx.ErrTokenRevoked)
	assert.False(t, ohx.Retryable(err))
}

func TestErrorStatusesAreClassified(t *testing.T) {
	for _, c := range []struct {
		status int
		http   bool
		want   error
		kind   ohx.ErrorKind
	}{
		{status: 601, want: ohx.ErrRateLimited, kind: ohx.KindRateLimited},
		{status: 522, want: ohx.ErrTransient, kind: ohx.KindTransient},
		{status: 503, want: ohx.ErrPermanent, kind: ohx.KindPermanent},
		{status: 2554, want: ohx.ErrPermanent, kind: ohx.KindPermanent},
		{status: 2555, want: ohx.ErrPermanent, kind: ohx.KindPermanent},
		{status: 429, http: true, want: ohx.ErrRateLimited, kind: ohx.KindRateLimited},
		{status: 502, http: true, want: ohx.ErrTransient, kind: ohx.KindTransient},
	} {
		t.Run(strconv.Itoa(c.status), func(t *testing.T) {
			e := newEnv(t, withingstest.Config{}, func(c *withings.Config) { c.Retry.MaxAttempts = 1 })
			if c.http {
				e.fake.FailHTTP(withingstest.OpGetmeas, c.status, 1)
			} else {
				e.fake.Fail(withingstest.OpGetmeas, c.status, 1)
			}
			w := ohx.Window{Start: e.clock.Now().Add(-time.Hour), End: e.clock.Now()}
			_, err := collect(t.Context(), t, e.p, e.link, []ohx.DataType{ohx.BodyWeight}, w)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.want)
			assert.Equal(t, c.kind, ohx.KindOf(err))
			if c.kind == ohx.KindRateLimited {
				ra := ohx.RetryAfter(err)
				assert.Greater(t, ra, time.Duration(0))
				assert.LessOrEqual(t, ra, 65*time.Second, "the next minute, plus jitter")
			}
		})
	}
}

func TestFetchStopsWhenConsumerStopsOrContextEnds(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	w := ohx.Window{Start: e.clock.Now().Add(-5 * 24 * time.Hour), End: e.clock.Now()}
	n := 0
	for _, err := range e.p.Fetch(t.Context(), e.link, []ohx.DataType{ohx.HeartRate}, w) {
		require.NoError(t, err)
		n++
		if n == 3 {
			break
		}
	}
	assert.Len(t, e.fake.CallsOf(withingstest.OpGetIntradayActivity), 1, "no call after the consumer stopped")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := collect(ctx, t, e.p, e.link, []ohx.DataType{ohx.HeartRate}, w)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestStepsSources(t *testing.T) {
	daily := newEnv(t, withingstest.Config{}, nil)
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	d := daily.clock.Now().In(paris).AddDate(0, 0, -5)
	w := ohx.Window{Start: time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, paris).UTC(),
		End: time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, paris).UTC()}
	ds, err := collect(t.Context(), t, daily.p, daily.link, []ohx.DataType{ohx.Steps}, w)
	require.NoError(t, err)
	require.Len(t, ds, 1, "the civil day starting at Paris midnight")
	assert.Equal(t, w.Start, ds[0].Start)
	assert.Equal(t, w.End, ds[0].End)
	_, off := w.Start.In(paris).Zone()
	assert.Equal(t, time.Duration(off)*time.Second, ds[0].StartOffset)
	assert.Empty(t, daily.fake.CallsOf(withingstest.OpGetIntradayActivity))

	intra := newEnv(t, withingstest.Config{}, func(c *withings.Config) { c.Steps = withings.StepsIntraday })
	is, err := collect(t.Context(), t, intra.p, intra.link, []ohx.DataType{ohx.Steps}, w)
	require.NoError(t, err)
	sum := 0.0
	for _, s := range is {
		assert.Equal(t, time.Minute, s.End.Sub(s.Start))
		sum += s.Value
	}
	assert.Equal(t, ds[0].Value, sum, "the day's total is the sum of its intraday steps")
	assert.Empty(t, intra.fake.CallsOf(withingstest.OpGetActivity))
}

func TestUpdatedMeasures(t *testing.T) {
	e := newEnv(t, withingstest.Config{PageSize: 4}, nil)
	since := e.clock.Now().Add(-48 * time.Hour)
	n := 0
	for s, err := range e.p.UpdatedMeasures(t.Context(), e.link, []ohx.DataType{ohx.BodyWeight, ohx.BloodPressure}, since) {
		require.NoError(t, err)
		assert.False(t, s.Modified.Before(since))
		n++
	}
	assert.Positive(t, n)
	for _, c := range e.fake.CallsOf(withingstest.OpGetmeas) {
		assert.Equal(t, strconv.FormatInt(since.Unix(), 10), c.Params.Get("lastupdate"))
	}
}

func TestDevicesFromFake(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	devs, err := e.p.Devices(t.Context(), e.link)
	require.NoError(t, err)
	kinds := map[ohx.DeviceKind]string{}
	for _, d := range devs {
		kinds[d.Kind] = d.Model
	}
	assert.Equal(t, map[ohx.DeviceKind]string{ohx.DeviceScale: "Body+", ohx.DeviceBloodPressure: "BPM Connect",
		ohx.DeviceWatch: "ScanWatch", ohx.DeviceSleepMonitor: "Sleep Analyzer"}, kinds)
}

func TestRevokeSignedFlow(t *testing.T) {
	e := newEnv(t, withingstest.Config{}, nil)
	require.NoError(t, e.p.Revoke(t.Context(), e.link))
	require.Len(t, e.fake.CallsOf(withingstest.OpGetNonce), 1)
	_, err := e.p.Devices(t.Context(), e.link)
	assert.ErrorIs(t, err, ohx.ErrTokenRevoked, "Withings invalidated the tokens")

	bad, err := withings.New(withings.Config{ClientID: e.fake.ClientID(), ClientSecret: "wrong", APIBaseURL: e.fake.URL()})
	require.NoError(t, err)
	assert.Error(t, bad.Revoke(t.Context(), e.link), "a wrong secret signs wrongly")
}

func TestSubscribeIdempotentAndNotify(t *testing.T) {
	const secret = "s3cret-0123456789abcdef"
	var mu sync.Mutex
	var got []ohx.Notification
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	e := newEnv(t, withingstest.Config{}, func(c *withings.Config) {
		c.CallbackURL = srv.URL + "/webhooks/withings/" + secret
		c.Webhook.Secret = secret
	})
	handler = e.p.WebhookHandler(func(_ context.Context, n ohx.Notification) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, n)
		return nil
	})

	require.NoError(t, e.p.Subscribe(t.Context(), e.link))
	subs := e.fake.Subscriptions(userID)
	assert.Len(t, subs, len(withings.DefaultApplis()))
	require.NoError(t, e.p.Subscribe(t.Context(), e.link))
	assert.Len(t, e.fake.CallsOf(withingstest.OpNotifySubscribe), len(withings.DefaultApplis()), "second Subscribe subscribes nothing")

	start := e.clock.Now().Add(-10 * time.Minute)
	require.NoError(t, e.fake.Notify(t.Context(), withingstest.Notification{UserID: userID, Appli: 4, Start: start, End: e.clock.Now()}))
	require.NoError(t, e.fake.Notify(t.Context(), withingstest.Notification{UserID: userID, Appli: 46, Action: "unlink"}))
	mu.Lock()
	require.Len(t, got, 2)
	assert.Equal(t, strconv.Itoa(userID), got[0].ExternalUserID)
	assert.Contains(t, got[0].DataTypes, ohx.BloodPressure)
	assert.Equal(t, start.Truncate(time.Second), got[0].Window.Start)
	assert.Equal(t, ohx.NotifyRevoked, got[1].Kind)
	mu.Unlock()

	require.NoError(t, e.p.Unsubscribe(t.Context(), e.link))
	assert.Empty(t, e.fake.Subscriptions(userID))
	require.NoError(t, e.p.Unsubscribe(t.Context(), e.link), "idempotent")
}

func TestSubscribeFailsWhenCallbackUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	e := newEnv(t, withingstest.Config{}, func(c *withings.Config) { c.CallbackURL = srv.URL + "/nope" })
	err := e.p.Subscribe(t.Context(), e.link)
	require.Error(t, err)
	var pe *ohx.ProviderError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "293", pe.Code)
	assert.Equal(t, ohx.KindPermanent, pe.Kind)
}

func TestSubscribeOnlyAllowedApplis(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	e := newEnv(t, withingstest.Config{}, func(c *withings.Config) { c.CallbackURL = srv.URL + "/cb" })
	e.link.Scopes = []string{"user.info,user.metrics"}
	require.NoError(t, e.p.Subscribe(t.Context(), e.link))
	var applis []int
	for _, s := range e.fake.Subscriptions(userID) {
		applis = append(applis, s.Appli)
	}
	assert.ElementsMatch(t, []int{1, 4, 46, 54}, applis)
}
