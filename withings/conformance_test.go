package withings_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/provider/providertest"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// TestConformance runs the toolkit's provider conformance suite against the
// Withings provider wired to the in-process fake, with paging forced (page
// size 3) and every data type requested.
func TestConformance(t *testing.T) {
	fake := withingstest.New(withingstest.Config{PageSize: 3})
	fake.AddUser(withingstest.User{ID: userID, TimeZone: "America/New_York"})
	st := store.NewMemory()
	newProvider := func(retry resilience.RetrySettings) *withings.Provider {
		p, err := withings.New(withings.Config{
			ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
			APIBaseURL: fake.URL(),
			Common: provider.Common{
				HTTPClient: fake.Client(), Tokens: st, Locker: st, AppLimit: provider.NoLimit(),
				Retry: retry,
			},
		})
		require.NoError(t, err)
		return p
	}
	p := newProvider(resilience.RetrySettings{})
	link := ohx.Link{ID: "link-c", Provider: withings.Name, ExternalUserID: "4242", TimeZone: "America/New_York",
		Scopes: []string{"user.info", "user.metrics", "user.activity"}, Status: ohx.LinkActive}
	require.NoError(t, st.SaveToken(t.Context(), link.ID, fake.IssueToken(userID)))

	end := time.Now().UTC().Truncate(time.Hour).Add(-48 * time.Hour)
	providertest.Run(t, providertest.Config{
		Provider: p,
		Link:     link,
		Window:   ohx.Window{Start: end.Add(-3 * 24 * time.Hour), End: end},
		Types:    p.DataTypes(),
		// Weekly and every-other-day measures may miss a 3-day window.
		AllowEmpty: []ohx.DataType{ohx.VO2Max, ohx.PulseWaveVelocity, ohx.ECG, ohx.BodyTemperature},
		Fail: func(f providertest.Failure) (ohx.Provider, func()) {
			// A fresh provider without retries, so a rate-limit pause does
			// not outlive the failure.
			fp := newProvider(resilience.RetrySettings{MaxAttempts: 1, MaxWait: time.Millisecond})
			switch f {
			case providertest.FailAuth:
				fake.RevokeUser(userID)
				return fp, func() {
					require.NoError(t, st.SaveToken(t.Context(), link.ID, fake.IssueToken(userID)))
				}
			case providertest.FailRateLimited:
				fake.Fail("", withingstest.StatusTooManyRequests, 1<<30)
			case providertest.FailServer:
				fake.FailHTTP("", 503, 1<<30)
			}
			return fp, fake.ClearFailures
		},
	})
}
