package server_test

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
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
)

// batchingQueue is a memory queue that counts the batches it is given and
// can be told to fail.
type batchingQueue struct {
	*queue.Memory
	mu      sync.Mutex
	batches []int
	ids     map[string]bool
	fail    error
}

func (q *batchingQueue) EnqueueBatch(ctx context.Context, reqs []queue.Request) []queue.Result {
	q.mu.Lock()
	q.batches = append(q.batches, len(reqs))
	fail := q.fail
	q.mu.Unlock()
	if fail != nil {
		out := make([]queue.Result, len(reqs))
		for i := range out {
			out[i].Err = fail
		}
		return out
	}
	res := q.Memory.EnqueueBatch(ctx, reqs)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ids == nil {
		q.ids = map[string]bool{}
	}
	for _, r := range res {
		q.ids[r.ID] = r.Err == nil
	}
	return res
}

func (q *batchingQueue) Enqueue(context.Context, ohx.Job, ohx.EnqueueOptions) (string, error) {
	return "", errors.New("notifications must go through EnqueueBatch")
}

func (q *batchingQueue) sizes() []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]int(nil), q.batches...)
}

// failingStore fails link lookups.
type failingStore struct{ *store.Memory }

func (failingStore) LinkByExternalUser(context.Context, string, string) (ohx.Link, error) {
	return ohx.Link{}, errors.New("database is down")
}

const withingsSecret = "withings-webhook-secret-0123456789"

// intakeNow is the clock of intakeServer: after every window the tests
// notify (1_764_000_000 onwards), within the push bounds.
var intakeNow = time.Unix(1_764_000_000+60*640+3600, 0).UTC()

// intakeServer is a server with the Withings webhook receiver, a batching
// memory queue and linked users 7000…7007.
func intakeServer(t *testing.T, st server.Store, q ohx.Queue) (*server.Server, http.Handler) {
	t.Helper()
	tokens := store.NewMemory()
	p, err := withings.New(withings.Config{ClientID: "c", ClientSecret: "s",
		Webhook: withings.WebhookConfig{Secret: withingsSecret}, Common: provider.Common{Tokens: tokens}})
	require.NoError(t, err)
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: tokens, Cursors: tokens,
		Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{p},
		PublicURL: "https://ohx.example", StateKey: []byte(strings.Repeat("k", 32)), Debounce: time.Minute,
		Now: func() time.Time { return intakeNow }})
	require.NoError(t, err)
	return srv, srv.Handler()
}

func linkUsers(t *testing.T, st *store.Memory, n int) {
	t.Helper()
	for i := range n {
		require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: "l" + strconv.Itoa(i), Provider: withings.Name,
			ExternalUserID: strconv.Itoa(7000 + i), Patient: "Patient/" + strconv.Itoa(i), Status: ohx.LinkActive}))
	}
}

func postWithings(h http.Handler, user, start int) *httptest.ResponseRecorder {
	form := url.Values{"userid": {strconv.Itoa(user)}, "appli": {"1"},
		"startdate": {strconv.Itoa(start)}, "enddate": {strconv.Itoa(start + 60)}}.Encode()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/"+withingsSecret, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Concurrent notifications share the queue's batches (group commit), every
// one is acknowledged only after its batch, and nothing is lost: one pending
// job per link whose window covers every notification.
func TestConcurrentNotificationsShareBatches(t *testing.T) {
	st := store.NewMemory()
	linkUsers(t, st, 8)
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	q := &batchingQueue{Memory: mq}
	_, h := intakeServer(t, st, q)

	const senders, each = 64, 10
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				n := s*each + i
				if code := postWithings(h, 7000+n%8, 1_764_000_000+60*n).Code; code != http.StatusOK {
					t.Errorf("notification %d answered %d", n, code)
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range q.sizes() {
		total += n
	}
	assert.Equal(t, senders*each, total, "every notification went through a batch")
	assert.Less(t, len(q.sizes()), senders*each, "notifications shared batches")
	stats, err := mq.Stats(t.Context())
	require.NoError(t, err)
	depth := 0
	for _, p := range stats.Priorities {
		depth += p.Depth()
	}
	assert.Equal(t, 8, depth, "one pending job per link")
	require.Len(t, q.ids, 8)
	for id := range q.ids {
		ji, err := mq.Job(t.Context(), id)
		require.NoError(t, err)
		require.NotNil(t, ji.Job.Window)
		l, _ := strconv.Atoi(strings.TrimPrefix(ji.Job.LinkID, "l"))
		first, last := l, l+(senders*each-1-l)/8*8
		assert.Equal(t, time.Unix(int64(1_764_000_000+60*first), 0).UTC(), ji.Job.Window.Start)
		assert.Equal(t, time.Unix(int64(1_764_000_000+60*last+61), 0).UTC(), ji.Job.Window.End, "every window is covered")
	}
}

// A notification is acknowledged only once its job is durable: when the
// queue fails, the receiver answers 503 and Withings retries.
func TestNotificationNotQueuedIsRetried(t *testing.T) {
	st := store.NewMemory()
	linkUsers(t, st, 1)
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	q := &batchingQueue{Memory: mq, fail: errors.New("redis: connection refused")}
	srv, h := intakeServer(t, st, q)

	rec := postWithings(h, 7000, 1_764_000_000)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.NotContains(t, rec.Body.String(), "redis")
	err = srv.Notify(t.Context(), ohx.Notification{Provider: withings.Name, ExternalUserID: "7000", Kind: ohx.NotifyData,
		DataTypes: []ohx.DataType{ohx.BodyWeight}, Window: ohx.Window{Start: time.Unix(1_764_000_000, 0), End: time.Unix(1_764_000_060, 0)}})
	require.Error(t, err)

	assert.Equal(t, http.StatusOK, postWithings(h, 9999, 1_764_000_000).Code, "an unknown user needs no queue and is acknowledged")

	q.mu.Lock()
	q.fail = nil
	q.mu.Unlock()
	assert.Equal(t, http.StatusOK, postWithings(h, 7000, 1_764_000_000).Code, "the retry gets through")
}

// An unlink notification is acknowledged once its revocation check is
// durable, like any other job: when the queue fails, the receiver answers
// 503 and the link is left as it was.
func TestRevocationCheckNotQueuedIsRetried(t *testing.T) {
	st := store.NewMemory()
	linkUsers(t, st, 1)
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	q := &batchingQueue{Memory: mq, fail: errors.New("redis: connection refused")}
	_, h := intakeServer(t, st, q)
	unlink := func() int {
		form := url.Values{"userid": {"7000"}, "appli": {"46"}, "action": {"unlink"}}.Encode()
		req := httptest.NewRequest(http.MethodPost, "/webhooks/withings/"+withingsSecret, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}

	assert.Equal(t, http.StatusServiceUnavailable, unlink(), "the check is not durable: Withings retries")
	l, err := st.Link(t.Context(), "l0")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, l.Status)

	q.mu.Lock()
	q.fail = nil
	q.mu.Unlock()
	assert.Equal(t, http.StatusOK, unlink(), "the retry gets through")
	jobs, err := mq.LinkJobs(t.Context(), "l0")
	require.NoError(t, err)
	require.Len(t, jobs, 1)
	assert.Equal(t, ohx.TriggerRevocationCheck, jobs[0].Job.Trigger, "through the group commit")
}

// A store that cannot look the link up makes the notification fail too.
func TestNotificationWithoutLinkLookupIsRetried(t *testing.T) {
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	_, h := intakeServer(t, failingStore{store.NewMemory()}, mq)
	rec := postWithings(h, 7000, 1_764_000_000)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code)
	assert.NotContains(t, rec.Body.String(), "database")
}

// Notify bounds itself when its caller did not.
func TestNotifyHasADeadline(t *testing.T) {
	st := store.NewMemory()
	linkUsers(t, st, 1)
	var deadline bool
	q := queueFunc(func(ctx context.Context) {
		_, deadline = ctx.Deadline()
	})
	srv, _ := intakeServer(t, st, q)
	require.NoError(t, srv.Notify(context.Background(), ohx.Notification{Provider: withings.Name, ExternalUserID: "7000",
		Kind: ohx.NotifyData, DataTypes: []ohx.DataType{ohx.BodyWeight},
		Window: ohx.Window{Start: time.Unix(1_764_000_000, 0), End: time.Unix(1_764_000_060, 0)}}))
	assert.True(t, deadline, "the notification was enqueued, with a deadline")
}

// queueFunc is a queue that is not a BatchEnqueuer and calls f with the
// context of each enqueue.
type queueFunc func(ctx context.Context)

func (f queueFunc) Enqueue(ctx context.Context, _ ohx.Job, _ ohx.EnqueueOptions) (string, error) {
	f(ctx)
	return "job-1", nil
}

func (f queueFunc) Run(ctx context.Context, _ ohx.Handler) error { <-ctx.Done(); return nil }

// countingStore counts link lookups by external user.
type countingStore struct {
	*store.Memory
	mu      sync.Mutex
	lookups int
}

func (s *countingStore) LinkByExternalUser(ctx context.Context, provider, user string) (ohx.Link, error) {
	s.mu.Lock()
	s.lookups++
	s.mu.Unlock()
	return s.Memory.LinkByExternalUser(ctx, provider, user)
}

func (s *countingStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

// A burst of notifications for one user costs one link lookup per
// NotifyLinkTTL; unknown users are never remembered; a link changed
// elsewhere is seen after the TTL, one changed by this server at once.
func TestNotifyReusesLinkLookupsBriefly(t *testing.T) {
	st := &countingStore{Memory: store.NewMemory()}
	linkUsers(t, st.Memory, 1)
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	var mu sync.Mutex
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	srv, err := server.New(server.Config{Store: st, Queue: mq, StateKey: []byte(strings.Repeat("k", 32)), Now: clock,
		APIKeys: []string{intakeAPIKey}})
	require.NoError(t, err)
	notify := func(user string) error {
		return srv.Notify(t.Context(), ohx.Notification{Provider: withings.Name, ExternalUserID: user, Kind: ohx.NotifyData,
			DataTypes: []ohx.DataType{ohx.BodyWeight}, Window: ohx.Window{Start: now.Add(-time.Hour), End: now}})
	}
	depth := func() int {
		s, err := mq.Stats(t.Context())
		require.NoError(t, err)
		n := 0
		for _, p := range s.Priorities {
			n += p.Depth()
		}
		return n
	}

	for range 10 {
		require.NoError(t, notify("7000"))
	}
	assert.Equal(t, 1, st.count(), "one lookup for the burst")
	advance(server.DefaultNotifyLinkTTL)
	require.NoError(t, notify("7000"))
	assert.Equal(t, 2, st.count(), "looked up again after the TTL")

	require.NoError(t, notify("9999"))
	require.NoError(t, notify("9999"))
	assert.Equal(t, 4, st.count(), "an unknown user is looked up every time")

	// Revoked by another process: seen once the TTL passed.
	l, err := st.Link(t.Context(), "l0")
	require.NoError(t, err)
	l.Status = ohx.LinkRevoked
	require.NoError(t, st.SaveLink(t.Context(), l))
	advance(server.DefaultNotifyLinkTTL)
	before := depth()
	require.NoError(t, notify("7000"))
	assert.Equal(t, before, depth(), "a revoked link gets no job")

	// A revocation notification only queues a check: the link is still
	// remembered.
	l.Status = ohx.LinkActive
	require.NoError(t, st.SaveLink(t.Context(), l))
	advance(server.DefaultNotifyLinkTTL)
	require.NoError(t, notify("7000"))
	require.NoError(t, srv.Notify(t.Context(), ohx.Notification{Provider: withings.Name, ExternalUserID: "7000", Kind: ohx.NotifyRevoked}))
	n := st.count()
	require.NoError(t, notify("7000"))
	assert.Equal(t, n, st.count(), "a revocation check changes no link")

	// Deleted by this server (DELETE /v1/links/{id}, a write that knows
	// only the link's id): forgotten at once.
	req := httptest.NewRequest(http.MethodDelete, "/v1/links/l0", nil)
	req.Header.Set("Authorization", "Bearer "+intakeAPIKey)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	before = depth()
	require.NoError(t, notify("7000"))
	assert.Equal(t, n+1, st.count(), "the server's own write forgot the link")
	assert.Equal(t, before, depth(), "a deleted link gets no job")
}

const intakeAPIKey = "intake-test-api-key-0123456789"

func TestNotifyLinkTTLOff(t *testing.T) {
	st := &countingStore{Memory: store.NewMemory()}
	linkUsers(t, st.Memory, 1)
	mq, err := queue.NewMemory(queue.Config{})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: st, Queue: mq, StateKey: []byte(strings.Repeat("k", 32)), NotifyLinkTTL: -1})
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, srv.Notify(t.Context(), ohx.Notification{Provider: withings.Name, ExternalUserID: "7000", Kind: ohx.NotifyData,
			DataTypes: []ohx.DataType{ohx.BodyWeight}, Window: ohx.Window{Start: time.Unix(1, 0), End: time.Unix(2, 0)}}))
	}
	assert.Equal(t, 3, st.count())
}
