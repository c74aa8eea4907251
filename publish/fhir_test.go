package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
)

const testSystem = "https://ohx.example/sample"

// hrObservation is a valid R5 heart-rate Observation with a deterministic
// UUID id, optionally measured by a device.
func hrObservation(n int, deviceID string) ohx.Resource {
	id := fhirmap.DeterministicID("test", "obs", fmt.Sprint(n))
	dev := ""
	if deviceID != "" {
		dev = fmt.Sprintf(`,"device":{"reference":"Device/%s"}`, deviceID)
	}
	js := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"identifier":[{"system":%q,"value":%q}],"status":"final",`+
		`"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},`+
		`"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-01T10:%02d:%02d Z"%s,`+
		`"valueQuantity":{"value":187.25,"unit":"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}`,
		id, testSystem, id, (n/60)%60, n%60, dev)
	js = strings.Replace(js, " Z", "Z", 1)
	return ohx.Resource{Type: "Observation", ID: id, Identifier: testSystem + "|" + id, DataType: ohx.HeartRate, JSON: json.RawMessage(js)}
}

func testDevice(battery int) ohx.Resource {
	id := fhirmap.DeterministicID("test", "device", "d1")
	js := fmt.Sprintf(`{"resourceType":"Device","id":%q,"identifier":[{"system":"https://ohx.example/device","value":"d1"}],`+
		`"status":"active","manufacturer":"Withings","property":[{"type":{"text":"battery"},"valueQuantity":{"value":%d,"unit":"%%","system":"http://unitsofmeasure.org","code":"%%"}}]}`, id, battery)
	return ohx.Resource{Type: "Device", ID: id, Identifier: "https://ohx.example/device|d1", JSON: json.RawMessage(js)}
}

func testAssociation(deviceID string) ohx.Resource {
	id := fhirmap.DeterministicID("test", "assoc", "d1")
	js := fmt.Sprintf(`{"resourceType":"DeviceAssociation","id":%q,"identifier":[{"system":"https://ohx.example/assoc","value":"d1-p1"}],`+
		`"device":{"reference":"Device/%s"},"status":{"coding":[{"system":"http://hl7.org/fhir/deviceassociation-status","code":"attached"}]},`+
		`"subject":{"reference":"Patient/p1"}}`, id, deviceID)
	return ohx.Resource{Type: "DeviceAssociation", ID: id, Identifier: "https://ohx.example/assoc|d1-p1", JSON: json.RawMessage(js)}
}

// recorder is an ohx.Metrics that remembers what the publisher reported.
type recorder struct {
	ohx.NopMetrics
	mu      sync.Mutex
	states  []int
	ops     map[string]int // "op/type/status" → n
	latency int
}

func (r *recorder) BreakerState(_ string, s int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, s)
}

func (r *recorder) FHIROperation(op, typ, status string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ops == nil {
		r.ops = make(map[string]int)
	}
	r.ops[op+"/"+typ+"/"+status] += n
}

func (r *recorder) FHIRLatency(string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latency++
}

func (r *recorder) breakerStates() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.states...)
}

func TestTestResourcesAreValidR5(t *testing.T) {
	dev := testDevice(80)
	for _, r := range []ohx.Resource{hrObservation(1, dev.ID), dev, testAssociation(dev.ID)} {
		require.NoError(t, validate.Resource(r.JSON), r.Key())
	}
}

func TestFHIRPublishTwiceKeepsOneResourcePerID(t *testing.T) {
	modes := []publish.WriteMode{publish.WritePut, publish.WriteConditionalCreate, publish.WriteConditionalUpdate}
	for _, mode := range modes {
		t.Run(mode.String(), func(t *testing.T) {
			srv := fhirtest.NewServer()
			defer srv.Close()
			rec := &recorder{}
			p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Mode: mode, BundleSize: 10, Metrics: rec})

			dev := testDevice(80)
			batch := []ohx.Resource{dev, testAssociation(dev.ID)}
			for i := range 23 {
				batch = append(batch, hrObservation(i, dev.ID))
			}
			for run := range 2 {
				if run == 1 {
					batch[0] = testDevice(55) // the device changed: it is updated, not duplicated
				}
				res, err := p.Publish(t.Context(), batch)
				require.NoError(t, err)
				assert.Empty(t, res.Rejected)
				assert.Len(t, res.Written, len(batch))
			}

			assert.Equal(t, 1+2*3, srv.RequestCount(), "GET metadata once, then ceil(25/10) requests per run")
			assert.Equal(t, 23, srv.Count("Observation"))
			assert.Equal(t, 1, srv.Count("Device"))
			assert.Equal(t, 1, srv.Count("DeviceAssociation"))
			devIDs := srv.IDs("Device")
			require.Len(t, devIDs, 1)
			body, version, ok := srv.Get("Device", devIDs[0])
			require.True(t, ok)
			assert.Equal(t, 2, version, "the device was written twice")
			assert.Contains(t, string(body), `"value":55`, "the device carries the update")

			for _, r := range batch[2:] {
				ids := srv.ByIdentifier("Observation", r.Identifier)
				require.Len(t, ids, 1, "exactly one Observation per identifier")
				body, _, ok := srv.Get("Observation", ids[0])
				require.True(t, ok)
				require.NoError(t, validate.Resource(body))
				assert.Contains(t, string(body), `"reference":"Device/`+devIDs[0]+`"`, "the device reference resolves")
				if mode == publish.WritePut {
					assert.Equal(t, r.ID, ids[0], "PUT keeps the deterministic id")
				}
			}
			_, assocBody := srv.ByIdentifier("DeviceAssociation", "https://ohx.example/assoc|d1-p1"), ""
			assocIDs := srv.IDs("DeviceAssociation")
			b, _, _ := srv.Get("DeviceAssociation", assocIDs[0])
			assocBody = string(b)
			assert.Contains(t, assocBody, `"reference":"Device/`+devIDs[0]+`"`)
			assert.Equal(t, 2*23, rec.ops["transaction/Observation/ok"])
		})
	}
}

func TestFHIRWaitsOutRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
		srv.FailNext(1, http.StatusTooManyRequests, 7*time.Second)

		start := time.Now()
		res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.NoError(t, err)
		assert.Len(t, res.Written, 1)
		assert.Equal(t, 7*time.Second, time.Since(start), "waited exactly Retry-After (fake clock)")
		reqs := srv.Requests()[1:] // after GET metadata
		require.Len(t, reqs, 2)
		assert.Equal(t, http.StatusTooManyRequests, reqs[0].Status)
		assert.Equal(t, http.StatusOK, reqs[1].Status)
		assert.Equal(t, 0, p.BreakerState(), "a 429 does not count against the breaker")
	})
}

func TestFHIRRetryAfterBeyondBudgetFailsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Retry: resilience.RetrySettings{MaxElapsed: time.Minute}})
		srv.FailNext(1, http.StatusTooManyRequests, time.Hour)
		_, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.ErrorIs(t, err, ohx.ErrRateLimited)
		assert.Equal(t, time.Hour, ohx.RetryAfter(err))
		assert.True(t, ohx.Retryable(err))
		assert.Equal(t, 2, srv.RequestCount(), "GET metadata, one transaction")
	})
}

func TestFHIRBreakerOpensAfterFiveFailuresAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		rec := &recorder{}
		p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Metrics: rec, Retry: resilience.RetrySettings{MaxElapsed: 10 * time.Minute}})
		srv.FailNext(5, http.StatusServiceUnavailable, time.Second)

		_, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.True(t, ohx.Retryable(err))
		assert.Equal(t, 1+5, srv.RequestCount(), "GET metadata; five attempts, then the open breaker stops the retries")
		assert.Equal(t, 2, p.BreakerState())

		// While open, nothing reaches the server.
		_, err = p.Publish(t.Context(), []ohx.Resource{hrObservation(2, "")})
		require.ErrorIs(t, err, ohx.ErrCircuitOpen)
		assert.Equal(t, 1+5, srv.RequestCount())

		time.Sleep(60 * time.Second)
		for i := range 3 {
			res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(10+i, "")})
			require.NoError(t, err)
			assert.Len(t, res.Written, 1)
			if i < 2 {
				assert.Equal(t, 1, p.BreakerState(), "half-open until three successes")
			}
		}
		assert.Equal(t, 0, p.BreakerState())
		assert.Equal(t, []int{0, 2, 1, 0}, rec.breakerStates())
		assert.Equal(t, 3, srv.Count("Observation"))
	})
}

func TestFHIRServerErrorsRetriedThenBatchFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := fhirtest.New()
		p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Retry: resilience.RetrySettings{MaxElapsed: 3 * time.Second},
			Breaker: resilience.BreakerSettings{FailureThreshold: 100}})
		srv.FailNext(100, http.StatusBadGateway, 0)
		start := time.Now()
		res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
		require.ErrorIs(t, err, ohx.ErrTransient)
		var fe *publish.FHIRError
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, http.StatusBadGateway, fe.Status)
		assert.Empty(t, res.Written)
		assert.LessOrEqual(t, time.Since(start), 3*time.Second, "bounded by Retry.MaxElapsed")
		assert.Greater(t, srv.RequestCount(), 1+2, "retried with backoff")
	})
}

func TestFHIRDroppedConnectionIsRetried(t *testing.T) {
	srv := fhirtest.NewServer()
	defer srv.Close()
	p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
	srv.DropNext(1)
	res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
	require.NoError(t, err)
	assert.Len(t, res.Written, 1)
	reqs := srv.Requests()[1:] // after GET metadata
	require.Len(t, reqs, 2)
	assert.Equal(t, 0, reqs[0].Status, "the first connection was dropped")
	assert.Equal(t, 1, srv.Count("Observation"))
}

func TestFHIRInvalidResourcesAreRejectedAndTheRestLands(t *testing.T) {
	dev := testDevice(80)
	invalid := hrObservation(3, "")
	invalid.JSON = json.RawMessage(strings.Replace(string(invalid.JSON), `"status":"final",`, ``, 1))

	tests := []struct {
		name string
		// build returns the batch and the server's refusal predicate.
		batch      []ohx.Resource
		refuse     func(typ, id string) bool
		rejected   map[string]string // key → reason substring
		landed     int               // Observations stored
		requests   int
		devices    int
		reasonHide string
	}{
		{
			name:     "invalid before sending, never sent",
			batch:    []ohx.Resource{hrObservation(1, ""), hrObservation(2, ""), invalid},
			rejected: map[string]string{invalid.Key(): "Observation.status"},
			landed:   2, requests: 1,
		},
		{
			name:     "server refuses one entry of an independent bundle: batch retry",
			batch:    []ohx.Resource{hrObservation(1, ""), hrObservation(2, ""), hrObservation(3, "")},
			refuse:   func(_, id string) bool { return id == hrObservation(2, "").ID },
			rejected: map[string]string{key(hrObservation(2, "")): "http 422"},
			landed:   2, requests: 2,
		},
		{
			name:     "server refuses an entry of a linked bundle: transaction without it",
			batch:    []ohx.Resource{dev, hrObservation(1, dev.ID), hrObservation(2, dev.ID), hrObservation(3, dev.ID)},
			refuse:   func(_, id string) bool { return id == hrObservation(2, dev.ID).ID },
			rejected: map[string]string{key(hrObservation(2, dev.ID)): "Bundle.entry[2]"},
			landed:   2, requests: 2, devices: 1,
		},
		{
			name:   "server refuses the device: its dependents are rejected too",
			batch:  []ohx.Resource{hrObservation(1, ""), dev, hrObservation(2, dev.ID)},
			refuse: func(typ, _ string) bool { return typ == "Device" },
			rejected: map[string]string{
				dev.Key():                     "Bundle.entry[1]",
				key(hrObservation(2, dev.ID)): "depends on rejected entry " + dev.Key(),
			},
			landed: 1, requests: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := fhirtest.NewServer()
			defer srv.Close()
			if tc.refuse != nil {
				srv.RejectIf(func(typ, id string, _ []byte) bool { return tc.refuse(typ, id) })
			}
			p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client()})
			res, err := p.Publish(t.Context(), tc.batch)
			require.NoError(t, err)

			got := map[string]string{}
			for _, r := range res.Rejected {
				got[r.Key] = r.Reason
				assert.NotContains(t, r.Reason, "187.25", "no health value in a reason")
			}
			require.Len(t, got, len(tc.rejected))
			for k, want := range tc.rejected {
				assert.Contains(t, got[k], want, k)
			}
			assert.Len(t, res.Written, len(tc.batch)-len(tc.rejected))
			assert.Equal(t, tc.landed, srv.Count("Observation"))
			assert.Equal(t, tc.devices, srv.Count("Device"))
			assert.Equal(t, 1+tc.requests, srv.RequestCount(), "GET metadata, then the bundles")
			if tc.name == "invalid before sending, never sent" {
				assert.Equal(t, 2, srv.Received("Observation"), "the invalid resource never left")
			}
		})
	}
}

func TestFHIRErrorNamesEntryWithoutValues(t *testing.T) {
	// A strict server answering a whole transaction with 422 and an outcome
	// whose diagnostics echo a value: the error keeps the location only.
	oo := &r5.OperationOutcome{Issue: []r5.OperationOutcomeIssue{{
		Severity: "error", Code: "business-rule", Diagnostics: ptr("value 187.25 out of range"),
		Expression: []string{"Bundle.entry[4].resource.valueQuantity"},
	}}}
	e := &publish.FHIRError{Destination: "ehr", Operation: "transaction", Status: 422, Entry: "Observation/abc", Outcome: oo}
	assert.Equal(t, "publish: fhir ehr transaction entry Observation/abc: http 422 Unprocessable Entity (error business-rule at Bundle.entry[4].resource.valueQuantity)", e.Error())
	assert.ErrorIs(t, e, ohx.ErrPermanent)
	assert.False(t, ohx.Retryable(e))
}

func key(r ohx.Resource) string { return r.Key() }

// checked returns a publisher that has read the server's
// CapabilityStatement (one GET metadata), as the daemon's does at start, so
// a test's faults and request counts concern its writes.
func checked(t testing.TB, cfg publish.FHIRConfig) *publish.FHIR {
	t.Helper()
	p, err := publish.NewFHIR(cfg)
	require.NoError(t, err)
	require.NoError(t, p.Check(t.Context()))
	return p
}

func ptr[T any](v T) *T { return &v }

// BenchmarkFHIRPublish100k publishes 100,000 Observations to a loopback
// fhirtest server in bundles of 100, in engine-sized batches of 500, and
// reports resources per second and HTTP requests per run. "validated" runs
// the R5 validation on both sides, as in production and in tests;
// "transport" turns it off to measure the publisher and the server alone.
func BenchmarkFHIRPublish100k(b *testing.B) {
	n := benchN()
	rs := make([]ohx.Resource, n)
	for i := range rs {
		rs[i] = hrObservation(i, "")
	}
	noCheck := func([]byte) error { return nil }
	for _, bc := range []struct {
		name     string
		validate bool
	}{{"validated", true}, {"transport", false}} {
		b.Run(bc.name, func(b *testing.B) {
			var requests int
			cpu0 := cpuTime()
			for b.Loop() {
				var srvOpts []fhirtest.Option
				cfg := publish.FHIRConfig{}
				if !bc.validate {
					srvOpts = append(srvOpts, fhirtest.WithValidator(nil))
					cfg.Validate = noCheck
				}
				srv := fhirtest.NewServer(srvOpts...)
				cfg.BaseURL, cfg.HTTPClient = srv.URL, srv.Client()
				p := checked(b, cfg)
				for i := 0; i < n; i += 500 {
					res, err := p.Publish(b.Context(), rs[i:i+500])
					if err != nil || len(res.Written) != 500 {
						b.Fatalf("publish: %v (%d written)", err, len(res.Written))
					}
				}
				requests = srv.RequestCount() - 1 // the writes, without GET metadata
				if srv.Count("Observation") != n {
					b.Fatalf("server holds %d Observations", srv.Count("Observation"))
				}
				srv.Close()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "resources/s")
			b.ReportMetric(float64(requests), "requests/run")
			// The machine is shared: CPU time per resource (both sides, all
			// threads) is the number that does not depend on the load.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n*b.N), "cpu-µs/resource")
		})
	}
}

// benchN is the number of Observations of BenchmarkFHIRPublish100k:
// 100,000 unless OHX_BENCH_N says otherwise (for profiling).
func benchN() int {
	if v, err := strconv.Atoi(os.Getenv("OHX_BENCH_N")); err == nil && v > 0 && v%500 == 0 {
		return v
	}
	return 100_000
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestFHIRSearchFindsPublishedResources(t *testing.T) {
	srv := fhirtest.NewServer()
	defer srv.Close()
	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Mode: publish.WriteConditionalCreate})
	require.NoError(t, err)
	batch := []ohx.Resource{hrObservation(1, ""), hrObservation(2, "")}
	_, err = p.Publish(t.Context(), batch)
	require.NoError(t, err)

	ids, err := p.FindByIdentifier(t.Context(), "Observation", batch[1].Identifier)
	require.NoError(t, err)
	assert.Equal(t, srv.ByIdentifier("Observation", batch[1].Identifier), ids)
	require.Len(t, ids, 1)

	ids, err = p.FindByIdentifier(t.Context(), "Observation", testSystem+"|unknown")
	require.NoError(t, err)
	assert.Empty(t, ids)

	ms, err := p.Search(t.Context(), "Observation", url.Values{"subject": {"Patient/p1"}})
	require.NoError(t, err)
	assert.Len(t, ms, 2)

	_, err = p.Search(t.Context(), "Observation", url.Values{"value-quantity": {"187"}})
	var fe *publish.FHIRError
	require.ErrorAs(t, err, &fe, "the test server refuses parameters it does not support")
	assert.Equal(t, http.StatusBadRequest, fe.Status)
	_, err = p.Search(t.Context(), "../x", nil)
	require.Error(t, err)
}

// TestFHIRSearchResourcesFindsWhatToRetract searches as the engine does for
// a provider deletion (subject, code, provider's identifier system, date
// window) and writes one match back as entered-in-error, in each write mode
// (a conditional create of a retraction becomes a conditional update).
func TestFHIRSearchResourcesFindsWhatToRetract(t *testing.T) {
	for _, mode := range []publish.WriteMode{publish.WritePut, publish.WriteConditionalCreate, publish.WriteConditionalUpdate} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := fhirtest.NewServer()
			defer srv.Close()
			p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Mode: mode})
			require.NoError(t, err)
			var _ ohx.Searcher = p
			batch := []ohx.Resource{hrObservation(1, ""), hrObservation(2, ""), hrObservation(3, "")} // 10:00:01, :02, :03
			_, err = p.Publish(t.Context(), batch)
			require.NoError(t, err)

			query := url.Values{
				"subject": {"Patient/p1"}, "code": {"http://loinc.org|8867-4"}, "identifier": {testSystem + "|"},
				"date": {"ge2026-11-01T10:00:02Z", "lt2026-11-01T10:00:04Z"},
			}
			found, err := p.SearchResources(t.Context(), "Observation", query)
			require.NoError(t, err)
			require.Len(t, found, 2)
			byIdent := map[string]ohx.Resource{}
			for _, r := range found {
				assert.Equal(t, "Observation", r.Type)
				body, _, ok := srv.Get("Observation", r.ID)
				require.True(t, ok, "ID is the server's id")
				assert.JSONEq(t, string(body), string(r.JSON))
				var o struct {
					Identifier []struct{ Value string } `json:"identifier"`
				}
				require.NoError(t, json.Unmarshal(r.JSON, &o))
				byIdent[testSystem+"|"+o.Identifier[0].Value] = r
			}
			require.Contains(t, byIdent, batch[1].Identifier)
			require.Contains(t, byIdent, batch[2].Identifier)

			out, err := fhirmap.EnteredInError(byIdent[batch[1].Identifier])
			require.NoError(t, err)
			out.Identifier = batch[1].Identifier
			res, err := p.Publish(t.Context(), []ohx.Resource{out})
			require.NoError(t, err)
			require.Empty(t, res.Rejected)
			assert.Equal(t, 3, srv.Count("Observation"))
			body, version, ok := srv.Get("Observation", out.ID)
			require.True(t, ok)
			assert.Equal(t, 2, version)
			assert.Contains(t, string(body), `"status":"entered-in-error"`)
			require.NoError(t, validate.Resource(body))
			body, _, _ = srv.Get("Observation", byIdent[batch[2].Identifier].ID)
			assert.Contains(t, string(body), `"status":"final"`)

			none, err := p.SearchResources(t.Context(), "Observation", url.Values{"identifier": {"urn:other|"}})
			require.NoError(t, err)
			assert.Empty(t, none)
			_, err = p.SearchResources(t.Context(), "Observation", url.Values{"date": {"2026"}})
			require.Error(t, err)
		})
	}
}

func TestFHIRTimeoutsAndCancellation(t *testing.T) {
	t.Run("a slow answer times out and is retried", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := fhirtest.New()
			srv.SetLatency(time.Minute)
			p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Timeout: 10 * time.Second})
			require.NoError(t, err)
			go func() {
				time.Sleep(15 * time.Second) // the first attempt has timed out
				srv.SetLatency(0)
			}()
			res, err := p.Publish(t.Context(), []ohx.Resource{hrObservation(1, "")})
			require.NoError(t, err)
			assert.Len(t, res.Written, 1)
			assert.Equal(t, 1, srv.Count("Observation"))
			assert.GreaterOrEqual(t, srv.RequestCount(), 2)
		})
	})
	t.Run("a cancelled context stops at once and is not a failure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := fhirtest.New()
			srv.SetLatency(time.Hour)
			p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Timeout: 2 * time.Hour,
				Breaker: resilience.BreakerSettings{FailureThreshold: 1}})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err = p.Publish(ctx, []ohx.Resource{hrObservation(1, "")})
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.Equal(t, 5*time.Second, time.Since(start))
			assert.Equal(t, 0, p.BreakerState(), "a cancelled call does not count against the server")
			assert.Equal(t, 1, srv.RequestCount())
		})
	})
}
