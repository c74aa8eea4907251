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
	_ store.ConnectStore = (*Store)(nil)
	_ store.TokenDeleter = (*Store)(nil)
)

const flowColumns = `id, link_id, provider, data_types, success_url, error_url, created_at, expires_at, opened_at, browser, consumed_at`

func scanFlow(r scanner) (store.ConnectFlow, error) {
	var (
		f                store.ConnectFlow
		types            string
		created, expires int64
		opened, consumed sql.NullInt64
	)
	if err := r.Scan(&f.ID, &f.LinkID, &f.Provider, &types, &f.SuccessURL, &f.ErrorURL, &created, &expires,
		&opened, &f.Browser, &consumed); err != nil {
		return f, err
	}
	var err error
	if f.DataTypes, err = storeutil.DecodeStrings[ohx.DataType](types); err != nil {
		return f, fmt.Errorf("connect flow: data types: %w", err)
	}
	f.Created, f.Expires = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	f.Opened, f.Consumed = fromNanos(opened), fromNanos(consumed)
	return f, nil
}

// CreateConnectFlow implements store.ConnectStore.
func (s *Store) CreateConnectFlow(ctx context.Context, f store.ConnectFlow) error {
	if f.ID == "" {
		return storeutil.ErrNoID
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO connect_flows (`+flowColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.LinkID, f.Provider, storeutil.EncodeStrings(f.DataTypes), f.SuccessURL, f.ErrorURL,
		f.Created.UnixNano(), f.Expires.UnixNano(), nanos(f.Opened), f.Browser, nanos(f.Consumed))
	if err != nil {
		return fmt.Errorf("sqlite: create connect flow: %w", err)
	}
	return nil
}

// transitionFlow reads flow id, applies step and writes the flow back when
// step says so, in one IMMEDIATE transaction.
func (s *Store) transitionFlow(ctx context.Context, op, id string, step func(store.ConnectFlow) (store.ConnectFlow, bool, error)) (store.ConnectFlow, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.ConnectFlow{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }()
	f, err := scanFlow(tx.QueryRowContext(ctx, `SELECT `+flowColumns+` FROM connect_flows WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.ConnectFlow{}, ohx.ErrNotFound
	}
	if err != nil {
		return store.ConnectFlow{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	f, write, err := step(f)
	if err != nil {
		return store.ConnectFlow{}, err
	}
	if write {
		if _, err := tx.ExecContext(ctx, `UPDATE connect_flows SET opened_at = ?, browser = ?, consumed_at = ? WHERE id = ?`,
			nanos(f.Opened), f.Browser, nanos(f.Consumed), id); err != nil {
			return store.ConnectFlow{}, fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return store.ConnectFlow{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return f, nil
}

// OpenConnectFlow implements store.ConnectStore.
func (s *Store) OpenConnectFlow(ctx context.Context, id, browser string, now time.Time) (store.ConnectFlow, error) {
	return s.transitionFlow(ctx, "open connect flow", id, func(f store.ConnectFlow) (store.ConnectFlow, bool, error) {
		return store.OpenFlow(f, browser, now)
	})
}

// ConsumeConnectFlow implements store.ConnectStore.
func (s *Store) ConsumeConnectFlow(ctx context.Context, id, browser string, now time.Time) (store.ConnectFlow, error) {
	return s.transitionFlow(ctx, "consume connect flow", id, func(f store.ConnectFlow) (store.ConnectFlow, bool, error) {
		f, err := store.ConsumeFlow(f, browser, now)
		return f, err == nil, err
	})
}

// DeleteConnectFlows implements store.ConnectStore.
func (s *Store) DeleteConnectFlows(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM connect_flows WHERE expires_at < ?`, before.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("sqlite: delete connect flows: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// DeleteToken implements store.TokenDeleter.
func (s *Store) DeleteToken(ctx context.Context, linkID string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM tokens WHERE link_id = ?`, linkID); err != nil {
		return fmt.Errorf("sqlite: delete token of link %q: %w", linkID, err)
	}
	return nil
}
