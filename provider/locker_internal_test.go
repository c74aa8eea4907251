package provider

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLocalLockerForgetsUnusedLocks(t *testing.T) {
	var l LocalLocker
	for _, name := range []string{"refresh:a", "refresh:b", "refresh:a"} {
		release, err := l.Lock(t.Context(), name, time.Minute)
		require.NoError(t, err)
		assert.Len(t, l.locks, 1)
		release()
	}
	assert.Empty(t, l.locks, "released locks are forgotten")

	release, err := l.Lock(t.Context(), "refresh:a", time.Minute)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = l.Lock(ctx, "refresh:a", time.Minute)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, l.locks["refresh:a"].users, "a waiter that gave up leaves")
	release()
	assert.Empty(t, l.locks)
}
