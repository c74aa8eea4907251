package oura_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/internal/testkit"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/oura/ouratest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

// now is the fake's clock: data exists before it.
var now = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

const (
	userID            = "8b97e1b67-144-5e9a8c067-e62331-968-b"
	verificationToken = "verify-me-0123456789"
)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

type env struct {
	fake  *ouratest.Server
	p     *oura.Provider
	cfg   oura.Config
	store *store.Memory
	link  ohx.Link
	m     *testkit.Metrics
	hook  *httptest.Server // the provider's webhook handler
	notes *notes
}

// notes records the notifications the webhook handler hands on.
type notes struct {
	mu  sync.Mutex
	got []ohx.Notification
}

func (n *notes) all() []ohx.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// newEnv starts a fake with one user, builds a provider pointed at it (its
// webhook handler served by its own httptest server) and links the user
// through the real OAuth code flow.
func newEnv(t *testing.T, fc ouratest.Config, mutate ...func(*oura.Config)) *env {
	t.Helper()
	if fc.Now == nil {
		fc.Now = func() time.Time { return now }
	}
	fake, err := ouratest.New(fc)
	require.NoError(t, err)
	t.Cleanup(fake.Close)
	_, err = fake.AddUser(ouratest.User{ID: userID, TimeZone: "Europe/Berlin"})
	require.NoError(t, err)
	e := &env{fake: fake, store: store.NewMemory(), m: &testkit.Metrics{}, notes: &notes{}}
	handler := http.NotFoundHandler()
	var mu sync.RWMutex
	e.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.hook.Close)
	e.cfg = oura.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(), RedirectURL: "https://ehr.example/oauth/oura/callback",
		APIBaseURL: fake.URL(), AuthURL: fake.AuthURL(), TokenURL: fake.TokenURL(), RevokeURL: fake.RevokeURL(),
		Webhook: oura.WebhookConfig{CallbackURL: e.hook.URL + "/webhooks/oura", VerificationToken: verificationToken},
		Common: provider.Common{
			Tokens: e.store, Locker: e.store, Metrics: e.m,
			Retry: resilience.RetrySettings{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: 2 * time.Second},
			Now:   func() time.Time { return now },
		},
	}
	for _, f := range mutate {
		f(&e.cfg)
	}
	e.p, err = oura.New(e.cfg)
	require.NoError(t, err)
	mu.Lock()
	handler = e.p.WebhookHandler(func(_ context.Context, n ohx.Notification) error {
		e.notes.mu.Lock()
		e.notes.got = append(e.notes.got, n)
		e.notes.mu.Unlock()
		return nil
	})
	mu.Unlock()
	e.link = e.linkUser(t, "link-1", nil)
	return e
}

// linkUser runs authorize → redirect → exchange and stores link and token.
func (e *env) linkUser(t *testing.T, id string, types []ohx.DataType) ohx.Link {
	t.Helper()
	code := testkit.Consent(t, e.p.AuthCodeURL("state-1", "", types), "state-1")
	link := ohx.Link{ID: id, Patient: "Patient/p1", Status: ohx.LinkActive, TimeZone: "Europe/Berlin", DataTypes: types}
	tok, err := e.p.Exchange(t.Context(), code, "", &link)
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

func byType(samples []ohx.Sample) map[ohx.DataType][]ohx.Sample {
	out := map[ohx.DataType][]ohx.Sample{}
	for _, s := range samples {
		out[s.Type] = append(out[s.Type], s)
	}
	return out
}

// week is seven whole Berlin days before now.
var week = ohx.Window{Start: time.Date(2026, 11, 13, 0, 0, 0, 0, berlin).UTC(), End: time.Date(2026, 11, 20, 0, 0, 0, 0, berlin).UTC()}

func TestLinkFillsTheLink(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	assert.Equal(t, oura.Name, e.link.Provider)
	assert.Equal(t, userID, e.link.ExternalUserID, "personal_info.id, the id webhooks name")
	assert.ElementsMatch(t, []string{"daily", "heartrate", "heart_health", "ring_configuration", "spo2"}, e.link.Scopes,
		"the scopes granted; spo2Daily, which Oura does not know, was dropped at consent")
	assert.Equal(t, 1, e.fake.Calls("personal_info"))
}

func TestFetchEveryType(t *testing.T) {
	e := newEnv(t, ouratest.Config{})
	got := byType(collect(t, e.p, e.link, e.p.DataTypes(), week))
	for _, typ := range e.p.DataTypes() {
		assert.NotEmpty(t, got[typ], "%s", typ)
	}
	assert.Len(t, got[ohx.Steps], 7, "one Oura day (04:00 to 04:00) starts in each civil day")
	assert.Len(t, got[ohx.DailyHRV], 7)
	assert.Len(t, got[ohx.DailyRestingHeartRate], 7)
	assert.Len(t, got[ohx.DailyRespiratoryRate], 7)
	assert.Len(t, got[ohx.VO2Max], 1, "weekly")
	sessions := map[string]ohx.Sample{}
	for _, s := range got[ohx.SleepSession] {
		sessions[s.RecordID] = s
	}
	for _, typ := range []ohx.DataType{ohx.DailyHRV, ohx.DailyRestingHeartRate, ohx.DailyRespiratoryRate} {
		for _, s := range got[typ] {
			night, ok := sessions[s.RecordID]
			require.True(t, ok, "%s: the night's summary names its sleep period", typ)
			assert.Equal(t, [2]time.Time{night.Start, night.End}, [2]time.Time{s.Start, s.End}, "%s spans the night", typ)
			assert.Equal(t, time.Hour, s.StartOffset, "Berlin in November")
		}
	}
	for _, typ := range []ohx.DataType{ohx.DailySpO2, ohx.SkinTemperatureDeviation} {
		for _, s := range got[typ] {
			assert.Equal(t, 0, s.LocalStart().Hour(), "%s: a day's value (Oura gives only the day) spans the civil day", typ)
			assert.Equal(t, 24*time.Hour, s.End.Sub(s.Start))
		}
	}
	for _, s := range got[ohx.Steps] {
		assert.Equal(t, 4, s.LocalStart().Hour(), "Oura's activity day starts at 04:00")
	}
	for typ, ss := range got {
		for i, s := range ss {
			require.NoError(t, s.Validate(), "%s %d", typ, i)
			assert.True(t, week.Contains(s.Start), "%s at %s", typ, s.Start)
			if i > 0 {
				assert.False(t, s.Start.Before(ss[i-1].Start), "%s in Start order", typ)
			}
		}
	}
	// Sleep periods: nights and naps, never "rest" or "deleted".
	for _, s := range got[ohx.SleepSession] {
		total, _ := s.Component(ohx.ComponentSleepTotal)
		inBed, _ := s.Component(ohx.ComponentInBed)
		assert.Positive(t, total.Value)
		assert.LessOrEqual(t, total.Value, inBed.Value)
	}
}
