package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
)

var (
	_ store.Changer          = (*Store)(nil)
	_ store.InitialSyncStore = (*Store)(nil)
	_ store.Outbox           = (*Store)(nil)
)

// Apply implements store.Changer in one transaction; a conditional change
// locks the link's row first.
func (s *Store) Apply(ctx context.Context, c store.Change) error {
	if err := c.Check(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.apply(ctx, tx, c) })
}

func (s *Store) apply(ctx context.Context, tx pgx.Tx, c store.Change) error {
	if c.IfStatus != "" {
		var status string
		err := tx.QueryRow(ctx, `SELECT status FROM links WHERE id = $1 FOR UPDATE`, c.LinkID).Scan(&status)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return ohx.ErrNotFound
		case err != nil:
			return fmt.Errorf("postgres: change of link %q: %w", c.LinkID, err)
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
		if _, err := tx.Exec(ctx, `DELETE FROM tokens WHERE link_id = $1`, c.LinkID); err != nil {
			return fmt.Errorf("postgres: delete token of link %q: %w", c.LinkID, err)
		}
	}
	if c.Initial != nil {
		in := *c.Initial
		if in.Updated.IsZero() {
			in.Updated = s.now()
		}
		_, err := tx.Exec(ctx, `INSERT INTO initial_syncs
			(link_id, state, job_id, error_kind, attempts, started_at, finished_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (link_id) DO UPDATE SET state = excluded.state, job_id = excluded.job_id, error_kind = excluded.error_kind,
				attempts = excluded.attempts, started_at = excluded.started_at, finished_at = excluded.finished_at,
				updated_at = excluded.updated_at`,
			c.LinkID, string(in.State), in.JobID, in.ErrorKind, in.Attempts, ts(in.Started), ts(in.Finished), in.Updated.UTC())
		if err != nil {
			return fmt.Errorf("postgres: initial sync of link %q: %w", c.LinkID, err)
		}
	}
	for _, t := range c.Syncs {
		if err := s.recordSync(ctx, tx, c.LinkID, t.Type, t.Result); err != nil {
			return err
		}
	}
	now := s.now().UTC()
	for _, e := range c.Events {
		if _, err := tx.Exec(ctx, `INSERT INTO event_outbox (id, type, link_id, payload, created_at, state) VALUES ($1, $2, $3, $4, $5, $6)`,
			e.ID, e.Type, e.LinkID, e.Payload, now, string(store.EventPending)); err != nil {
			return fmt.Errorf("postgres: add event of link %q: %w", c.LinkID, err)
		}
	}
	return nil
}

// InitialSync implements store.InitialSyncStore.
func (s *Store) InitialSync(ctx context.Context, linkID string) (store.InitialSync, error) {
	var (
		in                store.InitialSync
		state             string
		started, finished *time.Time
	)
	err := s.pool.QueryRow(ctx, `SELECT state, job_id, error_kind, attempts, started_at, finished_at, updated_at
		FROM initial_syncs WHERE link_id = $1`, linkID).Scan(&state, &in.JobID, &in.ErrorKind, &in.Attempts, &started, &finished, &in.Updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.InitialSync{}, ohx.ErrNotFound
	}
	if err != nil {
		return store.InitialSync{}, fmt.Errorf("postgres: initial sync of link %q: %w", linkID, err)
	}
	in.State = store.InitialState(state)
	in.Started, in.Finished, in.Updated = fromTS(started), fromTS(finished), in.Updated.UTC()
	return in, nil
}

const eventColumns = `id, type, link_id, payload, created_at, state, attempts, next_attempt_at, last_attempt_at, last_error, delivered_at, seq`

func scanEvent(r storeutil.Scanner) (storeutil.Sequenced[store.OutboxEvent], error) {
	var (
		row                       storeutil.Sequenced[store.OutboxEvent]
		state                     string
		next, last, deliveredTime *time.Time
	)
	e := &row.Value
	if err := r.Scan(&e.ID, &e.Type, &e.LinkID, &e.Payload, &e.Created, &state, &e.Attempts, &next, &last,
		&e.LastError, &deliveredTime, &row.Seq); err != nil {
		return row, err
	}
	e.State, e.Created = store.EventState(state), e.Created.UTC()
	e.NextAttempt, e.LastAttempt, e.Delivered = fromTS(next), fromTS(last), fromTS(deliveredTime)
	return row, nil
}

// queryEvents runs query and returns its entries ordered by seq, ascending
// or descending.
func (s *Store) queryEvents(ctx context.Context, op string, desc bool, query string, args ...any) ([]store.OutboxEvent, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	defer rows.Close()
	got, err := storeutil.Collect(rows, scanEvent)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	return storeutil.InSeqOrder(got, desc), nil
}

// ClaimEvents implements store.Outbox: one UPDATE whose rows are locked with
// SKIP LOCKED, so that replicas claiming at once take disjoint entries.
func (s *Store) ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.OutboxEvent, error) {
	return s.queryEvents(ctx, "claim events", false, `UPDATE event_outbox
		SET attempts = attempts + 1, last_attempt_at = $1, next_attempt_at = $2
		WHERE seq IN (SELECT seq FROM event_outbox WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
			ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING `+eventColumns, now.UTC(), now.Add(lease).UTC(), limit)
}

// SettleEvent implements store.Outbox.
func (s *Store) SettleEvent(ctx context.Context, id string, a store.Attempt) error {
	var err error
	switch {
	case a.Delivered:
		_, err = s.pool.Exec(ctx, `UPDATE event_outbox SET state = 'delivered', delivered_at = $2, next_attempt_at = NULL
			WHERE id = $1 AND state = 'pending'`, id, a.At.UTC())
	case a.Retry.IsZero():
		_, err = s.pool.Exec(ctx, `UPDATE event_outbox SET state = 'dead', last_error = $2, next_attempt_at = NULL
			WHERE id = $1 AND state = 'pending'`, id, a.Error)
	default:
		_, err = s.pool.Exec(ctx, `UPDATE event_outbox SET last_error = $2, next_attempt_at = $3
			WHERE id = $1 AND state = 'pending'`, id, a.Error, a.Retry.UTC())
	}
	if err != nil {
		return fmt.Errorf("postgres: settle event %q: %w", id, err)
	}
	return nil
}

// Events implements store.Outbox.
func (s *Store) Events(ctx context.Context, q store.EventQuery) ([]store.OutboxEvent, error) {
	return s.queryEvents(ctx, "events", true, `SELECT `+eventColumns+` FROM event_outbox
		WHERE ($1 = '' OR state = $1) AND ($2 = '' OR link_id = $2) ORDER BY seq DESC LIMIT $3`,
		string(q.State), q.LinkID, q.EffectiveLimit())
}

// ReplayEvent implements store.Outbox.
func (s *Store) ReplayEvent(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE event_outbox SET state = 'pending', attempts = 0, next_attempt_at = NULL
		WHERE id = $1 AND state = 'dead'`, id)
	if err != nil {
		return fmt.Errorf("postgres: replay event %q: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var state string
	if err := s.pool.QueryRow(ctx, `SELECT state FROM event_outbox WHERE id = $1`, id).Scan(&state); errors.Is(err, pgx.ErrNoRows) {
		return ohx.ErrNotFound
	} else if err != nil {
		return fmt.Errorf("postgres: replay event %q: %w", id, err)
	}
	return store.ErrNotDead
}

// PruneEvents implements store.Outbox.
func (s *Store) PruneEvents(ctx context.Context, deliveredBefore, deadBefore time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_outbox
		WHERE (state = 'delivered' AND delivered_at < $1) OR (state = 'dead' AND last_attempt_at < $2)`,
		deliveredBefore.UTC(), deadBefore.UTC())
	if err != nil {
		return 0, fmt.Errorf("postgres: prune events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
