package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/queuetest"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/store"
)

// subscribingProvider is the fake provider with webhook subscriptions; it
// records every Subscribe.
type subscribingProvider struct {
	ohxtest.Provider
	mu         sync.Mutex
	subscribed []string
}

func (p *subscribingProvider) Subscribe(_ context.Context, l ohx.Link) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.subscribed = append(p.subscribed, l.ID)
	return nil
}

func (p *subscribingProvider) Unsubscribe(context.Context, ohx.Link) error { return nil }

func (p *subscribingProvider) takeSubscribed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.subscribed
	p.subscribed = nil
	slices.Sort(out)
	return out
}

// TestSchedulerOnAFakeClock walks the server's scheduler through a day and a
// half of a fake clock: hourly and daily links are polled when ohx.PollDue
// says so, realtime links are reconciled at the nightly time, subscriptions
// are re-ensured once a day, and inactive links are left alone.
func TestSchedulerOnAFakeClock(t *testing.T) {
	st := store.NewMemory()
	prov := &subscribingProvider{Provider: ohxtest.Provider{ProviderName: "fake"}}
	for _, l := range []ohx.Link{
		{ID: "lnk-hourly", Frequency: ohx.SyncHourly, Status: ohx.LinkActive},
		{ID: "lnk-daily", Frequency: ohx.SyncDaily, TimeZone: "America/New_York", Status: ohx.LinkActive},
		{ID: "lnk-realtime", Frequency: ohx.SyncRealtime, Status: ohx.LinkActive},
		{ID: "lnk-default", Status: ohx.LinkActive}, // no frequency means realtime
		{ID: "lnk-revoked", Frequency: ohx.SyncHourly, Status: ohx.LinkRevoked},
		{ID: "lnk-pending", Status: ohx.LinkPending},
	} {
		l.Provider, l.Patient = "fake", "Patient/p-"+l.ID
		require.NoError(t, st.SaveLink(t.Context(), l))
	}
	// More realtime links than one listing page: the nightly run pages.
	var many []string
	for i := range 520 {
		id := fmt.Sprintf("lnk-rt-%03d", i)
		many = append(many, "reconciliation:"+id)
		require.NoError(t, st.SaveLink(t.Context(), ohx.Link{ID: id, Provider: "fake", Patient: "Patient/many",
			Status: ohx.LinkActive}))
	}

	q := &recordingQueue{}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: []ohx.Provider{prov}, Links: st, Cursors: st,
		Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: []ohx.Provider{prov},
		StateKey: []byte(strings.Repeat("k", 32))})
	require.NoError(t, err)

	clock := queuetest.NewClock(time.Date(2026, 11, 20, 0, 30, 0, 0, time.UTC))
	nightly, err := queue.ParseDaily("02:00", time.UTC)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.RunScheduler(ctx, server.SchedulerConfig{Nightly: nightly, Clock: clock}) }()

	seen := 0
	// advance moves the clock, waits until the scheduler waits again (so
	// everything due has fired) and returns the jobs enqueued meanwhile.
	advance := func(d time.Duration) []string {
		t.Helper()
		require.True(t, clock.WaitForWaiters(1, 10*time.Second), "the scheduler does not wait on the clock")
		clock.Advance(d)
		require.True(t, clock.WaitForWaiters(1, 10*time.Second), "the scheduler did not finish its firing")
		jobs := q.snapshot()
		var out []string
		for _, j := range jobs[seen:] {
			assert.Empty(t, j.DataTypes, "scheduled jobs cover every type of the link")
			out = append(out, string(j.Trigger)+":"+j.LinkID)
		}
		seen = len(jobs)
		slices.Sort(out)
		return out
	}

	// 00:31: the first poll finds both polled links due (never polled in
	// this process).
	assert.Equal(t, []string{"incremental:lnk-daily", "incremental:lnk-hourly"}, advance(time.Minute))
	// 00:32 … 00:59: nothing is due.
	assert.Empty(t, advance(time.Minute))
	assert.Empty(t, advance(27*time.Minute))
	// 01:00: a new UTC hour; still the same day in New York (20:00).
	assert.Equal(t, []string{"incremental:lnk-hourly"}, advance(time.Minute))
	assert.Empty(t, prov.takeSubscribed())
	// 02:00: the hourly poll and the nightly reconciliation of every
	// realtime link (two plus a page and a bit).
	want := append([]string{"incremental:lnk-hourly", "reconciliation:lnk-default", "reconciliation:lnk-realtime"}, many...)
	slices.Sort(want)
	assert.Equal(t, want, advance(time.Hour))
	// 05:00 after a three-hour jump: the missed polls run once, late; it is
	// midnight in New York, so the daily link is due again.
	assert.Equal(t, []string{"incremental:lnk-daily", "incremental:lnk-hourly"}, advance(3*time.Hour))
	// 2026-11-21 00:00: the daily re-ensure subscribes every active link.
	assert.Equal(t, []string{"incremental:lnk-hourly"}, advance(19*time.Hour))
	subscribed := prov.takeSubscribed()
	assert.Len(t, subscribed, 4+len(many))
	assert.Contains(t, subscribed, "lnk-daily")
	assert.NotContains(t, subscribed, "lnk-revoked")
	assert.NotContains(t, subscribed, "lnk-pending")
	// 02:00 the next night: reconciliation again, once.
	assert.Equal(t, want, advance(2*time.Hour))

	cancel()
	require.NoError(t, <-done)
}

func TestSchedulerConfigErrors(t *testing.T) {
	h := newHarness(t)
	_, err := h.srv.SchedulerEntries(server.SchedulerConfig{PollEvery: -time.Second})
	require.Error(t, err)
	entries, err := h.srv.SchedulerEntries(server.SchedulerConfig{})
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"poll", "expire", "nightly", "re-ensure"}, names)
}
