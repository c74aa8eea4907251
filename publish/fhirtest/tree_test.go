package fhirtest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx/internal/fhirname"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The server used to store a resource by decoding it into a map, rewriting
// the map and marshalling it back (legacy* below, kept as the reference);
// the tree must give the same bytes, index and problems, for any input.

func legacyDecode(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// legacyRewrite is the map form of stage.rewrite; it visits keys in sorted
// order, as the tree does (the map form visited them in random order, which
// only mattered for which of two bad references was reported).
func legacyRewrite(st *stage, v any, fullURLs map[string]string, w where) *problem {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			e := x[k]
			if s, ok := e.(string); ok && k == "reference" {
				switch {
				case strings.HasPrefix(s, "urn:uuid:"):
					ref, ok := fullURLs[s]
					if !ok {
						return newProblem(http.StatusBadRequest, "not-found", "urn:uuid reference does not resolve to an entry of the bundle", w.at(".resource"))
					}
					x[k] = ref
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
					x[k] = typ + "/" + ids[0]
				}
				continue
			}
			if p := legacyRewrite(st, e, fullURLs, w); p != nil {
				return p
			}
		}
	case []any:
		for _, e := range x {
			if p := legacyRewrite(st, e, fullURLs, w); p != nil {
				return p
			}
		}
	}
	return nil
}

func legacyPairs(list any, value string) []string {
	var out []string
	l, _ := list.([]any)
	for _, e := range l {
		m, _ := e.(map[string]any)
		sys, _ := m["system"].(string)
		val, _ := m[value].(string)
		if val != "" {
			out = append(out, sys+"|"+val)
		}
	}
	return out
}

// legacyBuild is the map form of stage.build.
func legacyBuild(st *stage, m map[string]any, typ, id string, fullURLs map[string]string, w where) (*record, *problem) {
	if p := legacyRewrite(st, m, fullURLs, w); p != nil {
		return nil, p
	}
	version := 1
	if old := st.get(typ, id); old != nil {
		version = old.version + 1
	}
	m["id"] = id
	meta, _ := m["meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	meta["versionId"] = strconv.Itoa(version)
	meta["lastUpdated"] = st.s.now().UTC().Format(time.RFC3339Nano)
	m["meta"] = meta
	b, err := json.Marshal(m)
	if err != nil {
		return nil, newProblem(http.StatusBadRequest, "structure", "resource cannot be stored", w.at(".resource"))
	}
	r := &record{body: b, version: version, identifiers: legacyIdentifiers(m), search: &searchIndex{}}
	if subj, ok := m["subject"].(map[string]any); ok {
		r.search.subject, _ = subj["reference"].(string)
	}
	if c, ok := m["code"].(map[string]any); ok {
		r.search.codes = legacyPairs(c["coding"], "code")
	}
	if v, ok := m["effectiveDateTime"].(string); ok {
		if at, err := time.Parse(time.RFC3339Nano, v); err == nil {
			r.search.from, r.search.to, r.search.hasDate = at, at, true
		}
		return r, nil
	}
	if p, ok := m["effectivePeriod"].(map[string]any); ok {
		start, _ := p["start"].(string)
		end, _ := p["end"].(string)
		from, errFrom := time.Parse(time.RFC3339Nano, start)
		if errFrom != nil {
			return r, nil
		}
		r.search.from, r.search.hasDate = from, true
		if to, err := time.Parse(time.RFC3339Nano, end); err == nil {
			r.search.to = to
		}
	}
	return r, nil
}

var resourceSeeds = []string{
	`{"resourceType":"Observation","id":"e0009242-10e0-583c-9528-df36d0db63b0","meta":{"source":"urn:ohx:withings","profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},` +
		`"identifier":[{"system":"urn:ohx:withings:observation","value":"e0009242"},{"system":"urn:ohx:withings:record","value":"5139580000"}],` +
		`"status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},` +
		`"subject":{"reference":"Patient/p-1001"},"effectiveDateTime":"2026-11-20T09:42:13+01:00","performer":[{"reference":"Patient/p-1001"}],` +
		`"valueQuantity":{"value":64.50,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"device":{"reference":"urn:uuid:dev-1"}}`,
	` { "resourceType" : "Device" , "meta" : "x", "identifier" : [ { "value" : "d1" }, 5, {"system":7,"value":"v"} ] , "note":[[],{},-0,1e5,1E-2,true,false,null] } `,
	`{"resourceType":"Observation","effectivePeriod":{"start":"2026-11-01T09:30:00Z","end":"nope"},"subject":{"reference":"Device?identifier=urn:dev|d1"}}`,
	`{"resourceType":"Observation","effectiveDateTime":"bad","effectivePeriod":{"start":"2026-11-01T09:30:00Z"},"meta":null}`,
	`{"resourceType":"Observation","reference":"Device?identifier=urn:dev|d2","a":{"reference":"urn:uuid:missing"}}`,
	`{"resourceType":"Observation","x":{"reference":"Bad?identifier=a|b"},"reference":5}`,
	`{"resourceType":"Obs\u0065rvation","id":"a","ID":"b","t\u00e9xt":"<b>&amp;</b>\u2028","z":"caf` + "\xe9" + `","é":"\u00e9"}`,
	`{"resourceType":"Observation","a":1,"a":2,"b":{"c":1,"c":[3]}}`,
	`{"resourcetype":"Observation","id":1}`,
	`{"meta":{"versionId":"9","lastUpdated":"x","zz":1,"aa":2},"id":"old"}`,
	`[1,2]`, `"s"`, `null`, `{"a":}`, `{"a":1} x`, `{"a":1}{}`, ``,
}

// FuzzStoredForm: for any resource the tree stores what the map round trip
// stored, indexes it the same way and reports the same problems.
func FuzzStoredForm(f *testing.F) {
	for _, s := range resourceSeeds {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 20, 8, 0, 0, 123, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		s := New(WithNow(func() time.Time { return now }))
		s.store["Device"] = map[string]*record{"d-1": {version: 1}, "d-2": {version: 1}, "d-3": {version: 1}}
		s.ident["Device"] = map[string][]string{"urn:dev|d1": {"d-1"}, "urn:dev|d2": {"d-2", "d-3"}}
		s.store["Observation"] = map[string]*record{"x-1": {version: 4}}
		fullURLs := map[string]string{"urn:uuid:dev-1": "Device/d-1", "urn:uuid:odd": `Device/<&>"`}
		targets := map[string]*target{"urn:uuid:dev-1": {typ: "Device", id: "d-1"}, "urn:uuid:odd": {typ: "Device", id: `<&>"`}}
		w := where{entry: 3}

		tr := new(tree)
		root, ok := tr.parse(b)
		require.Equal(t, json.Valid(b), ok, "the tree reads what is valid JSON")
		if !ok {
			root = -1
		}
		var wantHead head
		wantErr := json.Unmarshal(b, &wantHead)
		gotHead, gotErr := headOf(tr, root, b)
		assert.Equal(t, wantHead, gotHead)
		assert.Equal(t, wantErr == nil, gotErr == nil)

		m, err := legacyDecode(b)
		if err != nil || m == nil || !ok {
			if ok {
				assert.NotEqual(t, jObject, tr.nodes[root].kind, "the map form took no object")
			}
			return
		}
		require.Equal(t, jObject, tr.nodes[root].kind)
		want, wantP := legacyBuild(s.newStage(1), m, "Observation", "x-1", fullURLs, w)
		got, _, gotP := s.newStage(1).build(&target{typ: "Observation", id: "x-1", tr: tr, root: root}, targets, w, false)
		if wantP != nil {
			require.NotNil(t, gotP)
			assert.Equal(t, *wantP, *gotP)
			return
		}
		require.Nil(t, gotP)
		assert.Equal(t, string(want.body), string(got.body))
		assert.Equal(t, want.version, got.version)
		assert.Equal(t, want.identifiers, got.identifiers)
		wi, gi := want.search, got.searched()
		assert.Equal(t, wi.subject, gi.subject)
		assert.Equal(t, wi.codes, gi.codes)
		assert.Equal(t, wi.hasDate, gi.hasDate)
		assert.True(t, wi.from.Equal(gi.from) && wi.to.Equal(gi.to), "%v %v / %v %v", wi.from, wi.to, gi.from, gi.to)
	})
}

var bundleSeeds = []string{
	`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:a","resource":{"resourceType":"Device","id":"a"},"request":{"method":"PUT","url":"Device/a"}},` +
		`{"resource":{"resourceType":"Observation"},"request":{"method":"POST","url":"Observation","ifNoneExist":"identifier=urn:x|1"},"extra":[1,{"x":2}]}]}`,
	` {"type":"batch","entry":[],"resourceType":"Bundle","id":"b1"} `,
	`{"resourceType":"Bundle","type":"batch","entry":[{"resource":[1],"request":null},{"fullUrl":"x"},{}]}`,
	`{"resourceType":"Bundle","type":"batch","entry":null}`,
	`{"resourceType":"Bundle","Type":"batch"}`,
	`{"resourceType":"Bundle","type":"batch","type":"transaction"}`,
	`{"resourceType":"Bundle","type":"tr\u0061nsaction","entry":[{"resource":{"a":1,"a":2},"request":{"method":"PUT","URL":"x"}}]}`,
	`{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation"} ,"request":{"method":"PUT","url":"Observation/1"}}]} x`,
	`{"resourceType":"Bundle","entry":[{"resource":  "str"  }]}`,
	`{"resourceType":5}`, `[]`, `{`, ``,
}

// FuzzReadBundle: whatever readBundle reads by hand, encoding/json reads
// the same way, and the resources' trees are those of their bytes.
func FuzzReadBundle(f *testing.F) {
	for _, s := range bundleSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want bundleIn
		wantErr := json.Unmarshal(b, &want)
		tr := new(tree)
		got, gotErr := readBundle(b, tr, false)
		require.Equal(t, wantErr == nil, gotErr == nil, "%v / %v", wantErr, gotErr)
		if wantErr != nil {
			return
		}
		requireSameEntries(t, &want, &got)
		for i, w := range want.Entry {
			g := got.Entry[i]
			one := new(tree)
			root, ok := one.parse(w.Resource)
			assert.Equal(t, ok, g.root >= 0)
			if ok {
				assert.Equal(t, string(one.write(nil, root)), string(tr.write(nil, g.root)))
			}
		}
	})
}

// requireSameEntries checks that got has want's type and entries, each
// with the same fullUrl, request and resource bytes.
func requireSameEntries(t *testing.T, want, got *bundleIn) {
	t.Helper()
	assert.Equal(t, want.ResourceType, got.ResourceType)
	assert.Equal(t, want.Type, got.Type)
	require.Len(t, got.Entry, len(want.Entry))
	for i, w := range want.Entry {
		g := got.Entry[i]
		assert.Equal(t, w.FullURL, g.FullURL)
		assert.Equal(t, w.Request, g.Request)
		assert.Equal(t, string(w.Resource), string(g.Resource))
	}
}

// TestReadBundleByHand: the bundles the publisher posts take the hand
// path.
func TestReadBundleByHand(t *testing.T) {
	for _, s := range bundleSeeds[:2] {
		var b bundleIn
		assert.True(t, b.scan([]byte(s), new(tree), false), s)
	}
	var b bundleIn
	assert.False(t, b.scan([]byte(bundleSeeds[2]), new(tree), false), "a null request goes to encoding/json")
}

// TestAppendJSONString: strings are escaped as json.Marshal escapes them.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `W/"1"`, `a\b`, "<&>", "caf\u00e9", "\x01", "\xe9", "\u2028", `"<\x7f>"`} {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendJSONString([]byte("x"), s)[1:]), s)
	}
}

// BenchmarkTreeParse reads a heart-rate Observation as the sync benchmarks
// post it.
func BenchmarkTreeParse(b *testing.B) {
	r := []byte(resourceSeeds[0])
	tr := new(tree)
	b.SetBytes(int64(len(r)))
	for b.Loop() {
		tr.reset()
		if _, ok := tr.parse(r); !ok {
			b.Fatal("not parsed")
		}
	}
}

// legacyIdentifiers is what the map-based store indexed: identifiers, then
// meta.tag codings under tagKey.
func legacyIdentifiers(m map[string]any) []string {
	out := legacyPairs(m["identifier"], "value")
	meta, _ := m["meta"].(map[string]any)
	for _, tag := range legacyPairs(meta["tag"], "code") {
		out = append(out, tagKey+tag)
	}
	return out
}
