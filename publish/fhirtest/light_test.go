package fhirtest

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// The light read (light.go) must give what the tree gives whenever it
// answers at all, and the server must answer, store and index the same
// with it as without it.

// plainObservation is a heart-rate Observation as the sync benchmarks post
// it: what the light read is for.
func plainObservation(n int) string {
	id := fmt.Sprintf("e0009242-10e0-583c-9528-%012x", n)
	return `{"resourceType":"Observation","id":"` + id + `","meta":{"source":"urn:ohx:fitbit","profile":["http://hl7.org/fhir/StructureDefinition/vitalsigns"]},` +
		`"identifier":[{"system":"urn:ohx:fitbit:observation","value":"` + id + `"},{"system":"urn:ohx:fitbit:record","value":"` + strconv.Itoa(5139580000+n) + `"}],` +
		`"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"Vital Signs"}]}],` +
		`"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/p-1001"},` +
		`"effectiveDateTime":"2026-11-20T09:42:13+01:00","performer":[{"reference":"Patient/p-1001"}],` +
		`"valueQuantity":{"value":64,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"},"device":{"reference":"Device/f9d6d0bb-6a33-50a1-8f81-ae21f1ebc391"}}`
}

// lightResources are read light (true) or left to the tree (false).
var lightResources = []struct {
	body  string
	light bool
}{
	{plainObservation(1), true},
	{`{}`, true},
	{` {"resourceType":"Device"} `, true},
	{`{"resourceType":"Provenance","meta":{"tag":[{"system":"urn:ohx:prov","code":"hr-1"},{"code":"x"},{"system":"s","code":""},5]},"target":[{"reference":"Observation/1"}]}`, true},
	{`{"resourceType":"Device","identifier":{"system":"s","value":"v"},"meta":[{"tag":[{"system":"s","code":"c"}]}]}`, true},
	{`{"resourceType":"Device","identifier":[{"system":5,"value":"v"},{"value":7},[],"x",{"system":"s","value":"v","assigner":{"reference":"Organization/1"}}]}`, true},
	{`{"resourceType":"Device","note":[{"text":"caf\u00e9 <b>\n</b>"}],"x":{"a":[1,-2.5e3,true,false,null,{}]},"reference":5}`, true},
	{`{"resourceType":"Device","a":1,"a":2}`, true}, // a key given twice that does not matter
	{`{"resourceType":"Device","reference":{"reference":"Device/1"}}`, true},
	{"{\"resourceType\":\"Device\",\"x\":\"caf\xe9\"}", true},
	{`{"resourceType":"Observation","subject":{"reference":"urn:uuid:0b7f"}}`, false},
	{`{"resourceType":"Observation","subject":{"reference":"Patient?identifier=a|b"}}`, false},
	{`{"resourceType":"Observation","subject":{"reference":"urn\u003auuid:0b7f"}}`, false},
	{`{"resourceType":"Observation","reference":"urn:uuid:x"}`, false},
	{`{"resourceType":"Obs\u0065rvation"}`, false},
	{`{"resourceType":5}`, false},
	{`{"resourceType":"Device","resourceType":"Device"}`, false},
	{`{"resourcetype":"Device"}`, false},
	{`{"resourceType":"Device","ID":"x"}`, false},
	{`{"resourceType":"Device","r\u0065ference":"urn:uuid:x"}`, false},
	{`{"resourceType":"Device","identifier":[{"system":"s","system":"t","value":"v"}]}`, false},
	{`{"resourceType":"Device","identifier":[{"value":"a<b\u0026"}]}`, false},
	{"{\"resourceType\":\"Device\",\"identifier\":[{\"value\":\"caf\xe9\"}]}", false},
	{`{"resourceType":"Device","identifier":[],"identifier":[]}`, false},
	{`{"resourceType":"Device","meta":{"tag":[],"tag":[]}}`, false},
	{`[1]`, false}, {`"s"`, false}, {`null`, false}, {`{"a":}`, false}, {`{"a":"\x"}`, false}, {"{\"a\":\"\x01\"}", false}, {`{"a":1`, false}, {``, false},
}

// TestLightRead: the light read takes the plain resources and leaves the
// others to the tree.
func TestLightRead(t *testing.T) {
	for _, c := range lightResources {
		var s jsonscan.Scanner
		s.Reset([]byte(c.body))
		_, _, _, ok := readLight(&s, new(lightRead))
		assert.Equal(t, c.light, ok, c.body)
	}
	var s jsonscan.Scanner
	s.Reset([]byte(lightResources[3].body))
	typ, id, pairs, ok := readLight(&s, new(lightRead))
	require.True(t, ok)
	assert.Equal(t, "Provenance", typ)
	assert.Nil(t, id)
	assert.Equal(t, []string{tagKey + "urn:ohx:prov|hr-1", tagKey + "|x"}, joinPairs(pairs))

	// The bundles the sync benchmarks post are read light throughout.
	b, err := readBundle([]byte(lightBundles()[0]), new(tree), true)
	require.NoError(t, err)
	require.Len(t, b.Entry, 5)
	for _, e := range b.Entry {
		assert.True(t, e.light)
		assert.Len(t, joinPairs(e.pairs), 2)
		assert.Equal(t, "Observation/"+e.head.ID, e.Request.URL)
	}
}

// FuzzLightRead: whatever the light read reads, the tree reads to the same
// end, with the same head and identifiers and nothing to rewrite.
func FuzzLightRead(f *testing.F) {
	for _, c := range lightResources {
		f.Add([]byte(c.body))
	}
	for _, s := range resourceSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(strings.Repeat("[", maxTreeDepth) + strings.Repeat("]", maxTreeDepth)))
	f.Add([]byte(`{"a":` + strings.Repeat("[", maxTreeDepth) + strings.Repeat("]", maxTreeDepth) + `}`))
	f.Add([]byte(`{"a":` + strings.Repeat("[", maxTreeDepth-1) + strings.Repeat("]", maxTreeDepth-1) + `}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s jsonscan.Scanner
		s.Reset(b)
		l := new(lightRead)
		typ, id, pairs, ok := readLight(&s, l)
		if !ok {
			require.Equal(t, 0, s.I, "a failed light read leaves the scanner")
			require.Empty(t, l.pairs, "and keeps no pairs")
			return
		}
		var ts jsonscan.Scanner
		ts.Reset(b)
		tr := new(tree)
		root, treeOK := tr.value(&ts)
		require.True(t, treeOK, "the tree reads what the light read reads")
		require.Equal(t, ts.I, s.I, "to the same end")
		require.Equal(t, jObject, tr.nodes[root].kind)
		wantHead, err := headOf(tr, root, b[:s.I])
		require.NoError(t, err)
		assert.Equal(t, wantHead, head{ResourceType: typ, ID: string(id)})
		want := tr.identifiers(root)
		assert.Equal(t, want, joinPairs(pairs))
		assert.True(t, samePairs(pairs, want))
		for _, other := range [][]string{nil, {"urn:ohx:fitbit:observation|x"}, append(slices.Clone(want), "x|y"), {tagKey + "urn:ohx:prov|hr-1", tagKey + "|x"}} {
			assert.Equal(t, slices.Equal(want, other), samePairs(pairs, other), "%q", other)
		}
		if len(want) > 0 {
			changed := slices.Clone(want)
			changed[len(changed)-1] += "x"
			assert.False(t, samePairs(pairs, changed))
			changed[len(changed)-1] = "|" + want[len(want)-1]
			assert.False(t, samePairs(pairs, changed))
		}
		// With no entry and no stored resource, every reference the tree
		// would rewrite is a problem.
		written := string(tr.write(nil, root))
		assert.Nil(t, New().newStage(1).rewrite(tr, root, map[string]*target{}, where{}))
		assert.Equal(t, written, string(tr.write(nil, root)))
	})
}

// FuzzReadBundleLight: readBundle reads the same bundle, entries and
// heads with the light read as without it, and the identifiers of each
// resource read light are its tree's.
func FuzzReadBundleLight(f *testing.F) {
	for _, b := range lightBundles() {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wantErr := readBundle(b, new(tree), false)
		tr := new(tree)
		got, gotErr := readBundle(b, tr, true)
		require.Equal(t, wantErr == nil, gotErr == nil, "%v / %v", wantErr, gotErr)
		if wantErr != nil {
			return
		}
		requireSameEntries(t, &want, &got)
		for i, w := range want.Entry {
			g := got.Entry[i]
			assert.Equal(t, w.head, g.head)
			assert.Equal(t, w.headErr, g.headErr)
			assert.Nil(t, g.lightID)
			if !g.light {
				continue
			}
			one := new(tree)
			root, ok := one.parse(g.Resource)
			require.True(t, ok)
			assert.Equal(t, one.identifiers(root), joinPairs(g.pairs))
		}
	})
}

// lightBundles are bundles for FuzzLightServer: the shapes the publisher
// posts, conditional writes, references between entries, and faults.
func lightBundles() []string {
	entry := func(fullURL, resource, method, url, ifNoneExist string) string {
		e := `{`
		if fullURL != "" {
			e += `"fullUrl":"` + fullURL + `",`
		}
		e += `"resource":` + resource + `,"request":{"method":"` + method + `","url":"` + url + `"`
		if ifNoneExist != "" {
			e += `,"ifNoneExist":"` + ifNoneExist + `"`
		}
		return e + `}}`
	}
	bundle := func(typ string, entries ...string) string {
		return `{"resourceType":"Bundle","type":"` + typ + `","entry":[` + strings.Join(entries, ",") + `]}`
	}
	var hr []string
	for n := range 5 {
		id := fmt.Sprintf("e0009242-10e0-583c-9528-%012x", n)
		hr = append(hr, entry("urn:uuid:"+id, plainObservation(n), "PUT", "Observation/"+id, ""))
	}
	dev := `{"resourceType":"Device","identifier":[{"system":"urn:dev","value":"d2"}]}`
	prov := `{"resourceType":"Provenance","meta":{"tag":[{"system":"urn:ohx:prov","code":"p1"}]},"target":[{"reference":"Observation/o-1"}]}`
	out := []string{
		bundle("transaction", hr...),
		bundle("batch", hr...),
		bundle("transaction", hr[0], hr[0]),
		bundle("transaction",
			entry("urn:uuid:dev-2", dev, "PUT", "Device?identifier=urn:dev|d2", ""),
			entry("", `{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"n1"}],"device":{"reference":"urn:uuid:dev-2"}}`, "POST", "Observation", "identifier=urn:obs|n1"),
			entry("", `{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"n2"}],"device":{"reference":"Device?identifier=urn:dev|d1"}}`, "POST", "Observation", ""),
			entry("", `{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"n1"}]}`, "PUT", "Observation?identifier=urn:obs|n1", "")),
		bundle("transaction", entry("", `{"resourceType":"Observation","identifier":[{"system":"urn:obs","value":"o1"}]}`, "POST", "Observation", "identifier=urn:obs|o1"),
			entry("", `{"resourceType":"Observation","id":"o-1","identifier":[{"system":"urn:obs","value":"o1b"}]}`, "PUT", "Observation/o-1", "")),
		bundle("batch", entry("", prov, "PUT", "Provenance?_tag=urn:ohx:prov|p1", ""), entry("", prov, "PUT", "Provenance?_tag=urn:ohx:prov|p1", ""),
			entry("", dev, "PUT", "Device?identifier=urn:dev|d1", ""), entry("", `{"resourceType":"Device","id":"zz"}`, "PUT", "Device?identifier=urn:dev|d1", "")),
		bundle("transaction", entry("", `{"resourceType":"Observation","subject":{"reference":"urn:uuid:nowhere"}}`, "POST", "Observation", "")),
		bundle("batch", entry("", `{"resourceType":"Observation","subject":{"reference":"urn:uuid:nowhere"}}`, "POST", "Observation", ""), hr[1]),
		bundle("transaction", entry("", `{"resourceType":"Device","id":"a"}`, "PUT", "Device/b", "")),
		bundle("transaction", entry("", `{"resourceType":"Device","id":"a"}`, "PUT", "Observation/a", "")),
		bundle("transaction", entry("", `[1]`, "PUT", "Device/a", "")),
		bundle("transaction", entry("", `{"resourceType":"Device"}`, "DELETE", "Device/a", "")),
		bundle("transaction", entry("", `{"resourceType":"Device"}`, "PUT", "Device?identifier=urn:dev|d3", ""), entry("", `{"resourceType":"Device","identifier":[{"system":"urn:dev","value":"d3"}]}`, "POST", "Device", "identifier=urn:dev|d3")),
		bundle("transaction", entry("urn:uuid:x", `{"resourceType":"Device"}`, "POST", "Device", ""), entry("urn:uuid:x", `{"resourceType":"Device"}`, "POST", "Device", "")),
		bundle("transaction", entry("", `{"resourceType":"Device"}`, "PUT", "", "")),
		bundle("batch", entry("", `{"resourceType":"Device","id":"bad id"}`, "PUT", "Device/bad id", ""), entry("", `{"resourceType":"Device","a":1,"a":2,"identifier":[{"value":"v"}]}`, "PUT", "Device/d-9", "")),
	}
	for _, c := range lightResources {
		out = append(out, bundle("transaction", entry("", c.body, "PUT", "Observation/x-1", "")), bundle("batch", entry("", c.body, "POST", "Device", "")))
	}
	for _, r := range resourceSeeds {
		out = append(out, bundle("transaction", entry("", r, "PUT", "Observation/x-1", "")))
	}
	return append(out, bundleSeeds...)
}

// lightSetup is what the servers of FuzzLightServer hold before the fuzzed
// bundle: an indexed Device, an Observation with an identifier and a
// Provenance with a tag.
const lightSetup = `{"resourceType":"Bundle","type":"transaction","entry":[` +
	`{"resource":{"resourceType":"Device","identifier":[{"system":"urn:dev","value":"d1"}]},"request":{"method":"PUT","url":"Device?identifier=urn:dev|d1"}},` +
	`{"resource":{"resourceType":"Observation","id":"o-1","identifier":[{"system":"urn:obs","value":"o1"}],"status":"final","code":{"text":"x"}},"request":{"method":"PUT","url":"Observation/o-1"}},` +
	`{"resource":{"resourceType":"Provenance","meta":{"tag":[{"system":"urn:ohx:prov","code":"p0"}]},"target":[{"reference":"Observation/o-1"}],"agent":[{"who":{"display":"x"}}]},"request":{"method":"POST","url":"Provenance"}}]}`

// FuzzLightServer: a server that keeps no bodies answers a bundle with the
// same status and bytes, and holds and indexes the same afterwards, whether
// it reads resources light or into trees; with and without validation.
func FuzzLightServer(f *testing.F) {
	for _, b := range lightBundles() {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, validate := range []bool{false, true} {
			var answers [2]string
			var states [2]string
			for i, treeOnly := range []bool{false, true} {
				s := lightTestServer(validate)
				s.treeOnly = treeOnly
				status, answer := post(s, []byte(lightSetup))
				require.Equal(t, http.StatusOK, status, answer)
				status, answer = post(s, body)
				answers[i], states[i] = strconv.Itoa(status)+" "+answer, snapshot(s)
			}
			assert.Equal(t, answers[1], answers[0], "validate %v", validate)
			assert.Equal(t, states[1], states[0], "validate %v", validate)
		}
	})
}

// lightTestServer is a server without bodies whose clock and ids are
// fixed.
func lightTestServer(validate bool) *Server {
	opts := []Option{WithoutBodies(), WithNow(func() time.Time { return time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC) })}
	if !validate {
		opts = append(opts, WithValidator(nil))
	}
	s := New(opts...)
	n := 0
	s.newID = func() string { n++; return fmt.Sprintf("id-%d", n) }
	return s
}

func post(s *Server, body []byte) (int, string) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body))))
	return rec.Code, rec.Body.String()
}

// snapshot writes what the server holds: records, indexes, counts and
// requests (the ids of one identifier sorted: a transaction commits in map
// order).
func snapshot(s *Server) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, typ := range slices.Sorted(maps.Keys(s.store)) {
		for _, id := range slices.Sorted(maps.Keys(s.store[typ])) {
			r := s.store[typ][id]
			fmt.Fprintf(&b, "%s/%s v%d %q reserved=%v body=%q\n", typ, id, r.version, r.identifiers, r.reserved, r.body)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(s.ident)) {
		for _, ident := range slices.Sorted(maps.Keys(s.ident[typ])) {
			fmt.Fprintf(&b, "index %s %q %q\n", typ, ident, slices.Sorted(slices.Values(s.ident[typ][ident])))
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(s.received)) {
		fmt.Fprintf(&b, "received %s %d\n", typ, s.received[typ])
	}
	fmt.Fprintf(&b, "seq %d writes %d requests %+v\n", s.seq, s.writes, s.requests)
	return b.String()
}

// BenchmarkLightRead reads the heart-rate Observation the sync benchmarks
// post, as BenchmarkTreeParse does with the tree.
func BenchmarkLightRead(b *testing.B) {
	r := []byte(plainObservation(1))
	var l lightRead
	b.SetBytes(int64(len(r)))
	for b.Loop() {
		var s jsonscan.Scanner
		s.Reset(r)
		if _, _, _, ok := readLight(&s, &l); !ok {
			b.Fatal("not read")
		}
		l.release()
	}
}

// TestCommitInPlace: a transaction that updates stored resources changes
// their records in place (no store write), keeps the identifier index
// right, and leaves no record of its scratch space in the store.
func TestCommitInPlace(t *testing.T) {
	for _, lean := range []bool{false, true} {
		opts := []Option{WithValidator(nil)}
		if lean {
			opts = append(opts, WithoutBodies())
		}
		s := New(opts...)
		obs := func(id, ident string) string {
			return `{"resourceType":"Observation","id":"` + id + `","identifier":[{"system":"urn:obs","value":"` + ident + `"}]}`
		}
		entry := func(id, ident string) string {
			return `{"resource":` + obs(id, ident) + `,"request":{"method":"PUT","url":"Observation/` + id + `"}}`
		}
		bundle := func(entries ...string) []byte {
			return []byte(`{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`)
		}
		status, answer := post(s, bundle(entry("o1", "a"), entry("o2", "b"), entry("o3", "c")))
		require.Equal(t, http.StatusOK, status, answer)
		assert.Equal(t, []string{"o1"}, s.ByIdentifier("Observation", "urn:obs|a"), "builds the index")
		before := maps.Clone(s.store["Observation"])

		status, answer = post(s, bundle(entry("o1", "b"), entry("o3", "c"), entry("o4", "a"), entry("o3", "d")))
		require.Equal(t, http.StatusOK, status, answer)
		assert.Contains(t, answer, `"location":"Observation/o3/_history/2"`)
		assert.Contains(t, answer, `"location":"Observation/o3/_history/3"`)
		assert.Contains(t, answer, `"location":"Observation/o4/_history/1"`)
		got := s.store["Observation"]
		for _, id := range []string{"o1", "o2", "o3"} {
			assert.Same(t, before[id], got[id], "%s: updated in place", id)
		}
		for id, r := range got {
			assert.False(t, r.pooled, id)
			assert.False(t, r.reserved, id)
		}
		versions := map[string]int{}
		for id, r := range got {
			versions[id] = r.version
		}
		assert.Equal(t, map[string]int{"o1": 2, "o2": 1, "o3": 3, "o4": 1}, versions)
		assert.Equal(t, []string{"urn:obs|b"}, got["o1"].identifiers)
		assert.Equal(t, []string{"urn:obs|d"}, got["o3"].identifiers)
		assert.Equal(t, []string{"o4"}, s.ByIdentifier("Observation", "urn:obs|a"))
		assert.ElementsMatch(t, []string{"o1", "o2"}, s.ByIdentifier("Observation", "urn:obs|b"))
		assert.Empty(t, s.ByIdentifier("Observation", "urn:obs|c"))
		assert.Equal(t, []string{"o3"}, s.ByIdentifier("Observation", "urn:obs|d"))
		if !lean {
			body, v, ok := s.Get("Observation", "o1")
			require.True(t, ok)
			assert.Equal(t, 2, v)
			assert.Contains(t, string(body), `"value":"b"`)
			assert.Contains(t, string(body), `"versionId":"2"`)
		}

		// A transaction that fails once it has built entries changes
		// nothing.
		status, answer = post(s, bundle(entry("o1", "z"), `{"resource":{"resourceType":"Observation","id":"o5","subject":{"reference":"urn:uuid:nowhere"}},"request":{"method":"PUT","url":"Observation/o5"}}`))
		require.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, answer, "urn:uuid reference does not resolve")
		assert.Equal(t, 2, s.store["Observation"]["o1"].version)
		assert.Equal(t, []string{"urn:obs|b"}, s.store["Observation"]["o1"].identifiers)
	}
}

// TestEmptyBundles: a transaction or batch without entries answers an
// empty entry list, a fresh server or not (the answer's entries come from
// a request's scratch space).
func TestEmptyBundles(t *testing.T) {
	s := New(WithValidator(nil), WithoutBodies())
	for range 2 {
		for _, typ := range []string{"transaction", "batch"} {
			status, answer := post(s, []byte(`{"resourceType":"Bundle","type":"`+typ+`","entry":[]}`))
			assert.Equal(t, http.StatusOK, status)
			assert.Equal(t, `{"entry":[],"resourceType":"Bundle","type":"`+typ+`-response"}`, answer)
		}
		status, _ := post(s, []byte(lightBundles()[0]))
		require.Equal(t, http.StatusOK, status)
	}
}

// FuzzStringEnd: the eight-bytes-at-a-time search finds what a byte loop
// finds, from any start.
func FuzzStringEnd(f *testing.F) {
	for _, s := range []string{"", "plain string of some length", `ab"cd`, `abcdefgh\ijk`, "abcdefghijklmno\x1fp", "\x7f\x80\xff\"", `""""""""""`, "abcdefg\u00e9\""} {
		f.Add([]byte(s), 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, from int) {
		if from < 0 || from > len(b) {
			return
		}
		want := from
		for ; want < len(b); want++ {
			if c := b[want]; c == '"' || c == '\\' || c < 0x20 {
				break
			}
		}
		require.Equal(t, want, stringEnd(b, from))
	})
}
