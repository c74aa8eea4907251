package publish

import (
	"encoding/json"
	"sync"

	"github.com/openhealthexchange/ohx/fhirmap/r5"
	"github.com/openhealthexchange/ohx/internal/jsonscan"
)

// bundleAnswer is what handleResponse reads of a transaction- or
// batch-response: a response names a status (and maybe an outcome) per
// entry, and nothing else of it is checked.
type bundleAnswer struct {
	bundle  bool // resourceType is "Bundle"
	typ     r5.BundleType
	entries []entryAnswer
}

// entryAnswer is one entry of a bundleAnswer.
type entryAnswer struct {
	// response says that the entry has a response object.
	response bool
	// status is the code of response.status ("201 Created"), 0 when it
	// has none or it is no HTTP status code.
	status int
	// outcome is response.outcome, raw; it is a slice of the answer's body
	// and is read before the body goes back to its pool.
	outcome []byte
}

// answerPool holds the entry slices of decoded answers: an answer lives
// only while handleResponse reads it.
var answerPool = sync.Pool{New: func() any { return new([]entryAnswer) }}

// maxPooledEntries is the largest entry slice kept for reuse.
const maxPooledEntries = 4096

// decodeAnswer decodes a response body as encoding/json decodes it into
// the struct below (decodeAnswerSlow). A plain answer, the kind FHIR servers
// write, is read in one pass without allocating (decodeAnswerFast); anything
// else (escaped or case-folded member names, repeated members, nulls) goes
// through encoding/json. The entries are appended to buf[:0]; ok is false
// when encoding/json refuses the body.
func decodeAnswer(body []byte, buf []entryAnswer) (a bundleAnswer, ok bool) {
	if a, ok := decodeAnswerFast(body, buf[:0]); ok {
		return a, true
	}
	return decodeAnswerSlow(body, buf[:0])
}

// decodeAnswerSlow is decodeAnswer with encoding/json.
func decodeAnswerSlow(body []byte, buf []entryAnswer) (bundleAnswer, bool) {
	var b struct {
		ResourceType string        `json:"resourceType"`
		Type         r5.BundleType `json:"type"`
		Entry        []struct {
			Response *struct {
				Status  string          `json:"status"`
				Outcome json.RawMessage `json:"outcome"`
			} `json:"response"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return bundleAnswer{}, false
	}
	a := bundleAnswer{bundle: b.ResourceType == "Bundle", typ: b.Type, entries: buf}
	for _, e := range b.Entry {
		var ea entryAnswer
		if e.Response != nil {
			ea = entryAnswer{response: true, status: entryStatus(e.Response.Status), outcome: e.Response.Outcome}
		}
		a.entries = append(a.entries, ea)
	}
	return a, true
}

// decodeAnswerFast is decodeAnswer for a plain answer; ok false means
// "ask encoding/json", not that the body is invalid.
func decodeAnswerFast(body []byte, buf []entryAnswer) (a bundleAnswer, ok bool) {
	var s jsonscan.Scanner
	s.Reset(body)
	a.entries = buf
	var seenType, seenRT, seenEntry bool
	ok = s.Object(func(key []byte) bool {
		switch string(key) {
		case "resourceType":
			v, ok := s.String()
			a.bundle = string(v) == "Bundle"
			return ok && once(&seenRT)
		case "type":
			v, ok := s.String()
			a.typ = bundleType(v)
			return ok && once(&seenType)
		case "entry":
			return once(&seenEntry) && s.Byte('[') && answerEntries(&s, &a)
		}
		return !folds(key, "resourceType", "type", "entry") && s.Skip()
	})
	return a, ok && s.End()
}

// answerEntries reads the entries of an answer after the '[' that opens
// them.
func answerEntries(s *jsonscan.Scanner, a *bundleAnswer) bool {
	if s.Byte(']') {
		return true
	}
	for {
		var e entryAnswer
		var seenResponse bool
		ok := s.Object(func(key []byte) bool {
			if string(key) == "response" {
				e.response = true
				return once(&seenResponse) && answerResponse(s, &e)
			}
			return !folds(key, "response") && s.Skip()
		})
		if !ok {
			return false
		}
		a.entries = append(a.entries, e)
		if s.Byte(',') {
			continue
		}
		return s.Byte(']')
	}
}

// answerResponse reads the response object of an entry.
func answerResponse(s *jsonscan.Scanner, e *entryAnswer) bool {
	var seenStatus, seenOutcome bool
	return s.Object(func(key []byte) bool {
		switch string(key) {
		case "status":
			v, ok := s.String()
			e.status = entryStatusBytes(v)
			return ok && once(&seenStatus)
		case "outcome":
			at := s.I
			if !s.Skip() {
				return false
			}
			e.outcome = skipSpace(s.B[at:s.I])
			return once(&seenOutcome)
		}
		return !folds(key, "status", "outcome") && s.Skip()
	})
}

// once marks a member seen and reports whether it was not seen before:
// encoding/json merges a repeated member, the fast path leaves it to it.
func once(seen *bool) bool {
	if *seen {
		return false
	}
	*seen = true
	return true
}

// folds reports whether encoding/json might match key to one of the
// names, which it does without regard to case (and, beyond ASCII, with
// Unicode's simple folding): the fast path leaves such keys to it.
func folds(key []byte, names ...string) bool {
	for _, c := range key {
		if c >= 0x80 {
			return true
		}
	}
	for _, n := range names {
		if len(n) == len(key) && asciiEqualFold(key, n) {
			return true
		}
	}
	return false
}

func asciiEqualFold(a []byte, b string) bool {
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// bundleType returns the bundle type v names, without allocating for the
// types a publisher expects.
func bundleType(v []byte) r5.BundleType {
	for _, t := range []r5.BundleType{r5.BundleTransactionResponse, r5.BundleBatchResponse} {
		if string(v) == string(t) {
			return t
		}
	}
	return r5.BundleType(v)
}

// entryStatusBytes is entryStatus of a status's bytes; "201 Created" and
// "200" are read without converting them to a string.
func entryStatusBytes(v []byte) int {
	if len(v) >= 3 && '1' <= v[0] && v[0] <= '5' && isDigit(v[1]) && isDigit(v[2]) && (len(v) == 3 || v[3] == ' ') {
		return int(v[0]-'0')*100 + int(v[1]-'0')*10 + int(v[2]-'0')
	}
	return entryStatus(string(v))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
