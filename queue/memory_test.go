package queue_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/queue/queuetest"
)

func TestMemorySuite(t *testing.T) {
	queuetest.Run(t, func(t *testing.T, o queuetest.Options) queuetest.Queue {
		q, err := queue.NewMemory(queue.Config{
			Concurrency:     o.Concurrency,
			StrictPriority:  o.StrictPriority,
			Retry:           o.Retry,
			Debounce:        o.Debounce,
			ShutdownTimeout: o.ShutdownTimeout,
		})
		require.NoError(t, err)
		return q
	})
}
