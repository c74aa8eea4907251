package publish

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
)

var (
	resourceTypeRE = regexp.MustCompile(`^[A-Z][A-Za-z]+$`)
	resourceIDRE   = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
)

// ErrClosed is returned by a publisher used after Close.
var ErrClosed = errors.New("publish: publisher is closed")

// NDJSONOption configures an NDJSON publisher.
type NDJSONOption func(*NDJSON)

// WithNDJSONLogger sets the logger; the default logs nothing. Log lines name
// resource types and counts, never resource content.
func WithNDJSONLogger(l *zap.Logger) NDJSONOption {
	return func(n *NDJSON) {
		if l != nil {
			n.log = l
		}
	}
}

// WithNDJSONMetrics sets the metrics hooks; the default is ohx.NopMetrics.
// Written resources are counted as FHIROperation("ndjson", type, status, n).
func WithNDJSONMetrics(m ohx.Metrics) NDJSONOption {
	return func(n *NDJSON) {
		if m != nil {
			n.metrics = m
		}
	}
}

// WithNDJSONValidator sets a check every resource must pass before it is
// written (for example fhirmap/validate.Resource); a resource that fails it is
// reported in PublishResult.Rejected with the error as reason and not written.
// The error text must not echo resource values.
func WithNDJSONValidator(validate func([]byte) error) NDJSONOption {
	return func(n *NDJSON) { n.validate = validate }
}

// WithNDJSONVersion sets the FHIR release the directory holds; the default
// (and the zero value) is R5. Resources of another release are refused, and
// the directory's manifest states the release.
func WithNDJSONVersion(v ohx.FHIRVersion) NDJSONOption {
	return func(n *NDJSON) { n.version = release(v) }
}

// NDJSON is an ohx.Publisher that writes FHIR Bulk Data NDJSON into a
// directory: one file per resource type ("Observation.ndjson"), one line per
// resource id, and a Manifest (ManifestName) that states the FHIR release
// of every line and counts the resources of each file. The manifest is
// rewritten (atomically) by Flush and Close when the files changed.
// Resources of another release than the directory's (WithNDJSONVersion)
// are refused, and so is a directory that holds another release. Writing a resource again replaces its earlier line, so running
// a sync twice into the same directory never duplicates a resource.
//
// New ids are appended to the file at once, and a resource written again with
// identical content costs no I/O. A resource whose content changed is appended
// too and its earlier line becomes stale; Flush and Close rewrite a file that
// holds stale lines (through a temporary file and an atomic rename), keeping
// every id at the position it was first written. Files are also rewritten
// automatically when their stale lines outnumber the live ones, so the total
// I/O stays linear in the number of resources. Only the ids and line offsets
// are kept in memory, never resource content.
//
// Between a replacement and the next Flush a file may briefly hold two lines
// for one id (the later wins when the publisher reads the directory again);
// call Close when done. An NDJSON is safe for concurrent use; one directory
// must be written by one NDJSON at a time.
type NDJSON struct {
	dir      string
	log      *zap.Logger
	metrics  ohx.Metrics
	validate func([]byte) error
	version  ohx.FHIRVersion

	mu       sync.Mutex
	files    map[string]*ndjsonFile
	closed   bool
	seed     maphash.Seed
	dirty    bool            // the manifest is not up to date
	manifest []byte          // the manifest as last written
	foreign  map[string]bool // types whose file is not ohx's, left out of the manifest
}

var _ ohx.Publisher = (*NDJSON)(nil)

// lineRef locates the live line of one id in its file.
type lineRef struct {
	off  int64
	n    int64 // length including the newline
	hash uint64
}

type ndjsonFile struct {
	typ   string
	path  string
	f     *os.File // opened for reading and appending
	size  int64
	order []string // ids in the order first written
	index map[string]lineRef
	stale int64 // lines in the file that are not live (replaced or garbage)
}

// NewNDJSON returns a publisher writing into dir, creating it (mode 0750) when
// it does not exist. Existing files are read lazily, the first time a resource
// of their type is published or the manifest is written, so their lines are
// kept. A directory whose manifest states another FHIR release than the
// publisher's is an error; NDJSON files without a manifest count as R5,
// which is all ohx wrote before it wrote manifests.
func NewNDJSON(dir string, opts ...NDJSONOption) (*NDJSON, error) {
	if dir == "" {
		return nil, errors.New("publish: ndjson needs a directory")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("publish: create ndjson directory: %w", err)
	}
	n := &NDJSON{
		dir:     dir,
		log:     zap.NewNop(),
		metrics: ohx.NopMetrics{},
		files:   make(map[string]*ndjsonFile),
		seed:    maphash.MakeSeed(),
		version: ohx.R5,
		dirty:   true,
	}
	for _, o := range opts {
		o(n)
	}
	held, ok, err := DirectoryVersion(dir)
	if err != nil {
		return nil, err
	}
	if ok && held != n.version {
		return nil, fmt.Errorf("publish: the ndjson directory holds FHIR %s output, not %s: write each release into a directory of its own",
			held, n.version)
	}
	return n, nil
}

// Dir returns the directory the publisher writes into.
func (n *NDJSON) Dir() string { return n.dir }

// Version returns the FHIR release the publisher writes.
func (n *NDJSON) Version() ohx.FHIRVersion { return n.version }

// Publish writes the resources, one line each, replacing earlier lines of the
// same ids. A resource with an invalid type or id, JSON that is not one
// object, a resourceType or id that disagrees with Type and ID, or that fails
// the validator is rejected and the rest are written. An error (I/O) means
// resources not listed in Written may not be on disk.
func (n *NDJSON) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	var res ohx.PublishResult
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for i := range rs {
		if v := release(rs[i].FHIRVersion); v != n.version {
			return res, fmt.Errorf("publish: ndjson: resource %s is FHIR %s (%s) but the directory holds FHIR %s (%s); nothing was written: %w",
				safeKey(&rs[i]), v, v.Number(), n.version, n.version.Number(), ohx.ErrPermanent)
		}
	}
	// Prepare outside the lock: compacting and checking JSON is the CPU part.
	type prepared struct {
		key  string
		id   string
		line []byte
		hash uint64
	}
	byType := make(map[string][]prepared)
	var types []string
	for i := range rs {
		r := &rs[i]
		line, err := n.prepare(r)
		if err != nil {
			res.Rejected = append(res.Rejected, ohx.Rejection{Key: safeKey(r), Reason: err.Error()})
			continue
		}
		if _, ok := byType[r.Type]; !ok {
			types = append(types, r.Type)
		}
		byType[r.Type] = append(byType[r.Type], prepared{key: r.Key(), id: r.ID, line: line, hash: maphash.Bytes(n.seed, line)})
	}
	for _, rj := range res.Rejected {
		n.log.Debug("ndjson: resource rejected", zap.String("key", rj.Key), zap.String("reason", rj.Reason))
	}

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return res, ErrClosed
	}
	for _, typ := range types {
		file, err := n.file(typ)
		if err != nil {
			return res, err
		}
		w := bufio.NewWriterSize(&offsetWriter{f: file.f, off: file.size}, 256<<10)
		size := file.size
		appended := 0
		for _, p := range byType[typ] {
			if old, ok := file.index[p.id]; ok {
				if old.hash == p.hash && old.n == int64(len(p.line)) && file.sameLine(old, p.line) {
					continue // identical content: nothing to write
				}
				file.stale++
			} else {
				file.order = append(file.order, p.id)
			}
			if _, err := w.Write(p.line); err != nil {
				return res, fmt.Errorf("publish: append to %s.ndjson: %w", typ, err)
			}
			file.index[p.id] = lineRef{off: size, n: int64(len(p.line)), hash: p.hash}
			size += int64(len(p.line))
			appended++
		}
		if err := w.Flush(); err != nil {
			return res, fmt.Errorf("publish: append to %s.ndjson: %w", typ, err)
		}
		if appended > 0 {
			n.dirty = true
		}
		file.size = size
		if file.stale > 1024 && file.stale > int64(len(file.index)) {
			if err := n.compact(file); err != nil {
				return res, err
			}
		}
		for _, p := range byType[typ] {
			res.Written = append(res.Written, p.key)
		}
		n.metrics.FHIROperation("ndjson", typ, "ok", len(byType[typ]))
		n.log.Debug("ndjson: published", zap.String("type", typ), zap.Int("resources", len(byType[typ])), zap.Int("appended", appended))
	}
	rejected := make(map[string]int)
	for _, rj := range res.Rejected {
		typ, _, _ := cut(rj.Key)
		rejected[typ]++
	}
	for typ, c := range rejected {
		n.metrics.FHIROperation("ndjson", boundedType(typ), "rejected", c)
	}
	return res, nil
}

// Flush rewrites every file that holds stale lines, so each id has exactly
// one line.
func (n *NDJSON) Flush(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	return n.flushLocked(ctx)
}

func (n *NDJSON) flushLocked(ctx context.Context) error {
	types := make([]string, 0, len(n.files))
	for t := range n.files {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f := n.files[t]; f.stale > 0 {
			if err := n.compact(f); err != nil {
				return err
			}
		}
	}
	if n.dirty {
		return n.writeManifest()
	}
	return nil
}

// writeManifest writes the manifest, reading the files of earlier runs that
// this publisher has not opened yet so every count is right. A file that is
// not one of resources of its type is left out (and alone).
func (n *NDJSON) writeManifest() error {
	paths, err := filepath.Glob(filepath.Join(n.dir, "*.ndjson"))
	if err != nil {
		return fmt.Errorf("publish: list ndjson files: %w", err)
	}
	for _, p := range paths {
		typ := strings.TrimSuffix(filepath.Base(p), ".ndjson")
		if !resourceTypeRE.MatchString(typ) || n.foreign[typ] {
			continue
		}
		if _, err := n.file(typ); err != nil {
			n.log.Warn("ndjson: a file left out of the manifest", zap.String("type", typ), zap.Error(err))
			if n.foreign == nil {
				n.foreign = make(map[string]bool)
			}
			n.foreign[typ] = true
		}
	}
	m := &Manifest{FHIRVersion: n.version.Number()}
	for typ, f := range n.files {
		m.Files = append(m.Files, ManifestEntry{Type: typ, File: typ + ".ndjson", Count: len(f.index)})
	}
	b, err := writeManifest(n.dir, m, n.manifest)
	if err != nil {
		return err
	}
	n.manifest, n.dirty = b, false
	return nil
}

// Close flushes and closes the files. Further use returns ErrClosed.
func (n *NDJSON) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	err := n.flushLocked(context.Background())
	for _, f := range n.files {
		if cerr := f.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("publish: close %s.ndjson: %w", f.typ, cerr)
		}
	}
	n.closed = true
	return err
}

// prepare checks one resource and returns its line (compact JSON + "\n").
func (n *NDJSON) prepare(r *ohx.Resource) ([]byte, error) {
	if !resourceTypeRE.MatchString(r.Type) {
		return nil, errors.New("invalid resource type")
	}
	if !resourceIDRE.MatchString(r.ID) {
		return nil, errors.New("invalid resource id")
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(r.JSON, &head); err != nil {
		return nil, errors.New("resource JSON is not a JSON object")
	}
	if head.ResourceType != r.Type {
		return nil, errors.New("resourceType in JSON does not match the resource type")
	}
	if head.ID != r.ID {
		return nil, errors.New("id in JSON does not match the resource id")
	}
	if n.validate != nil {
		if err := n.validate(r.JSON); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	buf.Grow(len(r.JSON) + 1)
	if err := json.Compact(&buf, r.JSON); err != nil {
		return nil, errors.New("resource JSON is not valid")
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

// file returns the open file of a type, loading its index on first use.
func (n *NDJSON) file(typ string) (*ndjsonFile, error) {
	if f, ok := n.files[typ]; ok {
		return f, nil
	}
	path := filepath.Join(n.dir, typ+".ndjson")
	fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("publish: open %s.ndjson: %w", typ, err)
	}
	f := &ndjsonFile{typ: typ, path: path, f: fh, index: make(map[string]lineRef)}
	if err := n.load(f); err != nil {
		_ = fh.Close()
		return nil, err
	}
	n.files[typ] = f
	return f, nil
}

// load indexes the lines of an existing file. A last line without a newline
// is what an interrupted append leaves: it is ignored and dropped at the next
// rewrite. Any other line that is not a resource of the file's type is an
// error, so a foreign file is never silently rewritten.
func (n *NDJSON) load(f *ndjsonFile) error {
	r := bufio.NewReaderSize(f.f, 256<<10)
	var off int64
	lineNo := 0
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			lineNo++
			if line[len(line)-1] != '\n' {
				// Interrupted append: end the garbage line so later appends
				// start on a line of their own.
				if _, werr := f.f.WriteAt([]byte{'\n'}, off+int64(len(line))); werr != nil {
					return fmt.Errorf("publish: repair %s.ndjson: %w", f.typ, werr)
				}
				off += int64(len(line)) + 1
				f.stale++
				n.log.Warn("ndjson: dropping an incomplete last line", zap.String("type", f.typ))
				break
			}
			if len(bytes.TrimSpace(line)) == 0 {
				off += int64(len(line))
				f.stale++
				continue
			}
			var head struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			if jerr := json.Unmarshal(line, &head); jerr != nil || head.ResourceType != f.typ || !resourceIDRE.MatchString(head.ID) {
				return fmt.Errorf("publish: %s.ndjson line %d is not a %s resource with a valid id", f.typ, lineNo, f.typ)
			}
			if _, dup := f.index[head.ID]; dup {
				f.stale++
			} else {
				f.order = append(f.order, head.ID)
			}
			f.index[head.ID] = lineRef{off: off, n: int64(len(line)), hash: maphash.Bytes(n.seed, line)}
			off += int64(len(line))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("publish: read %s.ndjson: %w", f.typ, err)
		}
	}
	f.size = off
	return nil
}

// sameLine compares a live line with candidate bytes.
func (f *ndjsonFile) sameLine(ref lineRef, line []byte) bool {
	buf := make([]byte, ref.n)
	if _, err := f.f.ReadAt(buf, ref.off); err != nil {
		return false
	}
	return bytes.Equal(buf, line)
}

// compact rewrites the file with one line per id, in first-written order,
// through a temporary file in the same directory and an atomic rename.
func (n *NDJSON) compact(f *ndjsonFile) error {
	tmp, err := os.CreateTemp(n.dir, "."+f.typ+".ndjson.tmp-*")
	if err != nil {
		return fmt.Errorf("publish: rewrite %s.ndjson: %w", f.typ, err)
	}
	tmpName := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(tmpName)
		return fmt.Errorf("publish: rewrite %s.ndjson: %w", f.typ, err)
	}
	if err := tmp.Chmod(0o640); err != nil {
		return fail(err)
	}
	w := bufio.NewWriterSize(tmp, 256<<10)
	index := make(map[string]lineRef, len(f.index))
	var off int64
	var buf []byte
	for _, id := range f.order {
		ref := f.index[id]
		if int64(cap(buf)) < ref.n {
			buf = make([]byte, ref.n)
		}
		b := buf[:ref.n]
		if _, err := f.f.ReadAt(b, ref.off); err != nil {
			return fail(err)
		}
		if _, err := w.Write(b); err != nil {
			return fail(err)
		}
		index[id] = lineRef{off: off, n: ref.n, hash: ref.hash}
		off += ref.n
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmpName, f.path); err != nil {
		return fail(err)
	}
	_ = f.f.Close()
	f.f = tmp // the temporary file is now the file at f.path
	f.index = index
	f.size = off
	f.stale = 0
	syncDir(n.dir)
	n.log.Debug("ndjson: rewrote file", zap.String("type", f.typ), zap.Int("resources", len(index)))
	return nil
}

// syncDir makes a rename durable where the platform allows it.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// offsetWriter writes at increasing offsets with WriteAt, so appends do not
// depend on the file position.
type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// safeKey returns a key for a rejection that cannot carry arbitrary bytes.
func safeKey(r *ohx.Resource) string {
	t, id := r.Type, r.ID
	if !resourceTypeRE.MatchString(t) {
		t = "invalid-type"
	}
	if !resourceIDRE.MatchString(id) {
		id = "invalid-id"
	}
	return t + "/" + id
}

// boundedType returns t when it is a well-formed resource type, else a fixed
// label, so metric labels stay bounded.
func boundedType(t string) string {
	if resourceTypeRE.MatchString(t) && len(t) <= 64 {
		return t
	}
	return "invalid"
}

func cut(key string) (typ, id string, ok bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:], true
		}
	}
	return key, "", false
}
