package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// asDaemon, when set in the environment, makes the test binary run ohxd's
// main instead of the tests.
const asDaemon = "OHXD_E2E_RUN_AS_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(asDaemon) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// daemonBinary returns the ohxd to run: the test binary itself (which runs
// main when asDaemon is set), or, under -race, a normal build, because a
// race-instrumented daemon compiles the FHIR R5 schema on its first sync so
// slowly that the test would take minutes (the packages it wires have their
// own -race tests).
func daemonBinary(t *testing.T) string {
	t.Helper()
	if !raceEnabled {
		self, err := os.Executable()
		require.NoError(t, err)
		return self
	}
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool is needed to build ohxd")
	bin := filepath.Join(t.TempDir(), "ohxd")
	out, err := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// daemon is an `ohxd serve` subprocess.
type daemon struct {
	cmd    *exec.Cmd
	url    string
	apiKey string
	logs   *lockedBuffer
	exited chan error
}

// lockedBuffer collects the daemon's stderr.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	var lc net.ListenConfig
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startDaemon runs `ohxd serve` with env (and no other OHX_* variable) and
// the serve flags in args, and waits until /livez answers.
func startDaemon(t *testing.T, bin, addr string, env map[string]string, args ...string) *daemon {
	t.Helper()
	d := &daemon{url: "http://" + addr, apiKey: env["OHX_API_KEYS"], logs: &lockedBuffer{}, exited: make(chan error, 1)}
	d.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	d.cmd.Env = append(d.cmd.Env, asDaemon+"=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OHX_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	for k, v := range env {
		d.cmd.Env = append(d.cmd.Env, k+"="+v)
	}
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	require.NoError(t, d.cmd.Start())
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Kill()
			if err := <-d.exited; err != nil {
				t.Logf("ohxd stopped: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("daemon logs:\n%s", tail(d.logs.String(), 60))
		}
		if os.Getenv("OHXD_E2E_LOGS") != "" {
			_ = os.WriteFile(os.Getenv("OHXD_E2E_LOGS"), []byte(d.logs.String()), 0o600)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.url + "/livez")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case err := <-d.exited:
			t.Fatalf("ohxd exited before it served: %v\n%s", err, d.logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "ohxd did not answer /livez within 30 s")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// call sends a request to the daemon with the given key ("" for none) and
// decodes a JSON answer into out (when not nil).
func (d *daemon) call(t *testing.T, method, path, key string, out any) int {
	t.Helper()
	for range 20 {
		req, err := http.NewRequestWithContext(t.Context(), method, d.url+path, nil)
		require.NoError(t, err)
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(t, err)
		if resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(500 * time.Millisecond) // the API's request rate limit: poll slower
			continue
		}
		if out != nil && resp.StatusCode < 300 {
			require.NoError(t, json.Unmarshal(body, out), "%s %s: %s", method, path, body)
		}
		return resp.StatusCode
	}
	t.Fatalf("%s %s: still rate limited after 10 s", method, path)
	return 0
}

// linkView is the part of GET /v1/links/{id} the test reads.
type linkView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Sync   map[string]struct {
		LastSuccess time.Time `json:"last_success"`
		Successes   int64     `json:"successes"`
		Failures    int64     `json:"failures"`
		LastError   string    `json:"last_error"`
	} `json:"sync"`
}

// progress returns, per link, how many per-type syncs finished (success or
// failure), the queue's unfinished jobs (running ones included) and its dead
// letters.
func (d *daemon) progress(t *testing.T, links []string) (done map[string]int64, failures int64, depth, dead int) {
	t.Helper()
	done = map[string]int64{}
	for _, id := range links {
		var v linkView
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/links/"+id, d.apiKey, &v))
		for _, s := range v.Sync {
			done[id] += s.Successes + s.Failures
			failures += s.Failures
		}
	}
	var q struct {
		Total map[string]int    `json:"total"`
		Dead  []json.RawMessage `json:"dead"`
	}
	require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/queue", d.apiKey, &q))
	depth = q.Total["pending"] + q.Total["scheduled"] + q.Total["running"] + q.Total["retry"]
	return done, failures, depth, len(q.Dead)
}

// waitSettled waits until every link finished more per-type syncs than in
// before, the queue is empty and nothing changed (syncs, FHIR requests) for
// a while; it returns the new counts.
func (d *daemon) waitSettled(t *testing.T, fhir *fhirtest.Server, links []string, before map[string]int64) map[string]int64 {
	t.Helper()
	// Generous: the first sync compiles the FHIR R5 schema of each resource
	// type, which takes tens of seconds on a loaded 2-core machine.
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	stable := 0
	for stable < 4 {
		require.True(t, time.Now().Before(deadline), "the daemon did not settle within 3 min (last state %s)", last)
		done, failures, depth, dead := d.progress(t, links)
		require.Zero(t, dead, "dead letters")
		require.Zero(t, failures, "failed syncs")
		advanced := true
		for _, id := range links {
			advanced = advanced && done[id] > before[id]
		}
		state := fmt.Sprint(done, depth, fhir.RequestCount())
		if advanced && depth == 0 && state == last {
			stable++
		} else {
			stable = 0
		}
		last = state
		time.Sleep(250 * time.Millisecond)
		if stable == 4 {
			return done
		}
	}
	return nil
}

// snapshot is what the FHIR server holds: per resource type, id → version.
// provenanceTargets returns the targets ("Type/id") of every stored
// Provenance, by id.
func provenanceTargets(t *testing.T, fhir *fhirtest.Server) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, id := range fhir.IDs("Provenance") {
		body, _, ok := fhir.Get("Provenance", id)
		require.True(t, ok, "Provenance/%s", id)
		var p struct {
			Target []struct {
				Reference string `json:"reference"`
			} `json:"target"`
		}
		require.NoError(t, json.Unmarshal(body, &p))
		for _, tg := range p.Target {
			out[id] = append(out[id], tg.Reference)
		}
	}
	return out
}

func snapshot(fhir *fhirtest.Server) map[string]map[string]int {
	out := map[string]map[string]int{}
	for _, typ := range fhir.Types() {
		out[typ] = map[string]int{}
		for _, id := range fhir.IDs(typ) {
			_, v, _ := fhir.Get(typ, id)
			out[typ][id] = v
		}
	}
	return out
}

// TestServeEndToEnd runs the daemon as a process against the fakes and a
// FHIR server, once writing R5 and once R4 (OHX_FHIR_VERSION).
func TestServeEndToEnd(t *testing.T) {
	redisURL := os.Getenv("OHX_TEST_REDIS_URL")
	if redisURL == "" {
		t.Skip("OHX_TEST_REDIS_URL is not set")
	}
	bin := daemonBinary(t)
	for _, v := range []ohx.FHIRVersion{ohx.R5, ohx.R4} {
		t.Run(v.String(), func(t *testing.T) { serveEndToEnd(t, bin, redisURL, v) })
	}
}

func serveEndToEnd(t *testing.T, bin, redisURL string, version ohx.FHIRVersion) {

	// The fakes' clocks stand still at the last full hour (the daemon runs on
	// the wall clock, so its 1-day initial window covers the fakes' last 23+
	// hours of data).
	base := time.Now().UTC().Truncate(time.Hour)
	fixed := func() time.Time { return base }

	wfake := withingstest.NewServer(withingstest.Config{Now: fixed})
	t.Cleanup(wfake.Close)
	gfake, err := fitbittest.New(fitbittest.Config{Now: fixed, HeartRateEvery: time.Minute, RateLimitPerMinute: -1})
	require.NoError(t, err)
	t.Cleanup(gfake.Close)
	fhir := fhirtest.NewServer(fhirtest.WithVersion(version))
	t.Cleanup(fhir.Close)

	const withingsUser = 4242
	wfake.AddUser(withingstest.User{ID: withingsUser, TimeZone: "Europe/Paris"})
	wfake.ApproveAs(withingsUser)
	guser, err := gfake.AddUser(fitbittest.User{HealthUserID: "e2e-health-user", LegacyUserID: "E2E42", TimeZone: "America/Chicago"})
	require.NoError(t, err)
	ofake := startE2EOura(t, fixed) // e2e_oura_test.go

	addr := freeAddr(t)
	publicURL := "http://" + addr
	key, err := seal.GenerateKey("e2e")
	require.NoError(t, err)
	apiKey, wsecret, gsecret := randomHex(16), randomHex(16), "Bearer "+randomHex(16)
	d := startDaemon(t, bin, addr, ofake.withEnv(map[string]string{
		"OHX_ADDR": addr, "OHX_DATA_DIR": t.TempDir(), "OHX_API_KEYS": apiKey,
		"OHX_SECRET_KEYS": key.Encode(), "OHX_PUBLIC_URL": publicURL, "OHX_REDIRECT_ALLOWLIST": publicURL + "/demo/",
		"OHX_WITHINGS_CLIENT_ID": wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": wsecret, "OHX_WITHINGS_API_URL": wfake.URL(), "OHX_WITHINGS_AUTH_URL": wfake.AuthURL(),
		"OHX_GOOGLE_CLIENT_ID": gfake.ClientID(), "OHX_GOOGLE_CLIENT_SECRET": gfake.ClientSecret(),
		"OHX_GOOGLE_WEBHOOK_SECRET": gsecret, "OHX_GOOGLE_HEALTH_API_URL": gfake.APIBaseURL(),
		"OHX_GOOGLE_AUTH_URL": gfake.AuthURL(), "OHX_GOOGLE_TOKEN_URL": gfake.TokenURL(),
		"OHX_GOOGLE_REVOKE_URL": gfake.RevokeURL(), "OHX_GOOGLE_WEBHOOK_KEYSET_URL": gfake.KeysetURL(),
		"OHX_FHIR_URL": fhir.URL, "OHX_FHIR_VERSION": version.String(), "OHX_INITIAL_DAYS": "1", "OHX_WORKERS": "4", "OHX_LOG_LEVEL": os.Getenv("OHXD_E2E_LOG_LEVEL"),
		"OHX_WITHINGS_REQUESTS_PER_MINUTE": "60000", "OHX_GOOGLE_REQUESTS_PER_MINUTE": "60000",
		"OHX_REDIS_URL": redisURL, "OHX_REDIS_NAMESPACE": "ohx-e2e-" + randomHex(6), "OHX_WEBHOOK_DEBOUNCE": "200ms",
	}))

	t.Run("api keys", func(t *testing.T) {
		assert.Equal(t, http.StatusUnauthorized, d.call(t, http.MethodGet, "/v1/providers", "", nil))
		assert.Equal(t, http.StatusUnauthorized, d.call(t, http.MethodGet, "/v1/providers", "wrong-key-wrong-key", nil))
		assert.Equal(t, http.StatusUnauthorized, d.call(t, http.MethodGet, "/v1/providers", apiKey+"x", nil))
		var providers struct {
			Providers []struct {
				Name string `json:"name"`
			} `json:"providers"`
		}
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/providers", apiKey, &providers))
		var names []string
		for _, p := range providers.Providers {
			names = append(names, p.Name)
		}
		assert.ElementsMatch(t, []string{withings.Name, "fitbit", "oura"}, names)
	})

	t.Run("health endpoints", func(t *testing.T) {
		for _, tc := range []struct {
			path, status string
			checks       []string
		}{
			{"/livez", "", nil},
			{"/readyz", "ready", []string{"store", "queue", "fhir"}},
			{"/healthz", "ok", []string{"store", "queue", "fhir"}},
		} {
			var body struct {
				Status string `json:"status"`
				Checks []struct {
					Name string `json:"name"`
					OK   bool   `json:"ok"`
				} `json:"checks"`
			}
			require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, tc.path, "", &body), tc.path)
			if tc.checks == nil {
				continue
			}
			assert.Equal(t, tc.status, body.Status, tc.path)
			var names []string
			for _, c := range body.Checks {
				names = append(names, c.Name)
				assert.True(t, c.OK, "%s: check %s", tc.path, c.Name)
			}
			assert.ElementsMatch(t, tc.checks, names, tc.path)
		}
	})

	// Operator step: register the Google Health subscriber (Google verifies
	// the daemon's endpoint while creating it).
	subs := &fitbit.Subscribers{Client: gfake.ProjectClient(), BaseURL: gfake.APIBaseURL(), ProjectNumber: "123456789"}
	_, err = subs.Create(t.Context(), "ohx-e2e", publicURL+"/webhooks/fitbit", gsecret, fitbit.WebhookDataTypes())
	require.NoError(t, err)

	// Link one patient per provider through the API and the OAuth redirects.
	patients := []*demoPatient{
		{patient: "Patient/e2e-withings-1", provider: withings.Name},
		{patient: "Patient/e2e-fitbit-1", provider: "fitbit"},
		ofake.patient(),
	}
	var links []string
	for _, p := range patients {
		p.linkID, err = demoLink(t.Context(), publicURL, apiKey, p)
		require.NoError(t, err, p.patient)
		require.NotEmpty(t, p.linkID)
		links = append(links, p.linkID)
	}
	done := d.waitSettled(t, fhir, links, map[string]int64{})
	for _, p := range patients {
		var v linkView
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/links/"+p.linkID, apiKey, &v))
		assert.Equal(t, "active", v.Status, p.patient)
		assert.NotEmpty(t, v.Sync, p.patient)
	}
	initial := snapshot(fhir)
	require.NotEmpty(t, initial["Observation"], "the initial syncs wrote no Observation")

	// The notifications reach past the daemon's clock, as a provider's
	// notification of data just measured does: their push windows end at the
	// daemon's now, which moves between the two rounds, so only what the
	// syncs read may decide the resource ids.
	webhooks := func(t *testing.T) {
		end := time.Now().UTC().Add(time.Hour)
		require.NoError(t, wfake.Notify(t.Context(), withingstest.Notification{UserID: withingsUser, Appli: withings.AppliWeight,
			Start: base.Add(-26 * time.Hour), End: end}))
		_, err := gfake.Notify(t.Context(), fitbittest.Notification{HealthUserID: guser.HealthUserID, DataType: "steps",
			Start: base.Add(-3 * time.Hour), End: end})
		require.NoError(t, err)
		ofake.deliver(t, base)
	}
	webhooks(t)
	done = d.waitSettled(t, fhir, links, done)
	first := snapshot(fhir)
	firstTargets := provenanceTargets(t, fhir)

	// The same notifications again, and an incremental sync of every link,
	// as the scheduler polls (it re-reads the quarter hour before each
	// cursor, from the start of its hour): the syncs re-write the same
	// resources (new versions), never new ones.
	webhooks(t)
	for _, id := range links {
		require.Equal(t, http.StatusAccepted, d.call(t, http.MethodPost, "/v1/links/"+id+"/sync", apiKey, nil), "incremental sync of %s", id)
	}
	d.waitSettled(t, fhir, links, done)
	second := snapshot(fhir)

	// The re-sync over unchanged data adds no resource id, of any type:
	// a Provenance covers a data type's hour and is rebuilt whole on every
	// read of the hour.
	t.Run("resources arrive once", func(t *testing.T) {
		require.Equal(t, len(first), len(second), "resource types")
		rewritten := 0
		for typ, ids := range second {
			for id := range ids {
				if _, ok := first[typ][id]; !ok {
					t.Errorf("the same notifications and an incremental sync again added %s/%s", typ, id)
				}
			}
		}
		for typ, ids := range first {
			require.GreaterOrEqual(t, len(second[typ]), len(ids), typ)
			for id, v := range ids {
				v2, ok := second[typ][id]
				require.True(t, ok, "%s/%s vanished", typ, id)
				assert.GreaterOrEqual(t, v2, v, "%s/%s", typ, id)
				if v2 > v {
					rewritten++
				}
			}
		}
		assert.Positive(t, rewritten, "the second webhooks re-wrote nothing: did their syncs run?")

		// Every Observation and DiagnosticReport has a Provenance, and no
		// Provenance lost a target it had.
		targets := provenanceTargets(t, fhir)
		covered := map[string]bool{}
		for _, ts := range targets {
			for _, k := range ts {
				covered[k] = true
			}
		}
		for _, typ := range []string{"Observation", "DiagnosticReport"} {
			for id := range second[typ] {
				assert.True(t, covered[typ+"/"+id], "%s/%s has no Provenance", typ, id)
			}
		}
		for id, ts := range firstTargets {
			assert.Subset(t, targets[id], ts, "Provenance/%s lost targets", id)
		}

		// No two Observations say the same thing: the provider's record
		// identifiers plus the code name one Observation.
		subjects := map[string]int{}
		seen := map[string]string{}
		for _, id := range fhir.IDs("Observation") {
			body, _, _ := fhir.Get("Observation", id)
			var obs struct {
				Subject struct {
					Reference string `json:"reference"`
				} `json:"subject"`
				Identifier []struct {
					System string `json:"system"`
					Value  string `json:"value"`
				} `json:"identifier"`
				Code struct {
					Coding []struct {
						System string `json:"system"`
						Code   string `json:"code"`
					} `json:"coding"`
				} `json:"code"`
				Effective string `json:"effectiveDateTime"`
				Period    struct {
					Start string `json:"start"`
				} `json:"effectivePeriod"`
			}
			require.NoError(t, json.Unmarshal(body, &obs))
			subjects[obs.Subject.Reference]++
			k := fmt.Sprint(obs.Subject.Reference, obs.Identifier, obs.Code.Coding, obs.Effective, obs.Period.Start)
			if other, dup := seen[k]; dup {
				t.Errorf("Observation/%s duplicates Observation/%s", id, other)
			}
			seen[k] = id
		}
		for _, p := range patients {
			assert.Positive(t, subjects[p.patient], "no Observation of %s", p.patient)
		}
	})

	t.Run("oura webhooks refuse forgeries", func(t *testing.T) { ofake.refusesForgeries(t, publicURL) })

	t.Run("resources validate", func(t *testing.T) {
		for _, typ := range fhir.Types() {
			for _, id := range fhir.IDs(typ) {
				body, _, _ := fhir.Get(typ, id)
				require.NoError(t, validate.ResourceVersion(version, body), "%s/%s", typ, id)
			}
		}
		assert.Contains(t, fhir.Types(), "Device")
		if version == ohx.R4 {
			assert.NotContains(t, fhir.Types(), "DeviceAssociation", "R4 links the device through Device.patient")
		} else {
			assert.Contains(t, fhir.Types(), "DeviceAssociation")
		}
		if lvl := os.Getenv("OHXD_E2E_LOG_LEVEL"); lvl == "" || lvl == "info" || lvl == "debug" {
			assert.Contains(t, d.logs.String(), `"fhir_version":"`+version.String()+`"`, "the daemon checked the server's release at start")
		}
	})

	t.Run("metrics", func(t *testing.T) {
		resp, err := http.Get(d.url + "/metrics")
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		for _, want := range []string{`ohx_webhook_requests_total{provider="withings"`, `ohx_webhook_requests_total{provider="fitbit"`,
			`ohx_webhook_requests_total{provider="oura"`,
			"ohx_sync_operations_total", "ohx_fhir_operations_total", "ohx_api_requests_total"} {
			assert.Contains(t, string(body), want)
		}
	})

	t.Run("breakers", func(t *testing.T) {
		// Every breaker is in the daemon's one registry: the providers' and
		// the FHIR destination's, each closable under the name listed.
		var body struct {
			Breakers []struct {
				Name  string `json:"name"`
				State string `json:"state"`
			} `json:"breakers"`
		}
		require.Equal(t, http.StatusOK, d.call(t, http.MethodGet, "/v1/breakers", apiKey, &body))
		var fhirBreaker string
		names := map[string]bool{}
		for _, b := range body.Breakers {
			names[b.Name] = true
			assert.Equal(t, "closed", b.State, b.Name)
			if strings.HasPrefix(b.Name, "fhir") {
				fhirBreaker = b.Name
			}
		}
		require.NotEmpty(t, fhirBreaker, "the FHIR destination's breaker is listed: %v", names)
		require.Equal(t, http.StatusOK, d.call(t, http.MethodPost, "/v1/breakers/"+url.PathEscape(fhirBreaker)+"/close", apiKey, nil))
		assert.Equal(t, http.StatusNotFound, d.call(t, http.MethodPost, "/v1/breakers/no-such-breaker/close", apiKey, nil))
	})

	t.Run("graceful shutdown", func(t *testing.T) {
		require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
		select {
		case err := <-d.exited:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				t.Fatalf("ohxd exited with %d after SIGTERM", exit.ExitCode())
			}
			require.NoError(t, err)
			assert.Contains(t, d.logs.String(), "ohxd shutting down")
		case <-time.After(15 * time.Second):
			t.Fatal("ohxd did not exit within 15 s of SIGTERM")
		}
	})
}
