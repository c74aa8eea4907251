package ohx_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// TestEngineBoundsLookbackAndBackfill: MaxLookback cuts initial and push
// windows; a backfill is cut by MaxBackfill instead, so an operator's
// explicit window may reach further back than routine syncs, but not
// without limit.
func TestEngineBoundsLookbackAndBackfill(t *testing.T) {
	now := mustTime(t, "2026-12-05T12:00:00Z")
	policy := &ohx.Policy{MaxLookback: 90 * 24 * time.Hour, MaxBackfill: 365 * 24 * time.Hour}
	link := ohx.Link{ID: "link-1", Patient: "Patient/1", Status: ohx.LinkActive}
	epoch := time.Unix(1, 0).UTC()
	for name, tc := range map[string]struct {
		job  ohx.Job
		want time.Time
	}{
		"push from 1970":     {ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerPush, Window: &ohx.Window{Start: epoch, End: now}}, now.Add(-90 * 24 * time.Hour)},
		"initial of a year":  {ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerInitial}, now.Add(-90 * 24 * time.Hour)},
		"backfill from 1970": {ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerBackfill, Window: &ohx.Window{Start: epoch, End: now}}, now.Add(-365 * 24 * time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			f := newEngineFixture(t, link, policy, nil, ohx.DefaultStrategy{InitialLookback: 365 * 24 * time.Hour}, now)
			tc.job.DataTypes = []ohx.DataType{ohx.Steps}
			_, err := f.engine.Sync(t.Context(), tc.job)
			require.NoError(t, err)
			require.NotEmpty(t, f.provider.fetches)
			assert.Equal(t, tc.want, f.provider.fetches[0].window.Start, "no read before the bound")
		})
	}
	assert.Error(t, (&ohx.Policy{MaxBackfill: -1}).Validate())
	assert.Equal(t, now.Add(-90*24*time.Hour), (&ohx.Policy{MaxLookback: 90 * 24 * time.Hour}).EarliestFor(ohx.TriggerBackfill, now),
		"without MaxBackfill, MaxLookback bounds backfills too")
}
