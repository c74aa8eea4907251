package server_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

// adminHarness is a server whose Admin is NewAdmin of a real queue.Memory
// and two breaker registries (as a daemon has one for providers and may get
// another from a library it embeds).
type adminHarness struct {
	http      *httptest.Server
	queue     *queue.Memory
	providers *resilience.Breakers
	fhir      *resilience.Breakers
}

func newAdminHarness(t *testing.T, withInspector bool) *adminHarness {
	t.Helper()
	q, err := queue.NewMemory(queue.Config{Retry: queue.Retry{MaxAttempts: 1}})
	require.NoError(t, err)
	h := &adminHarness{queue: q, providers: resilience.NewBreakers(resilience.BreakersConfig{}),
		fhir: resilience.NewBreakers(resilience.BreakersConfig{})}
	var insp queue.Inspector
	if withInspector {
		insp = q
	}
	srv, err := server.New(server.Config{Store: store.NewMemory(), Queue: q, StateKey: []byte(strings.Repeat("k", 32)),
		APIKeys: []string{apiKey}, Admin: server.NewAdmin(insp, h.providers, nil, h.fhir)})
	require.NoError(t, err)
	h.http = httptest.NewServer(srv.Handler())
	t.Cleanup(h.http.Close)
	return h
}

func (h *adminHarness) call(t *testing.T, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.http.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	if out != nil && resp.StatusCode < 300 {
		*out.(*map[string]any) = decode[map[string]any](t, resp)
	}
	return resp.StatusCode
}

// trip opens a breaker with failures of the remote party.
func trip(t *testing.T, b *resilience.Breaker) {
	t.Helper()
	down := &ohx.ProviderError{Provider: "x", Op: "call", Kind: ohx.KindTransient, Err: errors.New("connection refused")}
	for range resilience.DefaultFailureThreshold {
		_ = b.Do(t.Context(), func(context.Context) error { return down })
	}
	require.Equal(t, resilience.BreakerOpen, b.Status().State)
}

func TestNewAdminBreakers(t *testing.T) {
	h := newAdminHarness(t, true)
	withings := h.providers.Get("withings", resilience.BreakerSettings{})
	h.providers.Get("fitbit", resilience.BreakerSettings{})
	fhir := h.fhir.Get("fhir", resilience.BreakerSettings{})
	trip(t, withings)
	trip(t, fhir)

	var body map[string]any
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/breakers", &body))
	states := map[string]string{}
	for _, b := range body["breakers"].([]any) {
		m := b.(map[string]any)
		states[m["name"].(string)] = m["state"].(string)
	}
	assert.Equal(t, map[string]string{"withings": "open", "fitbit": "closed", "fhir": "open"}, states,
		"every breaker of every registry, under the name that closes it")

	for _, name := range []string{"withings", "fhir"} {
		require.Equal(t, http.StatusOK, h.call(t, http.MethodPost, "/v1/breakers/"+name+"/close", nil), name)
	}
	assert.Equal(t, resilience.BreakerClosed, withings.Status().State)
	assert.Equal(t, resilience.BreakerClosed, fhir.Status().State)
	assert.Equal(t, http.StatusNotFound, h.call(t, http.MethodPost, "/v1/breakers/oura/close", nil))
}

func TestNewAdminQueue(t *testing.T) {
	h := newAdminHarness(t, true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- h.queue.Run(ctx, ohx.HandlerFunc(func(context.Context, ohx.Job) error {
			return &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: ohx.KindPermanent}
		}))
	}()
	id, err := h.queue.Enqueue(t.Context(), ohx.Job{LinkID: "lnk-1", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		dead, err := h.queue.DeadLetters(t.Context())
		return err == nil && len(dead) == 1
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	var job map[string]any
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/jobs/"+id, &job))
	assert.Equal(t, id, job["id"])
	assert.Equal(t, "dead", job["state"])
	assert.Equal(t, float64(1), job["attempts"])
	assert.NotEmpty(t, job["last_error"])
	assert.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, "/v1/jobs/job-unknown", nil))

	var stats map[string]any
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/queue", &stats))
	dead := stats["dead"].([]any)
	require.Len(t, dead, 1)
	assert.Equal(t, id, dead[0].(map[string]any)["id"])
	assert.Equal(t, []any{map[string]any{"priority": 3.0, "pending": 0.0, "scheduled": 0.0, "running": 0.0, "retry": 0.0, "dead": 1.0}},
		stats["priorities"], "the queue's own states, per priority")
	assert.Equal(t, map[string]any{"pending": 0.0, "scheduled": 0.0, "running": 0.0, "retry": 0.0, "dead": 1.0}, stats["total"])
	assert.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, "/v1/links/lnk-1/jobs", nil), "no such link in the store")

	require.Equal(t, http.StatusAccepted, h.call(t, http.MethodPost, "/v1/queue/dead/"+id+"/retry", nil))
	require.Equal(t, http.StatusOK, h.call(t, http.MethodGet, "/v1/queue", &stats))
	assert.Empty(t, stats["dead"])
	assert.Equal(t, float64(1), stats["depth"].(map[string]any)["priority-3"], "the replayed job waits again")
	assert.Equal(t, 1.0, stats["total"].(map[string]any)["pending"])
	assert.Equal(t, http.StatusNotFound, h.call(t, http.MethodPost, "/v1/queue/dead/"+id+"/retry", nil),
		"a job that is not a dead letter")
}

func TestNewAdminWithoutInspector(t *testing.T) {
	h := newAdminHarness(t, false)
	h.providers.Get("withings", resilience.BreakerSettings{})
	assert.Equal(t, http.StatusNotImplemented, h.call(t, http.MethodGet, "/v1/queue", nil))
	assert.Equal(t, http.StatusNotImplemented, h.call(t, http.MethodGet, "/v1/jobs/job-1", nil))
	assert.Equal(t, http.StatusNotImplemented, h.call(t, http.MethodPost, "/v1/queue/dead/job-1/retry", nil))
	assert.Equal(t, http.StatusNotFound, h.call(t, http.MethodGet, "/v1/links/l1/jobs", nil), "the link is looked up first")
	assert.Equal(t, http.StatusOK, h.call(t, http.MethodPost, "/v1/breakers/withings/close", nil), "breakers still work")
}

func TestServerWithoutProviders(t *testing.T) {
	q := &recordingQueue{}
	cfg := server.Config{Store: store.NewMemory(), Queue: q, StateKey: []byte(strings.Repeat("k", 32)),
		APIKeys: []string{apiKey}, RedirectAllowlist: []string{"https://ehr.example/"}}
	srv, err := server.New(cfg)
	require.NoError(t, err, "a server with no provider needs no engine")
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	h := &harness{srv: srv, http: ts}

	resp := h.do(t, http.MethodGet, "/v1/providers", apiKey, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, map[string]any{"providers": []any{}}, decode[map[string]any](t, resp))

	resp = h.do(t, http.MethodPost, "/v1/links", apiKey, `{"provider":"withings","patient":"Patient/1",`+
		`"success_url":"https://ehr.example/ok","error_url":"https://ehr.example/err"}`)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body := decode[map[string]string](t, resp)
	assert.Equal(t, "unknown_provider", body["error"])
	assert.Equal(t, "no provider is configured on this server", body["message"])
	assert.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/livez", "", "").StatusCode)
	assert.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/readyz", "", "").StatusCode)

	require.ErrorContains(t, srv.RunWorkers(t.Context()), "no provider is configured")
	err = srv.HandleJob(t.Context(), ohx.Job{LinkID: "lnk-1", Trigger: ohx.TriggerIncremental})
	require.Error(t, err)
	assert.False(t, ohx.Retryable(err), "a job that no engine can run is not retried")
	assert.Empty(t, q.snapshot())

	cfg.Providers = []ohx.Provider{&authProvider{}}
	_, err = server.New(cfg)
	require.ErrorContains(t, err, "an engine is required", "providers without an engine")
}
