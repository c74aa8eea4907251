// Package postgres is the ohx store for deployments with several replicas:
// links, sealed tokens, cursors and sync bookkeeping in PostgreSQL through
// github.com/jackc/pgx/v5 and its connection pool.
//
// [Open] builds its own pool from a connection string; [New] uses a pool the
// application already has. Both apply the versioned schema migrations not yet
// applied (recorded in schema_migrations), one transaction each, serialized
// across replicas starting at once by a transaction-scoped advisory lock. The
// tables are created in the first schema of the connection's search_path:
// put "search_path=ohx" in the connection string to keep them in their own
// schema. A database whose schema is newer than the build is refused.
//
// Tokens are sealed with a seal.KeyRing before they reach the database;
// [Store.Rewrap] re-seals them under the primary key after a rotation.
//
// # Refresh lock: lease rows, not advisory locks
//
// Lock uses a row per lease name with a holder token and an expiry, taken
// with one INSERT … ON CONFLICT DO UPDATE … WHERE expired statement and
// released by deleting the row only while the holder still owns it. Session
// advisory locks were rejected: they pin a pooled connection for as long as
// the lock is held (20 workers refreshing 20 links would hold 20
// connections), they do not survive the transaction pooling of PgBouncer, and
// they have no lease: a holder that hangs with its connection open holds the
// lock forever, whereas ohx.Locker promises that a dead holder loses the lease
// after its duration. With lease rows a connection lost mid-refresh costs
// nothing either: the row expires. Expiry is computed from the replica's
// clock (injectable with WithClock), so replicas need clocks synchronized to
// well within a lease (NTP); leases are tens of seconds, skew milliseconds.
//
// Times are stored as timestamptz (microseconds), except cursors, which are
// bigint Unix nanoseconds so that they round-trip exactly.
package postgres
