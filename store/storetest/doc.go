// Package storetest is the conformance suite every ohx store passes: link
// CRUD and lookups, sealed tokens, cursors that never move backwards, leases,
// sync bookkeeping, key rotation with rewrap, and a refresh race in which 20
// workers spend a rotating refresh token exactly once.
//
// A store package runs it from its tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB, cfg storetest.Config) storetest.Harness {
//			s := store.NewMemory(store.WithMemoryClock(cfg.Clock.Now))
//			return storetest.Harness{Store: s}
//		})
//	}
//
// Stores that seal tokens also provide the Harness hooks that reach beneath
// the API (raw sealed columns, reopening with another key ring); the tests
// that need a hook the harness lacks are skipped with a message saying so.
// RunLocker runs the lease tests alone, for lockers that are not full stores
// (store/redislock). Bench measures read and write latency.
package storetest
