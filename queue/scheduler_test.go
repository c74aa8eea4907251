package queue_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/queuetest"
)

func TestSchedules(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	nightly, err := queue.Daily(2, 30, nil)
	require.NoError(t, err)
	berlinNightly, err := queue.ParseDaily("02:30", berlin)
	require.NoError(t, err)
	every, err := queue.Every(15 * time.Minute)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		s    queue.Schedule
		from time.Time
		want time.Time
	}{
		{"daily later today", nightly, time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC)},
		{"daily at the time means tomorrow", nightly, time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC), time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)},
		{"daily across a month", nightly, time.Date(2026, 11, 30, 3, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 2, 30, 0, 0, time.UTC)},
		{"daily in a zone", berlinNightly, time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 1, 30, 0, 0, time.UTC)},
		{"daily in summer time", berlinNightly, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 7, 1, 0, 30, 0, 0, time.UTC)},
		{"every aligns to multiples", every, time.Date(2026, 11, 20, 1, 7, 3, 0, time.UTC), time.Date(2026, 11, 20, 1, 15, 0, 0, time.UTC)},
		{"every on a multiple means the next", every, time.Date(2026, 11, 20, 1, 15, 0, 0, time.UTC), time.Date(2026, 11, 20, 1, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.True(t, tc.want.Equal(tc.s.Next(tc.from)), "got %s want %s", tc.s.Next(tc.from), tc.want)
		})
	}
	for _, bad := range []string{"25:00", "12:60", "noon", ""} {
		_, err := queue.ParseDaily(bad, nil)
		assert.Error(t, err, bad)
	}
	_, err = queue.Every(0)
	assert.Error(t, err)
}

func TestSchedulerFiresOnTheClock(t *testing.T) {
	clock := queuetest.NewClock(time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC))
	q := newMemory(t, queue.Config{Clock: clock})
	nightly, err := queue.Daily(2, 30, nil)
	require.NoError(t, err)
	var mu sync.Mutex
	var fired []time.Time
	s, err := queue.NewScheduler(q, []queue.Entry{{
		Name:     "reconciliation",
		Schedule: nightly,
		Jobs: func(_ context.Context, at time.Time) ([]ohx.Job, error) {
			mu.Lock()
			fired = append(fired, at)
			mu.Unlock()
			return []ohx.Job{
				{LinkID: "a", Trigger: ohx.TriggerReconciliation},
				{LinkID: "b", Trigger: ohx.TriggerReconciliation},
			}, nil
		},
	}}, queue.SchedulerConfig{Clock: clock})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	depth := func() int {
		st, err := q.Stats(t.Context())
		require.NoError(t, err)
		return st.Depth()
	}
	require.True(t, clock.WaitForWaiters(1, 5*time.Second))
	clock.Advance(89 * time.Minute)
	require.True(t, clock.WaitForWaiters(1, 5*time.Second))
	assert.Zero(t, depth(), "not yet 02:30")
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { return depth() == 2 }, 5*time.Second, time.Millisecond)
	require.True(t, clock.WaitForWaiters(1, 5*time.Second))
	clock.Advance(24 * time.Hour)
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(fired) == 2 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 2, depth(), "the second night's jobs coalesce with the first night's pending ones")
	cancel()
	require.NoError(t, <-done)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []time.Time{
		time.Date(2026, 11, 20, 2, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC),
	}, fired)
}

func TestNewSchedulerRejectsBadEntries(t *testing.T) {
	q := newMemory(t, queue.Config{})
	_, err := queue.NewScheduler(nil, nil, queue.SchedulerConfig{})
	assert.Error(t, err)
	_, err = queue.NewScheduler(q, []queue.Entry{{Name: "x"}}, queue.SchedulerConfig{})
	assert.Error(t, err)
	every, err := queue.Every(time.Minute)
	require.NoError(t, err)
	_, err = queue.NewScheduler(q, []queue.Entry{{Name: "no work", Schedule: every}}, queue.SchedulerConfig{})
	assert.Error(t, err, "neither jobs nor run")
	_, err = queue.NewScheduler(q, []queue.Entry{{Name: "both", Schedule: every,
		Jobs: func(context.Context, time.Time) ([]ohx.Job, error) { return nil, nil },
		Run:  func(context.Context, time.Time) error { return nil }}}, queue.SchedulerConfig{})
	assert.Error(t, err, "jobs and run")
}

func TestSchedulerRunsWorkThatIsNotAJob(t *testing.T) {
	clock := queuetest.NewClock(time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC))
	q := newMemory(t, queue.Config{Clock: clock})
	hourly, err := queue.Every(time.Hour)
	require.NoError(t, err)
	ran := make(chan time.Time, 4)
	s, err := queue.NewScheduler(q, []queue.Entry{{
		Name:     "re-ensure",
		Schedule: hourly,
		Run: func(_ context.Context, at time.Time) error {
			ran <- at
			return errors.New("one subscription failed") // logged; the entry fires again
		},
	}}, queue.SchedulerConfig{Clock: clock})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for _, want := range []time.Time{
		time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC),
	} {
		require.True(t, clock.WaitForWaiters(1, 5*time.Second))
		clock.Advance(time.Hour)
		select {
		case at := <-ran:
			assert.True(t, want.Equal(at), "fired for %s, want %s", at, want)
		case <-time.After(5 * time.Second):
			t.Fatalf("the entry did not run for %s", want)
		}
	}
	cancel()
	require.NoError(t, <-done)
	st, err := q.Stats(t.Context())
	require.NoError(t, err)
	assert.Zero(t, st.Depth(), "a run entry enqueues nothing")
}
