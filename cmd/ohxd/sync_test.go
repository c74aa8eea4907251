package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// linkedDataDir links one Withings patient in a fresh SQLite data directory
// through the daemon (API and OAuth callback, in-process), lets the initial
// 1-day sync run, stops the daemon and returns its environment and the link.
func linkedDataDir(t *testing.T, base time.Time) (env map[string]string, linkID string, fhir *fhirtest.Server) {
	t.Helper()
	fixed := func() time.Time { return base }
	wfake := withingstest.NewServer(withingstest.Config{Now: fixed})
	t.Cleanup(wfake.Close)
	fhir = fhirtest.NewServer()
	t.Cleanup(fhir.Close)
	const user = 7007
	wfake.AddUser(withingstest.User{ID: user, TimeZone: "Europe/Berlin"})
	wfake.ApproveAs(user)

	addr := freeAddr(t)
	publicURL := "http://" + addr
	key, err := seal.GenerateKey("sync")
	require.NoError(t, err)
	env = map[string]string{
		"OHX_ADDR": addr, "OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": randomHex(16),
		"OHX_SECRET_KEYS": key.Encode(), "OHX_PUBLIC_URL": publicURL, "OHX_REDIRECT_ALLOWLIST": publicURL + "/demo/",
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": randomHex(16), "OHX_WITHINGS_API_URL": wfake.URL(), "OHX_WITHINGS_AUTH_URL": wfake.AuthURL(),
		"OHX_WITHINGS_REQUESTS_PER_MINUTE": "60000", "OHX_FHIR_URL": fhir.URL, "OHX_INITIAL_DAYS": "1",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	a, err := wire(t.Context(), cfg, wireOptions{logOut: &lockedBuffer{}, now: fixed, debounce: 200 * time.Millisecond})
	require.NoError(t, err)
	defer a.close()
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	ln := mustListen(t, addr)
	go func() { served <- a.serve(ctx, ln, true, true) }()
	linkID, err = demoLink(t.Context(), publicURL, env["OHX_API_KEYS"], &demoPatient{patient: "Patient/sync-1", provider: withings.Name})
	require.NoError(t, err)
	require.NoError(t, waitIdle(t.Context(), a))
	stop()
	require.NoError(t, <-served)
	return env, linkID, fhir
}

func TestSyncCommand(t *testing.T) {
	base := time.Now().UTC().Truncate(24 * time.Hour)
	env, linkID, fhir := linkedDataDir(t, base)
	old := environ
	environ = func(k string) string { return env[k] }
	t.Cleanup(func() { environ = old })
	initial := fhir.Count("Observation")
	require.Positive(t, initial)

	t.Run("invalid invocations", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{}, "-link is required"},
			{[]string{"-link", linkID, "-from", "2026-01-01T00:00:00Z"}, "-from and -to go together"},
			{[]string{"-link", linkID, "-from", "yesterday", "-to", "2026-01-01T00:00:00Z"}, "-from must be an RFC 3339 time"},
			{[]string{"-link", linkID, "-from", "2026-01-02T00:00:00Z", "-to", "2026-01-01T00:00:00Z"}, "-to must be after -from"},
			{[]string{"-link", linkID, "-types", "no-such-type"}, "-types"},
			{[]string{"-link", "lnk_missing"}, `link "lnk_missing" not found`},
			{[]string{"-link", linkID, "-retract"}, "-retract needs a backfill window"},
		} {
			var out, errOut bytes.Buffer
			err := run(t.Context(), append([]string{"sync"}, tc.args...), &out, &errOut)
			require.Error(t, err, "%v", tc.args)
			assert.Contains(t, err.Error(), tc.want, "%v", tc.args)
		}
	})

	t.Run("backfill before the initial sync", func(t *testing.T) {
		from, to := base.Add(-4*24*time.Hour), base.Add(-2*24*time.Hour)
		var out, errOut bytes.Buffer
		require.NoError(t, run(t.Context(), []string{"sync", "-link", linkID, "-types", "body-weight,heart-rate",
			"-from", from.Format(time.RFC3339), "-to", to.Format(time.RFC3339)}, &out, &errOut), errOut.String())
		text := out.String()
		assert.Contains(t, text, "window 1/2 "+from.Format(time.RFC3339)+"/"+from.Add(24*time.Hour).Format(time.RFC3339)+":")
		assert.Contains(t, text, "window 2/2 ")
		assert.NotContains(t, text, "\r", "no progress bar without a terminal")
		assert.Contains(t, text, "backfill sync of link "+linkID+" (withings)")
		assert.Regexp(t, regexp.MustCompile(`(?m)^body-weight\s+[1-9]\d*\s+[1-9]\d*\s`), text)
		assert.NotRegexp(t, regexp.MustCompile(`(?m)^(fat-mass|steps)\s`), text, "only the requested types")
		assert.Greater(t, fhir.Count("Observation"), initial, "the backfilled days were not written")
	})

	// The way out after a change of mapping: the initial sync published
	// hourly heart-rate aggregates (auto); the operator switches to
	// individual and backfills the day with -retract: the hourly aggregates
	// become entered-in-error, the individual readings final.
	t.Run("backfill with retraction", func(t *testing.T) {
		env["OHX_AGGREGATION"] = "individual"
		t.Cleanup(func() { delete(env, "OHX_AGGREGATION") })
		from, to := base.Add(-24*time.Hour), base
		// hourly counts the window's hourly heart-rate aggregates of a status.
		hourly := func(status string) int {
			n := 0
			for _, id := range fhir.IDs("Observation") {
				body, _, _ := fhir.Get("Observation", id)
				var o struct {
					Status string `json:"status"`
					Code   struct {
						Coding []struct{ Code string } `json:"coding"`
					} `json:"code"`
					Method          *struct{ Text string }     `json:"method"`
					EffectivePeriod *struct{ Start time.Time } `json:"effectivePeriod"`
				}
				require.NoError(t, json.Unmarshal(body, &o))
				if o.Status == status && o.Code.Coding[0].Code == "8867-4" && o.Method != nil && o.Method.Text == "Hourly average" &&
					!o.EffectivePeriod.Start.Before(from) && o.EffectivePeriod.Start.Before(to) {
					n++
				}
			}
			return n
		}
		before := hourly("final")
		require.Positive(t, before, "the initial sync aggregated heart rate hourly")
		var out, errOut bytes.Buffer
		require.NoError(t, run(t.Context(), []string{"sync", "-link", linkID, "-types", "heart-rate", "-retract",
			"-from", from.Format(time.RFC3339), "-to", to.Format(time.RFC3339)}, &out, &errOut), errOut.String())
		assert.Contains(t, out.String(), fmt.Sprintf("retracted heart-rate: %d resources", before))
		assert.Zero(t, hourly("final"))
		assert.Equal(t, before, hourly("entered-in-error"))
	})

	t.Run("incremental", func(t *testing.T) {
		before := fhir.Count("Observation")
		var out, errOut bytes.Buffer
		require.NoError(t, run(t.Context(), []string{"sync", "-link", linkID}, &out, &errOut), errOut.String())
		text := out.String()
		assert.Contains(t, text, "window 1/1 incremental sync:")
		assert.Contains(t, text, "incremental sync of link "+linkID)
		assert.True(t, strings.Contains(text, "total"), text)
		assert.Regexp(t, regexp.MustCompile(`(?m)^body-weight\s+\d+\s+\d+\s+\d+\s+\d{4}-\d\d-\d\dT`), text, "the cursors moved")
		assert.GreaterOrEqual(t, fhir.Count("Observation"), before)
	})
}

func TestProgressBar(t *testing.T) {
	for _, tc := range []struct {
		n, total int
		want     string
	}{
		{0, 4, "[..........]"},
		{1, 4, "[##........]"},
		{4, 4, "[##########]"},
	} {
		assert.Equal(t, tc.want, bar(tc.n, tc.total, 10))
	}
}

func mustListen(t *testing.T, addr string) net.Listener {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", addr)
	require.NoError(t, err)
	return ln
}
