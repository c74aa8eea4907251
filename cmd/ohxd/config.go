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

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/oura"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/queue"
	"github.com/openhealthexchange/ohx/withings"
)

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

	Oura ouraConfig // oura.go

	FHIRURL, FHIRBearerToken, FHIRTokenURL             string
	FHIRClientID, FHIRClientSecret, FHIRPrivateKeyFile string
	FHIRScopes                                         []string
	FHIRVersion                                        ohx.FHIRVersion
	FHIRSkipVersionCheck                               bool
	FHIRWriteMode                                      publish.WriteMode
	FHIRBundleSize                                     int
	NDJSONDir                                          string
	EventsURL, EventsSecret                            string

	DatabaseURL, RedisURL, RedisNamespace string
	WebhookDebounce                       time.Duration
	Aggregation                           ohx.AggregationMode
	InitialDays, Workers                  int
	MaxLookbackDays, MaxBackfillDays      int
	OrganizationName, AdminAddr           string
	ConnectTTL, PendingLinkTTL            time.Duration
	Nightly                               queue.Schedule
	TLSCertFile, TLSKeyFile               string
	LogLevel, AuditLog                    string
}

// envVar is one OHX_* variable: the README's configuration table is rendered
// from these (TestReadmeConfigTable), and loadConfig reads exactly these.
type envVar struct {
	Name string
	// Default is the value when the variable is unset or blank.
	Default string
	// Shown, when set, is the README's default instead of Default: a
	// default derived from other variables or generated.
	Shown string
	Doc   string
	// set stores the value (or Default; "" when neither) in the
	// configuration. Its error says what is wrong without echoing the value.
	set func(c *config, v string) error
}

// envVars is every variable ohxd reads, in README order.
var envVars = []envVar{
	{"OHX_ADDR", ":8080", "", "listen address of the API, webhooks and health endpoints",
		func(c *config, v string) error { c.Addr = v; return hostPort(v) }},
	{"OHX_DATA_DIR", "./ohx-data", "", "directory of the embedded SQLite store, the generated key ring and the NDJSON output",
		func(c *config, v string) error { c.DataDir = v; return nil }},
	{"OHX_API_KEYS", "", "", "comma-separated bearer keys for `/v1` (16+ characters each); without keys `/v1` answers 401", setAPIKeys},
	{"OHX_SECRET_KEYS", "", "generated in the data directory (SQLite only)", "key ring sealing tokens and signing OAuth state: `id:base64key` pairs (32-byte keys), comma-separated, first is primary; required with PostgreSQL",
		func(c *config, v string) error { c.SecretKeys = v; return nil }},
	{"OHX_PUBLIC_URL", "", "`http://localhost:8080` (the port of `OHX_ADDR`)", "externally visible base URL, used for OAuth callbacks (`{url}/oauth/{provider}/callback`) and webhook registration",
		httpURL(func(c *config) *string { return &c.PublicURL })},
	{"OHX_REDIRECT_ALLOWLIST", "", "", "comma-separated URL prefixes that `success_url` and `error_url` of new links must start with, segment by segment",
		func(c *config, v string) error { c.RedirectAllowlist = splitList(v, ","); return nil }},
	{"OHX_ORGANIZATION_NAME", "", "`Your care provider`", "the organisation the patient connect page names as the one asking for the data",
		setOrganization},
	{"OHX_CONNECT_TTL", "15m", "", "how long a patient connect page may wait to be opened, and the patient may then take at the provider (Go duration, 1m to 24h)",
		duration(func(c *config) *time.Duration { return &c.ConnectTTL }, time.Minute, 24*time.Hour)},
	{"OHX_PENDING_LINK_TTL", "1h", "", "how long a link may stay pending before it is deleted (Go duration, at least twice `OHX_CONNECT_TTL`)",
		duration(func(c *config) *time.Duration { return &c.PendingLinkTTL }, 2*time.Minute, 30*24*time.Hour)},
	{"OHX_ADMIN_ADDR", "", "", "optional separate listen address of `/metrics`, `/livez`, `/readyz` and `/healthz` (then not served on `OHX_ADDR`)",
		func(c *config, v string) error {
			if c.AdminAddr = v; v == "" {
				return nil
			}
			return hostPort(v)
		}},

	{"OHX_WITHINGS_CLIENT_ID", "", "", "Withings app client id; setting it enables the `withings` provider",
		func(c *config, v string) error { c.WithingsClientID = v; return nil }},
	{"OHX_WITHINGS_CLIENT_SECRET", "", "", "Withings app client secret",
		func(c *config, v string) error { c.WithingsClientSecret = v; return nil }},
	{"OHX_WITHINGS_WEBHOOK_SECRET", "", "", "unguessable secret in the Withings callback path `/webhooks/withings/{secret}` (required when Withings is enabled)",
		func(c *config, v string) error { c.WithingsWebhookSecret = v; return nil }},
	{"OHX_WITHINGS_API_URL", "https://wbsapi.withings.net", "", "Withings API base URL",
		httpURL(func(c *config) *string { return &c.WithingsAPIURL })},
	{"OHX_WITHINGS_AUTH_URL", withings.DefaultAuthURL, "", "Withings authorize endpoint",
		httpURL(func(c *config) *string { return &c.WithingsAuthURL })},
	{"OHX_WITHINGS_ALLOWED_CIDRS", "", "", "optional comma-separated CIDRs Withings notifications must come from", setCIDRs},
	{"OHX_WITHINGS_REQUESTS_PER_MINUTE", strconv.Itoa(withings.DefaultRequestsPerMinute), "", "the Withings app's request budget (120 on the standard plan; enterprise plans have more), shared by all users",
		intIn(func(c *config) *int { return &c.WithingsPerMinute }, 1, 1_000_000)},

	{"OHX_GOOGLE_CLIENT_ID", "", "", "Google OAuth client id; setting it enables the `fitbit` provider (Fitbit and Pixel data via the Google Health API)",
		func(c *config, v string) error { c.GoogleClientID = v; return nil }},
	{"OHX_GOOGLE_CLIENT_SECRET", "", "", "Google OAuth client secret",
		func(c *config, v string) error { c.GoogleClientSecret = v; return nil }},
	{"OHX_GOOGLE_WEBHOOK_SECRET", "", "", "the full `Authorization` value configured on the Google Health subscriber (e.g. `Bearer …`)",
		func(c *config, v string) error { c.GoogleWebhookSecret = v; return nil }},
	{"OHX_GOOGLE_REQUESTS_PER_MINUTE", strconv.Itoa(fitbit.DefaultRequestsPerMinute), "", "requests per minute per Google Health user (Google's per-user quota)",
		intIn(func(c *config) *int { return &c.GooglePerMinute }, 1, 1_000_000)},
	{"OHX_GOOGLE_HEALTH_API_URL", "https://health.googleapis.com", "", "Google Health API base URL",
		httpURL(func(c *config) *string { return &c.GoogleHealthAPIURL })},
	{"OHX_GOOGLE_AUTH_URL", "https://accounts.google.com/o/oauth2/v2/auth", "", "Google authorize endpoint",
		httpURL(func(c *config) *string { return &c.GoogleAuthURL })},
	{"OHX_GOOGLE_TOKEN_URL", "https://oauth2.googleapis.com/token", "", "Google token endpoint",
		httpURL(func(c *config) *string { return &c.GoogleTokenURL })},
	{"OHX_GOOGLE_REVOKE_URL", "https://oauth2.googleapis.com/revoke", "", "Google revoke endpoint",
		httpURL(func(c *config) *string { return &c.GoogleRevokeURL })},
	{"OHX_GOOGLE_WEBHOOK_KEYSET_URL", "https://www.gstatic.com/googlehealthapi/webhooks/webhooks_public_keyset.json", "", "public keyset verifying Google Health webhook signatures",
		httpURL(func(c *config) *string { return &c.GoogleKeysetURL })},

	{"OHX_OURA_CLIENT_ID", "", "", "Oura application client id; setting it enables the `oura` provider (Oura Ring via the Oura API v2)",
		func(c *config, v string) error { c.Oura.ClientID = v; return nil }},
	{"OHX_OURA_CLIENT_SECRET", "", "", "Oura application client secret; it also verifies the signature of Oura's webhook deliveries",
		func(c *config, v string) error { c.Oura.ClientSecret = v; return nil }},
	{"OHX_OURA_WEBHOOK_TOKEN", "", "", "verification token Oura sends back to `{OHX_PUBLIC_URL}/webhooks/oura` when ohxd creates a webhook subscription (required when Oura is enabled, at least 16 characters)",
		func(c *config, v string) error { c.Oura.WebhookToken = v; return nil }},
	{"OHX_OURA_MANAGE_SUBSCRIPTIONS", "true", "", "`true`: ohxd creates and renews the Oura application's webhook subscriptions to `{OHX_PUBLIC_URL}/webhooks/oura` at start-up and daily; `false`: the operator manages them (say, when another deployment shares the Oura application)",
		setOuraManage},
	{"OHX_OURA_REQUESTS_PER_MINUTE", strconv.Itoa(oura.DefaultRequestsPerMinute), "", "requests per minute per Oura user (Oura's FAQ: 5,000 per 5 minutes)",
		intIn(func(c *config) *int { return &c.Oura.PerMinute }, 1, 1_000_000)},
	{"OHX_OURA_API_URL", oura.DefaultAPIBaseURL, "", "Oura API base URL",
		httpURL(func(c *config) *string { return &c.Oura.APIURL })},
	{"OHX_OURA_AUTH_URL", oura.DefaultAuthURL, "", "Oura authorize endpoint",
		httpURL(func(c *config) *string { return &c.Oura.AuthURL })},
	{"OHX_OURA_TOKEN_URL", oura.DefaultTokenURL, "", "Oura token endpoint (applications of Oura's newer developer portal may need `" + oura.PortalTokenURL + "`)",
		httpURL(func(c *config) *string { return &c.Oura.TokenURL })},
	{"OHX_OURA_REVOKE_URL", oura.DefaultRevokeURL, "", "Oura revoke endpoint",
		httpURL(func(c *config) *string { return &c.Oura.RevokeURL })},

	{"OHX_FHIR_URL", "", "", "FHIR server base URL (a server of the release `OHX_FHIR_VERSION` names); setting it switches the destination from NDJSON files to the server",
		httpURL(func(c *config) *string { return &c.FHIRURL })},
	{"OHX_FHIR_VERSION", "R5", "", "FHIR release of the resources, `R5` or `R4`, for the server and the NDJSON files alike; ohxd reads the server's CapabilityStatement (`GET [base]/metadata`) at start and before its first write, and sends nothing to a server of the other release",
		setFHIRVersion},
	{"OHX_FHIR_SKIP_VERSION_CHECK", "false", "", "`true` trusts `OHX_FHIR_VERSION` without reading the server's CapabilityStatement, for a server without `/metadata`",
		setSkipVersionCheck},
	{"OHX_FHIR_BEARER_TOKEN", "", "", "static bearer token for the FHIR server",
		func(c *config, v string) error { c.FHIRBearerToken = v; return nil }},
	{"OHX_FHIR_TOKEN_URL", "", "", "token endpoint for OAuth2 client credentials or SMART Backend Services",
		httpURL(func(c *config) *string { return &c.FHIRTokenURL })},
	{"OHX_FHIR_CLIENT_ID", "", "", "client id for client credentials or SMART Backend Services",
		func(c *config, v string) error { c.FHIRClientID = v; return nil }},
	{"OHX_FHIR_CLIENT_SECRET", "", "", "client secret (client credentials)",
		func(c *config, v string) error { c.FHIRClientSecret = v; return nil }},
	{"OHX_FHIR_PRIVATE_KEY_FILE", "", "", "PEM private key (RSA → RS384, EC P-384 → ES384) for SMART Backend Services; takes precedence over the client secret",
		func(c *config, v string) error { c.FHIRPrivateKeyFile = v; return nil }},
	{"OHX_FHIR_SCOPES", "", "R5: `" + strings.Join(defaultScopes(ohx.R5), " ") + "`; R4: the same without `system/DeviceAssociation.write`",
		"space-separated scopes requested from the token endpoint; the default follows `OHX_FHIR_VERSION` (R4 has no DeviceAssociation)",
		func(c *config, v string) error { c.FHIRScopes = strings.Fields(v); return nil }},
	{"OHX_FHIR_WRITE_MODE", "put", "", "`put` (PUT Type/id), `conditional-create` (POST + If-None-Exist) or `conditional-update` (PUT Type?identifier=)",
		func(c *config, v string) (err error) { c.FHIRWriteMode, err = publish.ParseWriteMode(v); return err }},
	{"OHX_FHIR_BUNDLE_SIZE", "100", "", "entries per transaction Bundle",
		intIn(func(c *config) *int { return &c.FHIRBundleSize }, 1, 1000)},
	{"OHX_NDJSON_DIR", "", "`$OHX_DATA_DIR/ndjson`", "output directory when no FHIR server is configured",
		func(c *config, v string) error { c.NDJSONDir = v; return nil }},
	{"OHX_EVENTS_URL", "", "", "URL the EHR receives signed events at (`link.active`, `sync.completed`, …; see Operations); unset sends none",
		setEventsURL},
	{"OHX_EVENTS_SECRET", "", "", "signing secret of the events, `whsec_` and the base64 of 24 to 64 random bytes (`ohxd keys events-secret` makes one); required with `OHX_EVENTS_URL`", setEventsSecret},

	{"OHX_DATABASE_URL", "", "", "`postgres://` URL; switches the store from embedded SQLite to PostgreSQL (several replicas)", setDatabaseURL},
	{"OHX_REDIS_URL", "", "", "`redis://` URL; switches the queue (and refresh locks) from in-memory to Redis", setRedisURL},
	{"OHX_REDIS_NAMESPACE", "ohx", "", "prefix of the queue's and the webhook replay marks' Redis keys, so several deployments (or tests) can share one Redis database", setRedisNamespace},
	{"OHX_WEBHOOK_DEBOUNCE", "10s", "", "delay of the sync a webhook queues, so a burst of notifications coalesces into one sync (Go duration, 100ms to 10m)", setDebounce},
	{"OHX_AGGREGATION", "auto", "", "`auto`: hourly aggregates of the high-frequency series (heart rate, intraday steps, SpO2, respiratory rate) and every spot measurement individually (weight, body composition, blood pressure, temperature, ECG, sleep, HRV, daily summaries, day totals, a pulse taken with a weight); `hourly`: every sample of those types aggregated, spot readings included (day totals never); `individual`: every sample as the provider gave it", setAggregation},
	{"OHX_INITIAL_DAYS", "30", "", "days of history of the initial sync after linking (at most `OHX_MAX_LOOKBACK_DAYS`)",
		intIn(func(c *config) *int { return &c.InitialDays }, 1, 3650)},
	{"OHX_MAX_LOOKBACK_DAYS", "90", "", "furthest back, in days, an initial, incremental, push or nightly sync reads",
		intIn(func(c *config) *int { return &c.MaxLookbackDays }, 1, 3650)},
	{"OHX_MAX_BACKFILL_DAYS", "365", "", "furthest back, in days, a backfill (`POST /v1/links/{id}/sync` with a window) may start; older windows answer 400",
		intIn(func(c *config) *int { return &c.MaxBackfillDays }, 1, 3650)},
	{"OHX_WORKERS", "4", "", "concurrent sync workers",
		intIn(func(c *config) *int { return &c.Workers }, 1, 256)},
	{"OHX_NIGHTLY_AT", "02:00", "", "UTC time of the nightly reconciliation", setNightly},
	{"OHX_TLS_CERT_FILE", "", "", "TLS certificate (PEM) when no terminating proxy is in front",
		func(c *config, v string) error { c.TLSCertFile = v; return nil }},
	{"OHX_TLS_KEY_FILE", "", "", "TLS private key (PEM)",
		func(c *config, v string) error { c.TLSKeyFile = v; return nil }},
	{"OHX_LOG_LEVEL", "info", "", "`debug`, `info`, `warn` or `error`; JSON logs on stderr", setLogLevel},
	{"OHX_AUDIT_LOG", "stderr", "", "file the audit trail is appended to (JSON lines), or `stderr`",
		func(c *config, v string) error { c.AuditLog = v; return nil }},
}

// loadConfig reads the OHX_* variables of envVars through getenv and
// validates them. Every problem is reported, not only the first, and no
// value is echoed (some are secrets).
func loadConfig(getenv func(string) string) (*config, error) {
	c := &config{}
	var errs []error
	for _, e := range envVars {
		v := strings.TrimSpace(getenv(e.Name))
		if v == "" {
			v = e.Default
		}
		if err := e.set(c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", e.Name, err))
		}
	}
	if c.PublicURL == "" {
		c.PublicURL = "http://localhost" + portOf(c.Addr)
	}
	if c.NDJSONDir == "" {
		c.NDJSONDir = filepath.Join(c.DataDir, "ndjson")
	}
	if len(c.FHIRScopes) == 0 {
		c.FHIRScopes = defaultScopes(c.FHIRVersion)
	}
	errs = append(errs, c.check()...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %w", errors.Join(errs...))
	}
	return c, nil
}

// check returns the problems that involve several variables.
func (c *config) check() []error {
	var errs []error
	bad := func(name, msg string) { errs = append(errs, fmt.Errorf("%s: %s", name, msg)) }
	if c.WithingsClientID != "" {
		if c.WithingsClientSecret == "" {
			bad("OHX_WITHINGS_CLIENT_SECRET", "required when OHX_WITHINGS_CLIENT_ID is set")
		}
		if len(c.WithingsWebhookSecret) < 16 {
			bad("OHX_WITHINGS_WEBHOOK_SECRET", "required when Withings is enabled, at least 16 characters")
		}
	}
	if c.GoogleClientID != "" {
		if c.GoogleClientSecret == "" {
			bad("OHX_GOOGLE_CLIENT_SECRET", "required when OHX_GOOGLE_CLIENT_ID is set")
		}
		if len(c.GoogleWebhookSecret) < 16 {
			bad("OHX_GOOGLE_WEBHOOK_SECRET", "required when the fitbit provider is enabled, at least 16 characters")
		}
	}
	errs = append(errs, c.checkOura()...)
	if c.FHIRURL != "" && c.FHIRTokenURL != "" && c.FHIRClientID == "" {
		bad("OHX_FHIR_CLIENT_ID", "required with OHX_FHIR_TOKEN_URL")
	}
	if c.FHIRTokenURL != "" && c.FHIRClientSecret == "" && c.FHIRPrivateKeyFile == "" {
		bad("OHX_FHIR_TOKEN_URL", "needs OHX_FHIR_CLIENT_SECRET or OHX_FHIR_PRIVATE_KEY_FILE")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("OHX_TLS_CERT_FILE", "OHX_TLS_CERT_FILE and OHX_TLS_KEY_FILE go together")
	}
	if c.InitialDays > c.MaxLookbackDays {
		bad("OHX_INITIAL_DAYS", "must not exceed OHX_MAX_LOOKBACK_DAYS")
	}
	if c.PendingLinkTTL < 2*c.ConnectTTL {
		bad("OHX_PENDING_LINK_TTL", "must be at least twice OHX_CONNECT_TTL (the page, then the consent at the provider)")
	}
	if c.AdminAddr != "" && c.AdminAddr == c.Addr {
		bad("OHX_ADMIN_ADDR", "must differ from OHX_ADDR")
	}
	if c.EventsURL != "" && c.EventsSecret == "" {
		bad("OHX_EVENTS_SECRET", "required with OHX_EVENTS_URL")
	}
	if c.DatabaseURL != "" && c.SecretKeys == "" {
		bad("OHX_SECRET_KEYS", "required with a shared PostgreSQL store (every replica needs the same keys)")
	}
	return errs
}

// Parsers of envVars. Each returns a message without the value.

func hostPort(v string) error {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return errors.New("must be host:port (e.g. :8080)")
	}
	return nil
}

// httpURL stores an absolute http(s) URL without its trailing slash; empty
// stays empty.
func httpURL(field func(*config) *string) func(*config, string) error {
	return func(c *config, v string) error {
		v = strings.TrimRight(v, "/")
		*field(c) = v
		if v == "" {
			return nil
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("must be an absolute http(s) URL")
		}
		return nil
	}
}

// intIn stores an integer from lo to hi.
func intIn(field func(*config) *int, lo, hi int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			*field(c) = lo
			return fmt.Errorf("must be an integer from %d to %d", lo, hi)
		}
		*field(c) = n
		return nil
	}
}

// duration stores a Go duration from lo to hi.
func duration(field func(*config) *time.Duration, lo, hi time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			*field(c) = lo
			return fmt.Errorf("must be a duration from %s to %s", lo, hi)
		}
		*field(c) = d
		return nil
	}
}

func setOrganization(c *config, v string) error {
	c.OrganizationName = v
	if len(v) > 200 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("must be at most 200 characters, without control characters")
	}
	return nil
}

func setAPIKeys(c *config, v string) error {
	c.APIKeys = splitList(v, ",")
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			return errors.New("every key must have at least 16 characters")
		}
	}
	return nil
}

func setCIDRs(c *config, v string) error {
	var errs []error
	for _, cidr := range splitList(v, ",") {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			// A CIDR is not a secret: naming it helps.
			errs = append(errs, fmt.Errorf("%q is not a CIDR", cidr))
			continue
		}
		c.WithingsAllowedCIDRs = append(c.WithingsAllowedCIDRs, n)
	}
	return errors.Join(errs...)
}

func setDatabaseURL(c *config, v string) error {
	c.DatabaseURL = v
	if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
		return errors.New("must be a postgres:// URL")
	}
	return nil
}

// setEventsURL keeps the URL exactly as given (the receiver's path is its
// own, trailing slash included).
func setEventsURL(c *config, v string) error {
	c.EventsURL = v
	if v == "" {
		return nil
	}
	if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return errors.New("must be an absolute http(s) URL without user info")
	}
	return nil
}

func setEventsSecret(c *config, v string) error {
	c.EventsSecret = v
	if v == "" {
		return nil
	}
	_, err := events.ParseSecret(v)
	return err
}

func setRedisURL(c *config, v string) error {
	c.RedisURL = v
	if v != "" && !strings.HasPrefix(v, "redis://") && !strings.HasPrefix(v, "rediss://") {
		return errors.New("must be a redis:// or rediss:// URL")
	}
	return nil
}

func setRedisNamespace(c *config, v string) error {
	c.RedisNamespace = v
	if strings.ContainsAny(v, " \t{}") {
		return errors.New("must not contain spaces or braces")
	}
	return nil
}

func setDebounce(c *config, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d < 100*time.Millisecond || d > 10*time.Minute {
		return errors.New("must be a duration from 100ms to 10m (e.g. 10s)")
	}
	c.WebhookDebounce = d
	return nil
}

// defaultScopes are the SMART v1 system scopes to write what ohx writes in
// a release: R4 has no DeviceAssociation (ohx links the device through
// Device.patient there).
func defaultScopes(v ohx.FHIRVersion) []string {
	scopes := []string{"system/Observation.write", "system/DiagnosticReport.write", "system/Device.write"}
	if v != ohx.R4 {
		scopes = append(scopes, "system/DeviceAssociation.write")
	}
	return append(scopes, "system/Provenance.write")
}

func setFHIRVersion(c *config, v string) (err error) {
	if c.FHIRVersion, err = ohx.ParseFHIRVersion(v); err != nil {
		c.FHIRVersion = ohx.R5
		return errors.New("must be R5 or R4")
	}
	return nil
}

func setSkipVersionCheck(c *config, v string) (err error) {
	if c.FHIRSkipVersionCheck, err = strconv.ParseBool(v); err != nil {
		return errors.New("must be true or false")
	}
	return nil
}

func setAggregation(c *config, v string) error {
	c.Aggregation = ohx.AggregationMode(v)
	switch c.Aggregation {
	case ohx.AggregationAuto, ohx.AggregationHourly, ohx.AggregationIndividual:
		return nil
	}
	return errors.New("must be auto, hourly or individual")
}

func setNightly(c *config, v string) (err error) {
	if c.Nightly, err = queue.ParseDaily(v, time.UTC); err != nil {
		return errors.New("must be HH:MM (UTC)")
	}
	return nil
}

func setLogLevel(c *config, v string) error {
	c.LogLevel = v
	switch v {
	case "debug", "info", "warn", "error":
		return nil
	}
	return errors.New("must be debug, info, warn or error")
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
