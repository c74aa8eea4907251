package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
	"github.com/openhealthexchange/ohx/store/seal"
)

// Store is an ohx.Store in PostgreSQL. It is safe for concurrent use, and
// several replicas may share one database.
type Store struct {
	pool     *pgxpool.Pool
	ownsPool bool
	ring     *seal.KeyRing
	now      func() time.Time
	log      *zap.Logger
	poll     storeutil.Backoff
}

var (
	_ ohx.Store       = (*Store)(nil)
	_ store.Store     = (*Store)(nil)
	_ store.Rewrapper = (*Store)(nil)
)

type options struct {
	storeutil.Options
}

// Option configures Open and New.
type Option func(*options)

// WithClock makes the store read the time from now (bookkeeping times and
// lease expiry), for deterministic tests. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.SetClock(now) }
}

// WithLogger sets the logger; default: zap.NewNop(). The store logs only ids
// and failures, never a token.
func WithLogger(l *zap.Logger) Option {
	return func(o *options) { o.SetLogger(l) }
}

// WithLockPolling sets the backoff of Lock waiters: the first wait and its
// cap (doubling in between, with jitter); default 5ms and 250ms.
func WithLockPolling(first, cap time.Duration) Option {
	return func(o *options) { o.SetPolling(first, cap) }
}

// Open connects a pool to the database named by connString (a URL or DSN as
// pgxpool.ParseConfig reads it, including pool_max_conns and search_path),
// migrates the schema and returns the store; Close closes the pool. ring
// seals the tokens and is required.
func Open(ctx context.Context, connString string, ring *seal.KeyRing, opts ...Option) (*Store, error) {
	if ring == nil {
		return nil, errNoRing
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// pgx's parse errors may quote the connection string, password
		// included: keep only that it failed.
		return nil, errors.New("postgres: invalid connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s, err := New(ctx, pool, ring, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.ownsPool = true
	return s, nil
}

var errNoRing = errors.New("postgres: a key ring is required to seal tokens")

// New returns a store over an existing pool after migrating the schema. The
// caller keeps ownership of the pool: Close leaves it open.
func New(ctx context.Context, pool *pgxpool.Pool, ring *seal.KeyRing, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, errors.New("postgres: pool is nil")
	}
	if ring == nil {
		return nil, errNoRing
	}
	o := options{Options: storeutil.DefaultOptions()}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{pool: pool, ring: ring, now: o.Now, log: o.Log, poll: o.Poll}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the pool if Open created it.
func (s *Store) Close() {
	if s.ownsPool {
		s.pool.Close()
	}
}

// SchemaVersion returns the version of the applied schema.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: schema version: %w", err)
	}
	return v, nil
}

func (s *Store) migrate(ctx context.Context) error {
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration in a transaction that first takes an
// advisory lock keyed by the schema, so replicas starting together apply each
// migration once.
func (s *Store) migrateOne(ctx context.Context) (bool, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('ohx-migrate:' || current_schema(), 0))`); err != nil {
		return false, fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("postgres: migrate: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("postgres: database schema version %d is newer than this build supports (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return true, tx.Commit(ctx)
	}
	if _, err := tx.Exec(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("postgres: migration %d: %w", v+1, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, v+1, s.now()); err != nil {
		return false, fmt.Errorf("postgres: migration %d: %w", v+1, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("postgres: migration %d: %w", v+1, err)
	}
	s.log.Info("applied schema migration", zap.Int("version", v+1))
	return false, nil
}

// ts turns a zero time into NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func fromTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

const linkColumns = `id, provider, external_user_id, legacy_user_id, patient, scopes, data_types, time_zone, frequency, status, created_at, updated_at`

func scanLink(r storeutil.Scanner) (ohx.Link, error) {
	var (
		l             ohx.Link
		scopes, types []string
		freq, status  string
	)
	if err := r.Scan(&l.ID, &l.Provider, &l.ExternalUserID, &l.LegacyUserID, &l.Patient, &scopes, &types,
		&l.TimeZone, &freq, &status, &l.Created, &l.Updated); err != nil {
		return ohx.Link{}, err
	}
	l.Frequency, l.Status = ohx.SyncFrequency(freq), ohx.LinkStatus(status)
	if len(scopes) > 0 {
		l.Scopes = scopes
	}
	for _, t := range types {
		l.DataTypes = append(l.DataTypes, ohx.DataType(t))
	}
	l.Created, l.Updated = l.Created.UTC(), l.Updated.UTC()
	return l, nil
}

func (s *Store) queryLinks(ctx context.Context, op, query string, args ...any) ([]ohx.Link, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	defer rows.Close()
	out, err := storeutil.Collect(rows, scanLink)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return out, nil
}

func (s *Store) oneLink(ctx context.Context, op, query string, args ...any) (ohx.Link, error) {
	l, err := scanLink(s.pool.QueryRow(ctx, query, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return ohx.Link{}, ohx.ErrNotFound
	}
	if err != nil {
		return ohx.Link{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return l, nil
}

// Link implements ohx.LinkFinder.
func (s *Store) Link(ctx context.Context, id string) (ohx.Link, error) {
	return s.oneLink(ctx, "link", `SELECT `+linkColumns+` FROM links WHERE id = $1`, id)
}

// LinkByExternalUser implements ohx.LinkFinder. Among several links of one
// provider user it prefers an active one, then the most recently updated.
func (s *Store) LinkByExternalUser(ctx context.Context, provider, externalUserID string) (ohx.Link, error) {
	if externalUserID == "" {
		return ohx.Link{}, ohx.ErrNotFound
	}
	return s.oneLink(ctx, "link by external user", `SELECT `+linkColumns+` FROM links
		WHERE provider = $1 AND external_user_id = $2 ORDER BY `+storeutil.ExternalOrder+` LIMIT 1`, provider, externalUserID)
}

// LinksByPatient implements ohx.LinkFinder; links come ordered by id.
func (s *Store) LinksByPatient(ctx context.Context, patient string) ([]ohx.Link, error) {
	return s.queryLinks(ctx, "links by patient", `SELECT `+linkColumns+` FROM links WHERE patient = $1 ORDER BY id`, patient)
}

// Links implements store.LinkLister.
func (s *Store) Links(ctx context.Context, q store.LinkQuery) ([]ohx.Link, error) {
	var limit *int
	if q.Limit > 0 {
		limit = &q.Limit
	}
	return s.queryLinks(ctx, "links", `SELECT `+linkColumns+` FROM links
		WHERE id > $1 AND ($2 = '' OR provider = $2) AND ($3 = '' OR status = $3)
		ORDER BY id LIMIT $4`, q.AfterID, q.Provider, string(q.Status), limit)
}

func dataTypeStrings(ts []ohx.DataType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// SaveLink implements ohx.LinkWriter. The store sets Updated; Created is kept
// from the stored link, else taken from l, else now.
func (s *Store) SaveLink(ctx context.Context, l ohx.Link) error {
	if l.ID == "" {
		return storeutil.ErrNoID
	}
	return s.saveLink(ctx, s.pool, l)
}

// execer is a pool or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (s *Store) saveLink(ctx context.Context, ex execer, l ohx.Link) error {
	now := s.now().UTC()
	created := now
	if !l.Created.IsZero() {
		created = l.Created.UTC()
	}
	scopes := l.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	_, err := ex.Exec(ctx, `INSERT INTO links (`+linkColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, external_user_id = excluded.external_user_id,
			legacy_user_id = excluded.legacy_user_id, patient = excluded.patient, scopes = excluded.scopes,
			data_types = excluded.data_types, time_zone = excluded.time_zone, frequency = excluded.frequency,
			status = excluded.status, updated_at = excluded.updated_at`,
		l.ID, l.Provider, l.ExternalUserID, l.LegacyUserID, l.Patient, scopes, dataTypeStrings(l.DataTypes),
		l.TimeZone, string(l.Frequency), string(l.Status), created, now)
	if err != nil {
		return fmt.Errorf("postgres: save link %q: %w", l.ID, err)
	}
	return nil
}

// DeleteLink implements ohx.LinkWriter: it deletes the link with its token,
// cursors and sync status in one transaction.
func (s *Store) DeleteLink(ctx context.Context, id string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return deleteLink(ctx, tx, id) })
}

// deleteLink deletes the link and what belongs to it.
func deleteLink(ctx context.Context, ex execer, id string) error {
	for _, table := range []string{"links WHERE id = $1", "tokens WHERE link_id = $1", "cursors WHERE link_id = $1",
		"sync_status WHERE link_id = $1", "initial_syncs WHERE link_id = $1"} {
		if _, err := ex.Exec(ctx, `DELETE FROM `+table, id); err != nil {
			return fmt.Errorf("postgres: delete link %q: %w", id, err)
		}
	}
	return nil
}

// Token implements ohx.TokenStore: it opens the sealed token. A token that
// fails to open (tampered with, copied from another row, or sealed under a
// key no longer in the ring) is an error wrapping seal.ErrOpen or
// seal.ErrUnknownKey.
func (s *Store) Token(ctx context.Context, linkID string) (ohx.Token, error) {
	var (
		st     store.SealedToken
		expiry *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT access_token, refresh_token, token_type, expiry, scope FROM tokens WHERE link_id = $1`, linkID).
		Scan(&st.AccessToken, &st.RefreshToken, &st.TokenType, &expiry, &st.Scope)
	if errors.Is(err, pgx.ErrNoRows) {
		return ohx.Token{}, ohx.ErrNotFound
	}
	if err != nil {
		return ohx.Token{}, fmt.Errorf("postgres: token of link %q: %w", linkID, err)
	}
	st.Expiry = fromTS(expiry)
	return store.OpenToken(s.ring, linkID, st)
}

// SaveToken implements ohx.TokenStore: it seals the token under the primary
// key and replaces the stored one.
func (s *Store) SaveToken(ctx context.Context, linkID string, t ohx.Token) error {
	if linkID == "" {
		return storeutil.ErrNoID
	}
	st, err := store.SealToken(s.ring, linkID, t)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO tokens (link_id, access_token, refresh_token, token_type, expiry, scope, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (link_id) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
			token_type = excluded.token_type, expiry = excluded.expiry, scope = excluded.scope, updated_at = excluded.updated_at`,
		linkID, st.AccessToken, st.RefreshToken, st.TokenType, ts(st.Expiry), st.Scope, s.now().UTC())
	if err != nil {
		return fmt.Errorf("postgres: save token of link %q: %w", linkID, err)
	}
	return nil
}

// Rewrap implements store.Rewrapper: it re-seals under the primary key every
// token sealed under another key and returns how many it rewrote. Each update
// is a compare-and-swap, so a token replaced concurrently (already under the
// primary) is left alone. Tokens that fail to open are reported in the
// error, by link id, after the others were rewrapped.
func (s *Store) Rewrap(ctx context.Context) (int, error) {
	rows, err := s.pool.Query(ctx, `SELECT link_id, access_token, refresh_token FROM tokens
		WHERE NOT starts_with(access_token, $1) OR NOT starts_with(refresh_token, $1) ORDER BY link_id`, s.ring.PrimaryID()+":")
	if err != nil {
		return 0, fmt.Errorf("postgres: rewrap: %w", err)
	}
	stale, err := storeutil.Collect(rows, storeutil.ScanTokenRow)
	rows.Close()
	if err != nil {
		return 0, fmt.Errorf("postgres: rewrap: %w", err)
	}
	n := 0
	var errs []error
	for _, r := range stale {
		nu, changed, err := store.RewrapToken(s.ring, r.LinkID, store.SealedToken{AccessToken: r.Access, RefreshToken: r.Refresh})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !changed {
			continue
		}
		tag, err := s.pool.Exec(ctx, `UPDATE tokens SET access_token = $1, refresh_token = $2
			WHERE link_id = $3 AND access_token = $4 AND refresh_token = $5`, nu.AccessToken, nu.RefreshToken, r.LinkID, r.Access, r.Refresh)
		if err != nil {
			return n, fmt.Errorf("postgres: rewrap token of link %q: %w", r.LinkID, err)
		}
		n += int(tag.RowsAffected())
	}
	return n, errors.Join(errs...)
}

// Cursors implements ohx.CursorStore.
func (s *Store) Cursors(ctx context.Context, linkID string) (map[ohx.DataType]time.Time, error) {
	rows, err := s.pool.Query(ctx, `SELECT data_type, at_ns FROM cursors WHERE link_id = $1`, linkID)
	if err != nil {
		return nil, fmt.Errorf("postgres: cursors of link %q: %w", linkID, err)
	}
	defer rows.Close()
	out, err := storeutil.CollectMap(rows, func(r storeutil.Scanner) (ohx.DataType, time.Time, error) {
		var (
			t  string
			at int64
		)
		err := r.Scan(&t, &at)
		return ohx.DataType(t), time.Unix(0, at).UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: cursors of link %q: %w", linkID, err)
	}
	return out, nil
}

// AdvanceCursor implements ohx.CursorStore; a time before the stored cursor
// changes nothing.
func (s *Store) AdvanceCursor(ctx context.Context, linkID string, t ohx.DataType, at time.Time) error {
	if linkID == "" {
		return storeutil.ErrNoID
	}
	if err := storeutil.CheckCursorTime(at); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO cursors (link_id, data_type, at_ns) VALUES ($1, $2, $3)
		ON CONFLICT (link_id, data_type) DO UPDATE SET at_ns = excluded.at_ns WHERE excluded.at_ns > cursors.at_ns`,
		linkID, string(t), at.UnixNano())
	if err != nil {
		return fmt.Errorf("postgres: advance cursor of link %q: %w", linkID, err)
	}
	return nil
}

const syncColumns = `data_type, last_attempt, last_success, last_error_at, last_error_kind, last_error, successes, failures, consecutive_failures, items, samples`

func scanSync(r storeutil.Scanner) (store.SyncStatus, error) {
	var (
		st                   store.SyncStatus
		t                    string
		attempt, succ, errAt *time.Time
	)
	if err := r.Scan(&t, &attempt, &succ, &errAt, &st.LastErrorKind, &st.LastError,
		&st.Successes, &st.Failures, &st.ConsecutiveFailures, &st.Items, &st.SamplesRead); err != nil {
		return st, err
	}
	st.DataType = ohx.DataType(t)
	st.LastAttempt, st.LastSuccess, st.LastErrorAt = fromTS(attempt), fromTS(succ), fromTS(errAt)
	return st, nil
}

// RecordSync implements store.SyncStatusStore.
func (s *Store) RecordSync(ctx context.Context, linkID string, t ohx.DataType, r store.SyncResult) error {
	if linkID == "" {
		return storeutil.ErrNoID
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.recordSync(ctx, tx, linkID, t, r) })
}

// recordSync folds r into the status of (link, t) within tx.
func (s *Store) recordSync(ctx context.Context, tx pgx.Tx, linkID string, t ohx.DataType, r store.SyncResult) error {
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC()
	err := func() error {
		if _, err := tx.Exec(ctx, `INSERT INTO sync_status (link_id, data_type) VALUES ($1, $2) ON CONFLICT DO NOTHING`, linkID, string(t)); err != nil {
			return err
		}
		st, err := scanSync(tx.QueryRow(ctx, `SELECT `+syncColumns+` FROM sync_status WHERE link_id = $1 AND data_type = $2 FOR UPDATE`, linkID, string(t)))
		if err != nil {
			return err
		}
		st = st.Apply(r)
		_, err = tx.Exec(ctx, `UPDATE sync_status SET last_attempt = $3, last_success = $4, last_error_at = $5, last_error_kind = $6,
			last_error = $7, successes = $8, failures = $9, consecutive_failures = $10, items = $11, samples = $12
			WHERE link_id = $1 AND data_type = $2`,
			linkID, string(t), ts(st.LastAttempt), ts(st.LastSuccess), ts(st.LastErrorAt), st.LastErrorKind, st.LastError,
			st.Successes, st.Failures, st.ConsecutiveFailures, st.Items, st.SamplesRead)
		return err
	}()
	if err != nil {
		return fmt.Errorf("postgres: record sync of link %q: %w", linkID, err)
	}
	return nil
}

// SyncStatus implements store.SyncStatusStore.
func (s *Store) SyncStatus(ctx context.Context, linkID string) (map[ohx.DataType]store.SyncStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+syncColumns+` FROM sync_status WHERE link_id = $1`, linkID)
	if err != nil {
		return nil, fmt.Errorf("postgres: sync status of link %q: %w", linkID, err)
	}
	defer rows.Close()
	out, err := storeutil.CollectMap(rows, func(r storeutil.Scanner) (ohx.DataType, store.SyncStatus, error) {
		st, err := scanSync(r)
		return st.DataType, st, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: sync status of link %q: %w", linkID, err)
	}
	return out, nil
}

// Lock implements ohx.Locker with a lease row (see the package doc for why
// not advisory locks): it takes the row when it is absent or expired, else
// polls with backoff until it can or ctx ends. The returned release deletes
// the row only while this holder still owns it.
func (s *Store) Lock(ctx context.Context, name string, lease time.Duration) (func(), error) {
	holder, err := storeutil.TakeLease(ctx, "postgres", name, lease, s.poll, func(holder string) (bool, error) {
		now := s.now()
		tag, err := s.pool.Exec(ctx, `INSERT INTO leases (name, holder, expires_at_ns) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at_ns = excluded.expires_at_ns
			WHERE leases.expires_at_ns <= $4`, name, holder, now.Add(lease).UnixNano(), now.UnixNano())
		return err == nil && tag.RowsAffected() == 1, err
	})
	if err != nil {
		return nil, err
	}
	return storeutil.Releaser(s.log, name, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
		return err
	}), nil
}
