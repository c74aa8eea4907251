package fhirtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
	"github.com/openhealthexchange/ohx/internal/fhirname"
)

// record is one stored resource.
type record struct {
	body        []byte // JSON as stored, with id and meta
	version     int
	identifiers []string // "system|value"
	seq         uint64   // when it was committed (Server.writes)
	// reserved marks the placeholder of a transaction's create, which
	// later entries of the transaction see before it is built.
	reserved bool
	// search is what a search matches, read from body when a search first
	// needs it: the server keeps no more per resource than writes need.
	search *searchIndex
	// pooled marks a record of a stage's scratch space (stage.newRecord),
	// never stored as it is.
	pooled bool
}

// searchIndex is what a search matches of a resource.
type searchIndex struct {
	subject string
	codes   []string // "system|code" of code.coding
	// from and to bound the effective time (effectiveDateTime, or
	// effectivePeriod with an open end as the zero time); hasDate is false
	// without either.
	from, to time.Time
	hasDate  bool
}

// searched returns the record's search index.
func (r *record) searched() *searchIndex {
	if r.search == nil {
		tr := getTree()
		defer putTree(tr)
		r.search = &searchIndex{}
		if root, ok := tr.parse(r.body); ok {
			r.search.index(tr, root)
		}
	}
	return r.search
}

// problem is a failure of one entry: an HTTP status and an OperationOutcome.
type problem struct {
	status  int
	outcome map[string]any
}

func (p *problem) Error() string { return http.StatusText(p.status) }

func newProblem(status int, code, diagnostics, expression string) *problem {
	return &problem{status: status, outcome: outcome(code, diagnostics, expression)}
}

// outcome builds an OperationOutcome with one error issue.
func outcome(code, diagnostics, expression string) map[string]any {
	issue := map[string]any{"severity": "error", "code": code}
	if diagnostics != "" {
		issue["diagnostics"] = diagnostics
	}
	if expression != "" {
		issue["expression"] = []string{expression}
	}
	return map[string]any{"resourceType": "OperationOutcome", "issue": []any{issue}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"exception"}]}`)
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOutcome(w http.ResponseWriter, status int, oo map[string]any) { writeJSON(w, status, oo) }

// entryIn is one entry of an incoming Bundle.
type entryIn struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *requestIn      `json:"request"`
	// root is the resource's node in the request's tree, -1 when the
	// resource is not one valid JSON value.
	root int32
	// head and headErr are the resource's head as headOf reads it.
	head    head
	headErr error
	// light says that the resource was read without a tree (readLight):
	// root is -1, pairs holds its identifiers (joinPairs), and nothing in
	// it is rewritten. lightID is its id until finish.
	light   bool
	pairs   []pairSpan
	lightID []byte
}

// read reads the entry's resource into tr.
func (e *entryIn) read(tr *tree) {
	root, ok := tr.parse(e.Resource)
	if !ok {
		root = -1
	}
	e.setRoot(tr, root)
}

func (e *entryIn) setRoot(tr *tree, root int32) {
	e.root = root
	e.head, e.headErr = headOf(tr, root, e.Resource)
}

// requestIn is the request of an entry.
type requestIn struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist"`
}

// stage holds the writes of a transaction until it commits.
type stage struct {
	s      *Server
	writes map[string]map[string]staged // type → id
	size   int                          // the number of writes expected
	// recs, when it has room, holds the records build makes (a
	// transaction's scratch space): commit copies them into the store.
	recs []record
}

// staged is a write of a stage: the record, and when oldSet the store's
// record it replaces (nil: none), known from the target.
type staged struct {
	rec    *record
	old    *record
	oldSet bool
}

// newStage returns a stage for about size writes.
func (s *Server) newStage(size int) *stage {
	return &stage{s: s, writes: make(map[string]map[string]staged, 1), size: size}
}

// reuse readies st, emptied by scratch.release, for about size writes,
// its records made in recs.
func (st *stage) reuse(s *Server, size int, recs []record) *stage {
	st.s, st.size, st.recs = s, size, recs
	if st.writes == nil {
		st.writes = make(map[string]map[string]staged, 1)
	}
	return st
}

// newRecord returns a zero record, from recs while it has room.
func (st *stage) newRecord() *record {
	if n := len(st.recs); n < cap(st.recs) {
		st.recs = st.recs[:n+1]
		r := &st.recs[n]
		*r = record{pooled: true}
		return r
	}
	return new(record)
}

func (st *stage) get(typ, id string) *record {
	if w, ok := st.writes[typ][id]; ok {
		return w.rec
	}
	return st.s.store[typ][id]
}

// getFor is get of the target's type and id.
func (st *stage) getFor(t *target) *record {
	if w, ok := st.writes[t.typ][t.id]; ok {
		return w.rec
	}
	return st.stored(t)
}

// stored returns the store's record of the target's type and id, looked
// up once: the store does not change before the stage commits.
func (st *stage) stored(t *target) *record {
	if !t.storedSet {
		t.stored, t.storedSet = st.s.store[t.typ][t.id], true
	}
	return t.stored
}

// search returns the ids of resources with the identifier, staged ones
// included (in no particular order).
func (st *stage) search(typ, identifier string) []string {
	ids := slices.Clone(st.s.identIndex(typ)[identifier])
	for id, w := range st.writes[typ] {
		if slices.Contains(w.rec.identifiers, identifier) && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

// put stages a write; a record without body reserves the id (and its
// identifiers) for the entries after it.
func (st *stage) put(typ, id string, r *record) {
	st.stage(typ, id, staged{rec: r})
}

// putFor stages the write of a target, with the store's record it
// replaces when the target looked it up.
func (st *stage) putFor(t *target, r *record) {
	st.stage(t.typ, t.id, staged{rec: r, old: t.stored, oldSet: t.storedSet})
}

func (st *stage) stage(typ, id string, w staged) {
	if st.writes[typ] == nil {
		st.writes[typ] = make(map[string]staged, st.size)
	}
	st.writes[typ][id] = w
}

// commit applies the staged writes to the store: a record replaces the
// one stored in place when the stage knows it, else it is stored (a
// copy of one from recs). The caller holds s.mu.
func (st *stage) commit() {
	s := st.s
	for typ, m := range st.writes {
		if len(m) == 0 {
			continue // a type a reused stage wrote before
		}
		store, index := s.store[typ], s.ident[typ]
		if store == nil {
			store = make(map[string]*record, len(m))
			s.store[typ] = store
		}
		for id, w := range m {
			r := w.rec
			s.writes++
			r.seq = s.writes
			old, known := w.old, w.oldSet
			if !known && index != nil {
				old, known = store[id]
			}
			if old != nil && index != nil {
				for _, ident := range old.identifiers {
					index[ident] = slices.DeleteFunc(index[ident], func(x string) bool { return x == id })
				}
			}
			// id may point into the request's strings (strs): what the
			// store and the index keep of it is a copy.
			kept := ""
			switch {
			case old != nil && known:
				*old = *r
				old.pooled = false
			case r.pooled:
				copied := *r
				copied.pooled = false
				kept = strings.Clone(id)
				store[kept] = &copied
			default:
				kept = strings.Clone(id)
				store[kept] = r
			}
			if index == nil {
				continue
			}
			for _, ident := range r.identifiers {
				if ids := index[ident]; !slices.Contains(ids, id) {
					if kept == "" {
						kept = strings.Clone(id)
					}
					index[ident] = append(ids, kept)
				}
			}
		}
	}
}

// identIndex returns the identifier index of a type, building it the first
// time: conditional writes and ByIdentifier need it, PUT by id does not.
// The caller holds s.mu.
func (s *Server) identIndex(typ string) map[string][]string {
	if index := s.ident[typ]; index != nil {
		return index
	}
	recs := make([]*record, 0, len(s.store[typ]))
	ids := make(map[*record]string, len(s.store[typ]))
	for id, r := range s.store[typ] {
		recs = append(recs, r)
		ids[r] = id
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmp.Compare(a.seq, b.seq) })
	index := make(map[string][]string, len(recs))
	for _, r := range recs {
		for _, ident := range r.identifiers {
			if !slices.Contains(index[ident], ids[r]) {
				index[ident] = append(index[ident], ids[r])
			}
		}
	}
	s.ident[typ] = index
	return index
}

// target is what an entry resolves to before it is written.
type target struct {
	typ, id string
	create  bool
	noop    bool // conditional create that matched: nothing is written
	// tr and root hold the resource read from the request.
	tr   *tree
	root int32
	// identifiers are the resource's, once read (readIdentifiers).
	identifiers []string
	// light says that the resource has no tree (entryIn.light); pairs
	// are then its identifiers.
	light bool
	pairs []pairSpan
	// stored is the store's record of typ/id when storedSet (see
	// stage.stored).
	stored    *record
	storedSet bool
}

// readIdentifiers returns the resource's identifiers, read from the tree
// the first time.
func (t *target) readIdentifiers() []string {
	if t.identifiers == nil {
		if t.light {
			t.identifiers = joinPairs(t.pairs)
		} else {
			t.identifiers = t.tr.identifiers(t.root)
		}
	}
	return t.identifiers
}

// head is what the server reads of a resource before it resolves it.
type head struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
}

// headOf reads the resourceType and id of a resource as encoding/json
// decodes them into a head, from the tree when it can tell.
func headOf(tr *tree, root int32, body []byte) (head, error) {
	if typ, id, ok := tr.head(root); ok {
		return head{ResourceType: typ, ID: id}, nil
	}
	var h head
	err := json.Unmarshal(body, &h)
	return h, err
}

// resolve works out the id an entry writes to, into t. w names the entry
// in OperationOutcome expressions.
func (st *stage) resolve(t *target, method, rawURL, ifNoneExist string, tr *tree, e *entryIn, w where) *problem {
	path, rawQuery, err := splitURL(rawURL)
	if err != nil {
		return newProblem(http.StatusBadRequest, "invalid", "request url is not a URL", w.at(".request.url"))
	}
	typ, id, hasID := strings.Cut(strings.Trim(path, "/"), "/")
	if !fhirname.IsResourceType(typ) || strings.Contains(id, "/") {
		return newProblem(http.StatusBadRequest, "invalid", "request url must be Type, Type/id or Type?query", w.at(".request.url"))
	}
	if len(e.Resource) == 0 {
		return newProblem(http.StatusBadRequest, "required", "a resource is required for "+method, w.at(".resource"))
	}
	head := e.head
	if e.headErr != nil {
		return newProblem(http.StatusBadRequest, "structure", "resource is not a JSON object", w.at(".resource"))
	}
	if head.ResourceType != typ {
		return newProblem(http.StatusBadRequest, "invalid", "resourceType does not match the request url", w.at(".resource.resourceType"))
	}
	*t = target{typ: typ, tr: tr, root: e.root, light: e.light, pairs: e.pairs}
	switch {
	case method == http.MethodPut && hasID:
		if !fhirname.IsID(id) {
			return newProblem(http.StatusBadRequest, "invalid", "invalid id in request url", w.at(".request.url"))
		}
		if head.ID != id {
			return newProblem(http.StatusBadRequest, "invalid", "resource id does not match the request url", w.at(".resource.id"))
		}
		t.id = id
		t.create = st.getFor(t) == nil
	case method == http.MethodPut:
		ids, p := st.searchQuery(typ, rawQuery, w, ".request.url")
		if p != nil {
			return p
		}
		switch len(ids) {
		case 0:
			t.id, t.create = st.s.newID(), true
			if head.ID != "" {
				t.id = head.ID
				if st.getFor(t) != nil {
					return newProblem(http.StatusBadRequest, "duplicate", "resource id exists without the identifier", w.at(".resource.id"))
				}
			}
		case 1:
			t.id = ids[0]
			if head.ID != "" && head.ID != t.id {
				return newProblem(http.StatusBadRequest, "invalid", "resource id does not match the matched resource", w.at(".resource.id"))
			}
		default:
			return newProblem(http.StatusPreconditionFailed, "multiple-matches", "conditional update matches several resources", w.at(".request.url"))
		}
	case method == http.MethodPost && !hasID:
		if ifNoneExist != "" {
			if strings.Contains(ifNoneExist, "?") {
				return newProblem(http.StatusBadRequest, "invalid", "ifNoneExist must be the bare query", w.at(".request.ifNoneExist"))
			}
			ids, p := st.searchQuery(typ, ifNoneExist, w, ".request.ifNoneExist")
			if p != nil {
				return p
			}
			switch len(ids) {
			case 0:
			case 1:
				t.id, t.noop = ids[0], true
				return nil
			default:
				return newProblem(http.StatusPreconditionFailed, "multiple-matches", "conditional create matches several resources", w.at(".request.ifNoneExist"))
			}
		}
		t.id, t.create = st.s.newID(), true
	default:
		return newProblem(http.StatusMethodNotAllowed, "not-supported", "only PUT and POST writes are supported", w.at(".request.method"))
	}
	return nil
}

// splitURL returns the path and raw query of a relative URL as url.Parse
// reads them, without parsing the common "Type/id".
func splitURL(rawURL string) (path, rawQuery string, err error) {
	for i := 0; i < len(rawURL); i++ {
		switch c := rawURL[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '/':
		default:
			u, err := url.Parse(rawURL)
			if err != nil {
				return "", "", err
			}
			return u.Path, u.RawQuery, nil
		}
	}
	return rawURL, "", nil
}

// searchQuery runs a conditional query: one identifier or one _tag
// parameter.
func (st *stage) searchQuery(typ, rawQuery string, w where, suffix string) ([]string, *problem) {
	q, err := url.ParseQuery(rawQuery)
	if err == nil && len(q) == 1 && len(q["_tag"]) == 1 {
		tag := q.Get("_tag")
		if !strings.Contains(tag, "|") {
			return nil, newProblem(http.StatusBadRequest, "not-supported", "_tag must be system|code", w.at(suffix))
		}
		return st.search(typ, tagKey+tag), nil
	}
	if err != nil || len(q) != 1 || len(q["identifier"]) != 1 {
		return nil, newProblem(http.StatusBadRequest, "not-supported", "conditional writes support exactly one identifier or _tag parameter", w.at(suffix))
	}
	ident := q.Get("identifier")
	if !strings.Contains(ident, "|") {
		return nil, newProblem(http.StatusBadRequest, "not-supported", "identifier must be system|value", w.at(suffix))
	}
	return st.search(typ, ident), nil
}

// build prepares the record of a resource and its stored form: references
// rewritten, id and meta set, members sorted by key. fullURLs maps the
// urn:uuid fullUrls of the bundle to what their entries resolved to. The
// stored form is written when the record keeps it or answer is set (it is
// then valid until the tree's next use).
func (st *stage) build(t *target, fullURLs map[string]*target, w where, answer bool) (*record, []byte, *problem) {
	tr, root := t.tr, t.root
	if t.light {
		// An object with nothing to rewrite, of a request that is
		// answered without its stored form.
		if !st.s.noBodies || answer {
			panic("fhirtest: a resource read without a tree cannot be written")
		}
	} else {
		if root < 0 || tr.nodes[root].kind != jObject {
			return nil, nil, newProblem(http.StatusBadRequest, "structure", "resource is not a JSON object", w.at(".resource"))
		}
		if p := st.rewrite(tr, root, fullURLs, w); p != nil {
			return nil, nil, p
		}
	}
	version := 1
	old := st.getFor(t)
	if old != nil && old.reserved {
		old = st.stored(t) // the version is the store's
	}
	if old != nil {
		version = old.version + 1
	}
	r := st.newRecord()
	r.version = version
	if t.identifiers == nil && t.light && old != nil && samePairs(t.pairs, old.identifiers) {
		r.identifiers = old.identifiers // an update that keeps them: shared, never changed
	} else {
		r.identifiers = t.readIdentifiers()
	}
	if st.s.noBodies && !answer {
		return r, nil, nil
	}
	v, lastUpdated := strconv.Itoa(version), st.s.now().UTC().Format(time.RFC3339Nano)
	tr.buf = tr.merge(tr.buf[:0], root, []string{"id", "meta"}, func(b []byte, i int, old int32) []byte {
		if i == 0 {
			return appendJSONString(b, t.id)
		}
		if old >= 0 && tr.nodes[old].kind != jObject {
			old = -1 // a meta that is no object is replaced
		}
		return tr.merge(b, old, []string{"lastUpdated", "versionId"}, func(b []byte, i int, _ int32) []byte {
			if i == 0 {
				return appendJSONString(b, lastUpdated)
			}
			return appendJSONString(b, v)
		})
	})
	if !st.s.noBodies {
		r.body = bytes.Clone(tr.buf)
	}
	return r, tr.buf, nil
}

// rewrite resolves urn:uuid and conditional references below node n in
// place, members in key order.
func (st *stage) rewrite(tr *tree, n int32, fullURLs map[string]*target, w where) *problem {
	switch tr.nodes[n].kind {
	case jObject, jArray:
	default:
		return nil
	}
	isObject := tr.nodes[n].kind == jObject
	for _, k := range tr.kidsOf(n) {
		if nd := &tr.nodes[k]; isObject && nd.kind == jString && string(nd.key) == "reference" {
			// json.Marshal escapes neither ':' nor '?': raw tells.
			if !bytes.HasPrefix(nd.raw, []byte(`"urn:uuid:`)) && bytes.IndexByte(nd.raw, '?') < 0 {
				continue
			}
			s, _ := tr.text(k)
			switch {
			case strings.HasPrefix(s, "urn:uuid:"):
				ref := fullURLs[s]
				if ref == nil {
					return newProblem(http.StatusBadRequest, "not-found", "urn:uuid reference does not resolve to an entry of the bundle", w.at(".resource"))
				}
				tr.nodes[k].raw = appendJSONString(nil, ref.typ+"/"+ref.id)
			case strings.Contains(s, "?"):
				typ, q, _ := strings.Cut(s, "?")
				if !fhirname.IsResourceType(typ) {
					return newProblem(http.StatusBadRequest, "invalid", "invalid conditional reference", w.at(".resource"))
				}
				ids, p := st.searchQuery(typ, q, w, ".resource")
				if p != nil {
					return p
				}
				if len(ids) != 1 {
					return newProblem(http.StatusPreconditionFailed, "not-found", "conditional reference does not match exactly one resource", w.at(".resource"))
				}
				tr.nodes[k].raw = appendJSONString(nil, typ+"/"+ids[0])
			}
			continue
		}
		if p := st.rewrite(tr, k, fullURLs, w); p != nil {
			return p
		}
	}
	return nil
}

// where locates what a problem is about in OperationOutcome expressions:
// entry i of a Bundle, or the resource of a single request for a type. The
// expressions are written only for a problem.
type where struct {
	entry  int
	single string
}

// at returns the expression of suffix (".request.url") in w.
func (w where) at(suffix string) string {
	if w.single != "" {
		return w.single + suffix
	}
	return "Bundle.entry[" + strconv.Itoa(w.entry) + "]" + suffix
}

// resource returns the expression of the resource: "Bundle.entry[2].resource",
// or "Observation" for a single request.
func (w where) resource() string {
	if w.single != "" {
		return w.single
	}
	return w.at(".resource")
}

// tagKey prefixes the index keys of meta.tag codings; an identifier's
// "system|value" never starts with it.
const tagKey = "_tag "

// check counts an incoming resource, applies the reject faults and
// validates it. The caller holds s.mu.
func (s *Server) check(e *entryIn, w where) *problem {
	head, body := e.head, e.Resource
	if fhirname.IsResourceType(head.ResourceType) {
		s.received[head.ResourceType]++
	} else {
		s.received["invalid"]++
	}
	s.seq++
	if s.faults.rejectN[s.seq] || (s.faults.rejectIf != nil && s.faults.rejectIf(head.ResourceType, head.ID, body)) {
		return newProblem(http.StatusUnprocessableEntity, "business-rule", "resource refused by an injected rule", w.resource())
	}
	if s.validate == nil {
		return nil
	}
	err := s.validate(body)
	if err == nil {
		return nil
	}
	expr := w.resource()
	var ve *validate.Error
	if !errors.As(err, &ve) {
		return newProblem(http.StatusBadRequest, "structure", "resource is not valid JSON", expr)
	}
	issues := make([]any, 0, len(ve.Violations))
	for _, v := range ve.Violations {
		path := v.Path
		if i := strings.IndexByte(path, '.'); i >= 0 {
			path = path[i:]
		} else {
			path = ""
		}
		issues = append(issues, map[string]any{
			"severity":    "error",
			"code":        "invalid",
			"diagnostics": v.Message + " (" + v.Rule + ")",
			"expression":  []string{expr + path},
		})
	}
	return &problem{status: http.StatusBadRequest, outcome: map[string]any{"resourceType": "OperationOutcome", "issue": issues}}
}

// responseBundle is a transaction- or batch-response. It and its entries
// are structs rather than maps so that encoding them does not sort keys;
// the fields are in the order of the sorted keys, so the bytes are the same.
type responseBundle struct {
	Entry        []responseEntryOut `json:"entry"`
	ResourceType string             `json:"resourceType"`
	Type         string             `json:"type"`
}

// responseEntryOut is one entry of a responseBundle.
type responseEntryOut struct {
	Response struct {
		Etag         string `json:"etag,omitempty"`
		LastModified string `json:"lastModified,omitempty"`
		Location     string `json:"location,omitempty"`
		Outcome      any    `json:"outcome,omitempty"`
		Status       string `json:"status"`
	} `json:"response"`
	// at, when set, is the target and version whose location appendJSON
	// writes, Response.Location being empty: a transaction's answer makes
	// no strings of its locations (json.Marshal would leave it out).
	at      *target
	version int
}

// etags are the ETags of the first versions, written once.
var etags = func() (e [64]string) {
	for v := range e {
		e[v] = `W/"` + strconv.Itoa(v) + `"`
	}
	return e
}()

// responseEntry is one entry of a transaction- or batch-response.
func responseEntry(t *target, version int, lastUpdated string) responseEntryOut {
	e := responseEntryBut(t, version, lastUpdated)
	var buf [128]byte
	e.Response.Location = string(appendLocation(buf[:0], t, version))
	return e
}

// responseEntryBut is responseEntry but the location, which the caller
// sets (responseEntryOut.at).
func responseEntryBut(t *target, version int, lastUpdated string) responseEntryOut {
	var e responseEntryOut
	e.Response.Status = "200 OK"
	if t.create {
		e.Response.Status = "201 Created"
	}
	if version >= 0 && version < len(etags) {
		e.Response.Etag = etags[version]
	} else {
		e.Response.Etag = `W/"` + strconv.Itoa(version) + `"`
	}
	e.Response.LastModified = lastUpdated
	return e
}

// appendLocation appends the location of a version: Type/id/_history/n.
func appendLocation(b []byte, t *target, version int) []byte {
	b = append(b, t.typ...)
	b = append(b, '/')
	b = append(b, t.id...)
	b = append(b, "/_history/"...)
	return strconv.AppendInt(b, int64(version), 10)
}

func problemEntry(p *problem) responseEntryOut {
	var e responseEntryOut
	e.Response.Status = fmt.Sprintf("%d %s", p.status, http.StatusText(p.status))
	e.Response.Outcome = p.outcome
	return e
}

// handleBundle processes a transaction or batch.
func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request, idx int) {
	// The body is recycled unless a validator or a RejectIf predicate may
	// have kept it: nothing else keeps a reference into it (what the
	// server stores and answers is copied out of it).
	pooled := bodies.Get().(*[]byte)
	body, err := readBody(r, *pooled)
	recycle := true
	defer func() {
		if recycle && cap(body) <= maxPooledBody {
			*pooled = body[:0]
			bodies.Put(pooled)
		}
	}()
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, outcome("structure", "cannot read body", ""))
		return
	}
	tr := getTree()
	defer putTree(tr)
	b, err := readBundle(body, tr, s.noBodies && !s.treeOnly)
	if err != nil || b.ResourceType != "Bundle" {
		writeOutcome(w, http.StatusBadRequest, outcome("structure", "body is not a Bundle", ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { recycle = s.validate == nil && s.faults.rejectIf == nil }() // under s.mu, as check called them
	s.requests[idx].BundleType = b.Type
	s.requests[idx].Entries = len(b.Entry)
	switch b.Type {
	case "transaction":
		status, resp := s.transaction(tr, b.Entry)
		if rb, ok := resp.(*responseBundle); ok {
			tr.buf = rb.appendJSON(tr.buf[:0])
			writeBytes(w, status, tr.buf)
			return
		}
		writeJSON(w, status, resp)
	case "batch":
		tr.buf = s.batch(tr, b.Entry).appendJSON(tr.buf[:0])
		writeBytes(w, http.StatusOK, tr.buf)
	default:
		writeOutcome(w, http.StatusBadRequest, outcome("not-supported", "only transaction and batch bundles are processed", "Bundle.type"))
	}
}

// transaction processes entries all-or-nothing. The caller holds s.mu.
func (s *Server) transaction(tr *tree, entries []entryIn) (int, any) {
	sc := &tr.sc
	sc.records = sized(sc.records, len(entries))
	st := sc.stage.reuse(s, len(entries), sc.records[:0])
	targets := sized(sc.targets, len(entries))
	sc.targets = targets
	reserved := sc.reserved[:0] // the placeholders of creates, until they are built
	if sc.fullURLs == nil {
		sc.fullURLs = make(map[string]*target, len(entries))
	}
	fullURLs := sc.fullURLs // also the fullUrls seen
	for i := range entries {
		e, w := &entries[i], where{entry: i}
		if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
			return http.StatusBadRequest, outcome("required", "entry.request with method and url is required (bdl-3c)", w.at(".request"))
		}
		if e.FullURL != "" {
			if _, seen := fullURLs[e.FullURL]; seen {
				return http.StatusBadRequest, outcome("invalid", "fullUrl must be unique (bdl-7)", w.at(".fullUrl"))
			}
			fullURLs[e.FullURL] = nil
		}
		if p := s.check(e, w); p != nil {
			return p.status, p.outcome
		}
	}
	for i := range entries {
		e, w, t := &entries[i], where{entry: i}, &targets[i]
		if p := st.resolve(t, e.Request.Method, e.Request.URL, e.Request.IfNoneExist, tr, e, w); p != nil {
			return p.status, p.outcome
		}
		if e.FullURL != "" {
			fullURLs[e.FullURL] = t
		}
		if t.noop {
			continue
		}
		if t.create {
			// Reserve the id so later conditional entries see it; build
			// takes the identifiers over (references are all it changes).
			if cap(reserved) < len(entries) {
				reserved = make([]record, 0, len(entries)) // never grows: pointers stay
				sc.reserved = reserved
			}
			reserved = append(reserved, record{identifiers: t.readIdentifiers(), reserved: true})
			st.put(t.typ, t.id, &reserved[len(reserved)-1])
		}
	}
	resp := sized(sc.resp, len(entries))
	sc.resp = resp
	lastUpdated := s.now().UTC().Format(time.RFC3339Nano)
	for i := range targets {
		t, w := &targets[i], where{entry: i}
		version := 0
		if t.noop {
			version = st.get(t.typ, t.id).version
		} else {
			rec, _, p := st.build(t, fullURLs, w, false)
			if p != nil {
				return p.status, p.outcome
			}
			st.putFor(t, rec)
			version = rec.version
		}
		resp[i] = responseEntryBut(t, version, lastUpdated)
		resp[i].at, resp[i].version = t, version
	}
	st.commit()
	return http.StatusOK, &responseBundle{ResourceType: "Bundle", Type: "transaction-response", Entry: resp}
}

// batch processes every entry on its own. The caller holds s.mu.
func (s *Server) batch(tr *tree, entries []entryIn) *responseBundle {
	resp := make([]responseEntryOut, len(entries))
	fullURLs := make(map[string]*target)
	for i := range entries {
		e, w := &entries[i], where{entry: i}
		if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
			resp[i] = problemEntry(newProblem(http.StatusBadRequest, "required", "entry.request with method and url is required", w.at(".request")))
			continue
		}
		if p := s.check(e, w); p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		st, t := s.newStage(1), new(target)
		if p := st.resolve(t, e.Request.Method, e.Request.URL, e.Request.IfNoneExist, tr, e, w); p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		if t.noop {
			resp[i] = responseEntry(t, st.get(t.typ, t.id).version, s.now().UTC().Format(time.RFC3339Nano))
			continue
		}
		if e.FullURL != "" {
			fullURLs[e.FullURL] = t
		}
		rec, _, p := st.build(t, fullURLs, w, false)
		if p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		st.putFor(t, rec)
		st.commit()
		resp[i] = responseEntry(t, rec.version, s.now().UTC().Format(time.RFC3339Nano))
	}
	return &responseBundle{ResourceType: "Bundle", Type: "batch-response", Entry: resp}
}

// handleSingle processes PUT Type/id, PUT Type?identifier= and POST Type.
func (s *Server) handleSingle(w http.ResponseWriter, r *http.Request, typ, id string) {
	body, err := readBody(r, nil)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, outcome("structure", "cannot read body", ""))
		return
	}
	rawURL := typ
	if id != "" {
		rawURL += "/" + id
	}
	if r.URL.RawQuery != "" {
		rawURL += "?" + r.URL.RawQuery
	}
	tr := getTree()
	defer putTree(tr)
	e := &entryIn{Resource: body}
	e.read(tr)
	at := where{single: typ}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.check(e, at); p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	st, t := s.newStage(1), new(target)
	if p := st.resolve(t, r.Method, rawURL, r.Header.Get("If-None-Exist"), tr, e, at); p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	if t.noop {
		rec := st.get(t.typ, t.id)
		w.Header().Set("Location", fmt.Sprintf("%s/%s/_history/%d", t.typ, t.id, rec.version))
		if rec.body == nil { // WithoutBodies: the minimal answer
			w.WriteHeader(http.StatusOK)
			return
		}
		writeJSON(w, http.StatusOK, json.RawMessage(rec.body))
		return
	}
	rec, stored, p := st.build(t, nil, at, true)
	if p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	st.putFor(t, rec)
	st.commit()
	w.Header().Set("Location", fmt.Sprintf("%s/%s/_history/%d", t.typ, t.id, rec.version))
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, rec.version))
	status := http.StatusOK
	if t.create {
		status = http.StatusCreated
	}
	writeJSON(w, status, json.RawMessage(stored))
}

// handleRead answers GET Type/id.
func (s *Server) handleRead(w http.ResponseWriter, typ, id string) {
	if s.noBodies {
		writeOutcome(w, http.StatusNotImplemented, outcome("not-supported", errNoBodies.Error(), ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.store[typ][id]
	if !ok {
		writeOutcome(w, http.StatusNotFound, outcome("not-found", "resource not found", ""))
		return
	}
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, rec.version))
	writeJSON(w, http.StatusOK, json.RawMessage(rec.body))
}

// handleSearch answers GET Type?identifier=…&subject=…&code=…&date=… with a
// searchset. identifier takes "system|value", "system|" (any value of the
// system) or a bare value; subject is matched exactly against
// subject.reference; code takes "system|code" or a bare code, several
// separated by commas (any matches); date takes ge, gt, le or lt and an
// RFC 3339 date-time or a date (UTC), may repeat (all must match), and
// compares with the effective time as FHIR does for ranges: a period matches
// ge/gt when its end (an open end counts as infinite) is not before the
// value, le/lt when its start is not after it.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, typ string) {
	if s.noBodies {
		writeOutcome(w, http.StatusNotImplemented, outcome("not-supported", errNoBodies.Error(), ""))
		return
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "identifier", "subject", "code", "date", "_count":
		default:
			writeOutcome(w, http.StatusBadRequest, outcome("not-supported", "unsupported search parameter", k))
			return
		}
	}
	dates := make([]dateParam, 0, len(q["date"]))
	for _, v := range q["date"] {
		d, ok := parseDateParam(v)
		if !ok {
			writeOutcome(w, http.StatusBadRequest, outcome("value", "date must be ge, gt, le or lt followed by a date or date-time", "date"))
			return
		}
		dates = append(dates, d)
	}
	ident, subject, codes := q.Get("identifier"), q.Get("subject"), q.Get("code")
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, rec := range s.store[typ] {
		if ident != "" && !matchIdentifier(rec.identifiers, ident) {
			continue
		}
		if subject == "" && codes == "" && len(dates) == 0 {
			ids = append(ids, id)
			continue
		}
		idx := rec.searched()
		if subject != "" && idx.subject != subject {
			continue
		}
		if codes != "" && !matchCode(idx.codes, codes) {
			continue
		}
		if !matchDates(idx, dates) {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	entries := make([]any, 0, len(ids))
	for _, id := range ids {
		entries = append(entries, map[string]any{
			"fullUrl":  s.URL + "/" + typ + "/" + id,
			"resource": json.RawMessage(s.store[typ][id].body),
			"search":   map[string]any{"mode": "match"},
		})
	}
	resp := map[string]any{"resourceType": "Bundle", "type": "searchset", "total": len(ids)}
	if len(entries) > 0 {
		resp["entry"] = entries
	}
	writeJSON(w, http.StatusOK, resp)
}

// matchIdentifier matches "system|value" exactly, "system|" by system and
// "value" by value.
func matchIdentifier(have []string, want string) bool {
	for _, h := range have {
		switch {
		case h == want:
			return true
		case strings.HasSuffix(want, "|") && strings.HasPrefix(h, want):
			return true
		case !strings.Contains(want, "|") && strings.HasSuffix(h, "|"+want):
			return true
		}
	}
	return false
}

// setDate records the effective time: an effectiveDateTime (at, when
// dateTime) or an effectivePeriod's start and end (an end that does not
// parse is open), as far as they parse as RFC 3339.
func (r *searchIndex) setDate(at, end string, dateTime bool) {
	from, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return
	}
	r.from, r.to, r.hasDate = from, from, true
	if dateTime {
		return
	}
	r.to = time.Time{}
	if to, err := time.Parse(time.RFC3339Nano, end); err == nil {
		r.to = to
	}
}

// matchCode matches any of the comma-separated "system|code" or bare codes.
func matchCode(have []string, want string) bool {
	for w := range strings.SplitSeq(want, ",") {
		for _, h := range have {
			if h == w || (!strings.Contains(w, "|") && strings.HasSuffix(h, "|"+w)) {
				return true
			}
		}
	}
	return false
}

// dateParam is one date search value: a comparator and an instant.
type dateParam struct {
	prefix string
	at     time.Time
}

func parseDateParam(v string) (dateParam, bool) {
	if len(v) < 3 {
		return dateParam{}, false
	}
	d := dateParam{prefix: v[:2]}
	switch d.prefix {
	case "ge", "gt", "le", "lt":
	default:
		return dateParam{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, v[2:])
	if err != nil {
		if at, err = time.Parse(time.DateOnly, v[2:]); err != nil {
			return dateParam{}, false
		}
	}
	d.at = at
	return d, true
}

// matchDates reports whether the record's effective time satisfies every
// date parameter; a record without effective time matches none.
func matchDates(r *searchIndex, ds []dateParam) bool {
	if len(ds) == 0 {
		return true
	}
	if !r.hasDate {
		return false
	}
	for _, d := range ds {
		ok := false
		switch d.prefix {
		case "ge":
			ok = r.to.IsZero() || !r.to.Before(d.at)
		case "gt":
			ok = r.to.IsZero() || r.to.After(d.at)
		case "le":
			ok = !r.from.After(d.at)
		case "lt":
			ok = r.from.Before(d.at)
		}
		if !ok {
			return false
		}
	}
	return true
}
