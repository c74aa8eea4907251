package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// event returns an outbox entry of link about type typ.
func event(id, typ, link string) store.OutboxEvent {
	return store.OutboxEvent{ID: id, Type: typ, LinkID: link,
		Payload: fmt.Appendf(nil, `{"id":%q,"type":%q,"link_id":%q,"data":{}}`, id, typ, link)}
}

func assertTime(t testing.TB, want, got time.Time, msg string) {
	t.Helper()
	assert.True(t, want.Equal(got), "%s: want %v, got %v", msg, want, got)
	if !got.IsZero() {
		assert.Equal(t, time.UTC, got.Location(), "%s: in UTC", msg)
	}
}

func testInitialSync(t *testing.T, f Factory) {
	h, clock := setup(t, f)
	s := h.Store
	ctx := t.Context()
	require.NoError(t, s.SaveLink(ctx, sampleLink("l1")))

	_, err := s.InitialSync(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound, "never recorded")

	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	started := Start.Add(time.Minute).In(ny)
	steps := []struct {
		name string
		in   store.InitialSync
		want store.InitialSync
	}{
		{"pending, Updated from the clock", store.InitialSync{State: store.InitialPending},
			store.InitialSync{State: store.InitialPending, Updated: Start}},
		{"running", store.InitialSync{State: store.InitialRunning, JobID: "job-1", Attempts: 1, Started: started, Updated: started},
			store.InitialSync{State: store.InitialRunning, JobID: "job-1", Attempts: 1, Started: started, Updated: started}},
		{"waiting for a retry", store.InitialSync{State: store.InitialPending, JobID: "job-1", ErrorKind: "transient", Attempts: 1, Started: started},
			store.InitialSync{State: store.InitialPending, JobID: "job-1", ErrorKind: "transient", Attempts: 1, Started: started, Updated: Start.Add(time.Hour)}},
		{"failed", store.InitialSync{State: store.InitialFailed, JobID: "job-1", ErrorKind: "auth", Attempts: 2, Started: started,
			Finished: started.Add(time.Hour), Updated: started.Add(time.Hour)},
			store.InitialSync{State: store.InitialFailed, JobID: "job-1", ErrorKind: "auth", Attempts: 2, Started: started,
				Finished: started.Add(time.Hour), Updated: started.Add(time.Hour)}},
	}
	for i, step := range steps {
		if i == 2 {
			clock.Advance(time.Hour)
		}
		in := step.in
		require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1", Initial: &in}), step.name)
		got, err := h.replica(t).InitialSync(ctx, "l1")
		require.NoError(t, err, step.name)
		for _, p := range []struct {
			name string
			w, g time.Time
		}{{"Started", step.want.Started, got.Started}, {"Finished", step.want.Finished, got.Finished}, {"Updated", step.want.Updated, got.Updated}} {
			assertTime(t, p.w, p.g, step.name+": "+p.name)
		}
		want := step.want
		want.Started, want.Finished, want.Updated = time.Time{}, time.Time{}, time.Time{}
		got.Started, got.Finished, got.Updated = time.Time{}, time.Time{}, time.Time{}
		assert.Equal(t, want, got, step.name)
	}

	require.NoError(t, s.DeleteLink(ctx, "l1"))
	_, err = s.InitialSync(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound, "deleted with its link")
}

func testChanges(t *testing.T, f Factory) {
	h, clock := setup(t, f)
	s := h.Store
	ctx := t.Context()
	hr := ohx.DataType("heart-rate")

	// Activation: link, initial state and event in one change.
	l := sampleLink("l1")
	l.Status = ohx.LinkPending
	require.NoError(t, s.SaveLink(ctx, l))
	l.Status = ohx.LinkActive
	require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1", IfStatus: ohx.LinkPending, Link: &l,
		Initial: &store.InitialSync{State: store.InitialPending}, Events: []store.OutboxEvent{event("e1", "link.active", "l1")}}))
	got, err := h.replica(t).Link(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, got.Status)
	assertTime(t, Start, got.Created, "Created kept")
	in, err := s.InitialSync(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, store.InitialPending, in.State)

	// The same transition again loses the race: nothing is written.
	clock.Advance(time.Minute)
	err = s.Apply(ctx, store.Change{LinkID: "l1", IfStatus: ohx.LinkPending, Link: &l,
		Events: []store.OutboxEvent{event("e2", "link.active", "l1")}})
	require.ErrorIs(t, err, store.ErrStatusChanged)
	err = s.Apply(ctx, store.Change{LinkID: "nobody", IfStatus: ohx.LinkActive, Events: []store.OutboxEvent{event("e3", "link.active", "nobody")}})
	require.ErrorIs(t, err, ohx.ErrNotFound)
	got, err = s.Link(ctx, "l1")
	require.NoError(t, err)
	assertTime(t, Start, got.Updated, "the refused change did not save the link")

	// Sync bookkeeping and its event.
	require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1",
		Syncs:   []store.TypeSync{{Type: hr, Result: store.SyncResult{Count: 24, Samples: 1440}}},
		Initial: &store.InitialSync{State: store.InitialDone, Finished: clock.Now()},
		Events:  []store.OutboxEvent{event("e4", "sync.completed", "l1")}}))
	st, err := h.replica(t).SyncStatus(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, int64(24), st[hr].Items)
	assert.Equal(t, int64(1440), st[hr].SamplesRead)
	assertTime(t, Start.Add(time.Minute), st[hr].LastSuccess, "recorded at the store's now")

	// Revocation with its event: the token goes, the link and its history
	// stay.
	require.NoError(t, s.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at", RefreshToken: "rt"}))
	revoked := l
	revoked.Status = ohx.LinkRevoked
	require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1", IfStatus: ohx.LinkActive, Link: &revoked, DeleteToken: true,
		Events: []store.OutboxEvent{event("e5", "link.revoked", "l1")}}))
	_, err = h.replica(t).Token(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound, "a revoked link keeps no token")
	got, err = h.replica(t).Link(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkRevoked, got.Status)
	st, err = s.SyncStatus(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, int64(24), st[hr].Items, "history kept")

	// Deletion with its event: the event outlives the link.
	require.NoError(t, s.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at", RefreshToken: "rt"}))
	require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1", Delete: true, Events: []store.OutboxEvent{event("e6", "link.deleted", "l1")}}))
	_, err = s.Link(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	_, err = s.Token(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	_, err = s.InitialSync(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound)

	evs, err := h.replica(t).Events(ctx, store.EventQuery{})
	require.NoError(t, err)
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.ID)
		assert.Equal(t, store.EventPending, e.State, e.ID)
		assert.Zero(t, e.Attempts, e.ID)
	}
	assert.Equal(t, []string{"e6", "e5", "e4", "e1"}, ids, "newest first; refused changes wrote no event")
	assertTime(t, Start, evs[3].Created, "e1 written at the store's now")
	assert.JSONEq(t, string(event("e1", "link.active", "l1").Payload), string(evs[3].Payload))

	// Changes that contradict themselves.
	for name, c := range map[string]store.Change{
		"no link id":           {Events: []store.OutboxEvent{event("x", "link.active", "")}},
		"link of another id":   {LinkID: "a", Link: &l},
		"delete and write":     {LinkID: "l1", Delete: true, Initial: &store.InitialSync{State: store.InitialDone}},
		"event of another":     {LinkID: "a", Events: []store.OutboxEvent{event("x", "link.active", "b")}},
		"event without id":     {LinkID: "a", Events: []store.OutboxEvent{event("", "link.active", "a")}},
		"payload is not JSON":  {LinkID: "a", Events: []store.OutboxEvent{{ID: "x", Type: "link.active", LinkID: "a", Payload: []byte("{")}}},
		"payload is too large": {LinkID: "a", Events: []store.OutboxEvent{{ID: "x", Type: "link.active", LinkID: "a", Payload: make([]byte, store.MaxEventPayload+1)}}},
	} {
		assert.Error(t, s.Apply(ctx, c), name)
	}
}

// testChangeAtomic: a change that fails half-way (an event id that exists)
// leaves nothing behind.
func testChangeAtomic(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()
	l := sampleLink("l1")
	l.Status = ohx.LinkActive
	require.NoError(t, s.Apply(ctx, store.Change{LinkID: "l1", Link: &l, Events: []store.OutboxEvent{event("dup", "link.active", "l1")}}))
	require.NoError(t, s.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at", RefreshToken: "rt"}))
	l.Status = ohx.LinkNeedsReconsent
	err := s.Apply(ctx, store.Change{LinkID: "l1", Link: &l, DeleteToken: true, Initial: &store.InitialSync{State: store.InitialFailed},
		Syncs:  []store.TypeSync{{Type: ohx.DataType("heart-rate"), Result: store.SyncResult{Count: 1}}},
		Events: []store.OutboxEvent{event("fresh", "link.needs_reconsent", "l1"), event("dup", "link.needs_reconsent", "l1")}})
	require.Error(t, err)
	got, err := s.Link(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, ohx.LinkActive, got.Status, "link not saved")
	_, err = s.Token(ctx, "l1")
	assert.NoError(t, err, "token not deleted")
	_, err = s.InitialSync(ctx, "l1")
	assert.ErrorIs(t, err, ohx.ErrNotFound, "initial state not saved")
	st, err := s.SyncStatus(ctx, "l1")
	require.NoError(t, err)
	assert.Empty(t, st, "sync not recorded")
	evs, err := s.Events(ctx, store.EventQuery{})
	require.NoError(t, err)
	require.Len(t, evs, 1, "no event of the failed change")
	assert.Equal(t, "link.active", evs[0].Type)
}

func testOutbox(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	s := h.Store
	ctx := t.Context()
	for i := range 5 {
		link := "a"
		if i%2 == 1 {
			link = "b"
		}
		require.NoError(t, s.Apply(ctx, store.Change{LinkID: link, Events: []store.OutboxEvent{event(fmt.Sprint("e", i), "sync.completed", link)}}))
	}
	now := Start.Add(time.Hour)
	lease := time.Minute

	claimed, err := s.ClaimEvents(ctx, now, lease, 3)
	require.NoError(t, err)
	require.Len(t, claimed, 3)
	for i, e := range claimed {
		assert.Equal(t, fmt.Sprint("e", i), e.ID, "oldest first")
		assert.Equal(t, 1, e.Attempts)
		assertTime(t, now, e.LastAttempt, e.ID+" LastAttempt")
		assertTime(t, now.Add(lease), e.NextAttempt, e.ID+" NextAttempt (lease)")
	}
	rest, err := s.ClaimEvents(ctx, now, lease, 10)
	require.NoError(t, err)
	require.Len(t, rest, 2, "claimed entries are leased")
	assert.Equal(t, "e3", rest[0].ID)

	// e0 delivered; e1 fails and retries later; e2 dies.
	require.NoError(t, s.SettleEvent(ctx, "e0", store.Attempt{At: now.Add(time.Second), Delivered: true}))
	require.NoError(t, s.SettleEvent(ctx, "e1", store.Attempt{At: now, Error: "http 500", Retry: now.Add(10 * time.Second)}))
	require.NoError(t, s.SettleEvent(ctx, "e2", store.Attempt{At: now, Error: "timeout"}))
	require.NoError(t, s.SettleEvent(ctx, "e0", store.Attempt{At: now, Error: "late", Retry: now}), "settling a delivered entry changes nothing")
	require.NoError(t, s.SettleEvent(ctx, "missing", store.Attempt{At: now, Delivered: true}))

	byID := func(q store.EventQuery) map[string]store.OutboxEvent {
		evs, err := h.replica(t).Events(ctx, q)
		require.NoError(t, err)
		out := map[string]store.OutboxEvent{}
		for _, e := range evs {
			out[e.ID] = e
		}
		return out
	}
	all := byID(store.EventQuery{})
	require.Len(t, all, 5)
	assert.Equal(t, store.EventDelivered, all["e0"].State)
	assertTime(t, now.Add(time.Second), all["e0"].Delivered, "Delivered")
	assert.Equal(t, store.EventPending, all["e1"].State)
	assert.Equal(t, "http 500", all["e1"].LastError)
	assertTime(t, now.Add(10*time.Second), all["e1"].NextAttempt, "retry time")
	assert.Equal(t, store.EventDead, all["e2"].State)
	assert.Equal(t, "timeout", all["e2"].LastError)

	assert.Len(t, byID(store.EventQuery{State: store.EventDead}), 1)
	assert.Len(t, byID(store.EventQuery{LinkID: "b"}), 2)
	assert.Len(t, byID(store.EventQuery{State: store.EventPending, LinkID: "a"}), 1, "e4")
	assert.Len(t, byID(store.EventQuery{Limit: 2}), 2)

	// e1 is due at its retry time, not before.
	due, err := s.ClaimEvents(ctx, now.Add(9*time.Second), lease, 10)
	require.NoError(t, err)
	assert.Empty(t, due)
	due, err = s.ClaimEvents(ctx, now.Add(10*time.Second), lease, 10)
	require.NoError(t, err)
	require.Len(t, due, 1)
	assert.Equal(t, "e1", due[0].ID)
	assert.Equal(t, 2, due[0].Attempts)

	// Replay: only dead letters.
	require.ErrorIs(t, s.ReplayEvent(ctx, "e0"), store.ErrNotDead)
	require.ErrorIs(t, s.ReplayEvent(ctx, "nope"), ohx.ErrNotFound)
	require.NoError(t, s.ReplayEvent(ctx, "e2"))
	again, err := s.ClaimEvents(ctx, now.Add(11*time.Second), lease, 10)
	require.NoError(t, err)
	require.Len(t, again, 1, "the replayed entry is due at once")
	assert.Equal(t, "e2", again[0].ID)
	assert.Equal(t, 1, again[0].Attempts, "a fresh attempt count")
	assert.JSONEq(t, string(event("e2", "sync.completed", "a").Payload), string(again[0].Payload), "same payload")
	require.NoError(t, s.SettleEvent(ctx, "e2", store.Attempt{At: now.Add(12 * time.Second), Error: "http 503"}))

	// Pruning: delivered before the first bound, dead before the second.
	n, err := s.PruneEvents(ctx, now, now)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing finished before now")
	n, err = s.PruneEvents(ctx, now.Add(2*time.Second), now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "e0 delivered, e2 dead")
	left := byID(store.EventQuery{})
	assert.Len(t, left, 3)
	assert.NotContains(t, left, "e0")
	assert.NotContains(t, left, "e2")
}

// testOutboxClaims: deliverers in several processes never claim the same
// entry within a lease.
func testOutboxClaims(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	ctx := t.Context()
	const n = 40
	for i := range n {
		require.NoError(t, h.Store.Apply(ctx, store.Change{LinkID: "l", Events: []store.OutboxEvent{event(fmt.Sprint("e", i), "sync.completed", "l")}}))
	}
	stores := []store.Store{h.Store, h.replica(t)}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for range n {
				got, err := stores[w%2].ClaimEvents(ctx, Start, time.Minute, 3)
				if !assert.NoError(t, err) || len(got) == 0 {
					return
				}
				mu.Lock()
				for _, e := range got {
					seen[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Len(t, seen, n, "every entry claimed")
	for id, c := range seen {
		assert.Equal(t, 1, c, "%s claimed %d times", id, c)
	}
}
