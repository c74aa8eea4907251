package provider_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestMemoryReplaysConformance(t *testing.T) {
	providertest.RunReplays(t, func(*testing.T) providertest.ReplaysHarness {
		c := &fakeClock{now: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
		return providertest.ReplaysHarness{Replays: provider.NewMemoryReplays(0, c.Now), Advance: c.Advance}
	})
}

func TestMemoryReplaysIsBounded(t *testing.T) {
	c := &fakeClock{now: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)}
	r := provider.NewMemoryReplays(100, c.Now)
	for i := range 1000 {
		require.NoError(t, r.Mark(t.Context(), provider.ReplayKey("s", fmt.Appendf(nil, "%d", i)), time.Hour))
		require.LessOrEqual(t, r.Len(), 100)
	}
	seen, err := r.Seen(t.Context(), provider.ReplayKey("s", []byte("999")))
	require.NoError(t, err)
	assert.True(t, seen, "the newest marks are kept")
	seen, err = r.Seen(t.Context(), provider.ReplayKey("s", []byte("0")))
	require.NoError(t, err)
	assert.False(t, seen, "the oldest marks are forgotten first")

	c.Advance(2 * time.Hour)
	require.NoError(t, r.Mark(t.Context(), provider.ReplayKey("s", []byte("new")), time.Hour))
	assert.Equal(t, 1, r.Len(), "expired marks are evicted")
}

func TestReplayKeySeparatesSignatureFromBody(t *testing.T) {
	assert.NotEqual(t, provider.ReplayKey("ab", []byte("c")), provider.ReplayKey("a", []byte("bc")))
	assert.Equal(t, provider.ReplayKey("a", []byte("b")), provider.ReplayKey("a", []byte("b")))
	assert.Len(t, provider.ReplayKey("a", nil), 64)
}
