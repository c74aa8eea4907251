package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
	"github.com/openhealthexchange/ohx/store/seal"
)

// Store is an ohx.Store in a SQLite file. It is safe for concurrent use, also
// by several processes sharing the file.
type Store struct {
	db   *sql.DB
	ring *seal.KeyRing
	now  func() time.Time
	log  *zap.Logger
	poll storeutil.Backoff
	// stmts holds the hot queries prepared once (query → *sql.Stmt): SQLite
	// otherwise parses a query on every call, which dominated a webhook's
	// link lookup.
	stmts sync.Map
}

var (
	_ ohx.Store       = (*Store)(nil)
	_ store.Store     = (*Store)(nil)
	_ store.Rewrapper = (*Store)(nil)
)

type options struct {
	storeutil.Options
	busyTimeout time.Duration
}

// Option configures Open.
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

// WithBusyTimeout sets how long a statement waits for another connection's
// write lock before failing; default 5s.
func WithBusyTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.busyTimeout = d
		}
	}
}

// WithLockPolling sets the backoff of Lock waiters: the first wait and its
// cap (doubling in between, with jitter); default 5ms and 250ms.
func WithLockPolling(first, cap time.Duration) Option {
	return func(o *options) { o.SetPolling(first, cap) }
}

// Open opens (creating if needed) the SQLite database at path, with mode
// 0600, and migrates its schema. ring seals the tokens and is required.
func Open(ctx context.Context, path string, ring *seal.KeyRing, opts ...Option) (*Store, error) {
	if ring == nil {
		return nil, errors.New("sqlite: a key ring is required to seal tokens")
	}
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, errors.New("sqlite: path must be a plain file path (no URI, no '?' or '#', not :memory:)")
	}
	o := options{Options: storeutil.DefaultOptions(), busyTimeout: 5 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	if err := createPrivate(path); err != nil {
		return nil, err
	}
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		path, o.busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	s := &Store{db: db, ring: ring, now: o.Now, log: o.Log, poll: o.Poll}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate makes sure the database file exists with mode 0600. SQLite
// gives its -wal and -shm files the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: create database file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("sqlite: database file: %w", err)
	}
	if fi.Mode().Perm() != 0o600 {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("sqlite: restricting database file to mode 0600: %w", err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool {
		_ = v.(*sql.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// prepared returns query prepared once for the store's life. Only queries
// written in the code go through it, so the cache is bounded.
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if v, ok := s.stmts.Load(query); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if v, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// SchemaVersion returns the version of the applied schema.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("sqlite: schema version: %w", err)
	}
	return v, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlite: migrations table: %w", err)
	}
	for {
		done, err := s.migrateOne(ctx)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration in its own IMMEDIATE transaction,
// so that processes opening the file at once apply each migration once.
func (s *Store) migrateOne(ctx context.Context) (done bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, fmt.Errorf("sqlite: migrate: %w", err)
	}
	if v > len(migrations) {
		return false, fmt.Errorf("sqlite: database schema version %d is newer than this build supports (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v+1, s.now().UnixNano()); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	s.log.Info("applied schema migration", zap.Int("version", v+1))
	return false, nil
}

func nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

const linkColumns = `id, provider, external_user_id, legacy_user_id, patient, scopes, data_types, time_zone, frequency, status, created_at, updated_at`

type scanner = storeutil.Scanner

func scanLink(r scanner) (ohx.Link, error) {
	var (
		l                ohx.Link
		scopes, types    string
		created, updated int64
	)
	if err := r.Scan(&l.ID, &l.Provider, &l.ExternalUserID, &l.LegacyUserID, &l.Patient, &scopes, &types,
		&l.TimeZone, &l.Frequency, &l.Status, &created, &updated); err != nil {
		return ohx.Link{}, err
	}
	var err error
	if l.Scopes, err = storeutil.DecodeStrings[string](scopes); err != nil {
		return ohx.Link{}, fmt.Errorf("link %q: scopes: %w", l.ID, err)
	}
	if l.DataTypes, err = storeutil.DecodeStrings[ohx.DataType](types); err != nil {
		return ohx.Link{}, fmt.Errorf("link %q: data types: %w", l.ID, err)
	}
	l.Created, l.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return l, nil
}

func (s *Store) queryLinks(ctx context.Context, op, query string, args ...any) ([]ohx.Link, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer func() { _ = rows.Close() }()
	out, err := storeutil.Collect(rows, scanLink)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return out, nil
}

func (s *Store) oneLink(ctx context.Context, op, query string, args ...any) (ohx.Link, error) {
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return ohx.Link{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	l, err := scanLink(stmt.QueryRowContext(ctx, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return ohx.Link{}, ohx.ErrNotFound
	}
	if err != nil {
		return ohx.Link{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return l, nil
}

// Link implements ohx.LinkFinder.
func (s *Store) Link(ctx context.Context, id string) (ohx.Link, error) {
	return s.oneLink(ctx, "link", `SELECT `+linkColumns+` FROM links WHERE id = ?`, id)
}

// LinkByExternalUser implements ohx.LinkFinder. Among several links of one
// provider user it prefers an active one, then the most recently updated.
func (s *Store) LinkByExternalUser(ctx context.Context, provider, externalUserID string) (ohx.Link, error) {
	if externalUserID == "" {
		return ohx.Link{}, ohx.ErrNotFound
	}
	return s.oneLink(ctx, "link by external user", `SELECT `+linkColumns+` FROM links
		WHERE provider = ? AND external_user_id = ? ORDER BY `+storeutil.ExternalOrder+` LIMIT 1`, provider, externalUserID)
}

// LinksByPatient implements ohx.LinkFinder; links come ordered by id.
func (s *Store) LinksByPatient(ctx context.Context, patient string) ([]ohx.Link, error) {
	return s.queryLinks(ctx, "links by patient", `SELECT `+linkColumns+` FROM links WHERE patient = ? ORDER BY id`, patient)
}

// Links implements store.LinkLister.
func (s *Store) Links(ctx context.Context, q store.LinkQuery) ([]ohx.Link, error) {
	limit := -1
	if q.Limit > 0 {
		limit = q.Limit
	}
	return s.queryLinks(ctx, "links", `SELECT `+linkColumns+` FROM links
		WHERE id > ? AND (? = '' OR provider = ?) AND (? = '' OR status = ?)
		ORDER BY id LIMIT ?`, q.AfterID, q.Provider, q.Provider, q.Status, q.Status, limit)
}

// SaveLink implements ohx.LinkWriter. The store sets Updated; Created is kept
// from the stored link, else taken from l, else now.
func (s *Store) SaveLink(ctx context.Context, l ohx.Link) error {
	if l.ID == "" {
		return storeutil.ErrNoID
	}
	return s.saveLink(ctx, s.db, l)
}

// execer is a database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) saveLink(ctx context.Context, ex execer, l ohx.Link) error {
	now := s.now().UnixNano()
	created := now
	if !l.Created.IsZero() {
		created = l.Created.UnixNano()
	}
	_, err := ex.ExecContext(ctx, `INSERT INTO links (`+linkColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, external_user_id = excluded.external_user_id,
			legacy_user_id = excluded.legacy_user_id, patient = excluded.patient, scopes = excluded.scopes,
			data_types = excluded.data_types, time_zone = excluded.time_zone, frequency = excluded.frequency,
			status = excluded.status, updated_at = excluded.updated_at`,
		l.ID, l.Provider, l.ExternalUserID, l.LegacyUserID, l.Patient, storeutil.EncodeStrings(l.Scopes),
		storeutil.EncodeStrings(l.DataTypes), l.TimeZone, string(l.Frequency), string(l.Status), created, now)
	if err != nil {
		return fmt.Errorf("sqlite: save link %q: %w", l.ID, err)
	}
	return nil
}

// DeleteLink implements ohx.LinkWriter: it deletes the link with its token,
// cursors and sync status in one transaction.
func (s *Store) DeleteLink(ctx context.Context, id string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: delete link %q: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := deleteLink(ctx, tx, id); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: delete link %q: %w", id, err)
	}
	return nil
}

// deleteLink deletes the link and what belongs to it.
func deleteLink(ctx context.Context, ex execer, id string) error {
	for _, table := range []string{"links WHERE id = ?", "tokens WHERE link_id = ?", "cursors WHERE link_id = ?",
		"sync_status WHERE link_id = ?", "initial_syncs WHERE link_id = ?"} {
		if _, err := ex.ExecContext(ctx, `DELETE FROM `+table, id); err != nil {
			return fmt.Errorf("sqlite: delete link %q: %w", id, err)
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
		expiry sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT access_token, refresh_token, token_type, expiry, scope FROM tokens WHERE link_id = ?`, linkID).
		Scan(&st.AccessToken, &st.RefreshToken, &st.TokenType, &expiry, &st.Scope)
	if errors.Is(err, sql.ErrNoRows) {
		return ohx.Token{}, ohx.ErrNotFound
	}
	if err != nil {
		return ohx.Token{}, fmt.Errorf("sqlite: token of link %q: %w", linkID, err)
	}
	st.Expiry = fromNanos(expiry)
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
	return s.writeSealed(ctx, linkID, st)
}

func (s *Store) writeSealed(ctx context.Context, linkID string, st store.SealedToken) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (link_id, access_token, refresh_token, token_type, expiry, scope, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (link_id) DO UPDATE SET access_token = excluded.access_token, refresh_token = excluded.refresh_token,
			token_type = excluded.token_type, expiry = excluded.expiry, scope = excluded.scope, updated_at = excluded.updated_at`,
		linkID, st.AccessToken, st.RefreshToken, st.TokenType, nanos(st.Expiry), st.Scope, s.now().UnixNano())
	if err != nil {
		return fmt.Errorf("sqlite: save token of link %q: %w", linkID, err)
	}
	return nil
}

// Rewrap implements store.Rewrapper: it re-seals under the primary key every
// token sealed under another key and returns how many it rewrote. A token
// replaced concurrently is left alone (the new one already uses the
// primary). Tokens that fail to open are reported in the error, by link id,
// after the others were rewrapped.
func (s *Store) Rewrap(ctx context.Context) (int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT link_id, access_token, refresh_token FROM tokens ORDER BY link_id`)
	if err != nil {
		return 0, fmt.Errorf("sqlite: rewrap: %w", err)
	}
	all, err := storeutil.Collect(rows, storeutil.ScanTokenRow)
	_ = rows.Close()
	if err != nil {
		return 0, fmt.Errorf("sqlite: rewrap: %w", err)
	}
	stale := slices.DeleteFunc(all, func(r storeutil.TokenRow) bool {
		return !s.ring.NeedsRewrap(r.Access) && !s.ring.NeedsRewrap(r.Refresh)
	})
	n := 0
	var errs []error
	for _, r := range stale {
		nu, _, err := store.RewrapToken(s.ring, r.LinkID, store.SealedToken{AccessToken: r.Access, RefreshToken: r.Refresh})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res, err := s.db.ExecContext(ctx, `UPDATE tokens SET access_token = ?, refresh_token = ?
			WHERE link_id = ? AND access_token = ? AND refresh_token = ?`, nu.AccessToken, nu.RefreshToken, r.LinkID, r.Access, r.Refresh)
		if err != nil {
			return n, fmt.Errorf("sqlite: rewrap token of link %q: %w", r.LinkID, err)
		}
		if c, _ := res.RowsAffected(); c == 1 {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Cursors implements ohx.CursorStore.
func (s *Store) Cursors(ctx context.Context, linkID string) (map[ohx.DataType]time.Time, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data_type, at FROM cursors WHERE link_id = ?`, linkID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: cursors of link %q: %w", linkID, err)
	}
	defer func() { _ = rows.Close() }()
	out, err := storeutil.CollectMap(rows, func(r scanner) (ohx.DataType, time.Time, error) {
		var (
			t  ohx.DataType
			at int64
		)
		err := r.Scan(&t, &at)
		return t, time.Unix(0, at).UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: cursors of link %q: %w", linkID, err)
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
	_, err := s.db.ExecContext(ctx, `INSERT INTO cursors (link_id, data_type, at) VALUES (?, ?, ?)
		ON CONFLICT (link_id, data_type) DO UPDATE SET at = excluded.at WHERE excluded.at > cursors.at`,
		linkID, string(t), at.UnixNano())
	if err != nil {
		return fmt.Errorf("sqlite: advance cursor of link %q: %w", linkID, err)
	}
	return nil
}

const syncColumns = `data_type, last_attempt, last_success, last_error_at, last_error_kind, last_error, successes, failures, consecutive_failures, items, samples`

func scanSync(r scanner) (store.SyncStatus, error) {
	var (
		st                   store.SyncStatus
		attempt, succ, errAt sql.NullInt64
	)
	if err := r.Scan(&st.DataType, &attempt, &succ, &errAt, &st.LastErrorKind, &st.LastError,
		&st.Successes, &st.Failures, &st.ConsecutiveFailures, &st.Items, &st.SamplesRead); err != nil {
		return st, err
	}
	st.LastAttempt, st.LastSuccess, st.LastErrorAt = fromNanos(attempt), fromNanos(succ), fromNanos(errAt)
	return st, nil
}

// RecordSync implements store.SyncStatusStore.
func (s *Store) RecordSync(ctx context.Context, linkID string, t ohx.DataType, r store.SyncResult) error {
	if linkID == "" {
		return storeutil.ErrNoID
	}
	tx, err := s.db.BeginTx(ctx, nil) // IMMEDIATE: the read below holds the write lock
	if err != nil {
		return fmt.Errorf("sqlite: record sync of link %q: %w", linkID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.recordSync(ctx, tx, linkID, t, r); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: record sync of link %q: %w", linkID, err)
	}
	return nil
}

// recordSync folds r into the status of (link, t) within tx.
func (s *Store) recordSync(ctx context.Context, tx *sql.Tx, linkID string, t ohx.DataType, r store.SyncResult) error {
	if r.At.IsZero() {
		r.At = s.now()
	}
	r.At = r.At.UTC()
	st, err := scanSync(tx.QueryRowContext(ctx, `SELECT `+syncColumns+` FROM sync_status WHERE link_id = ? AND data_type = ?`, linkID, string(t)))
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: record sync of link %q: %w", linkID, err)
	}
	st.DataType = t
	st = st.Apply(r)
	_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO sync_status (link_id, `+syncColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		linkID, string(t), nanos(st.LastAttempt), nanos(st.LastSuccess), nanos(st.LastErrorAt), st.LastErrorKind, st.LastError,
		st.Successes, st.Failures, st.ConsecutiveFailures, st.Items, st.SamplesRead)
	if err != nil {
		return fmt.Errorf("sqlite: record sync of link %q: %w", linkID, err)
	}
	return nil
}

// SyncStatus implements store.SyncStatusStore.
func (s *Store) SyncStatus(ctx context.Context, linkID string) (map[ohx.DataType]store.SyncStatus, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+syncColumns+` FROM sync_status WHERE link_id = ?`, linkID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: sync status of link %q: %w", linkID, err)
	}
	defer func() { _ = rows.Close() }()
	out, err := storeutil.CollectMap(rows, func(r scanner) (ohx.DataType, store.SyncStatus, error) {
		st, err := scanSync(r)
		return st.DataType, st, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: sync status of link %q: %w", linkID, err)
	}
	return out, nil
}

// Lock implements ohx.Locker with a lease row: it takes the row when it is
// absent or expired, else polls with backoff until it can or ctx ends. The
// returned release deletes the row only while this holder still owns it, so
// a holder whose lease expired and was taken over frees nothing.
func (s *Store) Lock(ctx context.Context, name string, lease time.Duration) (func(), error) {
	holder, err := storeutil.TakeLease(ctx, "sqlite", name, lease, s.poll, func(holder string) (bool, error) {
		now := s.now()
		res, err := s.db.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.expires_at <= ?`, name, holder, now.Add(lease).UnixNano(), now.UnixNano())
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return err == nil && n == 1, nil
	})
	if err != nil {
		return nil, err
	}
	return storeutil.Releaser(s.log, name, func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder)
		return err
	}), nil
}
