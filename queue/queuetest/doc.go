// Package queuetest holds what tests of ohx queues need: Run, one behavioural
// suite that every queue.Inspector-capable ohx.Queue must pass (the in-memory
// queue and the Redis queue run it), and Clock, a fake queue.Clock.
//
// A queue implementation's test hands Run a Factory that builds a fresh,
// isolated queue for each sub-test from Options:
//
//	func TestSuite(t *testing.T) {
//		queuetest.Run(t, func(t *testing.T, o queuetest.Options) queuetest.Queue {
//			q, err := queue.NewMemory(queue.Config{
//				Concurrency: o.Concurrency, StrictPriority: o.StrictPriority,
//				Retry: o.Retry, Debounce: o.Debounce, ShutdownTimeout: o.ShutdownTimeout,
//			})
//			require.NoError(t, err)
//			return q
//		})
//	}
package queuetest
