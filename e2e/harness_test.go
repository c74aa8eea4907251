package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/metrics/prom"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/store"
)

const (
	apiKey     = "e2e-api-key-0123456789abcdef"
	successURL = "https://ehr.example/wearables/done"
	errorURL   = "https://ehr.example/wearables/failed"
	healthUser = "hu-e2e-1"
	// webhookSecret is the Authorization value of the Google Health subscriber.
	webhookSecret = "Bearer e2e-webhook-secret-0123456789"
)

// now is the fixed "current time" of every fake and of the engine: the data a
// sync reads is always the same, so two runs can be compared resource by
// resource.
var now = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return now }

// options tune one environment.
type options struct {
	fitbit        fitbittest.Config
	breaker       resilience.BreakerSettings
	retry         resilience.RetrySettings
	queueRetry    queue.Retry
	bundleSize    int
	lookback      time.Duration
	fhirBreaker   resilience.BreakerSettings
	fhirRetryTime time.Duration
	// fhirFront wraps the FHIR server's handler (fault injection in front of
	// fhirtest).
	fhirFront func(http.Handler) http.Handler
	// queue replaces the memory queue (the Redis tests).
	queue ohx.Queue
	// serverNow is the API server's clock (connect page and OAuth state
	// expiry); nil means the wall clock.
	serverNow func() time.Time
	// remote, when set, points the environment at fakes another process
	// started instead of starting its own (the worker child process).
	remote *remote
}

// remote names the fakes of another process.
type remote struct {
	fitbitURL, fhirURL string
}

// env is the library wired as the daemon wires it: Google Health fake →
// fitbit provider → hourly heart rate → fhirmap → publish.FHIR → fhirtest, with
// the memory store, a queue and server.Server running the jobs.
type env struct {
	fake     *fitbittest.Server
	fhir     *fhirtest.Server
	fhirURL  string
	store    *store.Memory
	breakers *resilience.Breakers
	prov     *fitbit.Provider
	pub      *publish.FHIR
	engine   *ohx.Engine
	queue    ohx.Queue
	srv      *server.Server
	http     *httptest.Server
	registry *prometheus.Registry
}

func newEnv(t *testing.T, o options) *env {
	t.Helper()
	e := &env{store: store.NewMemory(), registry: prometheus.NewRegistry()}
	metrics, err := prom.New(e.registry)
	require.NoError(t, err)

	// The API server's address must be known before the provider (its OAuth
	// redirect URL), so the handler is set once everything is built.
	handler := http.NotFoundHandler()
	var hmu sync.RWMutex
	e.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.RLock()
		h := handler
		hmu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.http.Close)

	var fitbitURL, fhirURL string
	if o.remote != nil {
		fitbitURL, fhirURL = o.remote.fitbitURL, o.remote.fhirURL
	} else {
		fitbitURL, fhirURL = e.startFakes(t, o)
	}

	e.breakers = resilience.NewBreakers(resilience.BreakersConfig{Metrics: metrics})
	retry := o.retry
	if retry == (resilience.RetrySettings{}) {
		retry = resilience.RetrySettings{BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxWait: 2 * time.Second}
	}
	e.prov, err = fitbit.New(fitbit.Config{
		ClientID: fitbittest.DefaultClientID, ClientSecret: fitbittest.DefaultClientSecret,
		RedirectURL: e.http.URL + "/oauth/fitbit/callback",
		AuthURL:     fitbitURL + "/o/oauth2/v2/auth", TokenURL: fitbitURL + "/token", RevokeURL: fitbitURL + "/revoke",
		APIBaseURL: fitbitURL + "/", KeysetURL: fitbitURL + "/webhooks_public_keyset.json",
		WebhookSecret: webhookSecret,
		Common: provider.Common{
			Tokens: e.store, Locker: e.store, UserLimit: provider.NoLimit(), Breakers: e.breakers,
			Breaker: o.breaker, Retry: retry, Metrics: metrics, Now: fixedNow,
		},
	})
	require.NoError(t, err)

	bundle := o.bundleSize
	if bundle == 0 {
		bundle = 20
	}
	fhirBreaker := o.fhirBreaker.Or(resilience.BreakerSettings{FailureThreshold: 1000, OpenTimeout: 50 * time.Millisecond, HalfOpenSuccesses: 1})
	retryTime := o.fhirRetryTime
	if retryTime == 0 {
		retryTime = 10 * time.Second
	}
	e.pub, err = publish.NewFHIR(publish.FHIRConfig{
		BaseURL: fhirURL, Name: "fhirtest", BundleSize: bundle, Timeout: 5 * time.Second,
		Retry: resilience.RetrySettings{MaxElapsed: retryTime}, Breaker: fhirBreaker, Breakers: e.breakers,
		Metrics: metrics, Validate: validator(),
	})
	require.NoError(t, err)

	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: "e2e", Now: fixedNow})
	require.NoError(t, err)
	policy := &ohx.Policy{Aggregation: map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: ohx.AggregationHourly}}
	hourly, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	require.NoError(t, err)
	lookback := o.lookback
	if lookback == 0 {
		lookback = 6 * time.Hour
	}
	e.engine, err = ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{e.prov}, Links: e.store, Cursors: e.store,
		Policy: policy, Aggregator: hourly, Transformer: tr, Publisher: e.pub, Metrics: metrics, Now: fixedNow,
		Strategy: ohx.DefaultStrategy{InitialLookback: lookback, Chunk: 2 * time.Hour,
			Align: hourly.(ohx.BucketAligner)},
	})
	require.NoError(t, err)

	e.queue = o.queue
	if e.queue == nil {
		qr := o.queueRetry
		if qr == (queue.Retry{}) {
			qr = queue.Retry{MaxAttempts: 10, Base: 20 * time.Millisecond, Max: 200 * time.Millisecond}
		}
		q, err := queue.NewMemory(queue.Config{Concurrency: 2, Retry: qr, Debounce: -1, Metrics: metrics})
		require.NoError(t, err)
		e.queue = q
	}

	e.srv, err = server.New(server.Config{
		Store: e.store, Queue: e.queue, Engine: e.engine, Providers: []ohx.Provider{e.prov},
		PublicURL: e.http.URL, StateKey: []byte(strings.Repeat("s", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Debounce: time.Millisecond,
		Metrics: metrics, APIMetrics: metrics,
		MetricsHandler: promhttp.HandlerFor(e.registry, promhttp.HandlerOpts{}), Now: o.serverNow,
	})
	require.NoError(t, err)
	hmu.Lock()
	handler = e.srv.Handler()
	hmu.Unlock()
	return e
}

// startFakes starts the Google Health fake with one user and the FHIR server
// and returns their base URLs.
func (e *env) startFakes(t *testing.T, o options) (fitbitURL, fhirURL string) {
	t.Helper()
	fc := o.fitbit
	if fc.Now == nil {
		fc.Now = fixedNow
	}
	if fc.HeartRateEvery == 0 {
		fc.HeartRateEvery = 30 * time.Second
	}
	if fc.RateLimitPerMinute == 0 {
		fc.RateLimitPerMinute = -1
	}
	var err error
	e.fake, err = fitbittest.New(fc)
	require.NoError(t, err)
	t.Cleanup(e.fake.Close)
	_, err = e.fake.AddUser(fitbittest.User{HealthUserID: healthUser, TimeZone: "Europe/Berlin"})
	require.NoError(t, err)

	e.fhir = fhirtest.New(fhirtestOptions(fhirtest.WithNow(fixedNow))...)
	var fh http.Handler = e.fhir
	if o.fhirFront != nil {
		fh = o.fhirFront(fh)
	}
	fhirHTTP := httptest.NewServer(fh)
	t.Cleanup(fhirHTTP.Close)
	e.fhirURL = fhirHTTP.URL
	return e.fake.URL(), e.fhirURL

}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// api sends an authenticated API request and decodes the JSON answer into out
// (when not nil).
func (e *env) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.http.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// linkID is the fixed id of the test link: resource ids derive from it, so
// runs of different environments can be compared resource by resource.
const linkID = "link-e2e-1"

// link links the fake's user through the provider's real OAuth flow
// (authorize at the fake, code exchange), stores link and token, and queues a
// device sync and an initial sync as the daemon's callback does.
func (e *env) link(t *testing.T, types ...ohx.DataType) string {
	t.Helper()
	id := e.saveLink(t, types...)
	for _, tr := range []ohx.Trigger{ohx.TriggerDeviceSync, ohx.TriggerInitial} {
		_, err := e.queue.Enqueue(t.Context(), ohx.Job{LinkID: id, Trigger: tr}, ohx.EnqueueOptions{})
		require.NoError(t, err)
	}
	return id
}

// saveLink links the fake's user through the provider's OAuth flow and stores
// link and token, without queueing anything.
func (e *env) saveLink(t *testing.T, types ...ohx.DataType) string {
	t.Helper()
	verifier := "verifier-0123456789-0123456789-0123456789-0123456789"
	resp, err := noRedirect.Get(e.prov.AuthCodeURL("state-e2e", verifier, types))
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	l := ohx.Link{ID: linkID, Patient: "Patient/e2e-1", DataTypes: types, Status: ohx.LinkActive}
	tok, err := e.prov.Exchange(t.Context(), loc.Query().Get("code"), verifier, &l)
	require.NoError(t, err)
	require.NoError(t, e.store.SaveToken(t.Context(), l.ID, tok))
	require.NoError(t, e.store.SaveLink(t.Context(), l))
	return l.ID
}

// linkViaAPI links the fake's user through the daemon's OAuth flow (API →
// connect page → consent page of the fake → callback) and returns the link id. The callback
// queues a device sync and an initial sync.
func (e *env) linkViaAPI(t *testing.T, types ...ohx.DataType) string {
	t.Helper()
	var created struct {
		ID           string `json:"id"`
		AuthorizeURL string `json:"authorize_url"`
	}
	status := e.api(t, "POST", "/v1/links", map[string]any{
		"provider": "fitbit", "patient": "Patient/e2e-1", "data_types": types,
		"success_url": successURL, "error_url": errorURL,
	}, &created)
	require.Equal(t, http.StatusCreated, status)
	landing, err := connecttest.New(noRedirect).Connect(t.Context(), created.AuthorizeURL)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(landing, successURL), "callback redirects to success, got %q", landing)
	return created.ID
}

// runWorkers runs the server's workers until the test ends.
func (e *env) runWorkers(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.srv.RunWorkers(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// inspector is the queue's administrative side.
type inspector interface {
	Stats(ctx context.Context) (queue.Stats, error)
}

// waitIdle waits until the queue has no pending, scheduled, running or
// retrying job, or fails the test after limit.
func (e *env) waitIdle(t *testing.T, limit time.Duration) queue.Stats {
	t.Helper()
	in, ok := e.queue.(inspector)
	require.True(t, ok, "the queue has an inspector")
	deadline := time.Now().Add(limit)
	for {
		st, err := in.Stats(t.Context())
		if err == nil && st.Depth() == 0 && running(st) == 0 {
			return st
		}
		if time.Now().After(deadline) {
			require.Failf(t, "queue not idle", "after %s: %+v (err %v)", limit, st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running counts the jobs a worker holds. Stats.Depth already counts the
// pending, scheduled and retrying ones: adding those here counted a job
// that waits for its debounce twice.
func running(st queue.Stats) int {
	n := 0
	for _, p := range st.Priorities {
		n += p.Running
	}
	return n
}

// snapshot is what a FHIR server holds: per "Type/id", the body and version.
type snapshot map[string]stored

type stored struct {
	body    string
	version int
}

func snapshotOf(s *fhirtest.Server) snapshot {
	out := snapshot{}
	for _, typ := range s.Types() {
		for _, id := range s.IDs(typ) {
			b, v, _ := s.Get(typ, id)
			out[typ+"/"+id] = stored{body: string(b), version: v}
		}
	}
	return out
}

// canonical strips what the server assigns (meta) so bodies compare by content.
func canonical(t *testing.T, body string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &m))
	delete(m, "meta")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// baselines caches the undisturbed runs per data type set: every fault test
// of a type set compares with the same run.
var baselines sync.Map // string → snapshot

// baseline runs the same link and sync without faults and returns what the
// FHIR server then holds.
func baseline(t *testing.T, o options, types ...ohx.DataType) snapshot {
	t.Helper()
	key := fmt.Sprint(types)
	if s, ok := baselines.Load(key); ok {
		return s.(snapshot)
	}
	o.fhirFront = nil
	o.queue = nil
	e := newEnv(t, o)
	e.runWorkers(t)
	e.link(t, types...)
	e.waitIdle(t, 3*time.Minute)
	s := snapshotOf(e.fhir)
	baselines.Store(key, s)
	return s
}

// requireSameResources asserts got holds exactly the resources of want (same
// ids, same content) and returns the number of writes beyond the first per id.
func requireSameResources(t *testing.T, want, got snapshot) (extraWrites int) {
	t.Helper()
	require.NotEmpty(t, want)
	wantIDs, gotIDs := keys(want), keys(got)
	require.ElementsMatch(t, wantIDs, gotIDs, "the same resources arrive, no more, no less")
	for k, w := range want {
		g := got[k]
		require.Equal(t, canonical(t, w.body), canonical(t, g.body), "content of %s", k)
		require.GreaterOrEqual(t, g.version, w.version, "%s", k)
		extraWrites += g.version - w.version
	}
	return extraWrites
}

func keys(s snapshot) []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	return out
}

// linkStatus reads GET /v1/links/{id}.
func (e *env) linkStatus(t *testing.T, id string) map[string]any {
	t.Helper()
	var out map[string]any
	require.Equal(t, http.StatusOK, e.api(t, "GET", "/v1/links/"+url.PathEscape(id), nil, &out))
	return out
}
