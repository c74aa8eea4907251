package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/withings"
)

// envVar documents one OHX_* variable. The README's configuration table is
// generated from this list (see TestReadmeConfigTable).
type envVar struct {
	Name    string
	Default string
	Doc     string
}

// envVars is every variable ohxd reads, in README order.
var envVars = []envVar{
	{"OHX_ADDR", ":8080", "listen address of the API, webhooks and health endpoints"},
	{"OHX_DATA_DIR", "./ohx-data", "directory of the embedded SQLite store, the generated key ring and the NDJSON output"},
	{"OHX_API_KEYS", "", "comma-separated bearer keys for `/v1` (16+ characters each); without keys `/v1` answers 401"},
	{"OHX_SECRET_KEYS", "generated in the data directory (SQLite only)", "key ring sealing tokens and signing OAuth state: `id:base64key` pairs (32-byte keys), comma-separated, first is primary; required with PostgreSQL"},
	{"OHX_PUBLIC_URL", "http://localhost:8080", "externally visible base URL, used for OAuth callbacks (`{url}/oauth/{provider}/callback`) and webhook registration"},
	{"OHX_REDIRECT_ALLOWLIST", "", "comma-separated URL prefixes that `success_url` and `error_url` of new links must start with"},
	{"OHX_WITHINGS_CLIENT_ID", "", "Withings app client id; setting it enables the `withings` provider"},
	{"OHX_WITHINGS_CLIENT_SECRET", "", "Withings app client secret"},
	{"OHX_WITHINGS_WEBHOOK_SECRET", "", "unguessable secret in the Withings callback path `/webhooks/withings/{secret}` (required when Withings is enabled)"},
	{"OHX_WITHINGS_API_URL", "https://wbsapi.withings.net", "Withings API base URL"},
	{"OHX_WITHINGS_AUTH_URL", withings.DefaultAuthURL, "Withings authorize endpoint"},
	{"OHX_WITHINGS_ALLOWED_CIDRS", "", "optional comma-separated CIDRs Withings notifications must come from"},
	{"OHX_WITHINGS_REQUESTS_PER_MINUTE", strconv.Itoa(withings.DefaultRequestsPerMinute), "the Withings app's request budget (120 on the standard plan; enterprise plans have more), shared by all users"},
	{"OHX_GOOGLE_CLIENT_ID", "", "Google OAuth client id; setting it enables the `fitbit` provider (Fitbit and Pixel data via the Google Health API)"},
	{"OHX_GOOGLE_CLIENT_SECRET", "", "Google OAuth client secret"},
	{"OHX_GOOGLE_WEBHOOK_SECRET", "", "the full `Authorization` value configured on the Google Health subscriber (e.g. `Bearer …`)"},
	{"OHX_GOOGLE_REQUESTS_PER_MINUTE", strconv.Itoa(fitbit.DefaultRequestsPerMinute), "requests per minute per Google Health user (Google's per-user quota)"},
	{"OHX_GOOGLE_HEALTH_API_URL", "https://health.googleapis.com", "Google Health API base URL"},
	{"OHX_GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth", "Google authorize endpoint"},
	{"OHX_GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token", "Google token endpoint"},
	{"OHX_GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke", "Google revoke endpoint"},
	{"OHX_GOOGLE_WEBHOOK_KEYSET_URL", "https://www.gstatic.com/googlehealthapi/webhooks/webhooks_public_keyset.json", "public keyset verifying Google Health webhook signatures"},
	{"OHX_FHIR_URL", "", "FHIR R5 base URL; setting it switches the destination from NDJSON files to the server"},
	{"OHX_FHIR_BEARER_TOKEN", "", "static bearer token for the FHIR server"},
	{"OHX_FHIR_TOKEN_URL", "", "token endpoint for OAuth2 client credentials or SMART Backend Services"},
	{"OHX_FHIR_CLIENT_ID", "", "client id for client credentials or SMART Backend Services"},
	{"OHX_FHIR_CLIENT_SECRET", "", "client secret (client credentials)"},
	{"OHX_FHIR_PRIVATE_KEY_FILE", "", "PEM private key (RSA → RS384, EC P-384 → ES384) for SMART Backend Services; takes precedence over the client secret"},
	{"OHX_FHIR_SCOPES", "system/Observation.write system/DiagnosticReport.write system/Device.write system/DeviceAssociation.write system/Provenance.write", "space-separated scopes requested from the token endpoint"},
	{"OHX_FHIR_WRITE_MODE", "put", "`put` (PUT Type/id), `conditional-create` (POST + If-None-Exist) or `conditional-update` (PUT Type?identifier=)"},
	{"OHX_FHIR_BUNDLE_SIZE", "100", "entries per transaction Bundle"},
	{"OHX_NDJSON_DIR", "$OHX_DATA_DIR/ndjson", "output directory when no FHIR server is configured"},
	{"OHX_DATABASE_URL", "", "`postgres://` URL; switches the store from embedded SQLite to PostgreSQL (several replicas)"},
	{"OHX_REDIS_URL", "", "`redis://` URL; switches the queue (and refresh locks) from in-memory to Redis"},
	{"OHX_REDIS_NAMESPACE", "ohx", "prefix of the queue's Redis keys, so several deployments (or tests) can share one Redis database"},
	{"OHX_WEBHOOK_DEBOUNCE", "10s", "delay of the sync a webhook queues, so a burst of notifications coalesces into one sync (Go duration, 100ms to 10m)"},
	{"OHX_AGGREGATION", "individual", "`individual` records or `hourly` aggregates (heart rate, steps, HRV, SpO2, respiratory rate)"},
	{"OHX_INITIAL_DAYS", "30", "days of history of the initial sync after linking"},
	{"OHX_WORKERS", "4", "concurrent sync workers"},
	{"OHX_NIGHTLY_AT", "02:00", "UTC time of the nightly reconciliation"},
	{"OHX_TLS_CERT_FILE", "", "TLS certificate (PEM) when no terminating proxy is in front"},
	{"OHX_TLS_KEY_FILE", "", "TLS private key (PEM)"},
	{"OHX_LOG_LEVEL", "info", "`debug`, `info`, `warn` or `error`; JSON logs on stderr"},
	{"OHX_AUDIT_LOG", "stderr", "file the audit trail is appended to (JSON lines), or `stderr`"},
}

// config is the validated configuration of ohxd.
type config struct {
	Addr              string
	DataDir           string
	APIKeys           []string
	SecretKeys        string
	PublicURL         string
	RedirectAllowlist []string

	WithingsClientID, WithingsClientSecret, WithingsWebhookSecret string
	WithingsAPIURL, WithingsAuthURL                               string
	WithingsAllowedCIDRs                                          []*net.IPNet
	WithingsPerMinute, GooglePerMinute                            int

	GoogleClientID, GoogleClientSecret, GoogleWebhookSecret string
	GoogleHealthAPIURL, GoogleAuthURL, GoogleTokenURL       string
	GoogleRevokeURL, GoogleKeysetURL                        string
	FHIRURL, FHIRBearerToken, FHIRTokenURL                  string
	FHIRClientID, FHIRClientSecret, FHIRPrivateKeyFile      string
	FHIRScopes                                              []string
	FHIRWriteMode                                           publish.WriteMode
	FHIRBundleSize                                          int
	NDJSONDir                                               string
	DatabaseURL, RedisURL, RedisNamespace                   string
	WebhookDebounce                                         time.Duration
	Aggregation                                             string
	InitialDays, Workers                                    int
	NightlyAt                                               time.Duration
	TLSCertFile, TLSKeyFile                                 string
	LogLevel, AuditLog                                      string
}

// loadConfig reads OHX_* variables through getenv and validates them. Every
// problem is reported, not only the first.
func loadConfig(getenv func(string) string) (*config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, e := range envVars {
			if e.Name == name && !strings.Contains(e.Default, " ") && !strings.HasPrefix(e.Default, "$") {
				return e.Default
			}
		}
		return ""
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	c := &config{
		Addr: get("OHX_ADDR"), DataDir: get("OHX_DATA_DIR"), SecretKeys: get("OHX_SECRET_KEYS"),
		PublicURL:        strings.TrimRight(get("OHX_PUBLIC_URL"), "/"),
		WithingsClientID: get("OHX_WITHINGS_CLIENT_ID"), WithingsClientSecret: get("OHX_WITHINGS_CLIENT_SECRET"),
		WithingsWebhookSecret: get("OHX_WITHINGS_WEBHOOK_SECRET"),
		WithingsAPIURL:        get("OHX_WITHINGS_API_URL"), WithingsAuthURL: get("OHX_WITHINGS_AUTH_URL"),
		GoogleClientID: get("OHX_GOOGLE_CLIENT_ID"), GoogleClientSecret: get("OHX_GOOGLE_CLIENT_SECRET"),
		GoogleWebhookSecret: get("OHX_GOOGLE_WEBHOOK_SECRET"), GoogleHealthAPIURL: get("OHX_GOOGLE_HEALTH_API_URL"),
		GoogleAuthURL: get("OHX_GOOGLE_AUTH_URL"), GoogleTokenURL: get("OHX_GOOGLE_TOKEN_URL"),
		GoogleRevokeURL: get("OHX_GOOGLE_REVOKE_URL"), GoogleKeysetURL: get("OHX_GOOGLE_WEBHOOK_KEYSET_URL"),
		FHIRURL: strings.TrimRight(get("OHX_FHIR_URL"), "/"), FHIRBearerToken: get("OHX_FHIR_BEARER_TOKEN"),
		FHIRTokenURL: get("OHX_FHIR_TOKEN_URL"), FHIRClientID: get("OHX_FHIR_CLIENT_ID"),
		FHIRClientSecret: get("OHX_FHIR_CLIENT_SECRET"), FHIRPrivateKeyFile: get("OHX_FHIR_PRIVATE_KEY_FILE"),
		NDJSONDir:   get("OHX_NDJSON_DIR"),
		DatabaseURL: get("OHX_DATABASE_URL"), RedisURL: get("OHX_REDIS_URL"), RedisNamespace: get("OHX_REDIS_NAMESPACE"), Aggregation: get("OHX_AGGREGATION"),
		TLSCertFile: get("OHX_TLS_CERT_FILE"), TLSKeyFile: get("OHX_TLS_KEY_FILE"),
		LogLevel: get("OHX_LOG_LEVEL"), AuditLog: get("OHX_AUDIT_LOG"),
	}
	c.APIKeys = splitList(get("OHX_API_KEYS"), ",")
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			bad("OHX_API_KEYS", "every key must have at least 16 characters")
			break
		}
	}
	c.RedirectAllowlist = splitList(get("OHX_REDIRECT_ALLOWLIST"), ",")
	if v := get("OHX_FHIR_SCOPES"); v != "" {
		c.FHIRScopes = strings.Fields(v)
	} else {
		c.FHIRScopes = strings.Fields(envDefault("OHX_FHIR_SCOPES"))
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://localhost" + portOf(c.Addr)
	}
	if c.NDJSONDir == "" {
		c.NDJSONDir = filepath.Join(c.DataDir, "ndjson")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("OHX_ADDR", "must be host:port (e.g. :8080)")
	}
	for name, v := range map[string]string{
		"OHX_PUBLIC_URL": c.PublicURL, "OHX_WITHINGS_API_URL": c.WithingsAPIURL, "OHX_WITHINGS_AUTH_URL": c.WithingsAuthURL,
		"OHX_GOOGLE_HEALTH_API_URL": c.GoogleHealthAPIURL, "OHX_GOOGLE_AUTH_URL": c.GoogleAuthURL,
		"OHX_GOOGLE_TOKEN_URL": c.GoogleTokenURL, "OHX_GOOGLE_REVOKE_URL": c.GoogleRevokeURL,
		"OHX_GOOGLE_WEBHOOK_KEYSET_URL": c.GoogleKeysetURL, "OHX_FHIR_URL": c.FHIRURL, "OHX_FHIR_TOKEN_URL": c.FHIRTokenURL,
	} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(name, "must be an absolute http(s) URL")
		}
	}
	if c.WithingsClientID != "" {
		if c.WithingsClientSecret == "" {
			bad("OHX_WITHINGS_CLIENT_SECRET", "required when OHX_WITHINGS_CLIENT_ID is set")
		}
		if len(c.WithingsWebhookSecret) < 16 {
			bad("OHX_WITHINGS_WEBHOOK_SECRET", "required when Withings is enabled, at least 16 characters")
		}
	}
	for _, cidr := range splitList(get("OHX_WITHINGS_ALLOWED_CIDRS"), ",") {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			bad("OHX_WITHINGS_ALLOWED_CIDRS", "%q is not a CIDR", cidr)
			continue
		}
		c.WithingsAllowedCIDRs = append(c.WithingsAllowedCIDRs, n)
	}
	if c.GoogleClientID != "" {
		if c.GoogleClientSecret == "" {
			bad("OHX_GOOGLE_CLIENT_SECRET", "required when OHX_GOOGLE_CLIENT_ID is set")
		}
		if len(c.GoogleWebhookSecret) < 16 {
			bad("OHX_GOOGLE_WEBHOOK_SECRET", "required when the fitbit provider is enabled, at least 16 characters")
		}
	}
	if m, err := publish.ParseWriteMode(get("OHX_FHIR_WRITE_MODE")); err != nil {
		bad("OHX_FHIR_WRITE_MODE", "must be put, conditional-create or conditional-update")
	} else {
		c.FHIRWriteMode = m
	}
	if c.FHIRURL != "" && c.FHIRTokenURL != "" && c.FHIRClientID == "" {
		bad("OHX_FHIR_CLIENT_ID", "required with OHX_FHIR_TOKEN_URL")
	}
	if c.FHIRTokenURL != "" && c.FHIRClientSecret == "" && c.FHIRPrivateKeyFile == "" {
		bad("OHX_FHIR_TOKEN_URL", "needs OHX_FHIR_CLIENT_SECRET or OHX_FHIR_PRIVATE_KEY_FILE")
	}
	c.FHIRBundleSize = intVar(get, "OHX_FHIR_BUNDLE_SIZE", 1, 1000, bad)
	c.InitialDays = intVar(get, "OHX_INITIAL_DAYS", 1, 365, bad)
	c.WithingsPerMinute = intVar(get, "OHX_WITHINGS_REQUESTS_PER_MINUTE", 1, 1_000_000, bad)
	c.GooglePerMinute = intVar(get, "OHX_GOOGLE_REQUESTS_PER_MINUTE", 1, 1_000_000, bad)
	c.Workers = intVar(get, "OHX_WORKERS", 1, 256, bad)
	if d, err := time.ParseDuration(get("OHX_WEBHOOK_DEBOUNCE")); err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
		bad("OHX_WEBHOOK_DEBOUNCE", "must be a duration from 100ms to 10m (e.g. 10s)")
	} else {
		c.WebhookDebounce = d
	}
	if c.RedisNamespace != "" && strings.ContainsAny(c.RedisNamespace, " \t{}") {
		bad("OHX_REDIS_NAMESPACE", "must not contain spaces or braces")
	}
	switch c.Aggregation {
	case "individual", "hourly":
	default:
		bad("OHX_AGGREGATION", "must be individual or hourly")
	}
	if at, err := time.Parse("15:04", get("OHX_NIGHTLY_AT")); err != nil {
		bad("OHX_NIGHTLY_AT", "must be HH:MM (UTC)")
	} else {
		c.NightlyAt = time.Duration(at.Hour())*time.Hour + time.Duration(at.Minute())*time.Minute
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("OHX_TLS_CERT_FILE", "OHX_TLS_CERT_FILE and OHX_TLS_KEY_FILE go together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("OHX_LOG_LEVEL", "must be debug, info, warn or error")
	}
	if c.DatabaseURL != "" {
		if !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
			bad("OHX_DATABASE_URL", "must be a postgres:// URL")
		}
		if c.SecretKeys == "" {
			bad("OHX_SECRET_KEYS", "required with a shared PostgreSQL store (every replica needs the same keys)")
		}
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		bad("OHX_REDIS_URL", "must be a redis:// or rediss:// URL")
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %w", errors.Join(errs...))
	}
	return c, nil
}

func envDefault(name string) string {
	for _, e := range envVars {
		if e.Name == name {
			return e.Default
		}
	}
	return ""
}

func intVar(get func(string) string, name string, lo, hi int, bad func(string, string, ...any)) int {
	v, err := strconv.Atoi(get(name))
	if err != nil || v < lo || v > hi {
		bad(name, "must be an integer from %d to %d", lo, hi)
		return lo
	}
	return v
}

func splitList(s, sep string) []string {
	var out []string
	for _, p := range strings.Split(s, sep) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func portOf(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err == nil {
		return ":" + port
	}
	return ":8080"
}

// environ is os.Getenv; tests pass their own.
var environ = os.Getenv
