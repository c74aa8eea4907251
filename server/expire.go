package server

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// expireEvery is how often the scheduler deletes expired pending links and
// connect flows.
const expireEvery = 5 * time.Minute

// expirePending deletes the links that stayed pending longer than
// PendingLinkTTL, each with link.expired (expireLink, audited as
// "link.expired"), and the connect flows whose page and state can no longer
// be used.
func (s *Server) expirePending(ctx context.Context, _ time.Time) error {
	now := s.cfg.Now()
	cutoff := now.Add(-s.cfg.PendingLinkTTL)
	q := store.LinkQuery{Status: ohx.LinkPending, Limit: linkPage}
	for {
		page, err := s.cfg.Store.Links(ctx, q)
		if err != nil {
			return err
		}
		for _, l := range page {
			if l.Created.IsZero() || !l.Created.Before(cutoff) {
				continue
			}
			err := s.expireLink(ctx, l)
			if errors.Is(err, store.ErrStatusChanged) || errors.Is(err, ohx.ErrNotFound) {
				continue // completed or deleted meanwhile
			}
			if err != nil {
				return err
			}
		}
		if len(page) < linkPage || page[len(page)-1].ID <= q.AfterID {
			break
		}
		q.AfterID = page[len(page)-1].ID
	}
	n, err := s.cfg.Store.DeleteConnectFlows(ctx, now.Add(-s.cfg.StateTTL))
	if err != nil {
		return err
	}
	if n > 0 {
		s.cfg.Logger.Info("expired connect flows deleted", zap.Int("flows", n))
	}
	return nil
}
