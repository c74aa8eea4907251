package server

import (
	"context"
	"errors"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store"
)

// linkView is a link as the API shows it, with what says whether its data
// flows: the initial sync's state and, per data type, the last success, the
// data time covered, the last error and the counts.
type linkView struct {
	ID             string                    `json:"id"`
	Provider       string                    `json:"provider"`
	Patient        string                    `json:"patient"`
	Status         ohx.LinkStatus            `json:"status"`
	DataTypes      []ohx.DataType            `json:"data_types"`
	Scopes         []string                  `json:"scopes,omitempty"`
	TimeZone       string                    `json:"time_zone,omitempty"`
	Frequency      ohx.SyncFrequency         `json:"frequency,omitempty"`
	ExternalUserID string                    `json:"external_user_id,omitempty"`
	Created        time.Time                 `json:"created"`
	Updated        time.Time                 `json:"updated"`
	InitialSync    *initialView              `json:"initial_sync,omitempty"`
	Cursors        map[ohx.DataType]string   `json:"cursors,omitempty"`
	Sync           map[ohx.DataType]syncView `json:"sync,omitempty"`
}

// initialView is the state of a link's initial sync.
type initialView struct {
	State     store.InitialState `json:"state"`
	ErrorKind string             `json:"error_kind,omitempty"`
	Attempts  int                `json:"attempts"`
	JobID     string             `json:"job_id,omitempty"`
	Started   time.Time          `json:"started,omitzero"`
	Finished  time.Time          `json:"finished,omitzero"`
	Updated   time.Time          `json:"updated"`
}

// syncView is the sync bookkeeping of one (link, data type). LastError is a
// classified message built from fields free of values (store.SyncErrorMessage).
type syncView struct {
	LastAttempt         time.Time `json:"last_attempt,omitzero"`
	LastSuccess         time.Time `json:"last_success,omitzero"`
	CoveredUntil        time.Time `json:"covered_until,omitzero"`
	LastErrorAt         time.Time `json:"last_error_at,omitzero"`
	LastErrorKind       string    `json:"last_error_kind,omitempty"`
	LastError           string    `json:"last_error,omitempty"`
	Successes           int64     `json:"successes"`
	Failures            int64     `json:"failures"`
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	SamplesRead         int64     `json:"samples_read"`
	ResourcesWritten    int64     `json:"resources_written"`
}

func view(l ohx.Link) linkView {
	if l.DataTypes == nil {
		l.DataTypes = []ohx.DataType{} // an array in JSON, never null
	}
	return linkView{ID: l.ID, Provider: l.Provider, Patient: l.Patient, Status: l.Status, DataTypes: l.DataTypes,
		Scopes: l.Scopes, TimeZone: l.TimeZone, Frequency: l.Frequency, ExternalUserID: l.ExternalUserID,
		Created: l.Created, Updated: l.Updated}
}

// linkStatus reads what the store knows of l's syncs into its view.
func (s *Server) linkStatus(ctx context.Context, l ohx.Link) (linkView, error) {
	v := view(l)
	cursors, err := s.cfg.Store.Cursors(ctx, l.ID)
	if err != nil {
		return v, err
	}
	if len(cursors) > 0 {
		v.Cursors = map[ohx.DataType]string{}
		for t, c := range cursors {
			v.Cursors[t] = c.UTC().Format(time.RFC3339)
		}
	}
	if is, ok := s.cfg.Store.(store.InitialSyncStore); ok {
		in, err := is.InitialSync(ctx, l.ID)
		switch {
		case err == nil:
			v.InitialSync = &initialView{State: in.State, ErrorKind: in.ErrorKind, Attempts: in.Attempts, JobID: in.JobID,
				Started: in.Started, Finished: in.Finished, Updated: in.Updated}
		case !errors.Is(err, ohx.ErrNotFound):
			return v, err
		}
	}
	sr, ok := s.cfg.Store.(store.SyncStatusStore)
	if !ok {
		return v, nil
	}
	st, err := sr.SyncStatus(ctx, l.ID)
	if err != nil {
		return v, err
	}
	if len(st) > 0 {
		v.Sync = map[ohx.DataType]syncView{}
	}
	for t, x := range st {
		v.Sync[t] = syncView{LastAttempt: x.LastAttempt, LastSuccess: x.LastSuccess, CoveredUntil: cursors[t].UTC(),
			LastErrorAt: x.LastErrorAt, LastErrorKind: x.LastErrorKind, LastError: x.LastError, Successes: x.Successes,
			Failures: x.Failures, ConsecutiveFailures: x.ConsecutiveFailures, SamplesRead: x.SamplesRead, ResourcesWritten: x.Items}
	}
	return v, nil
}
