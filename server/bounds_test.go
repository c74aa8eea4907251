package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

func TestBackfillWindowsAreBounded(t *testing.T) {
	h := newHarness(t)
	activeLink(t, h, "l1", "u1")
	for name, window := range map[string]string{
		"1900 to 2100":            `{"start":"1900-01-01T00:00:00Z","end":"2100-01-01T00:00:00Z"}`,
		"older than 365 days":     `{"start":"2025-11-20T00:00:00Z","end":"2025-12-01T00:00:00Z"}`,
		"ends in the future":      `{"start":"2026-11-20T00:00:00Z","end":"2026-11-25T00:00:00Z"}`,
		"end before start":        `{"start":"2026-11-20T00:00:00Z","end":"2026-11-19T00:00:00Z"}`,
		"no end":                  `{"start":"2026-11-20T00:00:00Z"}`,
		"epoch start (startdate)": `{"start":"1970-01-01T00:00:01Z","end":"2026-11-24T00:00:00Z"}`,
	} {
		t.Run(name, func(t *testing.T) {
			resp := h.do(t, "POST", "/v1/links/l1/sync", apiKey, `{"window":`+window+`}`)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
		})
	}
	assert.Empty(t, h.queue.snapshot(), "nothing queued")
	resp := h.do(t, "POST", "/v1/links/l1/sync", apiKey,
		`{"data_types":["steps","steps"],"window":{"start":"2025-12-01T00:00:00Z","end":"2026-11-24T11:59:00Z"}}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "a window within the last 365 days is accepted")
	jobs := h.queue.snapshot()
	require.Len(t, jobs, 1)
	assert.Equal(t, ohx.TriggerBackfill, jobs[0].Trigger)
	assert.Equal(t, []ohx.DataType{ohx.Steps}, jobs[0].DataTypes, "data types are deduplicated")
	assert.False(t, jobs[0].Deletion, "a plain backfill retracts nothing")
}

// A backfill with "retract" re-reads the window and retracts what the
// current mapping no longer produces; without a window it is refused.
func TestBackfillWithRetraction(t *testing.T) {
	h := newHarness(t)
	activeLink(t, h, "l1", "u1")
	resp := h.do(t, "POST", "/v1/links/l1/sync", apiKey, `{"retract":true}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Empty(t, h.queue.snapshot(), "nothing queued")
	resp = h.do(t, "POST", "/v1/links/l1/sync", apiKey, `{"retract":true,"window":{"start":"2026-11-01T00:00:00Z","end":"2026-11-08T00:00:00Z"}}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	jobs := h.queue.snapshot()
	require.Len(t, jobs, 1)
	assert.Equal(t, ohx.TriggerBackfill, jobs[0].Trigger)
	assert.True(t, jobs[0].Deletion, "the job retracts what the re-read no longer produces")
}

func TestPushWindowsAreClamped(t *testing.T) {
	h := newHarness(t)
	activeLink(t, h, "l1", "u1")
	now := h.clock()
	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u1", Kind: ohx.NotifyData, Received: now,
		Window: ohx.Window{Start: time.Unix(1, 0).UTC(), End: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)}}))
	jobs := h.queue.snapshot()
	require.Len(t, jobs, 1)
	assert.Equal(t, now.Add(-7*24*time.Hour), jobs[0].Window.Start, "no further back than 7 days before the notification")
	assert.Equal(t, now.Add(5*time.Minute), jobs[0].Window.End, "no later than now + 5 minutes")

	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u1", Kind: ohx.NotifyData, Received: now,
		Window: ohx.Window{Start: time.Unix(1, 0).UTC(), End: time.Unix(100, 0).UTC()}}))
	assert.Len(t, h.queue.snapshot(), 1, "a window wholly outside the bounds is dropped")
}

func TestFailedAuthenticationIsThrottledAndAudited(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	h := newHarness(t)
	srv, err := server.New(server.Config{Store: h.store, Queue: h.queue, Engine: &ohx.Engine{}, Providers: []ohx.Provider{h.prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		Now: h.clock, Audit: zap.New(core), AuthFailuresPerMinute: 3})
	require.NoError(t, err)
	h.http.Config.Handler = srv.Handler()
	for range 3 {
		assert.Equal(t, http.StatusUnauthorized, h.do(t, "GET", "/v1/providers", "wrong-key-0123456789abcdef", "").StatusCode)
	}
	resp := h.do(t, "GET", "/v1/providers", apiKey, "")
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "a throttled address is refused even with the right key")
	assert.Equal(t, "60", resp.Header.Get("Retry-After"))
	failures := logs.FilterMessage("api.auth_failed").All()
	require.Len(t, failures, 3, "each failure is audited")
	assert.Equal(t, "127.0.0.1", failures[0].ContextMap()["client"])
	for _, e := range logs.All() {
		assert.NotContains(t, e.ContextMap(), "wrong-key-0123456789abcdef", "the key sent is never recorded")
	}
	h.advance(time.Minute)
	assert.Equal(t, http.StatusOK, h.do(t, "GET", "/v1/providers", apiKey, "").StatusCode, "the budget refills")
}

func TestOpsCanMoveToTheirOwnListener(t *testing.T) {
	h := newHarness(t)
	srv, err := server.New(server.Config{Store: h.store, Queue: h.queue, StateKey: make([]byte, 32), SeparateOps: true,
		MetricsHandler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("# metrics\n")) })})
	require.NoError(t, err)
	h.http.Config.Handler = srv.Handler()
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/livez"} {
		assert.Equal(t, http.StatusNotFound, h.do(t, "GET", p, "", "").StatusCode, p)
	}
	h.http.Config.Handler = srv.OpsHandler()
	for _, p := range []string{"/metrics", "/healthz", "/readyz", "/livez"} {
		assert.Equal(t, http.StatusOK, h.do(t, "GET", p, "", "").StatusCode, p)
	}
	assert.Equal(t, http.StatusNotFound, h.do(t, "GET", "/v1/providers", apiKey, "").StatusCode, "the ops listener serves no API")
}

// grantProvider is a provider whose grant check answers err.
type grantProvider struct {
	ohxtest.Provider
	err error
}

func (p *grantProvider) CheckGrant(context.Context, ohx.Link) error { return p.err }

func TestRevocationIsConfirmedBeforeItActs(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		status ohx.LinkStatus
		token  bool
		retry  bool
	}{
		"forged: the grant still works": {nil, ohx.LinkActive, true, false},
		"confirmed: the provider refuses the grant": {&ohx.ProviderError{Provider: "fake", Op: "refresh", Kind: ohx.KindRevoked},
			ohx.LinkRevoked, false, false},
		"provider down: ask again later": {&ohx.ProviderError{Provider: "fake", Op: "devices", Kind: ohx.KindTransient},
			ohx.LinkActive, true, true},
	} {
		t.Run(name, func(t *testing.T) {
			st := store.NewMemory()
			p := &grantProvider{Provider: ohxtest.Provider{ProviderName: "fake"}, err: tc.err}
			eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: st, Cursors: st, Transformer: discard{}, Publisher: discard{}})
			require.NoError(t, err)
			q := &recordingQueue{}
			srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{p}, StateKey: make([]byte, 32)})
			require.NoError(t, err)
			require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: "l1", Provider: "fake", ExternalUserID: "2002", Patient: "Patient/1", Status: ohx.LinkActive}))
			require.NoError(t, st.SaveToken(t.Context(), "l1", ohx.Token{AccessToken: "a", RefreshToken: "r"}))

			require.NoError(t, srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "2002", Kind: ohx.NotifyRevoked}))
			jobs := q.snapshot()
			require.Len(t, jobs, 1)
			require.Equal(t, ohx.TriggerRevocationCheck, jobs[0].Trigger)
			l, err := st.Link(t.Context(), "l1")
			require.NoError(t, err)
			require.Equal(t, ohx.LinkActive, l.Status, "the notification alone changes nothing")

			err = srv.HandleJob(t.Context(), jobs[0])
			assert.Equal(t, tc.retry, err != nil && ohx.Retryable(err), "%v", err)
			l, err = st.Link(t.Context(), "l1")
			require.NoError(t, err)
			assert.Equal(t, tc.status, l.Status)
			_, err = st.Token(t.Context(), "l1")
			assert.Equal(t, tc.token, err == nil, "a revoked link drops its token")
		})
	}
}

func TestCancelJobThroughTheAPI(t *testing.T) {
	h := newHarness(t)
	q, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: h.store, Queue: q, StateKey: make([]byte, 32), APIKeys: []string{apiKey},
		Admin: server.NewAdmin(q), Now: h.clock})
	require.NoError(t, err)
	h.http.Config.Handler = srv.Handler()
	id, err := q.Enqueue(t.Context(), ohx.Job{LinkID: "l1", Trigger: ohx.TriggerIncremental}, ohx.EnqueueOptions{})
	require.NoError(t, err)
	assert.Equal(t, http.StatusAccepted, h.do(t, "DELETE", "/v1/jobs/"+id, apiKey, "").StatusCode)
	job := decode[map[string]any](t, h.do(t, "GET", "/v1/jobs/"+id, apiKey, ""))
	assert.Equal(t, "cancelled", job["state"])
	assert.Equal(t, http.StatusConflict, h.do(t, "DELETE", "/v1/jobs/"+id, apiKey, "").StatusCode, "a finished job cannot be cancelled")
	assert.Equal(t, http.StatusNotFound, h.do(t, "DELETE", "/v1/jobs/nope", apiKey, "").StatusCode)
}
