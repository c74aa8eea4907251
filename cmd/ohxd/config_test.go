package main

import (
	"flag"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/publish"
)

var update = flag.Bool("update", false, "rewrite the README configuration table")

func envOf(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.Addr)
	assert.Equal(t, "./ohx-data", c.DataDir)
	assert.Equal(t, "http://localhost:8080", c.PublicURL)
	assert.Equal(t, "ohx-data/ndjson", c.NDJSONDir)
	assert.Equal(t, publish.WritePut, c.FHIRWriteMode)
	assert.Equal(t, 100, c.FHIRBundleSize)
	assert.Equal(t, 30, c.InitialDays)
	assert.Equal(t, ohx.AggregationAuto, c.Aggregation, "hourly series, individual spot measurements")
	assert.Len(t, c.FHIRScopes, 5)
	assert.Equal(t, "https://wbsapi.withings.net", c.WithingsAPIURL)
	assert.Empty(t, c.APIKeys)
	assert.Equal(t, 10*time.Second, c.WebhookDebounce)
	from := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC), c.Nightly.Next(from))
}

func TestConfigDerivedValues(t *testing.T) {
	c, err := loadConfig(envOf(map[string]string{
		"OHX_ADDR": "127.0.0.1:9090", "OHX_DATA_DIR": "/var/lib/ohx", "OHX_NIGHTLY_AT": "00:00",
		"OHX_FHIR_URL": "https://fhir.example/r5/", "OHX_FHIR_WRITE_MODE": "conditional-update",
		"OHX_API_KEYS": " key-0123456789abcdef , key-fedcba9876543210 ", "OHX_AGGREGATION": "hourly",
	}))
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:9090", c.PublicURL, "the default public URL follows the listen port")
	assert.Equal(t, "/var/lib/ohx/ndjson", c.NDJSONDir)
	assert.Equal(t, "https://fhir.example/r5", c.FHIRURL, "no trailing slash")
	assert.Equal(t, publish.WriteConditionalUpdate, c.FHIRWriteMode)
	assert.Equal(t, []string{"key-0123456789abcdef", "key-fedcba9876543210"}, c.APIKeys)
	assert.Equal(t, ohx.AggregationHourly, c.Aggregation)
	from := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), c.Nightly.Next(from), "midnight is a valid nightly time")
}

// TestConfigReadsOnlyTheTable checks that loading reads every variable of
// the table, the README documents (TestReadmeConfigTable), and no other.
func TestConfigReadsOnlyTheTable(t *testing.T) {
	read := map[string]bool{}
	_, err := loadConfig(func(k string) string { read[k] = true; return "" })
	require.NoError(t, err)
	var table []string
	for _, e := range envVars {
		table = append(table, e.Name)
		assert.NotEmpty(t, e.Doc, e.Name)
	}
	assert.ElementsMatch(t, table, slices.Collect(maps.Keys(read)))
	assert.Len(t, read, len(envVars), "a variable is in the table twice")
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{
		"OHX_ADDR":                   "8080",
		"OHX_API_KEYS":               "short",
		"OHX_WITHINGS_CLIENT_ID":     "id",
		"OHX_FHIR_URL":               "ftp://fhir",
		"OHX_FHIR_WRITE_MODE":        "patch",
		"OHX_FHIR_BUNDLE_SIZE":       "0",
		"OHX_DATABASE_URL":           "postgres://db/ohx",
		"OHX_NIGHTLY_AT":             "25:99",
		"OHX_TLS_CERT_FILE":          "cert.pem",
		"OHX_AGGREGATION":            "daily",
		"OHX_REDIS_URL":              "localhost:6379",
		"OHX_WITHINGS_ALLOWED_CIDRS": "10.0.0.0/33",
	}))
	require.Error(t, err)
	for _, name := range []string{"OHX_ADDR", "OHX_API_KEYS", "OHX_WITHINGS_CLIENT_SECRET", "OHX_WITHINGS_WEBHOOK_SECRET",
		"OHX_FHIR_URL", "OHX_FHIR_WRITE_MODE", "OHX_FHIR_BUNDLE_SIZE", "OHX_SECRET_KEYS", "OHX_NIGHTLY_AT",
		"OHX_TLS_CERT_FILE", "OHX_AGGREGATION", "OHX_REDIS_URL", "OHX_WITHINGS_ALLOWED_CIDRS"} {
		assert.Contains(t, err.Error(), name)
	}
	assert.NotContains(t, err.Error(), "postgres://db/ohx", "values are not echoed")
}

func TestConfigEvents(t *testing.T) {
	_, err := loadConfig(envOf(map[string]string{"OHX_EVENTS_URL": "https://ehr.example/ohx-events"}))
	require.ErrorContains(t, err, "OHX_EVENTS_SECRET: required with OHX_EVENTS_URL")
	_, err = loadConfig(envOf(map[string]string{"OHX_EVENTS_URL": "https://ehr.example/ohx-events", "OHX_EVENTS_SECRET": "whsec_hunter2"}))
	require.ErrorContains(t, err, "OHX_EVENTS_SECRET")
	assert.NotContains(t, err.Error(), "hunter2", "the secret is not echoed")
	_, err = loadConfig(envOf(map[string]string{"OHX_EVENTS_URL": "ehr.example/ohx-events"}))
	require.ErrorContains(t, err, "OHX_EVENTS_URL: must be an absolute http(s) URL")

	secret, err := events.NewSecret()
	require.NoError(t, err)
	c, err := loadConfig(envOf(map[string]string{"OHX_EVENTS_URL": "https://ehr.example/ohx-events/", "OHX_EVENTS_SECRET": secret}))
	require.NoError(t, err)
	assert.Equal(t, "https://ehr.example/ohx-events/", c.EventsURL, "kept as given: the receiver's path is its own")
	_, err = loadConfig(envOf(map[string]string{"OHX_EVENTS_URL": "https://user:pw@ehr.example/", "OHX_EVENTS_SECRET": secret}))
	require.ErrorContains(t, err, "OHX_EVENTS_URL")
	assert.NotContains(t, err.Error(), "pw@")
	assert.Equal(t, secret, c.EventsSecret)
}

// configTable renders the README configuration table from envVars.
func configTable() string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, e := range envVars {
		def := e.Default
		switch {
		case e.Shown != "":
			def = e.Shown
		case def == "":
			def = "–"
		case !strings.Contains(def, " "):
			def = "`" + def + "`"
		}
		b.WriteString("| `" + e.Name + "` | " + def + " | " + e.Doc + " |\n")
	}
	return b.String()
}

func TestReadmeConfigTable(t *testing.T) {
	const start, end = "<!-- config-table:start -->\n", "<!-- config-table:end -->"
	path := "../../README.md"
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	readme := string(data)
	i, j := strings.Index(readme, start), strings.Index(readme, end)
	require.True(t, i >= 0 && j > i, "README.md needs the config-table markers")
	want := configTable()
	if *update {
		readme = readme[:i+len(start)] + want + readme[j:]
		require.NoError(t, os.WriteFile(path, []byte(readme), 0o644))
		return
	}
	assert.Equal(t, want, readme[i+len(start):j], "README configuration table is stale: go test ./cmd/ohxd -run TestReadmeConfigTable -update")
}
