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
	_ store.ConnectStore = (*Store)(nil)
	_ store.TokenDeleter = (*Store)(nil)
)

const flowColumns = `id, link_id, provider, data_types, success_url, error_url, created_at, expires_at, opened_at, browser, consumed_at`

func scanFlow(r pgx.Row) (store.ConnectFlow, error) {
	var (
		f                store.ConnectFlow
		types            []string
		opened, consumed *time.Time
	)
	if err := r.Scan(&f.ID, &f.LinkID, &f.Provider, &types, &f.SuccessURL, &f.ErrorURL, &f.Created, &f.Expires,
		&opened, &f.Browser, &consumed); err != nil {
		return f, err
	}
	for _, t := range types {
		f.DataTypes = append(f.DataTypes, ohx.DataType(t))
	}
	f.Created, f.Expires = f.Created.UTC(), f.Expires.UTC()
	f.Opened, f.Consumed = fromTS(opened), fromTS(consumed)
	return f, nil
}

// CreateConnectFlow implements store.ConnectStore.
func (s *Store) CreateConnectFlow(ctx context.Context, f store.ConnectFlow) error {
	if f.ID == "" {
		return storeutil.ErrNoID
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO connect_flows (`+flowColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		f.ID, f.LinkID, f.Provider, dataTypeStrings(f.DataTypes), f.SuccessURL, f.ErrorURL,
		f.Created.UTC(), f.Expires.UTC(), ts(f.Opened), f.Browser, ts(f.Consumed))
	if err != nil {
		return fmt.Errorf("postgres: create connect flow: %w", err)
	}
	return nil
}

// transitionFlow reads flow id under a row lock, applies step and writes
// the flow back when step says so, in one transaction.
func (s *Store) transitionFlow(ctx context.Context, op, id string, step func(store.ConnectFlow) (store.ConnectFlow, bool, error)) (store.ConnectFlow, error) {
	var out store.ConnectFlow
	var stepErr error
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		f, err := scanFlow(tx.QueryRow(ctx, `SELECT `+flowColumns+` FROM connect_flows WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		f, write, err := step(f)
		if err != nil {
			stepErr = err
			return nil
		}
		if write {
			if _, err := tx.Exec(ctx, `UPDATE connect_flows SET opened_at = $1, browser = $2, consumed_at = $3 WHERE id = $4`,
				ts(f.Opened), f.Browser, ts(f.Consumed), id); err != nil {
				return err
			}
		}
		out = f
		return nil
	})
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.ConnectFlow{}, ohx.ErrNotFound
	case err != nil:
		return store.ConnectFlow{}, fmt.Errorf("postgres: %s: %w", op, err)
	case stepErr != nil:
		return store.ConnectFlow{}, stepErr
	}
	return out, nil
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
	tag, err := s.pool.Exec(ctx, `DELETE FROM connect_flows WHERE expires_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("postgres: delete connect flows: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteToken implements store.TokenDeleter.
func (s *Store) DeleteToken(ctx context.Context, linkID string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE link_id = $1`, linkID); err != nil {
		return fmt.Errorf("postgres: delete token of link %q: %w", linkID, err)
	}
	return nil
}
