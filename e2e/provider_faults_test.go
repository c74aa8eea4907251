package e2e

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

const withingsUser = 4242

// withingsTypes are synced in the Withings tests: they touch getmeas,
// getintradayactivity, getactivity and the sleep endpoints.
var withingsTypes = []ohx.DataType{ohx.BodyWeight, ohx.BloodPressure, ohx.HeartRate, ohx.Steps, ohx.SleepSession}

// wenv is the Withings path in process (in-memory fakes, no sockets), for
// testing/synctest bubbles: rate-limit waits, backoffs and breaker timeouts
// pass in fake time, instantly and exactly.
type wenv struct {
	fake     *withingstest.Server
	fhir     *fhirtest.Server
	store    *store.Memory
	breakers *resilience.Breakers
	engine   *ohx.Engine
	link     ohx.Link
}

func newWithingsEnv(t *testing.T, breaker resilience.BreakerSettings) *wenv {
	t.Helper()
	w := &wenv{store: store.NewMemory(), breakers: resilience.NewBreakers(resilience.BreakersConfig{})}
	// The bubble's clock moves with the waits; the synced window does not.
	start := time.Now()
	fixed := func() time.Time { return start }
	w.fake = withingstest.New(withingstest.Config{Now: fixed})
	w.fake.AddUser(withingstest.User{ID: withingsUser, TimeZone: "Europe/Paris"})
	p, err := withings.New(withings.Config{
		ClientID: w.fake.ClientID(), ClientSecret: w.fake.ClientSecret(),
		APIBaseURL: w.fake.URL(), AuthURL: w.fake.AuthURL(),
		Common: provider.Common{
			HTTPClient: w.fake.Client(), Tokens: w.store, Locker: w.store, Breakers: w.breakers,
			Breaker: breaker, AppLimit: provider.NoLimit(),
		},
	})
	require.NoError(t, err)
	w.fhir = fhirtest.New(fhirtestOptions()...)
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: fhirtest.InMemoryURL, HTTPClient: w.fhir.Client(), BundleSize: 25, Validate: validator()})
	require.NoError(t, err)
	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: "e2e", Now: fixed})
	require.NoError(t, err)
	w.engine, err = ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: w.store, Cursors: w.store, Transformer: tr, Publisher: pub,
		Strategy: ohx.DefaultStrategy{InitialLookback: 3 * 24 * time.Hour}, Now: fixed,
	})
	require.NoError(t, err)
	w.link = ohx.Link{ID: "link-w-1", Provider: withings.Name, ExternalUserID: "4242", Patient: "Patient/w-1",
		TimeZone: "Europe/Paris", Status: ohx.LinkActive, DataTypes: withingsTypes,
		Scopes: []string{withings.ScopeInfo, withings.ScopeMetrics, withings.ScopeActivity, withings.ScopeSleepEvents}}
	require.NoError(t, w.store.SaveToken(t.Context(), w.link.ID, w.fake.IssueToken(withingsUser, w.link.Scopes...)))
	require.NoError(t, w.store.SaveLink(t.Context(), w.link))
	return w
}

func (w *wenv) initial() ohx.Job {
	return ohx.Job{LinkID: w.link.ID, Trigger: ohx.TriggerInitial}
}

// withingsBaseline is what one undisturbed initial sync publishes, and the
// calls it makes per operation.
func withingsBaseline(t *testing.T) (snapshot, map[string]int) {
	t.Helper()
	var want snapshot
	var calls map[string]int
	synctest.Test(t, func(t *testing.T) {
		w := newWithingsEnv(t, resilience.BreakerSettings{})
		_, err := w.engine.Sync(t.Context(), w.initial())
		require.NoError(t, err)
		want = snapshotOf(w.fhir)
		calls = callsPerOp(w.fake)
	})
	require.NotEmpty(t, want)
	return want, calls
}

func callsPerOp(f *withingstest.Server) map[string]int {
	out := map[string]int{}
	for _, c := range f.Calls() {
		out[c.Op]++
	}
	return out
}

func TestWithingsRateLimitBurstsFinishAfterBackoff(t *testing.T) {
	want, baseCalls := withingsBaseline(t)
	synctest.Test(t, func(t *testing.T) {
		w := newWithingsEnv(t, resilience.BreakerSettings{})
		// Bursts of 601 on every endpoint the sync uses: each call waits for
		// the next minute (fake time), within the provider's MaxWait.
		rateLimited := []string{withingstest.OpGetmeas, withingstest.OpGetIntradayActivity,
			withingstest.OpGetActivity, withingstest.OpSleepGetSummary}
		for _, op := range rateLimited {
			w.fake.Fail(op, 601, 3)
		}
		q, err := queue.NewMemory(queue.Config{Retry: queue.Retry{MaxAttempts: 5, Base: time.Second}, Debounce: -1})
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = q.Run(ctx, w.engine) }()
		id, err := q.Enqueue(t.Context(), w.initial(), ohx.EnqueueOptions{})
		require.NoError(t, err)
		start := time.Now()
		var info queue.JobInfo
		for {
			time.Sleep(time.Second)
			info, err = q.Job(t.Context(), id)
			require.NoError(t, err)
			if info.State == queue.StateDone || info.State == queue.StateDead {
				break
			}
		}
		cancel()
		<-done

		assert.Equal(t, queue.StateDone, info.State, "no permanent failure: %s", info.LastError)
		assert.GreaterOrEqual(t, time.Since(start), time.Minute, "the sync waited out the rate limit (fake time)")
		// Every 601 cost exactly one extra call, and the data arrived once.
		got := callsPerOp(w.fake)
		for _, op := range rateLimited {
			assert.Equal(t, baseCalls[op]+3, got[op], "%s: three 601 answers, then the same calls as without", op)
		}
		assert.Zero(t, requireSameResources(t, want, snapshotOf(w.fhir)), "no resource written twice")
		assert.Equal(t, "closed", breakerState(t, w.breakers, "withings"), "rate limits never trip the breaker")
	})
}

func breakerState(t *testing.T, b *resilience.Breakers, name string) string {
	t.Helper()
	for _, s := range b.Status() {
		if s.Name == name {
			return s.State.String()
		}
	}
	require.Failf(t, "no breaker", "%s", name)
	return ""
}

func TestWithingsBreakerOpensAndHalfOpens(t *testing.T) {
	want, _ := withingsBaseline(t)
	synctest.Test(t, func(t *testing.T) {
		settings := resilience.BreakerSettings{FailureThreshold: 2, OpenTimeout: 10 * time.Second, HalfOpenSuccesses: 2}
		w := newWithingsEnv(t, settings)
		w.fake.FailHTTP(withingstest.OpGetmeas, http.StatusServiceUnavailable, 1000)

		_, err := w.engine.Sync(t.Context(), w.initial())
		require.Error(t, err)
		assert.Equal(t, "open", breakerState(t, w.breakers, "withings"), "two consecutive 503s open it")
		failed := len(w.fake.CallsOf(withingstest.OpGetmeas))
		assert.Equal(t, 2, failed, "no call after the breaker opened")

		// While open, syncs fail fast without reaching Withings.
		calls := len(w.fake.Calls())
		_, err = w.engine.Sync(t.Context(), w.initial())
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.True(t, ohx.Retryable(err), "an open breaker is not a permanent failure")
		assert.Equal(t, calls, len(w.fake.Calls()), "an open breaker sends nothing")

		// Withings recovers; after OpenTimeout the breaker lets trial calls
		// through (half-open), and their successes close it.
		w.fake.ClearFailures()
		time.Sleep(settings.OpenTimeout)
		assert.Equal(t, "half-open", breakerState(t, w.breakers, "withings"))
		_, err = w.engine.Sync(t.Context(), w.initial())
		require.NoError(t, err)
		assert.Equal(t, "closed", breakerState(t, w.breakers, "withings"))
		assert.Zero(t, requireSameResources(t, want, snapshotOf(w.fhir)))
	})
}

func TestWithingsHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		settings := resilience.BreakerSettings{FailureThreshold: 2, OpenTimeout: 10 * time.Second, HalfOpenSuccesses: 2}
		w := newWithingsEnv(t, settings)
		w.fake.FailHTTP(withingstest.OpGetmeas, http.StatusServiceUnavailable, 1000)
		_, err := w.engine.Sync(t.Context(), w.initial())
		require.Error(t, err)
		require.Equal(t, "open", breakerState(t, w.breakers, "withings"))

		time.Sleep(settings.OpenTimeout)
		before := len(w.fake.CallsOf(withingstest.OpGetmeas))
		_, err = w.engine.Sync(t.Context(), w.initial())
		require.Error(t, err)
		assert.Equal(t, before+1, len(w.fake.CallsOf(withingstest.OpGetmeas)), "one trial call in half-open")
		assert.Equal(t, "open", breakerState(t, w.breakers, "withings"), "a failed trial opens it again")
		assert.Zero(t, w.fhir.Count("Observation"), "nothing published while Withings fails")
		assert.False(t, errors.Is(err, ohx.ErrPermanent))
	})
}
