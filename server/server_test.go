package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

const apiKey = "test-key-0123456789abcdef"

// authProvider is the fake provider with an OAuth face: AuthCodeURL points at
// a fake consent page, Exchange accepts code "good-<user>".
type authProvider struct {
	ohxtest.Provider
	mu        sync.Mutex
	verifiers []string
}

func (p *authProvider) AuthCodeURL(state, verifier string, _ []ohx.DataType) string {
	p.mu.Lock()
	p.verifiers = append(p.verifiers, verifier)
	p.mu.Unlock()
	return "https://consent.example/authorize?state=" + url.QueryEscape(state)
}

func (p *authProvider) Exchange(_ context.Context, code, verifier string, l *ohx.Link) (ohx.Token, error) {
	user, ok := strings.CutPrefix(code, "good-")
	if !ok {
		return ohx.Token{}, &ohx.ProviderError{Provider: p.Name(), Op: "exchange", Kind: ohx.KindPermanent}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.verifiers) == 0 || p.verifiers[len(p.verifiers)-1] != verifier {
		return ohx.Token{}, errors.New("pkce verifier mismatch")
	}
	l.ExternalUserID = user
	l.Scopes = []string{"all"}
	return ohx.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}, nil
}

// recordingQueue records enqueued jobs with their options.
type recordingQueue struct {
	mu   sync.Mutex
	jobs []ohx.Job
	opts []ohx.EnqueueOptions
}

func (q *recordingQueue) Enqueue(_ context.Context, j ohx.Job, o ohx.EnqueueOptions) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.jobs = append(q.jobs, j)
	q.opts = append(q.opts, o)
	return "job-" + string(rune('a'+len(q.jobs)-1)), nil
}

func (q *recordingQueue) Run(ctx context.Context, _ ohx.Handler) error {
	<-ctx.Done()
	return nil
}

func (q *recordingQueue) snapshot() []ohx.Job {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]ohx.Job(nil), q.jobs...)
}

type discard struct{}

func (discard) Transform(context.Context, ohx.Batch) ([]ohx.Resource, error) { return nil, nil }
func (discard) Publish(context.Context, []ohx.Resource) (ohx.PublishResult, error) {
	return ohx.PublishResult{}, nil
}

type harness struct {
	srv   *server.Server
	http  *httptest.Server
	store *store.Memory
	queue *recordingQueue
	prov  *authProvider
	now   time.Time
	mu    sync.Mutex
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func newHarness(t *testing.T, checks ...server.Check) *harness {
	t.Helper()
	h := &harness{queue: &recordingQueue{}, prov: &authProvider{Provider: ohxtest.Provider{ProviderName: "fake"}},
		now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
	h.store = store.NewMemory(store.WithMemoryClock(h.clock))
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{h.prov}, Links: h.store, Cursors: h.store,
		Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	h.srv, err = server.New(server.Config{
		Store: h.store, Queue: h.queue, Engine: eng, Providers: []ohx.Provider{h.prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Checks: checks, Now: h.clock,
	})
	require.NoError(t, err)
	h.http = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.http.Close)
	return h
}

func (h *harness) do(t *testing.T, method, path, key, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.http.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func decode[T any](t *testing.T, resp *http.Response) T {
	t.Helper()
	var v T
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	return v
}

func TestAPIKeys(t *testing.T) {
	h := newHarness(t)
	assert.Equal(t, http.StatusUnauthorized, h.do(t, "GET", "/v1/providers", "", "").StatusCode)
	assert.Equal(t, http.StatusUnauthorized, h.do(t, "GET", "/v1/providers", "wrong-key-0123456789abc", "").StatusCode)
	assert.Equal(t, http.StatusUnauthorized, h.do(t, "GET", "/v1/providers", apiKey+"x", "").StatusCode)
	resp := h.do(t, "GET", "/v1/providers", apiKey, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := decode[map[string][]map[string]any](t, resp)
	require.Len(t, body["providers"], 1)
	assert.Equal(t, "fake", body["providers"][0]["name"])

	resp = h.do(t, "GET", "/v1/openapi.json", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "the API document needs no key")
	doc := decode[map[string]any](t, resp)
	assert.Equal(t, "3.1.0", doc["openapi"])
}

func TestAPIRejectsShortKeysAtStartup(t *testing.T) {
	_, err := server.New(server.Config{Store: store.NewMemory(), Queue: &recordingQueue{}, Engine: &ohx.Engine{},
		StateKey: make([]byte, 32), APIKeys: []string{"short"}})
	assert.Error(t, err)
	_, err = server.New(server.Config{Store: store.NewMemory(), Queue: &recordingQueue{}, Engine: &ohx.Engine{},
		StateKey: make([]byte, 8)})
	assert.Error(t, err)
}

func linkBody(success, failure string) string {
	b, _ := json.Marshal(map[string]any{"provider": "fake", "patient": "Patient/123", "success_url": success, "error_url": failure})
	return string(b)
}

func TestCreateLinkRedirectAllowList(t *testing.T) {
	h := newHarness(t)
	good := "https://ehr.example/wearables/done"
	for name, bad := range map[string]string{
		"other host":       "https://evil.example/wearables/done",
		"userinfo trick":   "https://ehr.example@evil.example/wearables/",
		"other path":       "https://ehr.example/admin",
		"scheme":           "javascript:alert(1)",
		"relative":         "/wearables/done",
		"header injection": "https://ehr.example/wearables/\r\nSet-Cookie: x=1",
		"plain http":       "http://ehr.example/wearables/done",
		"backslash":        `https://ehr.example\@evil.example/wearables/`,
	} {
		t.Run(name, func(t *testing.T) {
			resp := h.do(t, "POST", "/v1/links", apiKey, linkBody(bad, good))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			resp = h.do(t, "POST", "/v1/links", apiKey, linkBody(good, bad))
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
	resp := h.do(t, "POST", "/v1/links", apiKey, linkBody(good, good))
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	created := decode[map[string]string](t, resp)
	assert.True(t, strings.HasPrefix(created["authorize_url"], "https://ohx.example/connect/"), "authorize_url opens ohx's connect page")
	l, err := h.store.Link(t.Context(), created["id"])
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkPending, l.Status)

	assert.Equal(t, http.StatusUnsupportedMediaType, func() int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", h.http.URL+"/v1/links", strings.NewReader(linkBody(good, good)))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		return resp.StatusCode
	}())
	assert.Equal(t, http.StatusBadRequest, h.do(t, "POST", "/v1/links", apiKey, `{"provider":"fake","unknown":1}`).StatusCode)
	assert.Equal(t, http.StatusBadRequest, h.do(t, "POST", "/v1/links", apiKey,
		`{"provider":"fake","patient":"Patient/../x","success_url":"`+good+`","error_url":"`+good+`"}`).StatusCode)
}

func TestHealthEndpoints(t *testing.T) {
	down := errors.New("connection refused")
	h := newHarness(t,
		server.Check{Name: "store", Probe: func(context.Context) error { return nil }},
		server.Check{Name: "fhir", Optional: true, Probe: func(context.Context) error { return down }},
	)
	assert.Equal(t, http.StatusOK, h.do(t, "GET", "/livez", "", "").StatusCode)
	resp := h.do(t, "GET", "/readyz", "", "")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an optional dependency does not make the process unready")
	resp = h.do(t, "GET", "/healthz", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body := decode[map[string]any](t, resp)
	assert.Equal(t, "degraded", body["status"])
	checks := body["checks"].([]any)
	require.Len(t, checks, 2)
	assert.Contains(t, checks[0].(map[string]any), "response_ms")

	h2 := newHarness(t, server.Check{Name: "queue", Probe: func(context.Context) error { return down }})
	assert.Equal(t, http.StatusServiceUnavailable, h2.do(t, "GET", "/readyz", "", "").StatusCode)
	assert.Equal(t, http.StatusServiceUnavailable, h2.do(t, "GET", "/healthz", "", "").StatusCode)
	assert.Equal(t, http.StatusOK, h2.do(t, "GET", "/livez", "", "").StatusCode)
}

func activeLink(t *testing.T, h *harness, id, user string, types ...ohx.DataType) ohx.Link {
	t.Helper()
	l := ohx.Link{ID: id, Provider: "fake", ExternalUserID: user, Patient: "Patient/1", Status: ohx.LinkActive, DataTypes: types}
	require.NoError(t, h.store.SaveLink(t.Context(), l))
	return l
}

func TestNotifyQueuesDebouncedPushJobs(t *testing.T) {
	h := newHarness(t)
	activeLink(t, h, "l1", "u1", ohx.HeartRate, ohx.Steps)
	t0 := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	w := ohx.Window{Start: t0, End: t0.Add(time.Hour)}

	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "nobody", Kind: ohx.NotifyData, Window: w}),
		"an unknown user is acknowledged (and dropped), like a known one")
	assert.Empty(t, h.queue.snapshot(), "unknown users are dropped")

	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u1", Kind: ohx.NotifyData,
		DataTypes: []ohx.DataType{ohx.Steps, ohx.BodyWeight}, Window: w}))
	jobs := h.queue.snapshot()
	require.Len(t, jobs, 1)
	assert.Equal(t, ohx.TriggerPush, jobs[0].Trigger)
	assert.Equal(t, []ohx.DataType{ohx.Steps}, jobs[0].DataTypes, "types outside consent are left out")
	assert.Equal(t, w, *jobs[0].Window)
	assert.Equal(t, 10*time.Second, h.queue.opts[0].Delay, "bursts coalesce behind the debounce")

	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u1", Kind: ohx.NotifyRevoked}))
	l, err := h.store.Link(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, l.Status, "an unlink notification alone changes nothing")
	jobs = h.queue.snapshot()
	require.Len(t, jobs, 2)
	assert.Equal(t, ohx.TriggerRevocationCheck, jobs[1].Trigger, "it queues a check with the provider")
}

func TestRevokedGrantMarksLinkNeedsReconsent(t *testing.T) {
	s := store.NewMemory()
	p := &ohxtest.Provider{ProviderName: "fake", FailAfter: 1, FailErr: &ohx.ProviderError{Provider: "fake", Op: "refresh", Kind: ohx.KindRevoked}}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: s, Cursors: s, Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: s, Queue: &recordingQueue{}, Engine: eng, Providers: []ohx.Provider{p}, StateKey: make([]byte, 32),
		PublicURL: "https://ohx.example"})
	require.NoError(t, err)
	require.NoError(t, s.SaveLink(t.Context(), ohx.Link{ID: "l1", Provider: "fake", Patient: "Patient/1", Status: ohx.LinkActive}))

	err = srv.HandleJob(t.Context(), ohx.Job{LinkID: "l1", Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.HeartRate}})
	require.ErrorIs(t, err, ohx.ErrTokenRevoked)
	assert.False(t, ohx.Retryable(err), "the queue stops retrying")
	l, err := s.Link(t.Context(), "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkNeedsReconsent, l.Status)

	err = srv.HandleJob(t.Context(), ohx.Job{LinkID: "l1", Trigger: ohx.TriggerIncremental})
	assert.ErrorIs(t, err, ohx.ErrTokenRevoked, "later jobs fail at once")
}
