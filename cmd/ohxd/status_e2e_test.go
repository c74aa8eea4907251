package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// gate holds the data requests of a fake provider until it opens, so that a
// test sees a sync while it runs.
type gate struct {
	open chan struct{}
	once sync.Once
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// hold wraps the Withings fake: its measurement endpoints wait for the gate;
// OAuth, the user's devices (read while linking) and subscriptions pass.
func (g *gate) hold(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/measure", "/v2/measure", "/v2/heart", "/v2/sleep":
			select {
			case <-g.open:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// delivery is one request the EHR's event receiver got.
type delivery struct {
	id, typ, linkID string
	timestamp       int64
	verified        error
	status          int
	body            []byte
}

// receiver is the EHR's event endpoint: it verifies every delivery's
// signature and answers 500 to the first delivery of failType.
type receiver struct {
	key      []byte
	failType events.Type
	mu       sync.Mutex
	failed   bool
	got      []delivery
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{id: r.Header.Get(events.HeaderID), body: body, verified: events.Verify(rc.key, r.Header, body, time.Now())}
	d.timestamp, _ = strconv.ParseInt(r.Header.Get(events.HeaderTimestamp), 10, 64)
	var e events.Event
	_ = json.Unmarshal(body, &e)
	d.typ, d.linkID = string(e.Type), e.LinkID
	rc.mu.Lock()
	defer rc.mu.Unlock()
	d.status = http.StatusNoContent
	if e.Type == rc.failType && !rc.failed {
		rc.failed, d.status = true, http.StatusInternalServerError
	}
	rc.got = append(rc.got, d)
	w.WriteHeader(d.status)
}

// of returns the deliveries of one event type, in arrival order.
func (rc *receiver) of(typ events.Type) []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []delivery
	for _, d := range rc.got {
		if d.typ == string(typ) {
			out = append(out, d)
		}
	}
	return out
}

func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// statusView is the part of GET /v1/links/{id} this test reads.
type statusView struct {
	Status      string `json:"status"`
	InitialSync *struct {
		State     string `json:"state"`
		ErrorKind string `json:"error_kind"`
	} `json:"initial_sync"`
	Sync map[string]struct {
		SamplesRead      int64     `json:"samples_read"`
		ResourcesWritten int64     `json:"resources_written"`
		CoveredUntil     time.Time `json:"covered_until"`
	} `json:"sync"`
}

func (d *daemon) until(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "waited %s for: %s", limit, what)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestServeStatusAndEvents runs `ohxd serve` (in-memory queue, and Redis
// when OHX_TEST_REDIS_URL is set) with OHX_EVENTS_URL: it links a Withings
// patient, watches the initial sync go running → done through the API (and
// the queue show the running job), receives link.active (answered 500 at
// first: it comes again, same id) and sync.completed with valid signatures,
// then revokes the grant in the fake and receives link.needs_reconsent.
func TestServeStatusAndEvents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		redis bool
	}{{"memory queue", false}, {"redis queue", true}} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{}
			if tc.redis {
				url := os.Getenv("OHX_TEST_REDIS_URL")
				if url == "" {
					t.Skip("OHX_TEST_REDIS_URL is not set")
				}
				env["OHX_REDIS_URL"], env["OHX_REDIS_NAMESPACE"] = url, "ohx-e2e-status-"+randomHex(6)
			}
			testStatusAndEvents(t, env)
		})
	}
}

func testStatusAndEvents(t *testing.T, env map[string]string) {
	bin := daemonBinary(t)
	base := time.Now().UTC().Truncate(time.Hour)
	wfake := withingstest.New(withingstest.Config{Now: func() time.Time { return base }})
	const user = 5150
	wfake.AddUser(withingstest.User{ID: user, TimeZone: "Europe/Paris"})
	wfake.ApproveAs(user)
	g := &gate{open: make(chan struct{})}
	t.Cleanup(g.release)
	front := httptest.NewServer(g.hold(wfake.Handler()))
	t.Cleanup(front.Close)

	secret, err := events.NewSecret()
	require.NoError(t, err)
	key, err := events.ParseSecret(secret)
	require.NoError(t, err)
	rc := &receiver{key: key, failType: events.LinkActive}
	ehr := httptest.NewServer(rc)
	t.Cleanup(ehr.Close)

	addr := freeAddr(t)
	publicURL := "http://" + addr
	sealKey, err := seal.GenerateKey("e2e")
	require.NoError(t, err)
	apiKey, wsecret := randomHex(16), randomHex(16)
	for k, v := range map[string]string{
		"OHX_ADDR": addr, "OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": apiKey, "OHX_SECRET_KEYS": sealKey.Encode(),
		"OHX_PUBLIC_URL": publicURL, "OHX_REDIRECT_ALLOWLIST": publicURL + "/demo/",
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": wsecret, "OHX_WITHINGS_API_URL": front.URL,
		"OHX_WITHINGS_AUTH_URL": front.URL + "/oauth2_user/authorize2", "OHX_WITHINGS_REQUESTS_PER_MINUTE": "60000",
		"OHX_INITIAL_DAYS": "1", "OHX_LOG_LEVEL": os.Getenv("OHXD_E2E_LOG_LEVEL"),
		"OHX_EVENTS_URL": ehr.URL + "/ohx/events", "OHX_EVENTS_SECRET": secret,
	} {
		env[k] = v
	}
	d := startDaemon(t, bin, addr, env)

	t.Run("every metric family from the start", func(t *testing.T) {
		resp, err := http.Get(d.url + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		for _, want := range []string{
			`ohx_sync_operations_total{provider="withings",status="ok",type="body-weight"} 0`,
			`ohx_sync_duration_seconds_count{provider="withings",type="heart-rate"} 0`,
			`ohx_data_points_processed_total{provider="withings",type="steps"} 0`,
			`ohx_fhir_operations_total{operation="ndjson",resource="Observation",status="ok"} 0`,
			`ohx_fhir_request_duration_seconds_count{operation="ndjson"} 0`,
			`ohx_api_requests_total{method="GET",route="/v1/links/{id}",status="200"} 0`,
			`ohx_api_request_duration_seconds_count{method="POST",route="/v1/links"} 0`,
			`ohx_webhook_requests_total{provider="withings",status="200"} 0`,
			`ohx_provider_api_errors_total{kind="revoked",provider="withings"} 0`,
			`ohx_provider_api_rate_limits_total{provider="withings"} 0`,
			`ohx_circuit_breaker_state{breaker="withings"} 0`,
			`ohx_queue_depth{queue=`,
			`ohx_link_status_changes_total{provider="withings",status="needs-reconsent"} 0`,
			`ohx_event_deliveries_total{outcome="failed",type="link.active"} 0`,
			`ohx_event_delivery_duration_seconds_count{type="sync.completed"} 0`,
		} {
			assert.Contains(t, string(body), want)
		}
	})

	p := &demoPatient{patient: "Patient/e2e-status-1", provider: withings.Name}
	p.linkID, err = demoLink(t.Context(), publicURL, apiKey, p)
	require.NoError(t, err)
	status := func() statusView {
		var v statusView
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/links/"+p.linkID, apiKey, &v))
		return v
	}
	initial := func() string {
		if v := status(); v.InitialSync != nil {
			return v.InitialSync.State
		}
		return ""
	}

	// The fake holds the sync's requests: the initial sync runs, and the
	// queue and the link's jobs say so.
	d.until(t, "the initial sync running", time.Minute, func() bool { return initial() == "running" })
	var q struct {
		Total struct {
			Running int `json:"running"`
		} `json:"total"`
	}
	require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/queue", apiKey, &q))
	assert.GreaterOrEqual(t, q.Total.Running, 1, "GET /v1/queue shows the running job")
	var jobs struct {
		Jobs []struct {
			State string `json:"state"`
			Job   struct {
				Trigger string `json:"trigger"`
			} `json:"job"`
		} `json:"jobs"`
	}
	require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/links/"+p.linkID+"/jobs", apiKey, &jobs))
	running := map[string]string{}
	for _, j := range jobs.Jobs {
		running[j.Job.Trigger] = j.State
	}
	assert.Equal(t, "running", running["initial"], "the link's jobs: %v", running)

	g.release()
	// Generous: the first sync compiles the FHIR schemas it validates with.
	d.until(t, "the initial sync done", 3*time.Minute, func() bool { return initial() == "done" })
	v := status()
	var read, written int64
	for _, s := range v.Sync {
		read += s.SamplesRead
		written += s.ResourcesWritten
		assert.False(t, s.CoveredUntil.IsZero(), "covered up to the cursor")
	}
	assert.Positive(t, read)
	assert.Positive(t, written)

	d.until(t, "sync.completed", time.Minute, func() bool { return len(rc.of(events.SyncCompleted)) == 1 })
	var completed events.Event
	require.NoError(t, json.Unmarshal(rc.of(events.SyncCompleted)[0].body, &completed))
	assert.Equal(t, p.linkID, completed.LinkID)
	assert.Equal(t, "initial", string(completed.Data.Trigger))
	total := 0
	for _, c := range completed.Data.Types {
		total += c.SamplesRead
	}
	assert.EqualValues(t, read, total, "the event's counts are the link's")

	// link.active was answered 500 once: it came again, later, same id.
	d.until(t, "link.active again after the 500", time.Minute, func() bool { return len(rc.of(events.LinkActive)) == 2 })
	active := rc.of(events.LinkActive)
	assert.Equal(t, http.StatusInternalServerError, active[0].status)
	assert.Equal(t, http.StatusNoContent, active[1].status)
	assert.Equal(t, active[0].id, active[1].id, "same webhook-id across retries")
	assert.GreaterOrEqual(t, active[1].timestamp, active[0].timestamp)
	assert.Equal(t, p.linkID, active[0].linkID)

	// The patient revokes the grant at Withings; the next sync finds out.
	wfake.RevokeUser(user)
	require.Equal(t, http.StatusAccepted, d.call(t, http.MethodPost, "/v1/links/"+p.linkID+"/sync", apiKey, nil))
	d.until(t, "link.needs_reconsent", time.Minute, func() bool { return len(rc.of(events.LinkNeedsReconsent)) == 1 })
	assert.Equal(t, "needs-reconsent", status().Status)

	for _, dl := range rc.all() {
		require.NoError(t, dl.verified, "signature of %s %s", dl.typ, dl.id)
		assert.Equal(t, p.linkID, dl.linkID)
		for _, secretish := range []string{"access_token", "refresh_token", wfake.ClientSecret(), wsecret, apiKey} {
			assert.NotContains(t, string(dl.body), secretish, "no token or secret in an event")
		}
	}
	var dead struct {
		Events []json.RawMessage `json:"events"`
	}
	require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/events?state=dead", apiKey, &dead))
	assert.Empty(t, dead.Events)
	assert.False(t, strings.Contains(d.logs.String(), secret), "the signing secret is never logged")
}
