// Package sqlite is the durable embedded ohx store: one SQLite file on one
// machine, through the pure-Go driver modernc.org/sqlite (no cgo).
//
// [Open] creates the file with mode 0600 (and tightens an existing one),
// turns on WAL and a busy timeout, and applies the schema migrations it has
// not applied yet (recorded in the schema_migrations table). It refuses a
// database whose schema is newer than it knows.
//
// The store implements ohx.Store and store.Store: links, tokens sealed with a
// seal.KeyRing (access and refresh tokens are only ever written sealed, bound
// to their link and field), cursors that never move backwards, sync
// bookkeeping, and [Store.Rewrap] for key rotation. Its Lock is a lease row
// with an expiry: a waiter polls with backoff until the row is free or
// expired, so several processes on the machine sharing the file (for example
// an API process and a worker process) exclude each other; a holder that dies
// loses the lease when it expires. Lease expiry reads the store's clock, which
// processes on one machine share.
//
// Times are kept as int64 Unix nanoseconds (UTC), so cursors round-trip
// exactly.
package sqlite
