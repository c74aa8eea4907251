package fhirtest

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// bundleIn is an incoming Bundle.
type bundleIn struct {
	ResourceType string    `json:"resourceType"`
	Type         string    `json:"type"`
	Entry        []entryIn `json:"entry"`
}

// readBundle reads a posted Bundle as json.Unmarshal reads it into a
// bundleIn, and each entry's resource into tr. It reads the plain shape by
// hand (the members named as the struct tags spell them, each once, plain
// strings) and leaves anything else to encoding/json. With light, the hand
// path reads a resource without a tree where it can (readLight): for a
// server that keeps no bodies.
func readBundle(body []byte, tr *tree, light bool) (bundleIn, error) {
	var b bundleIn
	if b.scan(body, tr, light) {
		return b, nil
	}
	tr.reset()
	b = bundleIn{}
	if err := json.Unmarshal(body, &b); err != nil {
		return b, err
	}
	for i := range b.Entry {
		b.Entry[i].read(tr)
	}
	return b, nil
}

// members reads an object whose members named in names (each at most
// once) member reads; other members are skipped, but a key that matches a
// name only case-insensitively, as encoding/json would match it, is not
// taken.
func members(s *jsonscan.Scanner, names []string, member func(i int) bool) bool {
	var seen uint
	return s.Object(func(key []byte) bool {
		for i, n := range names {
			switch {
			case string(key) == n:
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				return member(i)
			case strings.EqualFold(string(key), n):
				return false
			}
		}
		return s.Skip()
	})
}

// plainString reads a plain string into dst.
func plainString(s *jsonscan.Scanner, dst *string) bool {
	v, ok := s.String()
	*dst = string(v)
	return ok
}

// methodString reads a plain string into dst, without a copy for the
// methods of writes.
func methodString(s *jsonscan.Scanner, dst *string) bool {
	v, ok := s.String()
	switch string(v) {
	case http.MethodPut:
		*dst = http.MethodPut
	case http.MethodPost:
		*dst = http.MethodPost
	default:
		*dst = string(v)
	}
	return ok
}

var (
	bundleMembers  = []string{"resourceType", "type", "entry"}
	entryMembers   = []string{"fullUrl", "resource", "request"}
	requestMembers = []string{"method", "url", "ifNoneExist"}
)

// scan is readBundle's hand-written path; false means "ask
// encoding/json".
func (b *bundleIn) scan(body []byte, tr *tree, light bool) bool {
	var s jsonscan.Scanner
	s.Reset(body)
	ok := members(&s, bundleMembers, func(i int) bool {
		switch i {
		case 0:
			return plainString(&s, &b.ResourceType)
		case 1:
			return plainString(&s, &b.Type)
		}
		if !s.Byte('[') {
			return false
		}
		b.Entry = tr.sc.entries[:0]
		defer func() { tr.sc.entries = b.Entry[:0] }() // keep the space grown
		if s.Byte(']') {
			return true
		}
		// The requests come from the scratch space, and from chunks of
		// twice its size once it is full: a chunk never grows, so that
		// the pointers stay; the last chunk is kept for the next request.
		requests := tr.sc.requests[:0]
		defer func() { tr.sc.requests = requests[:0] }()
		strs := &tr.sc.strs
		strs.reset()
		for {
			e, at := entryIn{root: -1}, len(b.Entry)
			if !members(&s, entryMembers, func(i int) bool { return e.scan(&s, tr, light, &requests, at, i) }) {
				return false
			}
			b.Entry = append(b.Entry, e)
			if s.Byte(',') {
				continue
			}
			if !s.Byte(']') {
				return false
			}
			strs.cut(b.Entry)
			for i := range b.Entry {
				b.Entry[i].finish()
			}
			return true
		}
	})
	return ok && s.End()
}

// scan reads member i of entryMembers of entry at.
func (e *entryIn) scan(s *jsonscan.Scanner, tr *tree, light bool, requests *[]requestIn, at, i int) bool {
	switch i {
	case 0:
		return tr.sc.strs.add(s, at, strFullURL)
	case 1:
		skipSpace(s)
		start := s.I
		if light {
			if typ, id, pairs, ok := readLight(s, &tr.light); ok {
				e.Resource = s.B[start:s.I]
				e.root, e.light, e.head.ResourceType, e.lightID, e.pairs = -1, true, typ, id, pairs
				return true
			}
		}
		root, ok := tr.value(s)
		if !ok {
			return false
		}
		e.Resource = s.B[start:s.I]
		e.setRoot(tr, root)
		return true
	}
	if len(*requests) == cap(*requests) {
		*requests = make([]requestIn, 0, max(16, 2*cap(*requests)))
	}
	*requests = append(*requests, requestIn{})
	e.Request = &(*requests)[len(*requests)-1]
	return members(s, requestMembers, func(i int) bool {
		switch i {
		case 0:
			return methodString(s, &e.Request.Method)
		case 1:
			return tr.sc.strs.add(s, at, strURL)
		}
		return tr.sc.strs.add(s, at, strIfNoneExist)
	})
}

// strs makes the strings of a bundle's entries (fullUrl, request url and
// ifNoneExist) from one allocation: add collects their bytes, cut sets
// them once the entries are read. What the server keeps of them (the ids
// it stores) it copies (stage.commit).
type strs struct {
	b       []byte
	pending []pendingStr
}

// pendingStr is a string of entry that add collected: b[from:to].
type pendingStr struct {
	entry, from, to int
	field           uint8
}

// The strings of an entry that strs makes.
const (
	strFullURL = iota
	strURL
	strIfNoneExist
)

func (st *strs) reset() {
	st.b, st.pending = st.b[:0], st.pending[:0]
}

// add reads a plain string for field of entry at.
func (st *strs) add(s *jsonscan.Scanner, at int, field uint8) bool {
	v, ok := s.String()
	if !ok {
		return false
	}
	from := len(st.b)
	st.b = append(st.b, v...)
	st.pending = append(st.pending, pendingStr{entry: at, from: from, to: len(st.b), field: field})
	return true
}

// cut sets the strings collected.
func (st *strs) cut(entries []entryIn) {
	all := string(st.b)
	for _, p := range st.pending {
		v, e := all[p.from:p.to], &entries[p.entry]
		switch p.field {
		case strFullURL:
			e.FullURL = v
		case strURL:
			e.Request.URL = v
		default:
			e.Request.IfNoneExist = v
		}
	}
	st.reset()
}

// finish sets the id of a resource read light: the end of the request's
// URL when that is "/" and the id (PUT Type/id), else a copy.
func (e *entryIn) finish() {
	if !e.light {
		return
	}
	id := e.lightID
	e.lightID = nil
	if e.Request != nil {
		if u, n := e.Request.URL, len(id); len(u) > n && u[len(u)-n-1] == '/' && u[len(u)-n:] == string(id) {
			e.head.ID = u[len(u)-n:]
			return
		}
	}
	e.head.ID = string(id)
}

// appendJSON appends the response as json.Marshal writes it.
func (rb *responseBundle) appendJSON(b []byte) []byte {
	b = append(b, `{"entry":`...)
	if rb.Entry == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range rb.Entry {
			if i > 0 {
				b = append(b, ',')
			}
			b = rb.Entry[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = append(b, `,"resourceType":`...)
	b = appendJSONString(b, rb.ResourceType)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, rb.Type)
	return append(b, '}')
}

func (e *responseEntryOut) appendJSON(b []byte) []byte {
	r := &e.Response
	b = append(b, `{"response":{`...)
	for _, f := range []struct{ key, val string }{{"etag", r.Etag}, {"lastModified", r.LastModified}, {"location", r.Location}} {
		if f.val != "" {
			b = append(b, '"')
			b = append(b, f.key...)
			b = append(b, `":`...)
			b = appendJSONString(b, f.val)
			b = append(b, ',')
		} else if f.key == "location" && e.at != nil {
			b = append(b, `"location":`...)
			b = appendLocationJSON(b, e.at, e.version)
			b = append(b, ',')
		}
	}
	if r.Outcome != nil {
		o, _ := json.Marshal(r.Outcome) // an OperationOutcome of strings always marshals
		b = append(b, `"outcome":`...)
		b = append(b, o...)
		b = append(b, ',')
	}
	b = append(b, `"status":`...)
	b = appendJSONString(b, r.Status)
	return append(b, "}}"...)
}

// appendLocationJSON appends the location of a version as
// appendJSONString writes it.
func appendLocationJSON(b []byte, t *target, version int) []byte {
	for _, s := range []string{t.typ, t.id} {
		for i := 0; i < len(s); i++ {
			if class[s[i]] != asIs {
				var buf [128]byte
				return appendJSONString(b, string(appendLocation(buf[:0], t, version)))
			}
		}
	}
	b = append(b, '"')
	b = appendLocation(b, t, version)
	return append(b, '"')
}

// writeBytes writes a JSON body.
func writeBytes(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/fhir+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
