package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/internal/fhirname"
	"github.com/openhealthexchange/ohx/resilience"
)

// WriteMode says how a FHIR publisher writes resources.
type WriteMode int

// Write modes.
const (
	// WritePut writes every resource with PUT {type}/{id}: the deterministic
	// id makes the write an idempotent create-or-update. This is the
	// default; it needs a server that allows client-assigned ids.
	WritePut WriteMode = iota
	// WriteConditionalCreate creates resources with POST and ifNoneExist on
	// the business identifier, so a second write of the same resource is a
	// no-op. Devices and DeviceAssociations are upserted with a conditional
	// update instead, so their changes (battery, firmware) are kept, and so
	// are Provenances (by their meta.tag), so that an hour's Provenance
	// lists the resources a later read adds to the hour.
	WriteConditionalCreate
	// WriteConditionalUpdate writes every resource with
	// PUT {type}?identifier=system|value: created when no resource has the
	// identifier, updated when one has.
	WriteConditionalUpdate
)

// String returns the mode's name as ParseWriteMode reads it: "put",
// "conditional-create" or "conditional-update" ("unknown" for a value that
// is no mode).
func (m WriteMode) String() string {
	switch m {
	case WritePut:
		return "put"
	case WriteConditionalCreate:
		return "conditional-create"
	case WriteConditionalUpdate:
		return "conditional-update"
	}
	return "unknown"
}

// ParseWriteMode reads a mode's name ("put", "conditional-create",
// "conditional-update"; the String of each mode). Any other text, the empty
// string included, is an error.
func ParseWriteMode(s string) (WriteMode, error) {
	for _, m := range []WriteMode{WritePut, WriteConditionalCreate, WriteConditionalUpdate} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("publish: unknown write mode %q (want put, conditional-create or conditional-update)", s)
}

// MarshalText implements encoding.TextMarshaler with the mode's name, so a
// mode reads the same in JSON, YAML and flags.
func (m WriteMode) MarshalText() ([]byte, error) {
	if m < WritePut || m > WriteConditionalUpdate {
		return nil, fmt.Errorf("publish: unknown write mode %d", int(m))
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseWriteMode.
func (m *WriteMode) UnmarshalText(text []byte) error {
	v, err := ParseWriteMode(string(text))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Defaults of FHIRConfig: a FHIR destination is a single server that many
// workers share, slower to recover than a provider's API, so it gets more
// patience than the resilience defaults: its breaker opens after 5
// consecutive failed requests (each attempt counts), stays open 60 s and
// closes after 3 successes; a request is retried for at most a minute
// (DefaultMaxRetryTime) and DefaultRetryAttempts attempts, and a
// Retry-After is waited out when it fits in that minute.
const (
	DefaultBundleSize       = 100
	DefaultTimeout          = 30 * time.Second
	DefaultMaxRetryTime     = time.Minute
	DefaultRetryAttempts    = 10
	DefaultBreakerFailures  = 5
	DefaultBreakerOpen      = 60 * time.Second
	DefaultBreakerSuccesses = 3
)

// BreakerName returns the name of the breaker of the FHIR destination
// called name in a resilience.Breakers registry: "fhir:" + name.
func BreakerName(name string) string { return "fhir:" + name }

// FHIRConfig configures a FHIR publisher. BaseURL is required; the zero value
// of every other field is a sensible default.
type FHIRConfig struct {
	// BaseURL is the server's base ("https://ehr.example/fhir").
	BaseURL string
	// Name names the destination in breaker, metrics and errors; the default
	// is the base URL's host. Keep it free of user data.
	Name string
	// BundleSize is the number of entries per transaction Bundle; 0 means
	// DefaultBundleSize.
	BundleSize int
	// Mode is the write mode; the zero value is WritePut.
	Mode WriteMode
	// HTTPClient sends the requests; nil means a client with no overall
	// timeout (Timeout bounds each attempt) on a transport that the
	// publishers without a client share: http.DefaultTransport's settings,
	// 32 idle connections per host, and request bodies copied to the
	// connection through pooled buffers. Its transport is wrapped to add
	// the Authorization header.
	HTTPClient *http.Client
	// Auth supplies access tokens (see StaticToken, ClientCredentials,
	// SMARTBackend); nil sends no Authorization header. Tokens are cached by
	// the source and refreshed before they expire.
	Auth oauth2.TokenSource
	// Timeout bounds one HTTP attempt; 0 means DefaultTimeout.
	Timeout time.Duration
	// Retry tunes the retries of one request after 408, 409, 429 and 5xx
	// answers and network failures. Zero fields take the destination's
	// defaults: MaxElapsed DefaultMaxRetryTime, MaxAttempts
	// DefaultRetryAttempts, MaxWait equal to MaxElapsed, and the resilience
	// defaults for the backoff (250 ms doubling to 10 s, ±20 % jitter).
	// When the retries are spent the batch fails with an error that the
	// queue retries later.
	Retry resilience.RetrySettings
	// MaxRetryTime is Retry.MaxElapsed, read when that is zero.
	//
	// Deprecated: set Retry.MaxElapsed.
	MaxRetryTime time.Duration
	// RateLimit limits the requests to the destination; zero means
	// unlimited. A 429 answer with Retry-After pauses every request of the
	// publisher, not only the one that got it.
	RateLimit resilience.Limit
	// Breaker tunes the destination's circuit breaker. Zero fields take the
	// destination's defaults (DefaultBreakerFailures, DefaultBreakerOpen,
	// DefaultBreakerSuccesses); IsFailure nil counts server errors (408,
	// 409, 5xx), timeouts and network failures, never a token failure or a
	// 429.
	Breaker resilience.BreakerSettings
	// Breakers is the registry that holds the destination's breaker, named
	// BreakerName(Name), so an application lists and closes it with its
	// other breakers by that name; nil means a registry of the publisher's
	// own.
	Breakers *resilience.Breakers
	// Version is the FHIR release the publisher sends; the zero value is R5.
	// Before its first write (and in Check) the publisher reads the
	// server's CapabilityStatement and refuses, with a *VersionError, to
	// send to a server of another release, and to send any resource whose
	// ohx.Resource.FHIRVersion is not the server's.
	Version ohx.FHIRVersion
	// SkipVersionCheck trusts Version instead of reading the server's
	// CapabilityStatement, for a server without GET [base]/metadata.
	// Resources of another release than Version are still refused.
	SkipVersionCheck bool
	// Validate checks each resource before it is sent; nil means the
	// Version's schema plus fhirmap's checks (fhirmap/validate). Resources
	// that fail are rejected, never sent.
	Validate func([]byte) error
	// Logger receives logs (no resource content, no tokens); nil means none.
	Logger *zap.Logger
	// Metrics receives measurements; nil means ohx.NopMetrics.
	Metrics ohx.Metrics
}

// FHIR is an ohx.Publisher that writes resources to a FHIR R5 or R4 server
// (FHIRConfig.Version) as transaction Bundles, idempotently. It is safe for
// concurrent use.
//
// Before its first write the publisher reads the server's
// CapabilityStatement (see Check) and sends nothing to a server of another
// FHIR release, nor any resource of another release than the server's.
//
// Each Publish validates the resources, sends them in Bundles of BundleSize
// entries and checks every entry of the transaction-response. When the server
// rejects a whole transaction (4xx), the publisher isolates the bad
// resources: a bundle whose entries do not reference one another is sent
// again as a batch, where every entry succeeds or fails alone; a bundle with
// internal references drops the entry the OperationOutcome names (with the
// entries that depend on it) and sends the rest as a transaction again. The
// bad resources end up in PublishResult.Rejected with a reason built from the
// OperationOutcome.
//
// References between the entries of one bundle: every entry's fullUrl is
// urn:uuid:{id} when the id is a UUID (as fhirmap's deterministic ids are),
// else {BaseURL}/{type}/{id}. In WritePut mode resources keep their plain
// "Type/id" references, which a server resolves because the PUT fixes the
// id. In the conditional modes the server assigns ids, so references to
// another entry of the same bundle are rewritten to that entry's fullUrl.
type FHIR struct {
	cfg      FHIRConfig
	base     string
	client   *http.Client
	breaker  *resilience.Breaker
	limiter  *resilience.Limiter
	retry    resilience.RetrySettings
	log      *zap.Logger
	metrics  ohx.Metrics
	validate func([]byte) error
	head     headScan // what readHead checks after validate (see prepareInto)

	mu    sync.Mutex
	known map[string]string // key → identifier query of referenced types

	metaLock chan struct{}  // held while the CapabilityStatement is read
	server   *serverRelease // the server's release, once read (under metaLock)
}

// maxKnown bounds the identifiers remembered across Publish calls.
const maxKnown = 100_000

// rememberedTypes are the types whose identifiers a publisher remembers
// across calls, because later resources reference them.
var rememberedTypes = map[string]bool{
	"Device": true, "DeviceAssociation": true, "Patient": true, "Practitioner": true,
	"Organization": true, "DiagnosticReport": true,
}

func (p *FHIR) remember(it *item) {
	if !rememberedTypes[it.typ] {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known == nil {
		p.known = make(map[string]string)
	}
	if _, ok := p.known[it.key]; ok || len(p.known) < maxKnown {
		p.known[it.key] = it.identQuery
	}
}

func (p *FHIR) knownIdentifier(key string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	q, ok := p.known[key]
	return q, ok
}

var (
	_ ohx.Publisher    = (*FHIR)(nil)
	_ ohx.BundleSizer  = (*FHIR)(nil)
	_ ohx.JSONReleaser = (*FHIR)(nil)
)

// BundleSize returns the number of entries per transaction Bundle, so the
// engine can size its batches to fill whole bundles.
func (p *FHIR) BundleSize() int { return p.cfg.BundleSize }

// ReleasesJSON implements ohx.JSONReleaser: Publish keeps nothing of a
// resource's JSON once it returned (the bundles it sends are copies), so the
// engine reuses the memory of a batch's JSON for the next batch.
func (p *FHIR) ReleasesJSON() bool { return true }

// NewFHIR checks cfg and returns a publisher.
func NewFHIR(cfg FHIRConfig) (*FHIR, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("publish: fhir base URL must be an absolute http(s) URL")
	}
	if u.User != nil {
		return nil, errors.New("publish: fhir base URL must not carry credentials")
	}
	switch {
	case cfg.BundleSize < 0:
		return nil, errors.New("publish: fhir bundle size must not be negative")
	case cfg.Timeout < 0, cfg.MaxRetryTime < 0, cfg.Breaker.OpenTimeout < 0, cfg.Retry.Validate() != nil:
		return nil, errors.New("publish: fhir durations and retry settings must not be negative")
	case cfg.RateLimit.Validate() != nil:
		return nil, errors.New("publish: fhir rate limit must not be negative")
	case cfg.Mode < WritePut || cfg.Mode > WriteConditionalUpdate:
		return nil, errors.New("publish: unknown fhir write mode")
	case cfg.Version != "" && cfg.Version != ohx.R5 && cfg.Version != ohx.R4:
		return nil, errors.New("publish: unknown fhir version (want ohx.R5 or ohx.R4)")
	}
	if cfg.Name == "" {
		cfg.Name = u.Host
	}
	if cfg.BundleSize == 0 {
		cfg.BundleSize = DefaultBundleSize
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Retry.MaxElapsed == 0 {
		cfg.Retry.MaxElapsed = cfg.MaxRetryTime
	}
	cfg.Retry = cfg.Retry.Or(resilience.RetrySettings{MaxAttempts: DefaultRetryAttempts, MaxElapsed: DefaultMaxRetryTime})
	if cfg.Retry.MaxWait == 0 {
		cfg.Retry.MaxWait = cfg.Retry.MaxElapsed
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	cfg.MaxRetryTime = cfg.Retry.MaxElapsed
	cfg.Breaker = cfg.Breaker.Or(resilience.BreakerSettings{FailureThreshold: DefaultBreakerFailures,
		OpenTimeout: DefaultBreakerOpen, HalfOpenSuccesses: DefaultBreakerSuccesses})
	p := &FHIR{
		cfg:      cfg,
		base:     strings.TrimRight(cfg.BaseURL, "/"),
		log:      cfg.Logger,
		metrics:  cfg.Metrics,
		validate: cfg.Validate,
		retry:    cfg.Retry,
		limiter:  resilience.NewLimiter(cfg.RateLimit),
		metaLock: make(chan struct{}, 1),
	}
	if p.log == nil {
		p.log = zap.NewNop()
	}
	if p.metrics == nil {
		p.metrics = ohx.NopMetrics{}
	}
	switch {
	case p.validate != nil:
		p.head = scanStrict // the caller's validator may not parse the JSON
	case p.Version() == ohx.R5:
		// validate.Resource parses the whole body strictly and refuses
		// repeated member names (TestFHIRNeverSendsMalformedJSON).
		p.validate, p.head = validatorOf(p.Version()), scanFirst
	default:
		p.validate, p.head = validatorOf(p.Version()), scanTrusted
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Transport: ownTransport()}
	}
	client := *base
	if cfg.Auth != nil {
		rt := client.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		client.Transport = &oauth2.Transport{Source: &authSource{src: cfg.Auth}, Base: rt}
	}
	p.client = &client
	reg := cfg.Breakers
	if reg == nil {
		reg = resilience.NewBreakers(resilience.BreakersConfig{Metrics: p.metrics, Logger: p.log})
	}
	p.breaker = reg.Get(BreakerName(cfg.Name), cfg.Breaker)
	return p, nil
}

// Breaker returns the destination's circuit breaker, named
// BreakerName(FHIRConfig.Name) in its registry.
func (p *FHIR) Breaker() *resilience.Breaker { return p.breaker }

// BreakerState returns the destination breaker's state: 0 closed, 1
// half-open, 2 open (the values of ohx.Metrics.BreakerState).
func (p *FHIR) BreakerState() int { return int(p.breaker.Status().State) }

// item is one resource on its way into a bundle.
type item struct {
	key string // "Type/id"
	typ string // the start of key
	// urn says that the entry's fullUrl is "urn:uuid:" and the id in lower
	// case, which appendBundle writes without building the string;
	// otherwise it is fullURL (see entryURL).
	urn     bool
	fullURL string
	body    json.RawMessage
	request r5.BundleRequest
	// identQuery is "identifier=system|value", "_tag=system|code" for a
	// Provenance (conditional modes only).
	identQuery string
}

// id returns the resource's id, the end of key.
func (it *item) id() string { return it.key[len(it.typ)+1:] }

// entryURL returns the entry's fullUrl: urn:uuid for UUID ids, else the
// absolute URL of the resource.
func (it *item) entryURL() string {
	if it.urn {
		return "urn:uuid:" + strings.ToLower(it.id()) // as uuid.UUID.String writes it
	}
	return it.fullURL
}

// Publish validates the resources and writes them in transaction Bundles.
// When the server's release is not the publisher's, or a resource's
// FHIRVersion is not the server's, it sends nothing and returns a
// *VersionError (see Check). A nil error means every resource not in Rejected was acknowledged by the
// server. On an error (server unavailable after retries, breaker open,
// authentication failure, cancelled context) the resources of the failed
// bundle and of later bundles are not in Written; those of earlier bundles
// are.
func (p *FHIR) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	var res ohx.PublishResult
	if err := p.checkVersions(ctx, rs); err != nil {
		return res, err
	}
	ents := getEntries(len(rs))
	defer ents.release() // nothing of the entries outlives the call
	prepared, errs := p.prepareAll(rs, ents)
	items := prepared[:0] // the prepared entries, in place
	var rejected map[string]int
	for i := range rs {
		if prepared[i] == nil {
			res.Rejected = append(res.Rejected, ohx.Rejection{Key: safeKey(&rs[i]), Reason: errs[i].Error()})
			if rejected == nil {
				rejected = make(map[string]int)
			}
			rejected[boundedType(rs[i].Type)]++
			continue
		}
		items = append(items, prepared[i])
	}
	for t, n := range rejected {
		p.metrics.FHIROperation("validate", t, "rejected", n)
	}
	if len(items) > 0 {
		res.Written = make([]string, 0, len(items))
	}
	// In the conditional modes the server assigns ids, so a reference to a
	// resource of an earlier bundle becomes a conditional reference on its
	// identifier.
	var callIdents map[string]string
	if p.cfg.Mode != WritePut {
		callIdents = make(map[string]string, len(items))
		for _, it := range items {
			callIdents[it.key] = it.identQuery
			p.remember(it)
		}
	}
	for start := 0; start < len(items); start += p.cfg.BundleSize {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		chunk := items[start:min(start+p.cfg.BundleSize, len(items))]
		if p.cfg.Mode != WritePut {
			if err := linkEntries(chunk, func(key string) (string, bool) {
				if q, ok := callIdents[key]; ok {
					return q, true
				}
				return p.knownIdentifier(key)
			}); err != nil {
				return res, err
			}
		}
		if err := p.publishTransaction(ctx, chunk, &res); err != nil {
			countByType(p.metrics, "transaction", "error", chunk)
			return res, err
		}
	}
	return res, nil
}

// prepareAll prepares the resources on all CPUs: schema validation is the
// expensive part of publishing. The entry of a resource that fails is nil,
// and errs (nil while none failed) holds its error.
func (p *FHIR) prepareAll(rs []ohx.Resource, ents *entries) (items []*item, errs []error) {
	items, slab := ents.ptrs, ents.items
	setKeys(rs, slab)
	var mu sync.Mutex // guards errs
	prepare := func(i int) {
		if err := p.prepareInto(&rs[i], slab[i].key, &slab[i]); err != nil {
			mu.Lock()
			if errs == nil {
				errs = make([]error, len(rs))
			}
			errs[i] = err
			mu.Unlock()
			return
		}
		items[i] = &slab[i]
	}
	workers := min(runtime.GOMAXPROCS(0), (len(rs)+63)/64)
	if workers <= 1 {
		for i := range rs {
			prepare(i)
		}
		return items, errs
	}
	var wg sync.WaitGroup
	per := (len(rs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*per, min((w+1)*per, len(rs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				prepare(i)
			}
		})
	}
	wg.Wait()
	return items, errs
}

// entries holds the bundle entries of one Publish call and the pointers to
// them, pooled: they live only during the call (what the result keeps of an
// entry, its key, is a string of its own).
type entries struct {
	items []item
	ptrs  []*item
}

var entriesPool = sync.Pool{New: func() any { return new(entries) }}

// maxPooledItems bounds the entries kept for reuse.
const maxPooledItems = 8192

// getEntries returns n zero entries and n nil pointers.
func getEntries(n int) *entries {
	e := entriesPool.Get().(*entries)
	if cap(e.items) < n {
		e.items, e.ptrs = make([]item, n), make([]*item, n)
	}
	e.items, e.ptrs = e.items[:n], e.ptrs[:n]
	return e
}

// release clears the entries (no body or key is kept alive) and pools them.
func (e *entries) release() {
	clear(e.items)
	clear(e.ptrs)
	if cap(e.items) <= maxPooledItems {
		entriesPool.Put(e)
	}
}

// setKeys sets the key ("Type/id") of each entry to its resource's, cut
// from one string: one allocation for a call's keys rather than one per
// resource.
func setKeys(rs []ohx.Resource, entries []item) {
	n := 0
	for i := range rs {
		n += len(rs[i].Type) + 1 + len(rs[i].ID)
	}
	var b strings.Builder
	b.Grow(n)
	for i := range rs {
		b.WriteString(rs[i].Type)
		b.WriteByte('/')
		b.WriteString(rs[i].ID)
	}
	all := b.String()
	for i := range rs {
		n := len(rs[i].Type) + 1 + len(rs[i].ID)
		entries[i].key, all = all[:n], all[n:]
	}
}

// prepare checks a resource and builds its bundle entry.
func (p *FHIR) prepare(r *ohx.Resource) (*item, error) {
	it := new(item)
	if err := p.prepareInto(r, r.Key(), it); err != nil {
		return nil, err
	}
	return it, nil
}

// prepareInto is prepare into an entry the caller allocated; key is
// r.Key().
func (p *FHIR) prepareInto(r *ohx.Resource, key string, it *item) error {
	if !fhirname.IsResourceType(r.Type) {
		return errors.New("invalid resource type")
	}
	if !fhirname.IsID(r.ID) {
		return errors.New("invalid resource id")
	}
	// The default validator parses the whole body strictly: it is the check
	// that the body is one JSON object, and readHead then reads no more
	// than the top level. A validator of the caller's comes after
	// readHead's own strict pass.
	if p.head != scanStrict {
		if err := p.validate(r.JSON); err != nil {
			return err
		}
	}
	head, err := readHead(r.JSON, p.head, p.cfg.Mode == WriteConditionalCreate)
	if err != nil {
		return err
	}
	if !equalString(head.resourceType, r.Type) {
		return errors.New("resourceType in JSON does not match the resource type")
	}
	if !equalString(head.id, r.ID) {
		return errors.New("id in JSON does not match the resource id")
	}
	if p.head == scanStrict {
		if err := p.validate(r.JSON); err != nil {
			return err
		}
	}
	*it = item{key: key, typ: key[:len(r.Type)], body: r.JSON}
	if len(r.ID) == 36 && uuid.Validate(r.ID) == nil {
		it.urn = true
	} else {
		it.fullURL = p.base + "/" + key
	}
	mode := p.cfg.Mode
	if mode == WriteConditionalCreate && (r.Type == "Device" || r.Type == "DeviceAssociation") {
		mode = WriteConditionalUpdate // devices are upserted, never duplicated
	}
	if mode == WriteConditionalCreate && r.Type == "Provenance" {
		// A Provenance covers an hour of a data type and is rewritten with
		// every resource a later read adds to the hour: a conditional create
		// would keep its first target list and leave those without one.
		mode = WriteConditionalUpdate
	}
	if mode == WriteConditionalCreate && enteredInError(head.status) {
		mode = WriteConditionalUpdate // a retraction must replace what is there
	}
	switch mode {
	case WritePut:
		it.request = r5.BundleRequest{Method: r5.MethodPut, URL: it.key} // "Type/id"
	case WriteConditionalCreate, WriteConditionalUpdate:
		q, err := conditionalQuery(r.Type, r.Identifier)
		if err != nil {
			return err
		}
		it.identQuery = q
		if mode == WriteConditionalCreate {
			it.request = r5.BundleRequest{Method: r5.MethodPost, URL: r.Type, IfNoneExist: &q}
		} else {
			it.request = r5.BundleRequest{Method: r5.MethodPut, URL: r.Type + "?" + q}
		}
		// The server assigns the id; a client id in the body would be
		// ignored or refused by a strict server.
		body, err := dropID(r.JSON)
		if err != nil {
			return err
		}
		it.body = body
	}
	return nil
}

// conditionalQuery turns "system|value" into "identifier=system|value" with
// both parts escaped for a query string. A Provenance has no identifier
// element (R4, R5): fhirmap names it by a meta.tag instead, which _tag
// searches.
func conditionalQuery(resourceType, identifier string) (string, error) {
	system, value, ok := strings.Cut(identifier, "|")
	if !ok || value == "" {
		return "", errors.New("resource has no business identifier (system|value) for a conditional write")
	}
	param := "identifier="
	if resourceType == "Provenance" {
		param = "_tag="
	}
	return param + queryEscape(system) + "|" + queryEscape(value), nil
}

// queryEscape escapes a query value but keeps ':' and '/' readable, as FHIR
// servers expect in token systems.
func queryEscape(s string) string {
	e := url.QueryEscape(s)
	return strings.NewReplacer("%3A", ":", "%2F", "/").Replace(e)
}

// dropID removes the top-level id of a resource.
func dropID(body json.RawMessage) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, errors.New("resource JSON is not a JSON object")
	}
	delete(m, "id")
	out, err := json.Marshal(m)
	if err != nil {
		return nil, errors.New("resource JSON is not valid")
	}
	return out, nil
}

// linkEntries rewrites references for the conditional modes, where the
// server assigns ids: a reference to another entry of the bundle ("Type/id")
// becomes that entry's fullUrl; a reference to a resource published earlier
// whose identifier is known becomes a conditional reference
// ("Type?identifier=system|value"), which the server resolves.
func linkEntries(chunk []*item, known func(key string) (string, bool)) error {
	targets := make(map[string]string, len(chunk))
	for _, it := range chunk {
		targets[it.key] = it.entryURL()
	}
	lookup := func(ref string) (string, bool) {
		if t, ok := targets[ref]; ok {
			return t, true
		}
		typ, _, ok := strings.Cut(ref, "/")
		if !ok || !fhirname.IsResourceType(typ) {
			return "", false
		}
		if q, ok := known(ref); ok {
			return typ + "?" + q, true
		}
		return "", false
	}
	for _, it := range chunk {
		if !bytes.Contains(it.body, []byte(`"reference"`)) {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(it.body))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("publish: %s: resource JSON is not valid", it.key)
		}
		if !rewriteRefs(v, lookup) {
			continue
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("publish: %s: resource JSON is not valid", it.key)
		}
		it.body = b
	}
	return nil
}

func rewriteRefs(v any, lookup func(string) (string, bool)) bool {
	changed := false
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "reference" {
				if t, ok := lookup(s); ok {
					x[k] = t
					changed = true
				}
				continue
			}
			if rewriteRefs(e, lookup) {
				changed = true
			}
		}
	case []any:
		for _, e := range x {
			if rewriteRefs(e, lookup) {
				changed = true
			}
		}
	}
	return changed
}

// dependsOn reports, for each entry, which other entries of the chunk it
// references (by "Type/id" or fullUrl).
func dependencies(chunk []*item) map[int][]int {
	idx := make(map[string]int, 2*len(chunk))
	for i, it := range chunk {
		idx[it.key] = i
		idx[it.entryURL()] = i
	}
	deps := make(map[int][]int)
	for i, it := range chunk {
		if !bytes.Contains(it.body, []byte(`"reference"`)) {
			continue
		}
		for _, m := range referenceRE.FindAllSubmatch(it.body, -1) {
			if j, ok := idx[string(m[1])]; ok && j != i {
				deps[i] = append(deps[i], j)
			}
		}
	}
	return deps
}

var referenceRE = regexp.MustCompile(`"reference"\s*:\s*"([^"]+)"`)

var entryIndexRE = regexp.MustCompile(`Bundle\.entry\[(\d+)\]`)

// publishTransaction sends one chunk as a transaction and, when the server
// rejects it as a whole, isolates the bad entries.
func (p *FHIR) publishTransaction(ctx context.Context, chunk []*item, res *ohx.PublishResult) error {
	for len(chunk) > 0 {
		r, err := p.send(ctx, "transaction", r5.BundleTransaction, chunk)
		if err != nil {
			return err
		}
		defer r.release() // kept until the loop ends: one answer, more only when entries are rejected
		if r.status >= 200 && r.status < 300 {
			return p.handleResponse(r, "transaction", chunk, res, nil)
		}
		if !rejectsBundle(r.status) {
			return p.requestError("transaction", r)
		}
		outcome := parseOutcome(r.body)
		deps := dependencies(chunk)
		if len(deps) == 0 {
			p.log.Info("fhir: transaction rejected, sending entries as a batch",
				zap.String("destination", p.cfg.Name), zap.Int("status", r.status), zap.Int("entries", len(chunk)))
			return p.publishBatch(ctx, chunk, res)
		}
		bad := culprit(outcome, len(chunk))
		if bad < 0 {
			return p.requestError("transaction", r)
		}
		// Drop the named entry and every entry that depends on it, then try
		// the rest again.
		drop := map[int]bool{bad: true}
		for changed := true; changed; {
			changed = false
			for i, ds := range deps {
				for _, d := range ds {
					if drop[d] && !drop[i] {
						drop[i] = true
						changed = true
					}
				}
			}
		}
		ferr := &FHIRError{Destination: p.cfg.Name, Operation: "transaction", Status: r.status, Entry: chunk[bad].key, Outcome: outcome}
		rest := make([]*item, 0, len(chunk)-len(drop))
		for i, it := range chunk {
			switch {
			case i == bad:
				p.reject(res, it, ferr.Error())
			case drop[i]:
				p.reject(res, it, "depends on rejected entry "+chunk[bad].key)
			default:
				rest = append(rest, it)
			}
		}
		chunk = rest
	}
	return nil
}

// rejectsBundle reports whether a status on a whole transaction means the
// server refused its content (as opposed to refusing us or failing).
func rejectsBundle(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusGone, http.StatusPreconditionFailed,
		http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// culprit finds the entry an OperationOutcome names, or -1.
func culprit(o *r5.OperationOutcome, n int) int {
	if o == nil {
		return -1
	}
	for _, is := range o.Issue {
		for _, x := range is.Expression {
			if m := entryIndexRE.FindStringSubmatch(x); m != nil {
				if i, err := strconv.Atoi(m[1]); err == nil && i < n {
					return i
				}
			}
		}
	}
	return -1
}

// publishBatch sends entries as a batch. Entries that fail with a
// transient status inside a successful batch-response are sent again, with
// the retry settings of a request: each send is one request (itself retried
// by do), and this loop retries only the entries the server could not take
// yet.
func (p *FHIR) publishBatch(ctx context.Context, chunk []*item, res *ohx.PublishResult) error {
	err := resilience.Retry(ctx, p.retry, isEntriesAgain, func(ctx context.Context) error {
		r, err := p.send(ctx, "batch", r5.BundleBatch, chunk)
		if err != nil {
			return err
		}
		defer r.release()
		if r.status < 200 || r.status >= 300 {
			return p.requestError("batch", r)
		}
		var again []*item
		if err := p.handleResponse(r, "batch", chunk, res, &again); err != nil {
			return err
		}
		if len(again) == 0 {
			return nil
		}
		chunk = again
		return &entriesAgain{err: &FHIRError{Destination: p.cfg.Name, Operation: "batch", Status: http.StatusServiceUnavailable, Entry: again[0].key}}
	})
	var ea *entriesAgain
	if errors.As(err, &ea) {
		countByType(p.metrics, "batch", "error", chunk)
		return ea.err
	}
	return err
}

// entriesAgain says that entries of a batch failed with a transient status
// and should be sent again; err is what the batch fails with when the
// retries are spent.
type entriesAgain struct{ err *FHIRError }

func (e *entriesAgain) Error() string { return e.err.Error() }

func isEntriesAgain(err error) bool {
	var ea *entriesAgain
	return errors.As(err, &ea)
}

// handleResponse checks every entry of a transaction- or batch-response.
// Entries failing with a transient status go to again (batch) or fail the
// call (transaction).
func (p *FHIR) handleResponse(r *httpResult, op string, chunk []*item, res *ohx.PublishResult, again *[]*item) error {
	buf := answerPool.Get().(*[]entryAnswer)
	defer func() {
		if cap(*buf) <= maxPooledEntries {
			clear((*buf)[:cap(*buf)]) // no slice of the body outlives it
			answerPool.Put(buf)
		}
	}()
	b, decoded := decodeAnswer(r.body, *buf)
	*buf = b.entries
	if !decoded || !b.bundle {
		return fmt.Errorf("publish: fhir %s %s: response is not a Bundle: %w", p.cfg.Name, op, ohx.ErrTransient)
	}
	want := r5.BundleTransactionResponse
	if op == "batch" {
		want = r5.BundleBatchResponse
	}
	if b.typ != want || len(b.entries) != len(chunk) {
		return fmt.Errorf("publish: fhir %s %s: response is not a %s with %d entries: %w", p.cfg.Name, op, want, len(chunk), ohx.ErrTransient)
	}
	var ok map[string]int
	for i, e := range b.entries {
		it := chunk[i]
		switch status := e.status; {
		case status >= 200 && status < 300:
			res.Written = append(res.Written, it.key)
			if ok == nil {
				ok = make(map[string]int, 1)
			}
			ok[it.typ]++
		case status == 0:
			return fmt.Errorf("publish: fhir %s %s: entry %s has no response status: %w", p.cfg.Name, op, it.key, ohx.ErrTransient)
		default:
			ferr := &FHIRError{Destination: p.cfg.Name, Operation: op, Status: status, Entry: it.key}
			if e.response {
				ferr.Outcome = parseOutcome(e.outcome)
			}
			if errors.Is(ferr, ohx.ErrPermanent) {
				p.reject(res, it, ferr.Error())
				continue
			}
			if again == nil || errors.Is(ferr, ohx.ErrAuth) {
				return ferr
			}
			*again = append(*again, it)
		}
	}
	for t, n := range ok {
		p.metrics.FHIROperation(op, t, "ok", n)
	}
	return nil
}

func (p *FHIR) reject(res *ohx.PublishResult, it *item, reason string) {
	res.Rejected = append(res.Rejected, ohx.Rejection{Key: it.key, Reason: reason})
	p.metrics.FHIROperation("transaction", it.typ, "rejected", 1)
	p.log.Warn("fhir: resource rejected", zap.String("destination", p.cfg.Name), zap.String("key", it.key), zap.String("reason", reason))
}

// requestError turns a final non-2xx answer to a whole request into an error.
func (p *FHIR) requestError(op string, r *httpResult) error {
	return &FHIRError{Destination: p.cfg.Name, Operation: op, Status: r.status, Outcome: parseOutcome(r.body), RetryAfter: r.retryAfter}
}

// entryStatus reads the code of "201 Created".
func entryStatus(s string) int {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, ' '); i >= 0 {
		s = s[:i]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0
	}
	return n
}

func countByType(m ohx.Metrics, op, status string, chunk []*item) {
	n := make(map[string]int)
	for _, it := range chunk {
		n[it.typ]++
	}
	for t, c := range n {
		m.FHIROperation(op, t, status, c)
	}
}

// enteredInError reports whether a resource's status (a code, or a
// DeviceAssociation's CodeableConcept; raw JSON) says entered-in-error.
func enteredInError(raw []byte) bool {
	if !bytes.Contains(raw, []byte("entered-in-error")) {
		return false
	}
	var status any
	if json.Unmarshal(raw, &status) != nil {
		return false
	}
	switch st := status.(type) {
	case string:
		return st == "entered-in-error"
	case map[string]any:
		codings, _ := st["coding"].([]any)
		for _, c := range codings {
			if m, ok := c.(map[string]any); ok && m["code"] == "entered-in-error" {
				return true
			}
		}
	}
	return false
}
