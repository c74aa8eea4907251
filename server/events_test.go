package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
)

// gatedProvider is the OAuth fake whose fetches wait for the gate to open,
// so that a test sees a sync while it runs. Its grant check answers
// grantErr.
type gatedProvider struct {
	*authProvider
	gate     chan struct{}
	grantErr error
}

func (p *gatedProvider) CheckGrant(context.Context, ohx.Link) error { return p.grantErr }

func (p *gatedProvider) Fetch(ctx context.Context, l ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		select {
		case <-p.gate:
		case <-ctx.Done():
			yield(ohx.Sample{}, ctx.Err())
			return
		}
		for s, err := range p.authProvider.Fetch(ctx, l, types, w) {
			if !yield(s, err) {
				return
			}
		}
	}
}

// oneEach maps every sample to one resource, which the publisher accepts.
type oneEach struct{}

func (oneEach) Transform(_ context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	out := make([]ohx.Resource, 0, len(b.Samples))
	for i, s := range b.Samples {
		out = append(out, ohx.Resource{Type: "Observation", ID: fmt.Sprint(s.Type, "-", s.Start.Unix(), "-", i),
			DataType: s.Type, JSON: json.RawMessage(`{}`)})
	}
	return out, nil
}

// sink records the events it takes; it fails the next fail deliveries.
type sink struct {
	mu       sync.Mutex
	fail     int
	attempts []events.Event
	got      []events.Event
}

func (s *sink) Deliver(_ context.Context, e events.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, e)
	if s.fail > 0 {
		s.fail--
		return &events.DeliveryError{Status: http.StatusInternalServerError}
	}
	s.got = append(s.got, e)
	return nil
}

func (s *sink) setFail(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = n
}

// delivered returns the events delivered so far, by type.
func (s *sink) delivered(t events.Type) []events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []events.Event
	for _, e := range s.got {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

func (s *sink) tries(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.attempts {
		if e.ID == id {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "gave up waiting for: %s", what)
		time.Sleep(5 * time.Millisecond)
	}
}

// eventHarness is a server with a real memory queue, an engine on the gated
// fake provider, and events delivered to a recording sink.
type eventHarness struct {
	srv   *server.Server
	http  *httptest.Server
	store store.Store
	queue *queue.Memory
	prov  *gatedProvider
	sink  *sink
	ctx   context.Context
}

type eventOptions struct {
	store       store.Store
	maxAttempts int   // the queue's
	failErr     error // the provider fails once with it, after one sample
	timeout     time.Duration
	noDelivery  bool
	now         func() time.Time // the server's clock; nil means time.Now
}

func newEventHarness(t *testing.T, o eventOptions) *eventHarness {
	t.Helper()
	h := &eventHarness{store: o.store, sink: &sink{},
		prov: &gatedProvider{authProvider: &authProvider{Provider: ohxtest.Provider{ProviderName: "fake", Every: time.Hour,
			Types: []ohx.DataType{ohx.HeartRate, ohx.Steps}}}, gate: make(chan struct{})}}
	if o.failErr != nil {
		h.prov.FailAfter, h.prov.FailErr = 1, o.failErr
	}
	if h.store == nil {
		h.store = store.NewMemory()
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 2
	}
	var err error
	h.queue, err = queue.NewMemory(queue.Config{Debounce: -1, Timeout: o.timeout,
		Retry: queue.Retry{MaxAttempts: o.maxAttempts, Base: 10 * time.Millisecond, Max: 20 * time.Millisecond}})
	require.NoError(t, err)
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{h.prov}, Links: h.store, Cursors: h.store,
		Transformer: oneEach{}, Publisher: discard{}, Strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}})
	require.NoError(t, err)
	h.srv, err = server.New(server.Config{
		Store: h.store, Queue: h.queue, Engine: eng, Providers: []ohx.Provider{h.prov},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), APIKeys: []string{apiKey},
		RedirectAllowlist: []string{"https://ehr.example/wearables/"}, Admin: server.NewAdmin(h.queue), Now: o.now,
		Events: h.sink, EventDelivery: server.EventDelivery{Poll: 10 * time.Millisecond,
			Retry: queue.Retry{MaxAttempts: 3, Base: 10 * time.Millisecond, Max: 20 * time.Millisecond}},
	})
	require.NoError(t, err)
	h.http = httptest.NewServer(h.srv.Handler())
	t.Cleanup(h.http.Close)
	ctx, cancel := context.WithCancel(t.Context())
	h.ctx = ctx
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	if !o.noDelivery {
		wg.Go(func() { assert.NoError(t, h.srv.RunEvents(ctx)) })
	}
	return h
}

// runWorkers runs the server's workers until the test ends.
func (h *eventHarness) runWorkers(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	wg.Go(func() { assert.NoError(t, h.srv.RunWorkers(h.ctx)) })
}

func (h *eventHarness) do(t *testing.T, method, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.http.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

// link creates a link through the API and completes its consent flow.
func (h *eventHarness) link(t *testing.T, patient, user string) string {
	t.Helper()
	body := fmt.Sprintf(`{"provider":"fake","patient":%q,"success_url":"https://ehr.example/wearables/ok","error_url":"https://ehr.example/wearables/err"}`, patient)
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.http.URL+"/v1/links", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	created := decode[map[string]string](t, resp)
	_ = resp.Body.Close()
	// Through the connect page, in the browser that opened it.
	p := newPatientAt(h.http.URL)
	state := p.consent(t, created["authorize_url"])
	cb, _ := p.callback(t, "code=good-"+user+"&state="+url.QueryEscape(state))
	require.Equal(t, http.StatusFound, cb.StatusCode)
	require.Contains(t, cb.Header.Get("Location"), "link_id="+created["id"])
	return created["id"]
}

// linkView is the part of GET /v1/links/{id} the tests read.
type linkView struct {
	Status      string `json:"status"`
	InitialSync *struct {
		State     string    `json:"state"`
		ErrorKind string    `json:"error_kind"`
		Attempts  int       `json:"attempts"`
		JobID     string    `json:"job_id"`
		Started   time.Time `json:"started"`
		Finished  time.Time `json:"finished"`
	} `json:"initial_sync"`
	Sync map[string]struct {
		LastSuccess      time.Time `json:"last_success"`
		CoveredUntil     time.Time `json:"covered_until"`
		LastErrorKind    string    `json:"last_error_kind"`
		LastErrorAt      time.Time `json:"last_error_at"`
		SamplesRead      int64     `json:"samples_read"`
		ResourcesWritten int64     `json:"resources_written"`
	} `json:"sync"`
}

func (h *eventHarness) status(t *testing.T, id string) linkView {
	t.Helper()
	resp := h.do(t, "GET", "/v1/links/"+id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return decode[linkView](t, resp)
}

func (h *eventHarness) initialState(t *testing.T, id string) string {
	st := h.status(t, id)
	if st.InitialSync == nil {
		return ""
	}
	return st.InitialSync.State
}

func TestInitialSyncStatusJobsAndEvents(t *testing.T) {
	h := newEventHarness(t, eventOptions{})
	id := h.link(t, "Patient/p1", "u1")

	st := h.status(t, id)
	assert.Equal(t, "active", st.Status)
	require.NotNil(t, st.InitialSync)
	assert.Equal(t, "pending", st.InitialSync.State, "queued, not run")
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkActive)) == 1 }, "link.active delivered")
	active := h.sink.delivered(events.LinkActive)[0]
	assert.Equal(t, id, active.LinkID)
	assert.Equal(t, "fake", active.Provider)
	assert.Equal(t, "Patient/p1", active.Patient)

	// While the sync runs (its fetch waits for the gate): running in the
	// link, the queue and the link's jobs.
	h.runWorkers(t)
	waitFor(t, func() bool { return h.initialState(t, id) == "running" }, "initial sync running")
	var q struct {
		Priorities []map[string]int `json:"priorities"`
		Total      map[string]int   `json:"total"`
	}
	resp := h.do(t, "GET", "/v1/queue")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	q = decode[struct {
		Priorities []map[string]int `json:"priorities"`
		Total      map[string]int   `json:"total"`
	}](t, resp)
	assert.Equal(t, 1, q.Total["running"], "GET /v1/queue shows the running job: %v", q)
	var jobs struct {
		Jobs []server.JobStatus `json:"jobs"`
	}
	resp = h.do(t, "GET", "/v1/links/"+id+"/jobs")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	jobs = decode[struct {
		Jobs []server.JobStatus `json:"jobs"`
	}](t, resp)
	states := map[ohx.Trigger]string{}
	for _, j := range jobs.Jobs {
		states[j.Job.Trigger] = j.State
		assert.Equal(t, id, j.Job.LinkID)
	}
	assert.Equal(t, "running", states[ohx.TriggerInitial], "the link's jobs: %v", states)
	assert.Contains(t, []string{"pending", "running", "done"}, states[ohx.TriggerDeviceSync])

	close(h.prov.gate)
	waitFor(t, func() bool { return h.initialState(t, id) == "done" }, "initial sync done")
	st = h.status(t, id)
	assert.Equal(t, 1, st.InitialSync.Attempts)
	assert.False(t, st.InitialSync.Finished.IsZero())
	assert.NotEmpty(t, st.InitialSync.JobID)
	require.Contains(t, st.Sync, "heart-rate")
	hr := st.Sync["heart-rate"]
	assert.Positive(t, hr.SamplesRead)
	assert.Equal(t, hr.SamplesRead, hr.ResourcesWritten, "one resource per sample")
	assert.False(t, hr.LastSuccess.IsZero())
	assert.False(t, hr.CoveredUntil.IsZero(), "the cursor: data covered up to")

	waitFor(t, func() bool { return len(h.sink.delivered(events.SyncCompleted)) == 1 }, "sync.completed delivered")
	done := h.sink.delivered(events.SyncCompleted)[0]
	assert.Equal(t, ohx.TriggerInitial, done.Data.Trigger)
	assert.Equal(t, st.InitialSync.JobID, done.Data.JobID)
	assert.Equal(t, int(hr.SamplesRead), done.Data.Types[ohx.HeartRate].SamplesRead)
	assert.Equal(t, int(hr.ResourcesWritten), done.Data.Types[ohx.HeartRate].ResourcesWritten)
	assert.Contains(t, done.Data.Types, ohx.Steps)

	// The answers and the events are what the OpenAPI document says.
	conforms(t, "Link", h.raw(t, "/v1/links/"+id))
	conforms(t, "QueueStats", h.raw(t, "/v1/queue"))
	var jobList struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	require.NoError(t, json.Unmarshal(h.raw(t, "/v1/links/"+id+"/jobs"), &jobList))
	require.NotEmpty(t, jobList.Jobs)
	for _, j := range jobList.Jobs {
		conforms(t, "JobStatus", j)
	}
	for _, e := range []events.Event{active, done} {
		b, err := json.Marshal(e)
		require.NoError(t, err)
		conforms(t, "Event", b)
	}

	// The link list shows the same.
	resp = h.do(t, "GET", "/v1/links?patient=Patient/p1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	list := decode[struct {
		Links []linkView `json:"links"`
	}](t, resp)
	require.Len(t, list.Links, 1)
	require.NotNil(t, list.Links[0].InitialSync)
	assert.Equal(t, "done", list.Links[0].InitialSync.State)
	assert.Equal(t, hr.SamplesRead, list.Links[0].Sync["heart-rate"].SamplesRead)

	// A backfill completes with its own event; an incremental sync does not.
	w := ohx.Window{Start: time.Now().Add(-48 * time.Hour).Truncate(time.Hour), End: time.Now().Add(-47 * time.Hour).Truncate(time.Hour)}
	bf, err := h.queue.Enqueue(t.Context(), ohx.Job{LinkID: id, Trigger: ohx.TriggerBackfill, Window: &w}, ohx.EnqueueOptions{NoCoalesce: true})
	require.NoError(t, err)
	waitFor(t, func() bool { return len(h.sink.delivered(events.SyncCompleted)) == 2 }, "backfill's sync.completed")
	backfill := h.sink.delivered(events.SyncCompleted)[1]
	assert.Equal(t, bf, backfill.Data.JobID)
	assert.Equal(t, ohx.TriggerBackfill, backfill.Data.Trigger)
	require.NotNil(t, backfill.Data.Window)
	assert.True(t, w.Start.Equal(backfill.Data.Window.Start))
}

func TestInitialSyncRetryThenDone(t *testing.T) {
	h := newEventHarness(t, eventOptions{maxAttempts: 2,
		failErr: &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: ohx.KindTransient, HTTPStatus: 503}})
	id := h.link(t, "Patient/p2", "u2")
	h.runWorkers(t)
	// The first attempt fails after one sample, the retry succeeds.
	close(h.prov.gate)
	waitFor(t, func() bool { return h.initialState(t, id) == "done" }, "the retry succeeds")
	st := h.status(t, id)
	assert.Equal(t, 2, st.InitialSync.Attempts)
	assert.Empty(t, st.InitialSync.ErrorKind, "done: no error")
	assert.Equal(t, "transient", st.Sync["heart-rate"].LastErrorKind, "the type keeps its last error")
	assert.False(t, st.Sync["heart-rate"].LastErrorAt.IsZero())
	waitFor(t, func() bool { return len(h.sink.delivered(events.SyncCompleted)) == 1 }, "sync.completed")
	assert.Empty(t, h.sink.delivered(events.SyncFailed), "a failure the queue retried is no sync.failed")
}

func TestInitialSyncFailsForGood(t *testing.T) {
	h := newEventHarness(t, eventOptions{maxAttempts: 3,
		failErr: &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: ohx.KindPermanent, HTTPStatus: 400}})
	close(h.prov.gate)
	id := h.link(t, "Patient/p3", "u3")
	h.runWorkers(t)
	waitFor(t, func() bool { return h.initialState(t, id) == "failed" }, "initial sync failed")
	st := h.status(t, id)
	assert.Equal(t, "permanent", st.InitialSync.ErrorKind, "a permanent error is final at once")
	assert.Equal(t, 1, st.InitialSync.Attempts)
	assert.False(t, st.InitialSync.Finished.IsZero())
	waitFor(t, func() bool { return len(h.sink.delivered(events.SyncFailed)) == 1 }, "sync.failed delivered")
	failed := h.sink.delivered(events.SyncFailed)[0]
	assert.Equal(t, id, failed.LinkID)
	assert.Equal(t, "permanent", failed.Data.ErrorKind)
	assert.Equal(t, 1, failed.Data.Attempts)
	assert.Equal(t, ohx.TriggerInitial, failed.Data.Trigger)
	assert.Equal(t, st.InitialSync.JobID, failed.Data.JobID)
	assert.Empty(t, h.sink.delivered(events.SyncCompleted))
}

// TestInitialSyncTimesOut: a sync that runs out of its time on every
// attempt fails for good after the last one, like any failure.
func TestInitialSyncTimesOut(t *testing.T) {
	h := newEventHarness(t, eventOptions{maxAttempts: 2, timeout: 50 * time.Millisecond})
	id := h.link(t, "Patient/p9", "u9")
	h.runWorkers(t) // the gate never opens
	waitFor(t, func() bool { return h.initialState(t, id) == "failed" }, "initial sync failed")
	st := h.status(t, id)
	assert.Equal(t, 2, st.InitialSync.Attempts)
	assert.Equal(t, "cancelled", st.InitialSync.ErrorKind)
	waitFor(t, func() bool { return len(h.sink.delivered(events.SyncFailed)) == 1 }, "sync.failed delivered")
	assert.Equal(t, 2, h.sink.delivered(events.SyncFailed)[0].Data.Attempts)
}

// TestCancelledInitialSync: DELETE /v1/jobs/{id} on the running initial
// sync stops it and reports job.cancelled; the sync is failed for good
// with the kind "cancelled" (a cancellation is no shutdown: it does not go
// back to pending, whichever of the API and the worker writes last).
func TestCancelledInitialSync(t *testing.T) {
	h := newEventHarness(t, eventOptions{})
	id := h.link(t, "Patient/p10", "u10")
	h.runWorkers(t) // the gate never opens: the sync runs until cancelled
	waitFor(t, func() bool { return h.initialState(t, id) == "running" }, "initial sync running")
	jobID := h.status(t, id).InitialSync.JobID
	require.NotEmpty(t, jobID)

	require.Equal(t, http.StatusAccepted, h.do(t, "DELETE", "/v1/jobs/"+jobID).StatusCode)
	waitFor(t, func() bool {
		return decode[server.JobStatus](t, h.do(t, "GET", "/v1/jobs/"+jobID)).State == "cancelled"
	}, "the job ends cancelled")
	st := h.status(t, id)
	assert.Equal(t, "failed", st.InitialSync.State)
	assert.Equal(t, "cancelled", st.InitialSync.ErrorKind)
	assert.Equal(t, "active", st.Status, "cancelling a sync leaves the link alone")

	waitFor(t, func() bool { return len(h.sink.delivered(events.JobCancelled)) == 1 }, "job.cancelled delivered")
	ev := h.sink.delivered(events.JobCancelled)[0]
	assert.Equal(t, id, ev.LinkID)
	assert.Equal(t, jobID, ev.Data.JobID)
	assert.Equal(t, ohx.TriggerInitial, ev.Data.Trigger)
	assert.Equal(t, http.StatusConflict, h.do(t, "DELETE", "/v1/jobs/"+jobID).StatusCode, "cancelled once")
	assert.Empty(t, h.sink.delivered(events.SyncFailed), "a cancellation is not a failure of the sync")
	assert.Empty(t, h.sink.delivered(events.SyncCompleted))
}

// TestExpiredPendingLink: the scheduler's sweep deletes a pending link
// nobody completed and reports link.expired, once.
func TestExpiredPendingLink(t *testing.T) {
	var ahead atomic.Int64
	h := newEventHarness(t, eventOptions{now: func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }})
	req, err := http.NewRequestWithContext(t.Context(), "POST", h.http.URL+"/v1/links",
		strings.NewReader(`{"provider":"fake","patient":"Patient/p11","success_url":"https://ehr.example/wearables/ok","error_url":"https://ehr.example/wearables/err"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	id := decode[map[string]string](t, resp)["id"]
	_ = resp.Body.Close()
	entries, err := h.srv.SchedulerEntries(server.SchedulerConfig{})
	require.NoError(t, err)
	var expire func() error
	for _, e := range entries {
		if e.Name == "expire" {
			expire = func() error { return e.Run(t.Context(), time.Now()) }
		}
	}
	require.NotNil(t, expire)

	require.NoError(t, expire())
	assert.Equal(t, "pending", h.status(t, id).Status, "young pending links stay")
	ahead.Store(int64(2 * time.Hour))
	require.NoError(t, expire())
	require.NoError(t, expire())
	assert.Equal(t, http.StatusNotFound, h.do(t, "GET", "/v1/links/"+id).StatusCode)
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkExpired)) == 1 }, "link.expired delivered")
	ev := h.sink.delivered(events.LinkExpired)[0]
	assert.Equal(t, id, ev.LinkID)
	assert.Equal(t, "Patient/p11", ev.Patient)
	assert.Equal(t, "consent_not_completed", ev.Data.Reason)
	time.Sleep(50 * time.Millisecond) // a few more delivery rounds: nothing else comes
	assert.Len(t, h.sink.delivered(events.LinkExpired), 1)
}

func TestLinkEvents(t *testing.T) {
	h := newEventHarness(t, eventOptions{})
	close(h.prov.gate)
	id := h.link(t, "Patient/p4", "u4")
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkActive)) == 1 }, "link.active")

	// The provider revokes the grant: a sync finds it, the link needs
	// re-consent, reported once however many jobs fail.
	h.prov.FailAfter, h.prov.FailErr = 1, &ohx.ProviderError{Provider: "fake", Op: "refresh", Kind: ohx.KindRevoked}
	for range 2 {
		err := h.srv.HandleJob(t.Context(), ohx.Job{LinkID: id, Trigger: ohx.TriggerIncremental})
		require.ErrorIs(t, err, ohx.ErrTokenRevoked)
	}
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkNeedsReconsent)) == 1 }, "link.needs_reconsent")
	assert.Equal(t, "token_revoked", h.sink.delivered(events.LinkNeedsReconsent)[0].Data.Reason)
	assert.Equal(t, "needs-reconsent", h.status(t, id).Status)

	// The provider says the user unlinked another link: a revocation
	// check, and once the provider confirms it, link.revoked with the
	// token dropped.
	id2 := h.link(t, "Patient/p5", "u5")
	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u5", Kind: ohx.NotifyRevoked}))
	assert.Equal(t, "active", h.status(t, id2).Status, "the notification alone changes nothing")
	h.prov.grantErr = &ohx.ProviderError{Provider: "fake", Op: "refresh", Kind: ohx.KindRevoked}
	require.NoError(t, h.srv.HandleJob(t.Context(), ohx.Job{LinkID: id2, Trigger: ohx.TriggerRevocationCheck}))
	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u5", Kind: ohx.NotifyRevoked}))
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkRevoked)) == 1 }, "link.revoked")
	revoked := h.sink.delivered(events.LinkRevoked)[0]
	assert.Equal(t, id2, revoked.LinkID)
	assert.Equal(t, "provider", revoked.Data.Reason)
	assert.Equal(t, "revoked", h.status(t, id2).Status)
	_, err := h.store.Token(t.Context(), id2)
	require.ErrorIs(t, err, ohx.ErrNotFound, "a revoked link keeps no token")
	for _, e := range h.sink.delivered(events.SyncFailed) {
		assert.NotEqual(t, id2, e.LinkID, "a confirmed revocation is a check that succeeded")
	}

	// Deleting through the API: link.deleted.
	require.Equal(t, http.StatusOK, h.do(t, "DELETE", "/v1/links/"+id2).StatusCode)
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkDeleted)) == 1 }, "link.deleted")
	deleted := h.sink.delivered(events.LinkDeleted)[0]
	assert.Equal(t, id2, deleted.LinkID)
	assert.Equal(t, "Patient/p5", deleted.Patient)

	time.Sleep(50 * time.Millisecond) // a few more delivery rounds: nothing else comes
	assert.Len(t, h.sink.delivered(events.LinkNeedsReconsent), 1)
	assert.Len(t, h.sink.delivered(events.LinkRevoked), 1)
}

func TestEventRetriesKeepTheIDThenDeadLetter(t *testing.T) {
	h := newEventHarness(t, eventOptions{})
	h.sink.setFail(2)
	id := h.link(t, "Patient/p6", "u6")
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkActive)) == 1 }, "delivered on the third attempt")
	e := h.sink.delivered(events.LinkActive)[0]
	assert.Equal(t, 3, h.sink.tries(e.ID), "same event id on every attempt")
	assert.Equal(t, id, e.LinkID)

	// Every attempt fails: a dead letter, listed, replayed by the operator.
	h.sink.setFail(1000)
	id2 := h.link(t, "Patient/p7", "u7")
	var dead []map[string]any
	waitFor(t, func() bool {
		resp := h.do(t, "GET", "/v1/events?state=dead")
		dead = decode[struct {
			Events []map[string]any `json:"events"`
		}](t, resp).Events
		return len(dead) == 1
	}, "a dead letter")
	assert.Equal(t, id2, dead[0]["link_id"])
	assert.Equal(t, "link.active", dead[0]["type"])
	assert.Equal(t, "http 500", dead[0]["last_error"])
	assert.InDelta(t, 3, dead[0]["attempts"], 0)
	assert.Equal(t, "link.active", dead[0]["event"].(map[string]any)["type"], "the event as delivered")
	evID := dead[0]["id"].(string)
	var list struct {
		Events []json.RawMessage `json:"events"`
	}
	require.NoError(t, json.Unmarshal(h.raw(t, "/v1/events"), &list))
	require.Len(t, list.Events, 2)
	for _, e := range list.Events {
		conforms(t, "OutboxEvent", e)
	}

	assert.Equal(t, http.StatusConflict, h.do(t, "POST", "/v1/events/"+e.ID+"/retry").StatusCode, "delivered, not dead")
	assert.Equal(t, http.StatusNotFound, h.do(t, "POST", "/v1/events/evt_nope/retry").StatusCode)
	assert.Equal(t, http.StatusBadRequest, h.do(t, "GET", "/v1/events?state=lost").StatusCode)
	assert.Equal(t, http.StatusBadRequest, h.do(t, "GET", "/v1/events?limit=0").StatusCode)
	h.sink.setFail(0)
	require.Equal(t, http.StatusAccepted, h.do(t, "POST", "/v1/events/"+evID+"/retry").StatusCode)
	waitFor(t, func() bool { return len(h.sink.delivered(events.LinkActive)) == 2 }, "the replayed event delivered")
	assert.Equal(t, evID, h.sink.delivered(events.LinkActive)[1].ID, "same id after the replay")
}

// TestEventsSurviveARestart: an event written while its receiver was down
// is delivered by the next process, from the store (the in-memory queue
// holds nothing of it).
func TestEventsSurviveARestart(t *testing.T) {
	ring, err := seal.NewKeyRing(seal.Key{ID: "k", Secret: []byte(strings.Repeat("s", 32))})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "ohx.db")
	open := func() *sqlite.Store {
		s, err := sqlite.Open(t.Context(), path, ring)
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	first := newEventHarness(t, eventOptions{store: open(), noDelivery: true})
	id := first.link(t, "Patient/p8", "u8")
	first.http.Close()

	second := newEventHarness(t, eventOptions{store: open()})
	waitFor(t, func() bool { return len(second.sink.delivered(events.LinkActive)) == 1 }, "delivered after the restart")
	assert.Equal(t, id, second.sink.delivered(events.LinkActive)[0].LinkID)
}

func TestEventsNeedAnOutbox(t *testing.T) {
	var plain struct{ server.Store }
	plain.Store = store.NewMemory()
	_, err := server.New(server.Config{Store: plain, Queue: &recordingQueue{}, StateKey: make([]byte, 32), Events: &sink{}})
	require.ErrorContains(t, err, "outbox")

	// Without events, nothing goes to the outbox and the routes answer 501.
	h := newHarness(t)
	activeLink(t, h, "l1", "u1")
	require.NoError(t, h.srv.Notify(t.Context(), ohx.Notification{Provider: "fake", ExternalUserID: "u1", Kind: ohx.NotifyRevoked}))
	evs, err := h.store.Events(t.Context(), store.EventQuery{})
	require.NoError(t, err)
	assert.Empty(t, evs)
	assert.Equal(t, http.StatusNotImplemented, h.do(t, "GET", "/v1/events", apiKey, "").StatusCode)
	assert.ErrorContains(t, h.srv.RunEvents(t.Context()), "no event sink")
}

// TestOpenAPIDocumentsEveryRouteAndEvent: the served document names every
// /v1 route Handler serves and every event type as a webhook.
func TestOpenAPIDocumentsEveryRouteAndEvent(t *testing.T) {
	h := newHarness(t)
	resp := h.do(t, "GET", "/v1/openapi.json", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	doc := decode[struct {
		Paths    map[string]map[string]any `json:"paths"`
		Webhooks map[string]map[string]any `json:"webhooks"`
	}](t, resp)
	for _, r := range server.Routes() {
		ops, ok := doc.Paths[r.Pattern]
		if assert.True(t, ok, "path %s documented", r.Pattern) {
			assert.Contains(t, ops, strings.ToLower(r.Method), "%s %s documented", r.Method, r.Pattern)
		}
	}
	for _, typ := range events.Types() {
		assert.Contains(t, doc.Webhooks, string(typ))
	}
}

// conforms checks body against a schema of the OpenAPI document's
// components (JSON Schema 2020-12, as OpenAPI 3.1 uses).
func conforms(t *testing.T, schema string, body []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	require.NoError(t, c.AddResource("https://ohx.example/openapi.json", doc))
	sch, err := c.Compile("https://ohx.example/openapi.json#/components/schemas/" + schema)
	require.NoError(t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	require.NoError(t, err)
	assert.NoError(t, sch.Validate(v), "%s: %s", schema, body)
}

// raw GETs path and returns the body of a 200 answer.
func (h *eventHarness) raw(t *testing.T, path string) []byte {
	t.Helper()
	resp := h.do(t, "GET", path)
	require.Equal(t, http.StatusOK, resp.StatusCode, path)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}
