package fhirtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// record is one stored resource.
type record struct {
	body        []byte // JSON as stored, with id and meta
	version     int
	identifiers []string // "system|value"
	subject     string
	codes       []string // "system|code" of code.coding
	// from and to bound the effective time (effectiveDateTime, or
	// effectivePeriod with an open end as the zero time); hasDate is false
	// without either.
	from, to time.Time
	hasDate  bool
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
	Request  *struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
	} `json:"request"`
}

// stage holds the writes of a transaction until it commits.
type stage struct {
	s      *Server
	writes map[string]map[string]*record // type → id
	ident  map[string]map[string][]string
}

func (s *Server) newStage() *stage {
	return &stage{s: s, writes: make(map[string]map[string]*record), ident: make(map[string]map[string][]string)}
}

func (st *stage) get(typ, id string) *record {
	if r, ok := st.writes[typ][id]; ok {
		return r
	}
	return st.s.store[typ][id]
}

// search returns the ids of resources with the identifier, staged ones
// included.
func (st *stage) search(typ, identifier string) []string {
	ids := slices.Clone(st.s.ident[typ][identifier])
	for _, id := range st.ident[typ][identifier] {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids
}

func (st *stage) put(typ, id string, r *record) {
	if st.writes[typ] == nil {
		st.writes[typ] = make(map[string]*record)
	}
	st.writes[typ][id] = r
	if st.ident[typ] == nil {
		st.ident[typ] = make(map[string][]string)
	}
	for _, ident := range r.identifiers {
		st.ident[typ][ident] = append(st.ident[typ][ident], id)
	}
}

// commit applies the staged writes to the store. The caller holds s.mu.
func (st *stage) commit() {
	s := st.s
	for typ, m := range st.writes {
		if s.store[typ] == nil {
			s.store[typ] = make(map[string]*record)
		}
		if s.ident[typ] == nil {
			s.ident[typ] = make(map[string][]string)
		}
		for id, r := range m {
			if old, ok := s.store[typ][id]; ok {
				for _, ident := range old.identifiers {
					s.ident[typ][ident] = slices.DeleteFunc(s.ident[typ][ident], func(x string) bool { return x == id })
				}
			}
			s.store[typ][id] = r
			for _, ident := range r.identifiers {
				if !slices.Contains(s.ident[typ][ident], id) {
					s.ident[typ][ident] = append(s.ident[typ][ident], id)
				}
			}
		}
	}
}

// target is what an entry resolves to before it is written.
type target struct {
	typ, id string
	create  bool
	noop    bool // conditional create that matched: nothing is written
	body    json.RawMessage
	m       map[string]any // body decoded once (json.Number numbers), or nil
}

// resolve works out the id an entry writes to. prefix names the entry in
// OperationOutcome expressions ("Bundle.entry[3]").
func (st *stage) resolve(method, rawURL, ifNoneExist string, body json.RawMessage, prefix string) (*target, *problem) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, newProblem(http.StatusBadRequest, "invalid", "request url is not a URL", prefix+".request.url")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if !typeRE.MatchString(parts[0]) || len(parts) > 2 {
		return nil, newProblem(http.StatusBadRequest, "invalid", "request url must be Type, Type/id or Type?query", prefix+".request.url")
	}
	typ := parts[0]
	if len(body) == 0 {
		return nil, newProblem(http.StatusBadRequest, "required", "a resource is required for "+method, prefix+".resource")
	}
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, newProblem(http.StatusBadRequest, "structure", "resource is not a JSON object", prefix+".resource")
	}
	if head.ResourceType != typ {
		return nil, newProblem(http.StatusBadRequest, "invalid", "resourceType does not match the request url", prefix+".resource.resourceType")
	}
	t := &target{typ: typ, body: body}
	switch {
	case method == http.MethodPut && len(parts) == 2:
		if !idRE.MatchString(parts[1]) {
			return nil, newProblem(http.StatusBadRequest, "invalid", "invalid id in request url", prefix+".request.url")
		}
		if head.ID != parts[1] {
			return nil, newProblem(http.StatusBadRequest, "invalid", "resource id does not match the request url", prefix+".resource.id")
		}
		t.id = parts[1]
		t.create = st.get(typ, t.id) == nil
	case method == http.MethodPut && len(parts) == 1:
		ids, p := st.searchQuery(typ, u.RawQuery, prefix+".request.url")
		if p != nil {
			return nil, p
		}
		switch len(ids) {
		case 0:
			t.id, t.create = uuid.NewString(), true
			if head.ID != "" {
				t.id = head.ID
				if st.get(typ, t.id) != nil {
					return nil, newProblem(http.StatusBadRequest, "duplicate", "resource id exists without the identifier", prefix+".resource.id")
				}
			}
		case 1:
			t.id = ids[0]
			if head.ID != "" && head.ID != t.id {
				return nil, newProblem(http.StatusBadRequest, "invalid", "resource id does not match the matched resource", prefix+".resource.id")
			}
		default:
			return nil, newProblem(http.StatusPreconditionFailed, "multiple-matches", "conditional update matches several resources", prefix+".request.url")
		}
	case method == http.MethodPost && len(parts) == 1:
		if ifNoneExist != "" {
			if strings.Contains(ifNoneExist, "?") {
				return nil, newProblem(http.StatusBadRequest, "invalid", "ifNoneExist must be the bare query", prefix+".request.ifNoneExist")
			}
			ids, p := st.searchQuery(typ, ifNoneExist, prefix+".request.ifNoneExist")
			if p != nil {
				return nil, p
			}
			switch len(ids) {
			case 0:
			case 1:
				t.id, t.noop = ids[0], true
				return t, nil
			default:
				return nil, newProblem(http.StatusPreconditionFailed, "multiple-matches", "conditional create matches several resources", prefix+".request.ifNoneExist")
			}
		}
		t.id, t.create = uuid.NewString(), true
	default:
		return nil, newProblem(http.StatusMethodNotAllowed, "not-supported", "only PUT and POST writes are supported", prefix+".request.method")
	}
	return t, nil
}

// searchQuery runs a conditional query: one identifier or one _tag
// parameter.
func (st *stage) searchQuery(typ, rawQuery, expr string) ([]string, *problem) {
	q, err := url.ParseQuery(rawQuery)
	if err == nil && len(q) == 1 && len(q["_tag"]) == 1 {
		tag := q.Get("_tag")
		if !strings.Contains(tag, "|") {
			return nil, newProblem(http.StatusBadRequest, "not-supported", "_tag must be system|code", expr)
		}
		return st.search(typ, tagKey+tag), nil
	}
	if err != nil || len(q) != 1 || len(q["identifier"]) != 1 {
		return nil, newProblem(http.StatusBadRequest, "not-supported", "conditional writes support exactly one identifier or _tag parameter", expr)
	}
	ident := q.Get("identifier")
	if !strings.Contains(ident, "|") {
		return nil, newProblem(http.StatusBadRequest, "not-supported", "identifier must be system|value", expr)
	}
	return st.search(typ, ident), nil
}

// build prepares the stored form of a resource: references rewritten, id
// and meta set. fullURLs maps urn:uuid fullUrls to "Type/id".
func (st *stage) build(t *target, fullURLs map[string]string, prefix string) (*record, *problem) {
	m := t.m
	t.m = nil // build changes it
	if m == nil {
		var err error
		if m, err = decodeResource(t.body); err != nil {
			return nil, newProblem(http.StatusBadRequest, "structure", "resource is not a JSON object", prefix+".resource")
		}
	}
	if p := st.rewrite(m, fullURLs, prefix+".resource"); p != nil {
		return nil, p
	}
	version := 1
	if old := st.get(t.typ, t.id); old != nil {
		version = old.version + 1
	}
	m["id"] = t.id
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(version)
	meta["lastUpdated"] = st.s.now().UTC().Format(time.RFC3339Nano)
	m["meta"] = meta
	b, err := json.Marshal(m)
	if err != nil {
		return nil, newProblem(http.StatusBadRequest, "structure", "resource cannot be stored", prefix+".resource")
	}
	r := &record{body: b, version: version, identifiers: identifiers(m)}
	if subj, ok := m["subject"].(map[string]any); ok {
		r.subject, _ = subj["reference"].(string)
	}
	r.indexSearch(m)
	return r, nil
}

// decodeResource decodes a resource as build stores it: numbers kept as
// written.
func decodeResource(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// rewrite resolves urn:uuid and conditional references in place.
func (st *stage) rewrite(v any, fullURLs map[string]string, expr string) *problem {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "reference" {
				switch {
				case strings.HasPrefix(s, "urn:uuid:"):
					ref, ok := fullURLs[s]
					if !ok {
						return newProblem(http.StatusBadRequest, "not-found", "urn:uuid reference does not resolve to an entry of the bundle", expr)
					}
					x[k] = ref
				case strings.Contains(s, "?"):
					typ, q, _ := strings.Cut(s, "?")
					if !typeRE.MatchString(typ) {
						return newProblem(http.StatusBadRequest, "invalid", "invalid conditional reference", expr)
					}
					ids, p := st.searchQuery(typ, q, expr)
					if p != nil {
						return p
					}
					if len(ids) != 1 {
						return newProblem(http.StatusPreconditionFailed, "not-found", "conditional reference does not match exactly one resource", expr)
					}
					x[k] = typ + "/" + ids[0]
				}
				continue
			}
			if p := st.rewrite(e, fullURLs, expr); p != nil {
				return p
			}
		}
	case []any:
		for _, e := range x {
			if p := st.rewrite(e, fullURLs, expr); p != nil {
				return p
			}
		}
	}
	return nil
}

// identifiers returns the "system|value" identifiers of a resource.
func identifiers(m map[string]any) []string {
	list, _ := m["identifier"].([]any)
	var out []string
	for _, e := range list {
		id, _ := e.(map[string]any)
		sys, _ := id["system"].(string)
		val, _ := id["value"].(string)
		if val != "" {
			out = append(out, sys+"|"+val)
		}
	}
	// meta.tag, for conditional writes by _tag (a Provenance has no
	// identifier), in a key space of their own.
	meta, _ := m["meta"].(map[string]any)
	tags, _ := meta["tag"].([]any)
	for _, e := range tags {
		tag, _ := e.(map[string]any)
		sys, _ := tag["system"].(string)
		code, _ := tag["code"].(string)
		if code != "" {
			out = append(out, tagKey+sys+"|"+code)
		}
	}
	return out
}

// tagKey prefixes the index keys of meta.tag codings; an identifier's
// "system|value" never starts with it.
const tagKey = "_tag "

// check counts an incoming resource, applies the reject faults and
// validates it. expr locates the resource in OperationOutcome expressions
// ("Bundle.entry[2].resource", or "Observation" for a single request). The
// caller holds s.mu.
func (s *Server) check(body json.RawMessage, expr string) *problem {
	var head struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	_ = json.Unmarshal(body, &head)
	if typeRE.MatchString(head.ResourceType) {
		s.received[head.ResourceType]++
	} else {
		s.received["invalid"]++
	}
	s.seq++
	if s.faults.rejectN[s.seq] || (s.faults.rejectIf != nil && s.faults.rejectIf(head.ResourceType, head.ID, body)) {
		return newProblem(http.StatusUnprocessableEntity, "business-rule", "resource refused by an injected rule", expr)
	}
	if s.validate == nil {
		return nil
	}
	err := s.validate(body)
	if err == nil {
		return nil
	}
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
}

// responseEntry is one entry of a transaction- or batch-response.
func responseEntry(t *target, version int, lastUpdated string) responseEntryOut {
	var e responseEntryOut
	e.Response.Status = "200 OK"
	if t.create {
		e.Response.Status = "201 Created"
	}
	v := strconv.Itoa(version)
	e.Response.Location = t.typ + "/" + t.id + "/_history/" + v
	e.Response.Etag = `W/"` + v + `"`
	e.Response.LastModified = lastUpdated
	return e
}

func problemEntry(p *problem) responseEntryOut {
	var e responseEntryOut
	e.Response.Status = fmt.Sprintf("%d %s", p.status, http.StatusText(p.status))
	e.Response.Outcome = p.outcome
	return e
}

// handleBundle processes a transaction or batch.
func (s *Server) handleBundle(w http.ResponseWriter, r *http.Request, idx int) {
	body, err := readBody(r)
	if err != nil {
		writeOutcome(w, http.StatusBadRequest, outcome("structure", "cannot read body", ""))
		return
	}
	var b struct {
		ResourceType string    `json:"resourceType"`
		Type         string    `json:"type"`
		Entry        []entryIn `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil || b.ResourceType != "Bundle" {
		writeOutcome(w, http.StatusBadRequest, outcome("structure", "body is not a Bundle", ""))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests[idx].BundleType = b.Type
	s.requests[idx].Entries = len(b.Entry)
	switch b.Type {
	case "transaction":
		status, resp := s.transaction(b.Entry)
		writeJSON(w, status, resp)
	case "batch":
		writeJSON(w, http.StatusOK, s.batch(b.Entry))
	default:
		writeOutcome(w, http.StatusBadRequest, outcome("not-supported", "only transaction and batch bundles are processed", "Bundle.type"))
	}
}

// transaction processes entries all-or-nothing. The caller holds s.mu.
func (s *Server) transaction(entries []entryIn) (int, any) {
	st := s.newStage()
	targets := make([]*target, len(entries))
	fullURLs := make(map[string]string)
	seenFull := make(map[string]bool)
	for i, e := range entries {
		prefix := "Bundle.entry[" + strconv.Itoa(i) + "]"
		if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
			return http.StatusBadRequest, outcome("required", "entry.request with method and url is required (bdl-3c)", prefix+".request")
		}
		if e.FullURL != "" {
			if seenFull[e.FullURL] {
				return http.StatusBadRequest, outcome("invalid", "fullUrl must be unique (bdl-7)", prefix+".fullUrl")
			}
			seenFull[e.FullURL] = true
		}
		if p := s.check(e.Resource, prefix+".resource"); p != nil {
			return p.status, p.outcome
		}
	}
	for i, e := range entries {
		prefix := "Bundle.entry[" + strconv.Itoa(i) + "]"
		t, p := st.resolve(e.Request.Method, e.Request.URL, e.Request.IfNoneExist, e.Resource, prefix)
		if p != nil {
			return p.status, p.outcome
		}
		targets[i] = t
		if e.FullURL != "" {
			fullURLs[e.FullURL] = t.typ + "/" + t.id
		}
		if t.noop {
			continue
		}
		// Decoded once, for the reservation and for build.
		t.m, _ = decodeResource(e.Resource)
		if t.create {
			// Reserve the id so later conditional entries see it.
			st.put(t.typ, t.id, &record{identifiers: identifiers(t.m)})
		}
	}
	resp := make([]responseEntryOut, len(entries))
	lastUpdated := s.now().UTC().Format(time.RFC3339Nano)
	for i, t := range targets {
		prefix := "Bundle.entry[" + strconv.Itoa(i) + "]"
		if t.noop {
			resp[i] = responseEntry(t, st.get(t.typ, t.id).version, lastUpdated)
			continue
		}
		if rec := st.writes[t.typ][t.id]; rec != nil && rec.body == nil {
			delete(st.writes[t.typ], t.id) // drop the reservation, version from the store
		}
		rec, p := st.build(t, fullURLs, prefix)
		if p != nil {
			return p.status, p.outcome
		}
		st.put(t.typ, t.id, rec)
		resp[i] = responseEntry(t, rec.version, lastUpdated)
	}
	st.commit()
	return http.StatusOK, responseBundle{ResourceType: "Bundle", Type: "transaction-response", Entry: resp}
}

// batch processes every entry on its own. The caller holds s.mu.
func (s *Server) batch(entries []entryIn) any {
	resp := make([]responseEntryOut, len(entries))
	fullURLs := make(map[string]string)
	for i, e := range entries {
		prefix := "Bundle.entry[" + strconv.Itoa(i) + "]"
		if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
			resp[i] = problemEntry(newProblem(http.StatusBadRequest, "required", "entry.request with method and url is required", prefix+".request"))
			continue
		}
		if p := s.check(e.Resource, prefix+".resource"); p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		st := s.newStage()
		t, p := st.resolve(e.Request.Method, e.Request.URL, e.Request.IfNoneExist, e.Resource, prefix)
		if p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		if t.noop {
			resp[i] = responseEntry(t, st.get(t.typ, t.id).version, s.now().UTC().Format(time.RFC3339Nano))
			continue
		}
		if e.FullURL != "" {
			fullURLs[e.FullURL] = t.typ + "/" + t.id
		}
		rec, p := st.build(t, fullURLs, prefix)
		if p != nil {
			resp[i] = problemEntry(p)
			continue
		}
		st.put(t.typ, t.id, rec)
		st.commit()
		resp[i] = responseEntry(t, rec.version, s.now().UTC().Format(time.RFC3339Nano))
	}
	return responseBundle{ResourceType: "Bundle", Type: "batch-response", Entry: resp}
}

// handleSingle processes PUT Type/id, PUT Type?identifier= and POST Type.
func (s *Server) handleSingle(w http.ResponseWriter, r *http.Request, typ, id string) {
	body, err := readBody(r)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.check(body, typ); p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	st := s.newStage()
	t, p := st.resolve(r.Method, rawURL, r.Header.Get("If-None-Exist"), body, typ)
	if p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	if t.noop {
		rec := st.get(t.typ, t.id)
		w.Header().Set("Location", fmt.Sprintf("%s/%s/_history/%d", t.typ, t.id, rec.version))
		writeJSON(w, http.StatusOK, json.RawMessage(rec.body))
		return
	}
	rec, p := st.build(t, nil, typ)
	if p != nil {
		writeOutcome(w, p.status, p.outcome)
		return
	}
	st.put(t.typ, t.id, rec)
	st.commit()
	w.Header().Set("Location", fmt.Sprintf("%s/%s/_history/%d", t.typ, t.id, rec.version))
	w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, rec.version))
	status := http.StatusOK
	if t.create {
		status = http.StatusCreated
	}
	writeJSON(w, status, json.RawMessage(rec.body))
}

// handleRead answers GET Type/id.
func (s *Server) handleRead(w http.ResponseWriter, typ, id string) {
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
		if subject != "" && rec.subject != subject {
			continue
		}
		if codes != "" && !matchCode(rec.codes, codes) {
			continue
		}
		if !matchDates(rec, dates) {
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

// indexSearch records the code and effective time of m for search.
func (r *record) indexSearch(m map[string]any) {
	if c, ok := m["code"].(map[string]any); ok {
		list, _ := c["coding"].([]any)
		for _, e := range list {
			cd, _ := e.(map[string]any)
			sys, _ := cd["system"].(string)
			code, _ := cd["code"].(string)
			if code != "" {
				r.codes = append(r.codes, sys+"|"+code)
			}
		}
	}
	if v, ok := m["effectiveDateTime"].(string); ok {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			r.from, r.to, r.hasDate = at, at, true
		}
		return
	}
	if p, ok := m["effectivePeriod"].(map[string]any); ok {
		start, _ := p["start"].(string)
		end, _ := p["end"].(string)
		from, errFrom := time.Parse(time.RFC3339Nano, start)
		if errFrom != nil {
			return
		}
		r.from, r.hasDate = from, true
		if to, err := time.Parse(time.RFC3339Nano, end); err == nil {
			r.to = to
		}
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
func matchDates(r *record, ds []dateParam) bool {
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
