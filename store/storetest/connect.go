package storetest

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// RunConsent runs the cases of the consent work (issue 17) against stores
// that implement store.ConnectStore and store.TokenDeleter: connect flows
// opened once, bound to one browser and consumed once, also when two
// replicas race; the clean-up of expired flows; and dropping a revoked
// link's token. Run calls it.
func RunConsent(t *testing.T, f Factory) {
	t.Run("ConnectFlowOpenOnce", func(t *testing.T) { testFlowOpen(t, f) })
	t.Run("ConnectFlowConsumeOnce", func(t *testing.T) { testFlowConsume(t, f) })
	t.Run("ConnectFlowRace", func(t *testing.T) { testFlowRace(t, f) })
	t.Run("ConnectFlowCleanup", func(t *testing.T) { testFlowCleanup(t, f) })
	t.Run("DeleteToken", func(t *testing.T) { testDeleteToken(t, f) })
}

func connectStore(t *testing.T, s store.Store) store.ConnectStore {
	t.Helper()
	cs, ok := s.(store.ConnectStore)
	if !ok {
		t.Skip("the store keeps no connect flows")
	}
	return cs
}

func sampleFlow(id string, now time.Time) store.ConnectFlow {
	return store.ConnectFlow{ID: id, LinkID: "lnk-" + id, Provider: "withings",
		DataTypes:  []ohx.DataType{ohx.HeartRate, ohx.BodyWeight},
		SuccessURL: "https://ehr.example/ok", ErrorURL: "https://ehr.example/failed",
		Created: now, Expires: now.Add(15 * time.Minute)}
}

func testFlowOpen(t *testing.T, f Factory) {
	h, c := setup(t, f)
	cs := connectStore(t, h.Store)
	ctx := t.Context()
	now := c.Now()
	want := sampleFlow("f1", now)
	require.NoError(t, cs.CreateConnectFlow(ctx, want))
	require.Error(t, cs.CreateConnectFlow(ctx, want), "an id is created once")

	_, err := cs.OpenConnectFlow(ctx, "nope", "b1", now)
	require.ErrorIs(t, err, ohx.ErrNotFound)
	_, err = cs.OpenConnectFlow(ctx, "f1", "", now)
	require.ErrorIs(t, err, store.ErrConnectBrowser, "a browser without binding opens nothing")

	got, err := cs.OpenConnectFlow(ctx, "f1", "b1", now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, want.LinkID, got.LinkID)
	assert.Equal(t, want.Provider, got.Provider)
	assert.Equal(t, want.DataTypes, got.DataTypes)
	assert.Equal(t, want.SuccessURL, got.SuccessURL)
	assert.Equal(t, want.ErrorURL, got.ErrorURL)
	assert.True(t, want.Expires.Equal(got.Expires))
	assert.True(t, now.Add(time.Minute).Equal(got.Opened))
	assert.Equal(t, "b1", got.Browser)

	again, err := cs.OpenConnectFlow(ctx, "f1", "b1", now.Add(2*time.Minute))
	require.NoError(t, err, "the same browser may reload the page")
	assert.True(t, got.Opened.Equal(again.Opened), "a reload does not move the opening time")
	_, err = cs.OpenConnectFlow(ctx, "f1", "b2", now.Add(2*time.Minute))
	require.ErrorIs(t, err, store.ErrConnectUsed, "a second browser finds the page used")
	_, err = h.replica(t).(store.ConnectStore).OpenConnectFlow(ctx, "f1", "b2", now.Add(2*time.Minute))
	require.ErrorIs(t, err, store.ErrConnectUsed, "so does a second browser on another replica")
	_, err = cs.OpenConnectFlow(ctx, "f1", "b1", now.Add(15*time.Minute))
	require.ErrorIs(t, err, store.ErrConnectExpired, "nothing opens after the expiry")

	require.NoError(t, cs.CreateConnectFlow(ctx, sampleFlow("f2", now)))
	_, err = cs.OpenConnectFlow(ctx, "f2", "b1", now.Add(15*time.Minute))
	require.ErrorIs(t, err, store.ErrConnectExpired, "a page never opened expires")
}

func testFlowConsume(t *testing.T, f Factory) {
	h, c := setup(t, f)
	cs := connectStore(t, h.Store)
	ctx := t.Context()
	now := c.Now()
	require.NoError(t, cs.CreateConnectFlow(ctx, sampleFlow("f1", now)))
	_, err := cs.ConsumeConnectFlow(ctx, "f1", "b1", now)
	require.ErrorIs(t, err, store.ErrConnectBrowser, "a flow no browser opened cannot be consumed")
	_, err = cs.OpenConnectFlow(ctx, "f1", "b1", now)
	require.NoError(t, err)

	_, err = cs.ConsumeConnectFlow(ctx, "f1", "b2", now)
	require.ErrorIs(t, err, store.ErrConnectBrowser, "a foreign browser is refused")
	_, err = cs.ConsumeConnectFlow(ctx, "f1", "", now)
	require.ErrorIs(t, err, store.ErrConnectBrowser, "a browser without cookie is refused")
	got, err := cs.ConsumeConnectFlow(ctx, "f1", "b1", now.Add(time.Minute))
	require.NoError(t, err, "a refused foreign browser consumed nothing")
	assert.True(t, now.Add(time.Minute).Equal(got.Consumed))
	_, err = cs.ConsumeConnectFlow(ctx, "f1", "b1", now.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrConnectUsed, "a flow is consumed once")
	_, err = cs.OpenConnectFlow(ctx, "f1", "b1", now.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrConnectUsed, "a consumed flow's page does not open again")
	_, err = cs.ConsumeConnectFlow(ctx, "nope", "b1", now)
	require.ErrorIs(t, err, ohx.ErrNotFound)
}

// testFlowRace opens and consumes one flow from many goroutines over two
// replicas: exactly one browser wins the page, and one callback the state.
func testFlowRace(t *testing.T, f Factory) {
	h, c := setup(t, f)
	stores := []store.ConnectStore{connectStore(t, h.Store), connectStore(t, h.replica(t))}
	ctx := t.Context()
	now := c.Now()
	require.NoError(t, stores[0].CreateConnectFlow(ctx, sampleFlow("race", now)))
	var opened, consumed atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			browser := []string{"b-even", "b-odd"}[i%2]
			if _, err := stores[i%2].OpenConnectFlow(ctx, "race", browser, now); err == nil {
				opened.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(4), opened.Load(), "one browser (four tries of it) opens the page, the other finds it used")
	got, err := stores[0].OpenConnectFlow(ctx, "race", "b-even", now)
	winner := "b-even"
	if err != nil {
		winner = "b-odd"
		got, err = stores[0].OpenConnectFlow(ctx, "race", winner, now)
	}
	require.NoError(t, err)
	require.Equal(t, winner, got.Browser)
	for i := range 8 {
		wg.Go(func() {
			if _, err := stores[i%2].ConsumeConnectFlow(ctx, "race", winner, now); err == nil {
				consumed.Add(1)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), consumed.Load(), "one callback consumes the flow")
}

func testFlowCleanup(t *testing.T, f Factory) {
	h, c := setup(t, f)
	cs := connectStore(t, h.Store)
	ctx := t.Context()
	now := c.Now()
	old := sampleFlow("old", now.Add(-time.Hour))
	fresh := sampleFlow("fresh", now)
	require.NoError(t, cs.CreateConnectFlow(ctx, old))
	require.NoError(t, cs.CreateConnectFlow(ctx, fresh))
	n, err := cs.DeleteConnectFlows(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = cs.OpenConnectFlow(ctx, "old", "b", now.Add(-59*time.Minute))
	require.ErrorIs(t, err, ohx.ErrNotFound, "the expired flow is gone")
	_, err = cs.OpenConnectFlow(ctx, "fresh", "b", now)
	require.NoError(t, err, "the live flow stays")
}

func testDeleteToken(t *testing.T, f Factory) {
	h, _ := setup(t, f)
	td, ok := h.Store.(store.TokenDeleter)
	if !ok {
		t.Skip("the store cannot delete a token alone")
	}
	ctx := t.Context()
	l := sampleLink("revoked")
	require.NoError(t, h.Store.SaveLink(ctx, l))
	require.NoError(t, h.Store.SaveToken(ctx, l.ID, ohx.Token{AccessToken: "a", RefreshToken: "r", TokenType: "Bearer"}))
	require.NoError(t, td.DeleteToken(ctx, l.ID))
	_, err := h.Store.Token(ctx, l.ID)
	require.ErrorIs(t, err, ohx.ErrNotFound, "the token is gone")
	_, err = h.Store.Link(ctx, l.ID)
	require.NoError(t, err, "the link stays")
	require.NoError(t, td.DeleteToken(ctx, l.ID), "deleting no token is no error")
}
