package server

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store"
)

func newEventServer(t *testing.T) (*Server, *store.Memory) {
	t.Helper()
	st := store.NewMemory()
	s, err := New(Config{Store: st, Queue: nopQueue{}, StateKey: make([]byte, 32),
		Events: events.SinkFunc(func(context.Context, events.Event) error { return nil })})
	require.NoError(t, err)
	return s, st
}

// outboxEvents decodes the outbox, oldest first.
func outboxEvents(t *testing.T, st *store.Memory) []events.Event {
	t.Helper()
	recs, err := st.Events(t.Context(), store.EventQuery{})
	require.NoError(t, err)
	out := make([]events.Event, len(recs))
	for i, r := range recs {
		require.NoError(t, json.Unmarshal(r.Payload, &out[len(recs)-1-i]))
		assert.Equal(t, r.ID, out[len(recs)-1-i].ID)
	}
	return out
}

// The hooks of the pending-link expiry and of job cancellation: each emits
// its event in the transaction of its change.
func TestExpireLinkHook(t *testing.T) {
	s, st := newEventServer(t)
	ctx := t.Context()
	pending := ohx.Link{ID: "l1", Provider: "fake", Patient: "Patient/1", Status: ohx.LinkPending}
	require.NoError(t, st.SaveLink(ctx, pending))
	active := ohx.Link{ID: "l2", Provider: "fake", Patient: "Patient/2", Status: ohx.LinkActive}
	require.NoError(t, st.SaveLink(ctx, active))

	require.NoError(t, s.expireLink(ctx, pending))
	_, err := st.Link(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound, "the expired link is gone")
	require.ErrorIs(t, s.expireLink(ctx, active), store.ErrStatusChanged, "an active link does not expire")
	_, err = st.Link(ctx, "l2")
	require.NoError(t, err)
	require.ErrorIs(t, s.expireLink(ctx, pending), ohx.ErrNotFound, "expired once")

	evs := outboxEvents(t, st)
	require.Len(t, evs, 1)
	assert.Equal(t, events.LinkExpired, evs[0].Type)
	assert.Equal(t, "l1", evs[0].LinkID)
	assert.Equal(t, "Patient/1", evs[0].Patient)
	assert.Equal(t, "consent_not_completed", evs[0].Data.Reason)
}

// The one path of a confirmed revocation: the link revoked, its token
// dropped and link.revoked, together and once.
func TestRevokeLinkHook(t *testing.T) {
	s, st := newEventServer(t)
	ctx := t.Context()
	for _, l := range []ohx.Link{
		{ID: "l1", Provider: "fake", Patient: "Patient/1", Status: ohx.LinkActive},
		{ID: "l2", Provider: "fake", Patient: "Patient/2", Status: ohx.LinkNeedsReconsent},
	} {
		require.NoError(t, st.SaveLink(ctx, l))
		require.NoError(t, st.SaveToken(ctx, l.ID, ohx.Token{AccessToken: "at", RefreshToken: "rt"}))
	}

	require.NoError(t, s.revokeLink(ctx, "l1"))
	require.NoError(t, s.revokeLink(ctx, "l2"))
	for _, id := range []string{"l1", "l2"} {
		l, err := st.Link(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, ohx.LinkRevoked, l.Status, id)
		_, err = st.Token(ctx, id)
		require.ErrorIs(t, err, ohx.ErrNotFound, "%s keeps no token", id)
	}

	// Once more (a retried check): no second event; a token written
	// meanwhile goes too.
	require.NoError(t, st.SaveToken(ctx, "l1", ohx.Token{AccessToken: "at2"}))
	require.NoError(t, s.revokeLink(ctx, "l1"))
	_, err := st.Token(ctx, "l1")
	require.ErrorIs(t, err, ohx.ErrNotFound)
	require.NoError(t, s.revokeLink(ctx, "gone"), "a deleted link is no error")

	evs := outboxEvents(t, st)
	require.Len(t, evs, 2)
	for i, id := range []string{"l1", "l2"} {
		assert.Equal(t, events.LinkRevoked, evs[i].Type)
		assert.Equal(t, id, evs[i].LinkID)
		assert.Equal(t, "provider", evs[i].Data.Reason)
	}
}

func TestJobCancelledHook(t *testing.T) {
	s, st := newEventServer(t)
	ctx := t.Context()
	l := ohx.Link{ID: "l1", Provider: "fake", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, st.Apply(ctx, store.Change{LinkID: "l1", Link: &l, Initial: &store.InitialSync{State: store.InitialPending}}))
	w := ohx.Window{Start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}

	require.NoError(t, s.jobCancelled(ctx, ohx.Job{ID: "job-b", LinkID: "l1", Trigger: ohx.TriggerBackfill, Window: &w}))
	in, err := st.InitialSync(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, store.InitialPending, in.State, "a backfill's cancel leaves the initial sync alone")

	require.NoError(t, s.jobCancelled(ctx, ohx.Job{ID: "job-i", LinkID: "l1", Trigger: ohx.TriggerInitial}))
	in, err = st.InitialSync(ctx, "l1")
	require.NoError(t, err)
	assert.Equal(t, store.InitialFailed, in.State)
	assert.Equal(t, "cancelled", in.ErrorKind)

	require.NoError(t, s.jobCancelled(ctx, ohx.Job{ID: "job-x", LinkID: "gone", Trigger: ohx.TriggerIncremental}),
		"a job of a deleted link is still reported")

	evs := outboxEvents(t, st)
	require.Len(t, evs, 3)
	for _, e := range evs {
		assert.Equal(t, events.JobCancelled, e.Type)
	}
	assert.Equal(t, "job-b", evs[0].Data.JobID)
	assert.Equal(t, ohx.TriggerBackfill, evs[0].Data.Trigger)
	require.NotNil(t, evs[0].Data.Window)
	assert.True(t, w.Start.Equal(evs[0].Data.Window.Start))
	assert.Equal(t, "Patient/1", evs[0].Patient)
	assert.Equal(t, "job-i", evs[1].Data.JobID)
	assert.Equal(t, "gone", evs[2].LinkID)
	assert.Empty(t, evs[2].Provider)
}
