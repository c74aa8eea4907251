package fhirtest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/internal/fhirname"
	"github.com/openhealthexchange/ohx/publish"
)

// InMemoryURL is the base URL of a server that was not started: requests to
// it only work through Client.
const InMemoryURL = "http://fhirtest.invalid"

// Option configures a Server.
type Option func(*Server)

// WithValidator replaces the validation of incoming resources (the default
// is the schema of the server's release plus fhirmap's checks, see
// WithVersion). A nil function turns validation off.
func WithValidator(v func([]byte) error) Option {
	return func(s *Server) { s.validate, s.validateSet = v, true }
}

// WithVersion sets the FHIR release the server speaks: its
// CapabilityStatement states v.Number() as fhirVersion and incoming
// resources are validated against v's schema (unless WithValidator says
// otherwise). The default is R5.
func WithVersion(v ohx.FHIRVersion) Option {
	return func(s *Server) {
		if v != "" {
			s.version = v
		}
	}
}

// WithoutMetadata makes GET [base]/metadata answer 404, as a server without
// a CapabilityStatement does.
func WithoutMetadata() Option {
	return func(s *Server) { s.noMetadata = true }
}

// WithoutBodies makes the server keep, of each resource it accepts, only
// what answering later writes needs: its id, version and identifiers.
// Writes are counted, checked, validated, resolved and answered exactly as
// otherwise (a single request's answer still carries the resource); what
// reads resources back has nothing to read: Get returns a nil body, GET
// Type/id and searches answer 501 with an OperationOutcome, DumpNDJSON and
// WriteNDJSON fail. It is for benchmarks and load tests that post many
// resources and count them, where keeping every body would cost more than
// the client under test.
func WithoutBodies() Option {
	return func(s *Server) { s.noBodies = true }
}

// WithNow sets the clock used for meta.lastUpdated; the default is
// time.Now.
func WithNow(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.now = now
		}
	}
}

// Request is what the server recorded about one HTTP request.
type Request struct {
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Query is the raw query string.
	Query string
	// BundleType is the type of a posted Bundle ("transaction", "batch"),
	// else "".
	BundleType string
	// Entries is the number of entries of a posted Bundle.
	Entries int
	// Status is the HTTP status answered; 0 for a dropped connection.
	Status int
}

// Server is an in-process FHIR R5 (or R4, WithVersion) server for tests. It keeps resources in
// memory, validates everything it receives, and can inject failures. It is
// safe for concurrent use.
type Server struct {
	// URL is the base URL of the server (InMemoryURL until Start).
	URL string

	validate    func([]byte) error
	validateSet bool
	version     ohx.FHIRVersion
	noMetadata  bool
	noBodies    bool
	// treeOnly makes the server read every resource into a tree, as
	// without WithoutBodies (tests compare the light read with it).
	treeOnly bool
	now      func() time.Time
	// newID returns the id of a created resource (tests replace it).
	newID func() string
	ts    *httptest.Server

	mu    sync.Mutex
	store map[string]map[string]*record
	// ident is, per type, "system|value" → ids in the order of their last
	// write; built when first asked for (identIndex).
	ident    map[string]map[string][]string
	writes   uint64 // records committed, for record.seq
	received map[string]int
	requests []Request
	seq      int // resources received, for RejectResource
	faults   faults
}

type faults struct {
	latency  time.Duration
	fail     []failure
	drop     int
	rejectN  map[int]bool
	rejectIf func(resourceType, id string, body []byte) bool
}

type failure struct {
	status     int
	retryAfter time.Duration
}

// New returns a server that is not listening: use Client (requests stay in
// memory, which also works inside testing/synctest bubbles) or Handler, or
// call Start.
func New(opts ...Option) *Server {
	s := &Server{
		URL:      InMemoryURL,
		version:  ohx.R5,
		now:      time.Now,
		newID:    uuid.NewString,
		store:    make(map[string]map[string]*record),
		ident:    make(map[string]map[string][]string),
		received: make(map[string]int),
	}
	for _, o := range opts {
		o(s)
	}
	if !s.validateSet {
		s.validate = func(data []byte) error { return validate.ResourceVersion(s.version, data) }
	}
	return s
}

// Version returns the FHIR release the server speaks.
func (s *Server) Version() ohx.FHIRVersion { return s.version }

// NewServer returns a started server listening on loopback. Call Close when
// done.
func NewServer(opts ...Option) *Server {
	s := New(opts...)
	s.Start()
	return s
}

// Start starts listening on loopback and sets URL.
func (s *Server) Start() {
	if s.ts != nil {
		return
	}
	// Set ts before serving: ServeHTTP reads it, and a client may connect
	// as soon as the listener exists.
	ts := httptest.NewUnstartedServer(s)
	s.ts = ts
	ts.Start()
	s.URL = ts.URL
}

// Close stops a started server.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
}

// Handler returns the server as an http.Handler, to mount in a mux.
func (s *Server) Handler() http.Handler { return s }

// Client returns an HTTP client for the server: the listening server's
// client when started, else a client whose transport calls the handler
// directly, without any network.
func (s *Server) Client() *http.Client {
	if s.ts != nil {
		return s.ts.Client()
	}
	return &http.Client{Transport: memTransport{s}}
}

// memTransport serves requests in memory. A dropped connection is an error
// of RoundTrip, as a client sees it on a real connection.
type memTransport struct{ s *Server }

func (t memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.s.takeDrop(r) {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, fmt.Errorf("fhirtest: connection dropped: %w", io.ErrUnexpectedEOF)
	}
	rec := httptest.NewRecorder()
	t.s.ServeHTTP(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err // the client gave up while the server was slow
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// SetLatency delays every answer by d (a cancelled request stops waiting).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.latency = d
}

// FailNext makes the next n requests fail with status (for example 429 or
// 503) and, when retryAfter > 0, a Retry-After header in seconds. Calls
// queue up.
func (s *Server) FailNext(n, status int, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults.fail = append(s.faults.fail, failure{status: status, retryAfter: retryAfter})
	}
}

// DropNext makes the next n requests end with the connection closed and no
// answer.
func (s *Server) DropNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.drop += n
}

// RejectResource makes the server refuse the n-th resource it receives
// (counting from 1 over all requests) with 422 and an OperationOutcome.
func (s *Server) RejectResource(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.rejectN == nil {
		s.faults.rejectN = make(map[int]bool)
	}
	s.faults.rejectN[n] = true
}

// RejectIf makes the server refuse every incoming resource for which f
// returns true with 422 and an OperationOutcome; nil removes the predicate.
func (s *Server) RejectIf(f func(resourceType, id string, body []byte) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.rejectIf = f
}

// ClearFaults removes every injected failure.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = faults{}
}

// Requests returns the recorded requests in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// RequestCount returns the number of requests received, dropped ones
// included.
func (s *Server) RequestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Received returns how many resources of the type the server received
// (accepted or not).
func (s *Server) Received(resourceType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[resourceType]
}

// Count returns how many resources of the type the server holds.
func (s *Server) Count(resourceType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.store[resourceType])
}

// Types returns the resource types the server holds, sorted.
func (s *Server) Types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.store))
	for t, m := range s.store {
		if len(m) > 0 {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Get returns the stored JSON of a resource and its version (a nil body
// WithoutBodies).
func (s *Server) Get(resourceType, id string) (body []byte, version int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.store[resourceType][id]
	if !ok {
		return nil, 0, false
	}
	if rec.body == nil {
		return nil, rec.version, true
	}
	return append([]byte(nil), rec.body...), rec.version, true
}

// IDs returns the ids of the stored resources of a type, sorted.
func (s *Server) IDs(resourceType string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.store[resourceType]))
	for id := range s.store[resourceType] {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// ByIdentifier returns the ids of stored resources of a type that carry the
// identifier "system|value".
func (s *Server) ByIdentifier(resourceType, identifier string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.identIndex(resourceType)[identifier]...)
}

// DumpNDJSON writes the stored resources of a type, one line each, sorted by
// id.
func (s *Server) DumpNDJSON(w io.Writer, resourceType string) error {
	if s.noBodies {
		return errNoBodies
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.store[resourceType]))
	for id := range s.store[resourceType] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	bw := bufio.NewWriter(w)
	for _, id := range ids {
		if _, err := bw.Write(s.store[resourceType][id].body); err != nil {
			return err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteNDJSON writes everything the server holds into dir as FHIR Bulk Data
// NDJSON, one file per resource type ("Observation.ndjson"), replacing each
// file atomically, and a publish.Manifest that states the server's release
// and counts the resources of each file. dir is created (0750) when
// missing; a dir that holds NDJSON of the other FHIR release
// (publish.DirectoryVersion) is an error.
func (s *Server) WriteNDJSON(dir string) error {
	if s.noBodies {
		return errNoBodies
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("fhirtest: %w", err)
	}
	if held, ok, err := publish.DirectoryVersion(dir); err != nil {
		return fmt.Errorf("fhirtest: %w", err)
	} else if ok && held != s.version {
		return fmt.Errorf("fhirtest: %s holds FHIR %s NDJSON, the server speaks %s: write each release into a directory of its own", dir, held, s.version)
	}
	m := &publish.Manifest{FHIRVersion: s.version.Number()}
	for _, t := range s.Types() {
		m.Files = append(m.Files, publish.ManifestEntry{Type: t, File: t + ".ndjson", Count: s.Count(t)})
		tmp, err := os.CreateTemp(dir, "."+t+".ndjson.tmp-*")
		if err != nil {
			return fmt.Errorf("fhirtest: %w", err)
		}
		err = s.DumpNDJSON(tmp, t)
		if err == nil {
			err = tmp.Chmod(0o640)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(dir, t+".ndjson"))
		}
		if err != nil {
			_ = os.Remove(tmp.Name())
			return fmt.Errorf("fhirtest: write %s.ndjson: %w", t, err)
		}
	}
	return publish.WriteManifest(dir, m)
}

var errNoBodies = errors.New("fhirtest: the server keeps no resource bodies (WithoutBodies)")

// takeDrop consumes one dropped-connection fault and records the request.
func (s *Server) takeDrop(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.drop == 0 {
		return false
	}
	s.faults.drop--
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
	return true
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.ts != nil && s.takeDrop(r) {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery})
	latency := s.faults.latency
	var fail *failure
	if len(s.faults.fail) > 0 {
		f := s.faults.fail[0]
		s.faults.fail = s.faults.fail[1:]
		fail = &f
	}
	s.mu.Unlock()

	rw := &statusRecorder{ResponseWriter: w}
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status = rw.status
		s.mu.Unlock()
	}()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if fail != nil {
		if fail.retryAfter > 0 {
			rw.Header().Set("Retry-After", strconv.Itoa(int((fail.retryAfter+time.Second-1)/time.Second)))
		}
		writeOutcome(rw, fail.status, outcome("transient", "injected failure", ""))
		return
	}
	s.route(rw, r, idx)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets the dropped-connection fault reach the real connection.
func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("fhirtest: hijack not supported")
	}
	return hj.Hijack()
}

// route dispatches a request.
func (s *Server) route(w http.ResponseWriter, r *http.Request, idx int) {
	path := strings.Trim(r.URL.Path, "/")
	parts := []string{}
	if path != "" {
		parts = strings.Split(path, "/")
	}
	switch {
	case len(parts) == 0 && r.Method == http.MethodPost:
		s.handleBundle(w, r, idx)
	case len(parts) == 1 && parts[0] == "metadata" && r.Method == http.MethodGet && !s.noMetadata:
		writeJSON(w, http.StatusOK, capabilityStatement(s.version))
	case len(parts) == 1 && fhirname.IsResourceType(parts[0]):
		switch r.Method {
		case http.MethodGet:
			s.handleSearch(w, r, parts[0])
		case http.MethodPost, http.MethodPut:
			s.handleSingle(w, r, parts[0], "")
		default:
			writeOutcome(w, http.StatusMethodNotAllowed, outcome("not-supported", "method not supported", ""))
		}
	case len(parts) == 2 && fhirname.IsResourceType(parts[0]):
		switch r.Method {
		case http.MethodGet:
			s.handleRead(w, parts[0], parts[1])
		case http.MethodPut:
			s.handleSingle(w, r, parts[0], parts[1])
		default:
			writeOutcome(w, http.StatusMethodNotAllowed, outcome("not-supported", "method not supported", ""))
		}
	default:
		writeOutcome(w, http.StatusNotFound, outcome("not-found", "unknown path", ""))
	}
}

// capabilityStatement is the server's CapabilityStatement: status, date,
// kind, fhirVersion and format are required in R4 and R5 alike.
func capabilityStatement(v ohx.FHIRVersion) map[string]any {
	return map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         "2026-01-01",
		"kind":         "instance",
		"fhirVersion":  v.Number(),
		"format":       []string{"application/fhir+json"},
		"rest": []any{map[string]any{
			"mode":        "server",
			"interaction": []any{map[string]any{"code": "transaction"}, map[string]any{"code": "batch"}},
		}},
	}
}

// maxBody bounds a request body.
const maxBody = 256 << 20

// readBody reads a request body with a bound, into buf when it has room
// for the announced length (and room to see its end without growing), else
// into a new buffer of that size.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	size := int64(bytes.MinRead)
	if n := r.ContentLength; n > 0 && n <= maxBody {
		size += n
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, 0, size)
	}
	b := bytes.NewBuffer(buf[:0])
	_, err := b.ReadFrom(io.LimitReader(r.Body, maxBody))
	return b.Bytes(), err
}

// bodies recycles the bodies of posted Bundles (see handleBundle).
var bodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody bounds the bodies kept for reuse.
const maxPooledBody = 8 << 20
