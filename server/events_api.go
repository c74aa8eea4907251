package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// eventView is an outbox entry as GET /v1/events shows it.
type eventView struct {
	ID          string           `json:"id"`
	Type        string           `json:"type"`
	LinkID      string           `json:"link_id"`
	State       store.EventState `json:"state"`
	Attempts    int              `json:"attempts"`
	Created     time.Time        `json:"created"`
	NextAttempt time.Time        `json:"next_attempt,omitzero"`
	LastAttempt time.Time        `json:"last_attempt,omitzero"`
	LastError   string           `json:"last_error,omitempty"`
	Delivered   time.Time        `json:"delivered,omitzero"`
	Event       json.RawMessage  `json:"event"`
}

// eventOutbox returns the outbox, or answers 501 when events are not
// configured.
func (s *Server) eventOutbox(w http.ResponseWriter) (eventStore, bool) {
	if s.outbox == nil {
		writeError(w, http.StatusNotImplemented, "not_available", "events are not configured")
		return nil, false
	}
	return s.outbox, true
}

// listEvents lists outbox entries, newest first: ?state=pending|delivered|dead,
// ?link_id=, ?limit= (1 to 1000, default 100).
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	ob, ok := s.eventOutbox(w)
	if !ok {
		return
	}
	q := r.URL.Query()
	query := store.EventQuery{State: store.EventState(q.Get("state")), LinkID: q.Get("link_id")}
	switch query.State {
	case "", store.EventPending, store.EventDelivered, store.EventDead:
	default:
		writeError(w, http.StatusBadRequest, "invalid_state", "state must be pending, delivered or dead")
		return
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "invalid_limit", "limit must be an integer from 1 to 1000")
			return
		}
		query.Limit = n
	}
	evs, err := ob.Events(r.Context(), query)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventView{ID: e.ID, Type: e.Type, LinkID: e.LinkID, State: e.State, Attempts: e.Attempts,
			Created: e.Created, NextAttempt: e.NextAttempt, LastAttempt: e.LastAttempt, LastError: e.LastError,
			Delivered: e.Delivered, Event: e.Payload})
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out})
}

// retryEvent replays a dead letter of the outbox: it is due at once, with
// its id (receivers that took it meanwhile deduplicate).
func (s *Server) retryEvent(w http.ResponseWriter, r *http.Request) {
	ob, ok := s.eventOutbox(w)
	if !ok {
		return
	}
	id := r.PathValue("id")
	err := ob.ReplayEvent(r.Context(), id)
	switch {
	case errors.Is(err, ohx.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such event")
		return
	case errors.Is(err, store.ErrNotDead):
		writeError(w, http.StatusConflict, "not_dead", "the event is not a dead letter")
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	s.wakeDeliverer()
	s.audit(r.Context(), "event.retry", zap.String("event_id", id))
	writeJSON(w, http.StatusAccepted, map[string]string{"event_id": id})
}
