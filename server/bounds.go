package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Defaults of the bounds on work.
const (
	// DefaultPushMaxAge: a notification's window starts at most 7 days
	// before it arrived.
	DefaultPushMaxAge = 7 * 24 * time.Hour
	// DefaultPushMaxAhead: a notification's window ends at most 5 minutes
	// after now.
	DefaultPushMaxAhead = 5 * time.Minute
	// DefaultMaxBackfill: a backfill starts at most 365 days back.
	DefaultMaxBackfill = 365 * 24 * time.Hour
	// backfillSkew tolerates clocks a little apart: a backfill may end up
	// to a minute after the server's now.
	backfillSkew = time.Minute
)

// boundDefaults fills and checks the bounds of s.cfg.
func (s *Server) boundDefaults() error {
	if s.cfg.PushMaxAge < 0 || s.cfg.PushMaxAhead < 0 || s.cfg.MaxBackfill < 0 || s.cfg.AuthFailuresPerMinute < 0 {
		return errors.New("server: push bounds, the maximum backfill and the failed-authentication limit must not be negative")
	}
	if s.cfg.PushMaxAge == 0 {
		s.cfg.PushMaxAge = DefaultPushMaxAge
	}
	if s.cfg.PushMaxAhead == 0 {
		s.cfg.PushMaxAhead = DefaultPushMaxAhead
	}
	if s.cfg.MaxBackfill == 0 {
		s.cfg.MaxBackfill = DefaultMaxBackfill
	}
	if s.cfg.AuthFailuresPerMinute == 0 {
		s.cfg.AuthFailuresPerMinute = 10
	}
	return nil
}

// checkBackfill answers 400 to a backfill window that starts more than
// MaxBackfill ago or ends in the future; it reports whether w may run.
func (s *Server) checkBackfill(w http.ResponseWriter, win *ohx.Window) bool {
	if win == nil {
		return true
	}
	if err := win.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_window", "the window needs a start before its end")
		return false
	}
	now := s.cfg.Now()
	if win.Start.Before(now.Add(-s.cfg.MaxBackfill)) {
		writeError(w, http.StatusBadRequest, "window_too_old",
			"the window starts before the maximum backfill of "+days(s.cfg.MaxBackfill)+" days")
		return false
	}
	if win.End.After(now.Add(backfillSkew)) {
		writeError(w, http.StatusBadRequest, "window_in_future", "the window ends in the future")
		return false
	}
	return true
}

func days(d time.Duration) string { return strconv.Itoa(int(d / (24 * time.Hour))) }
