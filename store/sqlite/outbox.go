package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
)

var (
	_ store.Changer          = (*Store)(nil)
	_ store.InitialSyncStore = (*Store)(nil)
	_ store.Outbox           = (*Store)(nil)
)

// Apply implements store.Changer in one IMMEDIATE transaction.
func (s *Store) Apply(ctx context.Context, c store.Change) error {
	if err := c.Check(); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: change of link %q: %w", c.LinkID, err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.apply(ctx, tx, c); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: change of link %q: %w", c.LinkID, err)
	}
	return nil
}

func (s *Store) apply(ctx context.Context, tx *sql.Tx, c store.Change) error {
	if c.IfStatus != "" {
		var status string
		err := tx.QueryRowContext(ctx, `SELECT status FROM links WHERE id = ?`, c.LinkID).Scan(&status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ohx.ErrNotFound
		case err != nil:
			return fmt.Errorf("sqlite: change of link %q: %w", c.LinkID, err)
		case ohx.LinkStatus(status) != c.IfStatus:
			return store.ErrStatusChanged
		}
	}
	if c.Delete {
		if err := deleteLink(ctx, tx, c.LinkID); err != nil {
			return err
		}
	}
	if c.Link != nil {
		if err := s.saveLink(ctx, tx, *c.Link); err != nil {
			return err
		}
	}
	if c.DeleteToken {
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE link_id = ?`, c.LinkID); err != nil {
			return fmt.Errorf("sqlite: delete token of link %q: %w", c.LinkID, err)
		}
	}
	if c.Initial != nil {
		in := *c.Initial
		if in.Updated.IsZero() {
			in.Updated = s.now()
		}
		_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO initial_syncs
			(link_id, state, job_id, error_kind, attempts, started_at, finished_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.LinkID, string(in.State), in.JobID, in.ErrorKind, in.Attempts, nanos(in.Started), nanos(in.Finished), in.Updated.UnixNano())
		if err != nil {
			return fmt.Errorf("sqlite: initial sync of link %q: %w", c.LinkID, err)
		}
	}
	for _, ts := range c.Syncs {
		if err := s.recordSync(ctx, tx, c.LinkID, ts.Type, ts.Result); err != nil {
			return err
		}
	}
	now := s.now().UnixNano()
	for _, e := range c.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO event_outbox (id, type, link_id, payload, created_at, state) VALUES (?, ?, ?, ?, ?, ?)`,
			e.ID, e.Type, e.LinkID, e.Payload, now, string(store.EventPending)); err != nil {
			return fmt.Errorf("sqlite: add event of link %q: %w", c.LinkID, err)
		}
	}
	return nil
}

// InitialSync implements store.InitialSyncStore.
func (s *Store) InitialSync(ctx context.Context, linkID string) (store.InitialSync, error) {
	var (
		in                         store.InitialSync
		state                      string
		started, finished, updated sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT state, job_id, error_kind, attempts, started_at, finished_at, updated_at
		FROM initial_syncs WHERE link_id = ?`, linkID).Scan(&state, &in.JobID, &in.ErrorKind, &in.Attempts, &started, &finished, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return store.InitialSync{}, ohx.ErrNotFound
	}
	if err != nil {
		return store.InitialSync{}, fmt.Errorf("sqlite: initial sync of link %q: %w", linkID, err)
	}
	in.State = store.InitialState(state)
	in.Started, in.Finished, in.Updated = fromNanos(started), fromNanos(finished), fromNanos(updated)
	return in, nil
}

const eventColumns = `id, type, link_id, payload, created_at, state, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, seq`

func scanEvent(r scanner) (storeutil.Sequenced[store.OutboxEvent], error) {
	var (
		row                       storeutil.Sequenced[store.OutboxEvent]
		state                     string
		created                   int64
		next, last, deliveredTime sql.NullInt64
	)
	e := &row.Value
	if err := r.Scan(&e.ID, &e.Type, &e.LinkID, &e.Payload, &created, &state, &e.Attempts, &next, &last, &e.LastError, &deliveredTime, &row.Seq); err != nil {
		return row, err
	}
	e.State = store.EventState(state)
	e.Created = time.Unix(0, created).UTC()
	e.NextAttempt, e.LastAttempt, e.Delivered = fromNanos(next), fromNanos(last), fromNanos(deliveredTime)
	return row, nil
}

// queryEvents runs query and returns its entries ordered by seq, ascending
// or descending.
func (s *Store) queryEvents(ctx context.Context, op string, desc bool, query string, args ...any) ([]store.OutboxEvent, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer func() { _ = rows.Close() }()
	got, err := storeutil.Collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return storeutil.InSeqOrder(got, desc), nil
}

// ClaimEvents implements store.Outbox with one UPDATE under the database's
// write lock.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error) {
	return s.queryEvents(ctx, "claim events", false, `UPDATE event_outbox
		SET attempts = attempts + 1, last_attempt_at = ?, next_attempt_at = ?
		WHERE seq IN (SELECT seq FROM event_outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
			ORDER BY seq LIMIT ?)
		RETURNING `+eventColumns, now.UnixNano(), now.Add(lease).UnixNano(), now.UnixNano(), limit)
}

// SettleEvent implements store.Outbox.
func (s *Store) SettleEvent(ctx context.Context, id string, a store.Attempt) error {
	var err error
	switch {
	case a.Delivered:
		_, err = s.db.ExecContext(ctx, `UPDATE event_outbox SET state = 'delivered', delivered_at = ?, next_attempt_at = NULL
			WHERE id = ? AND state = 'pending'`, a.At.UnixNano(), id)
	case a.Retry.IsZero():
		_, err = s.db.ExecContext(ctx, `UPDATE event_outbox SET state = 'dead', last_error = ?, next_attempt_at = NULL
			WHERE id = ? AND state = 'pending'`, a.Error, id)
	default:
		_, err = s.db.ExecContext(ctx, `UPDATE event_outbox SET last_error = ?, next_attempt_at = ?
			WHERE id = ? AND state = 'pending'`, a.Error, a.Retry.UnixNano(), id)
	}
	if err != nil {
		return fmt.Errorf("sqlite: settle event %q: %w", id, err)
	}
	return nil
}

// Events implements store.Outbox.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.OutboxEvent, error) {
	return s.queryEvents(ctx, "events", true, `SELECT `+eventColumns+` FROM event_outbox
		WHERE (? = '' OR state = ?) AND (? = '' OR link_id = ?) ORDER BY seq DESC LIMIT ?`,
		string(q.State), string(q.State), q.LinkID, q.LinkID, q.EffectiveLimit())
}

// ReplayEvent implements store.Outbox.
func (s *Store) ReplayEvent(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE event_outbox SET state = 'pending', attempts = 0, next_attempt_at = NULL
		WHERE id = ? AND state = 'dead'`, id)
	if err != nil {
		return fmt.Errorf("sqlite: replay event %q: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return nil
	}
	var state string
	if err := s.db.QueryRowContext(ctx, `SELECT state FROM event_outbox WHERE id = ?`, id).Scan(&state); errors.Is(err, sql.ErrNoRows) {
		return ohx.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("sqlite: replay event %q: %w", id, err)
	}
	return store.ErrNotDead
}

// PruneEvents implements store.Outbox.
func (s *Store) PruneEvents(ctx context.Context, deliveredBefore, deadBefore time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM event_outbox
		WHERE (state = 'delivered' AND delivered_at < ?) OR (state = 'dead' AND last_attempt_at < ?)`,
		deliveredBefore.UnixNano(), deadBefore.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune events: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
