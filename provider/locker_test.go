package provider_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/provider"
)

func TestLocalLockerSerializesOneName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l provider.LocalLocker
		release, err := l.Lock(t.Context(), "refresh:a", time.Minute)
		require.NoError(t, err)

		other, err := l.Lock(t.Context(), "refresh:b", time.Minute)
		require.NoError(t, err, "another name is not blocked")
		other()

		got := make(chan func())
		go func() {
			r, err := l.Lock(t.Context(), "refresh:a", time.Minute)
			assert.NoError(t, err)
			got <- r
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("the second holder got the lock while the first held it")
		default:
		}
		release()
		release() // a second release does nothing
		second := <-got
		second()

		again, err := l.Lock(t.Context(), "refresh:a", time.Minute)
		require.NoError(t, err, "a double release did not leave the lock taken")
		again()
	})
}

func TestLocalLockerGivesUpWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l provider.LocalLocker
		release, err := l.Lock(t.Context(), "refresh:a", time.Minute)
		require.NoError(t, err)
		defer release()

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = l.Lock(ctx, "refresh:a", time.Minute)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
