package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// LockerHarness is a fresh locker under test.
type LockerHarness struct {
	// Locker is the locker under test.
	Locker ohx.Locker
	// Other is a second instance sharing the leases (another process);
	// nil means Locker.
	Other ohx.Locker
	// Advance moves the locker's clock forward. Nil means the locker uses
	// real time (a Redis server's): the expiry test then uses a short real
	// lease and waits for it.
	Advance func(d time.Duration)
}

// LockerFactory returns a fresh locker for one test.
type LockerFactory func(t testing.TB) LockerHarness

// blocked is how long the suite lets a Lock call wait before concluding that
// the lease is held. It bounds a wait; no test asserts on durations.
const blocked = 150 * time.Millisecond

// RunLocker runs the lease tests of the suite against lockers made by f.
func RunLocker(t *testing.T, f LockerFactory) {
	fresh := func(t testing.TB) (ohx.Locker, ohx.Locker, func(time.Duration)) {
		h := f(t)
		require.NotNil(t, h.Locker)
		other := h.Other
		if other == nil {
			other = h.Locker
		}
		return h.Locker, other, h.Advance
	}
	expectBlocked := func(t testing.TB, l ohx.Locker, name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), blocked)
		defer cancel()
		release, err := l.Lock(ctx, name, time.Minute)
		if err == nil {
			release()
		}
		require.ErrorIs(t, err, context.DeadlineExceeded, "lease %q should be held", name)
	}

	t.Run("Exclusive", func(t *testing.T) {
		a, b, _ := fresh(t)
		ctx := t.Context()
		release, err := a.Lock(ctx, "refresh:l1", time.Minute)
		require.NoError(t, err)
		expectBlocked(t, b, "refresh:l1")
		expectBlocked(t, a, "refresh:l1")

		other, err := b.Lock(ctx, "refresh:l2", time.Minute)
		require.NoError(t, err, "names are independent")
		other()

		release()
		release() // idempotent
		again, err := b.Lock(ctx, "refresh:l1", time.Minute)
		require.NoError(t, err, "released lease can be taken")
		again()
	})

	t.Run("WaiterWakesOnRelease", func(t *testing.T) {
		a, b, _ := fresh(t)
		ctx := t.Context()
		release, err := a.Lock(ctx, "n", time.Hour)
		require.NoError(t, err)
		got := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			r, err := b.Lock(ctx, "n", time.Minute)
			if err == nil {
				r()
			}
			got <- err
		}()
		release()
		require.NoError(t, <-got)
	})

	t.Run("LeaseExpires", func(t *testing.T) {
		a, b, advance := fresh(t)
		ctx := t.Context()
		lease := time.Minute
		if advance == nil {
			lease = 300 * time.Millisecond
		}
		staleRelease, err := a.Lock(ctx, "n", lease)
		require.NoError(t, err)
		if advance != nil {
			expectBlocked(t, b, "n")
			advance(lease + time.Second)
		}
		// The holder "died": the lease ends without a release.
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		releaseB, err := b.Lock(waitCtx, "n", time.Minute)
		require.NoError(t, err, "expired lease can be taken")

		staleRelease() // the old holder wakes up late: must not free B's lease
		expectBlocked(t, a, "n")
		releaseB()
		releaseC, err := a.Lock(ctx, "n", time.Minute)
		require.NoError(t, err)
		releaseC()
	})

	t.Run("CancelledWait", func(t *testing.T) {
		a, b, _ := fresh(t)
		release, err := a.Lock(t.Context(), "n", time.Minute)
		require.NoError(t, err)
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err = b.Lock(ctx, "n", time.Minute)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("BadLease", func(t *testing.T) {
		a, _, _ := fresh(t)
		_, err := a.Lock(t.Context(), "n", 0)
		require.Error(t, err)
	})

	t.Run("MutualExclusionUnderContention", func(t *testing.T) {
		a, b, _ := fresh(t)
		ctx := t.Context()
		var (
			inside  atomic.Int32
			counter int // guarded by the lease only: -race catches overlap
			wg      sync.WaitGroup
		)
		lockers := []ohx.Locker{a, b}
		for i := range 20 {
			wg.Go(func() {
				release, err := lockers[i%2].Lock(ctx, "shared", time.Minute)
				if !assert.NoError(t, err) {
					return
				}
				assert.Equal(t, int32(1), inside.Add(1))
				counter++
				inside.Add(-1)
				release()
			})
		}
		wg.Wait()
		assert.Equal(t, 20, counter)
	})
}
