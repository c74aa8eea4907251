// Package store holds the link, token and cursor stores of ohx.
//
// Every store implements ohx.Store (links, tokens, cursors, a lease lock) and
// this package's [Store], which adds [LinkLister] (paged listing for the
// scheduler and the API), [SyncStatusStore] (per link and data type: last
// success, last classified error, samples read and resources written;
// never a health value), [InitialSyncStore] (the state of a link's initial
// sync), [Changer] (a [Change]: a link's state change and the events that
// report it, applied in one transaction) and [Outbox] (those events, for
// their delivery: claims leased to one deliverer, retries, dead letters,
// replay, pruning).
//
//   - [Memory] keeps everything in process memory: for tests and for
//     programs that do not need state to survive a restart.
//   - store/sqlite is the durable embedded default for one machine
//     (modernc.org/sqlite, pure Go).
//   - store/postgres serves deployments with several replicas (pgx).
//   - store/redislock is an ohx.Locker on Redis, for deployments that keep
//     refresh locks there.
//
// The durable stores seal access and refresh tokens with a seal.KeyRing
// (AES-256-GCM, key id prefix, bound to link and field): [SealToken],
// [OpenToken] and [RewrapToken] are the helpers they share, and that an
// application's own store can use too. They implement [Rewrapper] for key
// rotation. store/storetest is the conformance suite all of them pass.
//
// Durable stores live in sub-packages so that importing this one links no
// database driver.
package store
