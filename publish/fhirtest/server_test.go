package fhirtest_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

func TestMain(m *testing.M) {
	if err := validate.Ready(); err != nil {
		fmt.Fprintln(os.Stderr, "R5 schema:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// obs returns a valid R5 Observation; id "" leaves the id out.
func obs(id, ident string, extra string) string {
	idPart := ""
	if id != "" {
		idPart = fmt.Sprintf(`"id":%q,`, id)
	}
	return fmt.Sprintf(`{"resourceType":"Observation",%s"identifier":[{"system":"urn:test","value":%q}],"status":"final",`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/p1"},`+
		`"effectiveDateTime":"2026-11-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}%s}`,
		idPart, ident, extra)
}

const device = `{"resourceType":"Device","identifier":[{"system":"urn:dev","value":"d1"}],"status":"active"}`

type resp struct {
	status int
	header http.Header
	body   map[string]any
}

func do(t *testing.T, s *fhirtest.Server, method, path, body string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/fhir+json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	r, err := s.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = r.Body.Close() }()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	out := resp{status: r.StatusCode, header: r.Header}
	if len(b) > 0 {
		require.NoError(t, json.Unmarshal(b, &out.body), string(b))
	}
	return out
}

func bundle(typ string, entries ...string) string {
	return fmt.Sprintf(`{"resourceType":"Bundle","type":%q,"entry":[%s]}`, typ, strings.Join(entries, ","))
}

func entry(fullURL, resource, method, url, ifNoneExist string) string {
	e := map[string]any{"resource": json.RawMessage(resource), "request": map[string]any{"method": method, "url": url}}
	if fullURL != "" {
		e["fullUrl"] = fullURL
	}
	if ifNoneExist != "" {
		e["request"].(map[string]any)["ifNoneExist"] = ifNoneExist
	}
	b, _ := json.Marshal(e)
	return string(b)
}

func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			a, _ := v.([]any)
			if k >= len(a) {
				return nil
			}
			v = a[k]
		}
	}
	return v
}

func TestPutByIDCreatesThenUpdatesWithVersions(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	r := do(t, s, http.MethodPut, "/Observation/o1", obs("o1", "a", ""))
	assert.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, "1", path(r.body, "meta", "versionId"))
	r = do(t, s, http.MethodPut, "/Observation/o1", obs("o1", "a", ""))
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, `W/"2"`, r.header.Get("ETag"))

	r = do(t, s, http.MethodGet, "/Observation/o1", "")
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "2", path(r.body, "meta", "versionId"))
	assert.Equal(t, 1, s.Count("Observation"))

	r = do(t, s, http.MethodGet, "/Observation/missing", "")
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "OperationOutcome", r.body["resourceType"])

	r = do(t, s, http.MethodPut, "/Observation/o2", obs("other", "b", ""))
	assert.Equal(t, http.StatusBadRequest, r.status, "body id must match the URL")
}

func TestInvalidResourceGetsOperationOutcome(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	bad := strings.Replace(obs("o1", "a", ""), `"status":"final",`, `"status":"done",`, 1)
	r := do(t, s, http.MethodPut, "/Observation/o1", bad)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "Observation.status", path(r.body, "issue", 0, "expression", 0))
	assert.NotContains(t, fmt.Sprint(r.body), "done", "the outcome does not echo the value")
	assert.Zero(t, s.Count("Observation"))
	assert.Equal(t, 1, s.Received("Observation"))
}

func TestTransactionIsAllOrNothing(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	bad := strings.Replace(obs("o3", "c", ""), `"status":"final",`, ``, 1)
	r := do(t, s, http.MethodPost, "", bundle("transaction",
		entry("", obs("o1", "a", ""), "PUT", "Observation/o1", ""),
		entry("", obs("o2", "b", ""), "PUT", "Observation/o2", ""),
		entry("", bad, "PUT", "Observation/o3", ""),
	))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "Bundle.entry[2].resource.status", path(r.body, "issue", 0, "expression", 0))
	assert.Zero(t, s.Count("Observation"), "nothing of a failed transaction is stored")

	s.RejectResource(5) // the 2nd resource of the next bundle (3 were received)
	r = do(t, s, http.MethodPost, "", bundle("transaction",
		entry("", obs("o1", "a", ""), "PUT", "Observation/o1", ""),
		entry("", obs("o2", "b", ""), "PUT", "Observation/o2", ""),
	))
	assert.Equal(t, http.StatusUnprocessableEntity, r.status)
	assert.Equal(t, "Bundle.entry[1].resource", path(r.body, "issue", 0, "expression", 0))
	assert.Zero(t, s.Count("Observation"))
}

func TestBatchEntriesSucceedOrFailAlone(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	s.RejectIf(func(_, id string, _ []byte) bool { return id == "o2" })
	r := do(t, s, http.MethodPost, "", bundle("batch",
		entry("", obs("o1", "a", ""), "PUT", "Observation/o1", ""),
		entry("", obs("o2", "b", ""), "PUT", "Observation/o2", ""),
		entry("", obs("o3", "c", ""), "PUT", "Observation/o3", ""),
	))
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "batch-response", r.body["type"])
	assert.Equal(t, "201 Created", path(r.body, "entry", 0, "response", "status"))
	assert.Equal(t, "422 Unprocessable Entity", path(r.body, "entry", 1, "response", "status"))
	assert.Equal(t, "OperationOutcome", path(r.body, "entry", 1, "response", "outcome", "resourceType"))
	assert.Equal(t, "201 Created", path(r.body, "entry", 2, "response", "status"))
	assert.Equal(t, []string{"o1", "o3"}, s.IDs("Observation"))
}

func TestConditionalWritesAndURNReferences(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	devURN := "urn:uuid:0b7e5f8e-2d4e-4c8a-9a57-3f7a0c6c1e01"
	tx := bundle("transaction",
		entry(devURN, device, "PUT", "Device?identifier=urn:dev|d1", ""),
		entry("urn:uuid:0b7e5f8e-2d4e-4c8a-9a57-3f7a0c6c1e02", obs("", "a", `,"device":{"reference":"`+devURN+`"}`), "POST", "Observation", "identifier=urn:test|a"),
	)
	for run := 1; run <= 2; run++ {
		r := do(t, s, http.MethodPost, "", tx)
		require.Equal(t, http.StatusOK, r.status, fmt.Sprint(r.body))
		assert.Equal(t, "transaction-response", r.body["type"])
		if run == 1 {
			assert.Equal(t, "201 Created", path(r.body, "entry", 0, "response", "status"))
			assert.Equal(t, "201 Created", path(r.body, "entry", 1, "response", "status"))
		} else {
			assert.Equal(t, "200 OK", path(r.body, "entry", 0, "response", "status"), "conditional update matched")
			assert.Equal(t, "200 OK", path(r.body, "entry", 1, "response", "status"), "conditional create matched")
		}
	}
	require.Equal(t, 1, s.Count("Device"))
	require.Equal(t, 1, s.Count("Observation"))
	devID := s.IDs("Device")[0]
	_, v, _ := s.Get("Device", devID)
	assert.Equal(t, 2, v)
	body, v, _ := s.Get("Observation", s.IDs("Observation")[0])
	assert.Equal(t, 1, v, "a matched conditional create writes nothing")
	assert.Contains(t, string(body), `"reference":"Device/`+devID+`"`, "urn:uuid resolved")
	assert.Equal(t, s.IDs("Observation"), s.ByIdentifier("Observation", "urn:test|a"))

	tests := []struct {
		name, bundle, expr string
		status             int
	}{
		{"unresolved urn:uuid", bundle("transaction", entry("", obs("", "z", `,"device":{"reference":"urn:uuid:0b7e5f8e-2d4e-4c8a-9a57-3f7a0c6c1eff"}`), "POST", "Observation", "")), "Bundle.entry[0].resource", http.StatusBadRequest},
		{"ifNoneExist with a type prefix", bundle("transaction", entry("", obs("", "z", ""), "POST", "Observation", "Observation?identifier=urn:test|z")), "Bundle.entry[0].request.ifNoneExist", http.StatusBadRequest},
		{"duplicate fullUrl", bundle("transaction", entry(devURN, device, "PUT", "Device?identifier=urn:dev|d1", ""), entry(devURN, device, "PUT", "Device?identifier=urn:dev|d1", "")), "Bundle.entry[1].fullUrl", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, s, http.MethodPost, "", tc.bundle)
			assert.Equal(t, tc.status, r.status)
			assert.Equal(t, tc.expr, path(r.body, "issue", 0, "expression", 0))
		})
	}
	assert.Equal(t, 1, s.Count("Observation"))
}

func TestSearchByIdentifierAndSubject(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	do(t, s, http.MethodPut, "/Observation/o1", obs("o1", "a", ""))
	do(t, s, http.MethodPut, "/Observation/o2", obs("o2", "b", ""))
	tests := []struct {
		query string
		ids   []string
	}{
		{"identifier=urn:test|a", []string{"o1"}},
		{"identifier=urn:test|", []string{"o1", "o2"}},
		{"subject=Patient/p1", []string{"o1", "o2"}},
		{"subject=Patient/p2", nil},
		{"identifier=urn:test|b&subject=Patient/p1", []string{"o2"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := do(t, s, http.MethodGet, "/Observation?"+tc.query, "")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "searchset", r.body["type"])
			assert.InDelta(t, len(tc.ids), r.body["total"], 0)
			var ids []string
			for i := range tc.ids {
				ids = append(ids, path(r.body, "entry", i, "resource", "id").(string))
			}
			assert.Equal(t, tc.ids, ids)
		})
	}
	r := do(t, s, http.MethodGet, "/Observation?value-quantity=72", "")
	assert.Equal(t, http.StatusBadRequest, r.status, "unsupported parameters are refused, not ignored")
}

// timed returns a valid R5 Observation with the given code and effective
// time ("effectiveDateTime":… or "effectivePeriod":{…}).
func timed(id, code, effective string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","id":%q,"identifier":[{"system":"urn:test","value":%q}],"status":"final",`+
		`"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/p1"},%s,`+
		`"valueQuantity":{"value":1,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`, id, id, code, effective)
}

func TestSearchByCodeAndDate(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	for _, o := range []struct{ id, code, eff string }{
		{"hr-9", "8867-4", `"effectiveDateTime":"2026-11-01T09:59:59Z"`},
		{"hr-10", "8867-4", `"effectiveDateTime":"2026-11-01T12:00:00+02:00"`}, // 10:00Z
		{"hr-11", "8867-4", `"effectiveDateTime":"2026-11-01T11:00:00Z"`},
		{"steps", "55423-8", `"effectivePeriod":{"start":"2026-11-01T09:30:00Z","end":"2026-11-01T10:30:00Z"}`},
		{"open", "55423-8", `"effectivePeriod":{"start":"2026-11-01T08:00:00Z"}`},
	} {
		require.Equal(t, http.StatusCreated, do(t, s, http.MethodPut, "/Observation/"+o.id, timed(o.id, o.code, o.eff)).status)
	}
	tests := []struct {
		query string
		ids   []string
	}{
		{"code=http://loinc.org|8867-4", []string{"hr-10", "hr-11", "hr-9"}},
		{"code=8867-4", []string{"hr-10", "hr-11", "hr-9"}},
		{"code=http://snomed.info/sct|8867-4", nil},
		{"code=urn:x|1,http://loinc.org|55423-8", []string{"open", "steps"}},
		{"date=ge2026-11-01T10:00:00Z&date=lt2026-11-01T11:00:00Z", []string{"hr-10", "open", "steps"}},
		{"code=8867-4&date=ge2026-11-01T10:00:00Z&date=lt2026-11-01T11:00:00Z", []string{"hr-10"}},
		{"code=8867-4&date=gt2026-11-01T10:00:00Z", []string{"hr-11"}},
		{"code=8867-4&date=le2026-11-01T10:00:00Z", []string{"hr-10", "hr-9"}},
		{"date=lt2026-11-01T09:00:00Z", []string{"open"}},
		{"date=ge2026-11-02", []string{"open"}},
		{"code=55423-8&date=ge2026-11-01T10:30:00.001Z", []string{"open"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := do(t, s, http.MethodGet, "/Observation?"+strings.ReplaceAll(tc.query, "+", "%2B"), "")
			require.Equal(t, http.StatusOK, r.status)
			var ids []string
			for i := range tc.ids {
				ids = append(ids, path(r.body, "entry", i, "resource", "id").(string))
			}
			assert.Equal(t, tc.ids, ids)
			assert.InDelta(t, len(tc.ids), r.body["total"], 0)
		})
	}
	for _, bad := range []string{"date=2026-11-01", "date=eq2026-11-01", "date=genot-a-date", "date=ge"} {
		r := do(t, s, http.MethodGet, "/Observation?"+bad, "")
		assert.Equal(t, http.StatusBadRequest, r.status, bad)
	}
}

func TestInjectedFailures(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	s.FailNext(2, http.StatusServiceUnavailable, 3*time.Second)
	for range 2 {
		r := do(t, s, http.MethodGet, "/Observation/x", "")
		assert.Equal(t, http.StatusServiceUnavailable, r.status)
		assert.Equal(t, "3", r.header.Get("Retry-After"))
	}
	assert.Equal(t, http.StatusNotFound, do(t, s, http.MethodGet, "/Observation/x", "").status)

	s.DropNext(1)
	// A POST: the client does not retry it on its own.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL, strings.NewReader(bundle("batch")))
	require.NoError(t, err)
	resp, err := s.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err, "the connection was dropped")

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, []int{503, 503, 404, 0}, []int{reqs[0].Status, reqs[1].Status, reqs[2].Status, reqs[3].Status})
}

func TestInMemoryClientAndLatency(t *testing.T) {
	s := fhirtest.New()
	assert.Equal(t, fhirtest.InMemoryURL, s.URL)
	s.SetLatency(20 * time.Millisecond)
	start := time.Now()
	r := do(t, s, http.MethodPut, "/Observation/o1", obs("o1", "a", ""))
	assert.Equal(t, http.StatusCreated, r.status)
	assert.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond)
	s.DropNext(1)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL+"/Observation/o1", nil)
	require.NoError(t, err)
	_, err = s.Client().Do(req) //nolint:bodyclose // no response on a dropped connection
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestWriteNDJSONAndConcurrentWrites(t *testing.T) {
	s := fhirtest.NewServer()
	defer s.Close()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 10 {
				id := fmt.Sprintf("o%d-%d", w, i)
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, s.URL+"/Observation/"+id, bytes.NewReader([]byte(obs(id, id, ""))))
				if !assert.NoError(t, err) {
					return
				}
				resp, err := s.Client().Do(req)
				if assert.NoError(t, err) {
					assert.Equal(t, http.StatusCreated, resp.StatusCode)
					_ = resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	do(t, s, http.MethodPut, "/Device/d1", strings.Replace(device, `{"resourceType":"Device",`, `{"resourceType":"Device","id":"d1",`, 1))

	dir := filepath.Join(t.TempDir(), "dump")
	require.NoError(t, s.WriteNDJSON(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"Device.ndjson", "Observation.ndjson", publish.ManifestName}, names)
	m, err := publish.ReadManifest(dir)
	require.NoError(t, err)
	assert.Equal(t, &publish.Manifest{FHIRVersion: "5.0.0", Files: []publish.ManifestEntry{
		{Type: "Device", File: "Device.ndjson", Count: 1}, {Type: "Observation", File: "Observation.ndjson", Count: 40}}}, m)

	f, err := os.Open(filepath.Join(dir, "Observation.ndjson"))
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		lines++
		require.NoError(t, validate.Resource(sc.Bytes()))
	}
	assert.Equal(t, 40, lines)
	assert.Equal(t, 41, s.RequestCount())
}

// A server speaks R5 or R4: its CapabilityStatement states the release and
// what it takes is validated against that release's schema.
func TestServesEitherRelease(t *testing.T) {
	named := `{"resourceType":"Device","id":"d1","status":"active","displayName":"Scale"}` // displayName is R5 only
	assoc := `{"resourceType":"DeviceAssociation","id":"a1","device":{"reference":"Device/d1"},` +
		`"status":{"coding":[{"system":"http://hl7.org/fhir/deviceassociation-status","code":"attached"}]}}` // no such type in R4
	tests := []struct {
		opts   []fhirtest.Option
		want   ohx.FHIRVersion
		stated string
		r5Only int // status of a PUT of R5-only content
	}{
		{nil, ohx.R5, "5.0.0", http.StatusCreated},
		{[]fhirtest.Option{fhirtest.WithVersion(ohx.R5)}, ohx.R5, "5.0.0", http.StatusCreated},
		{[]fhirtest.Option{fhirtest.WithVersion(ohx.R4)}, ohx.R4, "4.0.1", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.want.String(), func(t *testing.T) {
			s := fhirtest.New(tc.opts...)
			assert.Equal(t, tc.want, s.Version())
			r := do(t, s, http.MethodGet, "/metadata", "")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, tc.stated, r.body["fhirVersion"])
			cs, err := json.Marshal(r.body)
			require.NoError(t, err)
			if tc.want == ohx.R5 {
				require.NoError(t, validate.ResourceVersion(tc.want, cs), "the CapabilityStatement is valid R5")
			} else {
				// The embedded R4 JSON schema enumerates fhirVersion codes up
				// to 4.0.0 only, yet R4 servers state 4.0.1, the release's
				// own number: that one violation is the schema's.
				err := validate.ResourceVersion(tc.want, cs)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "1 violation: CapabilityStatement.fhirVersion")
				r.body["fhirVersion"] = "4.0.0"
				cs, err = json.Marshal(r.body)
				require.NoError(t, err)
				require.NoError(t, validate.ResourceVersion(tc.want, cs), "otherwise the CapabilityStatement is valid R4")
			}

			assert.Equal(t, http.StatusCreated, do(t, s, http.MethodPut, "/Observation/o1", obs("o1", "a", "")).status,
				"this Observation is valid in both releases")
			assert.Equal(t, tc.r5Only, do(t, s, http.MethodPut, "/Device/d1", named).status)
			assert.Equal(t, tc.r5Only, do(t, s, http.MethodPut, "/DeviceAssociation/a1", assoc).status)
		})
	}

	t.Run("NDJSON of one release per directory", func(t *testing.T) {
		dir := t.TempDir()
		r4 := fhirtest.New(fhirtest.WithVersion(ohx.R4))
		require.Equal(t, http.StatusCreated, do(t, r4, http.MethodPut, "/Observation/o1", obs("o1", "a", "")).status)
		require.NoError(t, r4.WriteNDJSON(dir))
		m, err := publish.ReadManifest(dir)
		require.NoError(t, err)
		assert.Equal(t, "4.0.1", m.FHIRVersion)
		require.NoError(t, r4.WriteNDJSON(dir), "the same release again")
		err = fhirtest.New().WriteNDJSON(dir)
		require.ErrorContains(t, err, "holds FHIR R4 NDJSON, the server speaks R5")
	})

	t.Run("without metadata", func(t *testing.T) {
		s := fhirtest.New(fhirtest.WithoutMetadata())
		r := do(t, s, http.MethodGet, "/metadata", "")
		assert.Equal(t, http.StatusNotFound, r.status)
		assert.Equal(t, "OperationOutcome", r.body["resourceType"])
	})
}

// The identifier index lists ids in the order of their last write, whether
// it was kept from the start or built on the first question.
func TestIdentifierIndexOrder(t *testing.T) {
	for _, early := range []bool{true, false} {
		s := fhirtest.New()
		if early {
			assert.Empty(t, s.ByIdentifier("Observation", "urn:test|a"))
		}
		for i, id := range []string{"o1", "o2", "o3", "o1"} {
			want := http.StatusCreated
			if i == 3 {
				want = http.StatusOK
			}
			require.Equal(t, want, do(t, s, http.MethodPut, "/Observation/"+id, obs(id, "a", "")).status)
		}
		require.Equal(t, http.StatusOK, do(t, s, http.MethodPut, "/Observation/o2", obs("o2", "b", "")).status, "o2 now has identifier b")
		assert.Equal(t, []string{"o3", "o1"}, s.ByIdentifier("Observation", "urn:test|a"), "early %v", early)
		assert.Equal(t, []string{"o2"}, s.ByIdentifier("Observation", "urn:test|b"), "early %v", early)
	}
}

// WithoutBodies answers writes exactly as a server that keeps the bodies,
// and says so when asked to read one back.
func TestWithoutBodies(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC) }
	full, lean := fhirtest.New(fhirtest.WithNow(now)), fhirtest.New(fhirtest.WithNow(now), fhirtest.WithoutBodies())
	devURN := "urn:uuid:0b7e5f8e-2d4e-4c8a-9a57-3f7a0c6c1e01"
	writes := []struct{ method, path, body string }{
		{http.MethodPut, "/Observation/o1", obs("o1", "a", "")},
		{http.MethodPut, "/Device/d1", strings.Replace(device, `{"resourceType":"Device",`, `{"resourceType":"Device","id":"d1",`, 1)},
		{http.MethodPost, "", bundle("transaction",
			entry(devURN, device, "PUT", "Device?identifier=urn:dev|d1", ""),
			entry("", obs("o2", "b", `,"device":{"reference":"`+devURN+`"}`), "PUT", "Observation/o2", ""),
			entry("", obs("", "a", ""), "POST", "Observation", "identifier=urn:test|a"))},
		{http.MethodPost, "", bundle("batch", entry("", obs("o1", "a", ""), "PUT", "Observation/o1", ""), entry("", obs("o9", "z", ""), "PUT", "Observation/o8", ""))},
		{http.MethodPut, "/Observation?identifier=urn:test|b", obs("o2", "b", "")},
		{http.MethodPut, "/Observation/o3", strings.Replace(obs("o3", "c", ""), `"status":"final",`, ``, 1)},
	}
	for _, wr := range writes {
		a, b := do(t, full, wr.method, wr.path, wr.body), do(t, lean, wr.method, wr.path, wr.body)
		assert.Equal(t, a.status, b.status, wr.path)
		assert.Equal(t, a.body, b.body, wr.path)
		assert.Equal(t, a.header.Get("Location"), b.header.Get("Location"))
	}
	r := do(t, lean, http.MethodPost, "/Observation", obs("", "a", ""), "If-None-Exist", "identifier=urn:test|a")
	assert.Equal(t, http.StatusOK, r.status, "a matched conditional create answers without a body")
	assert.Nil(t, r.body)

	for _, typ := range []string{"Observation", "Device"} {
		assert.Equal(t, full.IDs(typ), lean.IDs(typ))
		for _, id := range full.IDs(typ) {
			_, va, _ := full.Get(typ, id)
			body, vb, ok := lean.Get(typ, id)
			assert.True(t, ok)
			assert.Nil(t, body)
			assert.Equal(t, va, vb)
		}
	}
	assert.Equal(t, full.ByIdentifier("Observation", "urn:test|a"), lean.ByIdentifier("Observation", "urn:test|a"))
	assert.Equal(t, http.StatusNotImplemented, do(t, lean, http.MethodGet, "/Observation/o1", "").status)
	assert.Equal(t, http.StatusNotImplemented, do(t, lean, http.MethodGet, "/Observation?identifier=urn:test|a", "").status)
	require.Error(t, lean.WriteNDJSON(t.TempDir()))
	require.Error(t, lean.DumpNDJSON(io.Discard, "Observation"))
}
