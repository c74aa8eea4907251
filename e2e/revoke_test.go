package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/queue"
)

func TestRevokedRefreshTokenNeedsReconsent(t *testing.T) {
	e := newEnv(t, options{})
	e.runWorkers(t)
	id := e.linkViaAPI(t, ohx.Steps)
	e.waitIdle(t, 3*time.Minute)
	require.Equal(t, "active", e.linkStatus(t, id)["status"])
	published := e.fhir.Count("Observation")
	require.Positive(t, published, "the initial sync ran")

	// The user removes the app in their Google account; the access token
	// expires, so the next sync must refresh, and Google refuses the grant.
	e.fake.RevokeGrants(healthUser)
	e.fake.ExpireAccessTokens()
	tokenCalls := e.fake.Calls("token")

	var accepted struct {
		JobID string `json:"job_id"`
	}
	require.Equal(t, http.StatusAccepted, e.api(t, "POST", "/v1/links/"+id+"/sync", map[string]any{}, &accepted))
	st := e.waitIdle(t, 3*time.Minute)

	// The job failed for good on its first run: no retries against a
	// revoked grant.
	assert.Equal(t, 1, st.Dead(), "the job is a dead letter")
	assert.Equal(t, tokenCalls+1, e.fake.Calls("token"), "one refused refresh, no retries")
	require.NotEmpty(t, accepted.JobID)
	info, err := e.queue.(*queue.Memory).Job(t.Context(), accepted.JobID)
	require.NoError(t, err)
	assert.Equal(t, queue.StateDead, info.State)
	assert.Zero(t, info.Job.Attempt, "not retried")

	// Operators see it: the link's status and the metric.
	assert.Equal(t, "needs-reconsent", e.linkStatus(t, id)["status"])
	assert.Equal(t, 1.0, metricValue(t, e, `ohx_link_status_changes_total{provider="fitbit",status="needs-reconsent"}`))
	assert.Equal(t, published, e.fhir.Count("Observation"), "nothing published after the revocation")

	// Later syncs of the link do not reach Google at all.
	apiCalls := e.fake.Calls("list:steps")
	status := e.api(t, "POST", "/v1/links/"+id+"/sync", map[string]any{}, nil)
	if status == http.StatusAccepted {
		e.waitIdle(t, 3*time.Minute)
	} else {
		assert.Equal(t, http.StatusConflict, status, "a sync of a link that needs re-consent is refused")
	}
	assert.Equal(t, apiCalls, e.fake.Calls("list:steps"), "no call for a link that needs re-consent")
	assert.Equal(t, tokenCalls+1, e.fake.Calls("token"))
	assert.Equal(t, 1.0, metricValue(t, e, `ohx_link_status_changes_total{provider="fitbit",status="needs-reconsent"}`), "counted once")
}

// metricValue scrapes /metrics and returns the value of one series (exact
// name and labels as Prometheus prints them).
func metricValue(t *testing.T, e *env, series string) float64 {
	t.Helper()
	resp, err := http.Get(e.http.URL + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			_, err := fmt.Sscan(v, &f)
			require.NoError(t, err)
			return f
		}
	}
	require.Failf(t, "series not found", "%s in\n%s", series, grepLines(string(b), strings.SplitN(series, "{", 2)[0]))
	return 0
}

func grepLines(s, prefix string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
