package server_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
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

// pollingProvider is a fake provider whose webhooks never announce heart
// rate, as Oura's.
type pollingProvider struct{ ohxtest.Provider }

func (*pollingProvider) PolledTypes() []ohx.DataType { return []ohx.DataType{ohx.HeartRate} }

var _ server.PolledTypes = (*pollingProvider)(nil)

// TestSchedulerPollsTypesNoWebhookAnnounces: the realtime links of a
// provider with PolledTypes get an hourly incremental job for those types
// (those they consent to), beside the usual polls of hourly links; other
// realtime links are left to webhooks. The application's own entries run
// in the same scheduler.
func TestSchedulerPollsTypesNoWebhookAnnounces(t *testing.T) {
	st := store.NewMemory()
	polling := &pollingProvider{ohxtest.Provider{ProviderName: "ring"}}
	plain := &ohxtest.Provider{ProviderName: "scale"}
	for _, l := range []ohx.Link{
		{ID: "ring-realtime", Provider: "ring", Status: ohx.LinkActive},
		{ID: "ring-no-hr", Provider: "ring", Status: ohx.LinkActive, DataTypes: []ohx.DataType{ohx.Steps}},
		{ID: "ring-hourly", Provider: "ring", Status: ohx.LinkActive, Frequency: ohx.SyncHourly},
		{ID: "ring-revoked", Provider: "ring", Status: ohx.LinkRevoked},
		{ID: "scale-realtime", Provider: "scale", Status: ohx.LinkActive},
	} {
		l.Patient = "Patient/p-" + l.ID
		require.NoError(t, st.SaveLink(t.Context(), l))
	}
	q := &recordingQueue{}
	providers := []ohx.Provider{polling, plain}
	eng, err := ohx.NewEngine(ohx.EngineConfig{Providers: providers, Links: st, Cursors: st, Transformer: discard{}, Publisher: discard{}})
	require.NoError(t, err)
	srv, err := server.New(server.Config{Store: st, Queue: q, Engine: eng, Providers: providers, StateKey: []byte(strings.Repeat("k", 32))})
	require.NoError(t, err)

	var own atomic.Int32
	every, err := queue.Every(30 * time.Minute)
	require.NoError(t, err)
	clock := queuetest.NewClock(time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- srv.RunScheduler(ctx, server.SchedulerConfig{Clock: clock, Entries: []queue.Entry{
			{Name: "own", Schedule: every, Run: func(context.Context, time.Time) error { own.Add(1); return nil }},
		}})
	}()

	seen := 0
	advance := func(d time.Duration) []string {
		t.Helper()
		require.True(t, clock.WaitForWaiters(1, 10*time.Second), "the scheduler does not wait on the clock")
		clock.Advance(d)
		require.True(t, clock.WaitForWaiters(1, 10*time.Second), "the scheduler did not finish its firing")
		jobs := q.snapshot()
		var out []string
		for _, j := range jobs[seen:] {
			require.Equal(t, ohx.TriggerIncremental, j.Trigger)
			out = append(out, j.LinkID+":"+strings.Join(func() []string {
				var ts []string
				for _, t := range j.DataTypes {
					ts = append(ts, string(t))
				}
				return ts
			}(), ","))
		}
		seen = len(jobs)
		slices.Sort(out)
		return out
	}

	// 10:16: the first poll: the hourly link (every type); the realtime
	// ring link's heart rate was read by its initial sync, so its polls
	// start with the next hour.
	assert.Equal(t, []string{"ring-hourly:"}, advance(time.Minute))
	// 10:17 … 10:59: nothing more.
	assert.Empty(t, advance(43*time.Minute))
	// 11:00: a new hour polls the hourly link and the realtime ring link's
	// heart rate; the application's entry ran at 10:30 and 11:00.
	assert.Equal(t, []string{"ring-hourly:", "ring-realtime:" + string(ohx.HeartRate)}, advance(time.Minute))
	assert.Equal(t, int32(2), own.Load())
	// 12:00: both again.
	assert.Empty(t, advance(59*time.Minute))
	assert.Equal(t, []string{"ring-hourly:", "ring-realtime:" + string(ohx.HeartRate)}, advance(time.Minute))

	cancel()
	require.NoError(t, <-done)
}
