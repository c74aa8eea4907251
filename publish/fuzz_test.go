package publish

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/openhealthexchange/ohx"
)

// fuzzChunk is a bundle of three prepared resources, the request side of the
// transaction-responses the fuzzer invents.
func fuzzChunk(f *testing.F) (*FHIR, []*item) {
	f.Helper()
	p, err := NewFHIR(FHIRConfig{BaseURL: "https://fhir.example/r5", Validate: func([]byte) error { return nil }})
	if err != nil {
		f.Fatal(err)
	}
	var chunk []*item
	for i := range 3 {
		id := fmt.Sprintf("0000000%d-0000-5000-8000-000000000000", i)
		body := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"status":"final"}`, id)
		it, err := p.prepare(&ohx.Resource{Type: "Observation", ID: id, JSON: json.RawMessage(body)})
		if err != nil {
			f.Fatal(err)
		}
		chunk = append(chunk, it)
	}
	return p, chunk
}

// FuzzTransactionResponse feeds arbitrary transaction- and batch-response
// bodies to the parser of server answers. It must never panic, and every
// resource of the bundle must end up exactly once: written, rejected, to be
// sent again, or the whole answer refused with an error.
func FuzzTransactionResponse(f *testing.F) {
	p, chunk := fuzzChunk(f)
	entry := func(status string) string {
		return `{"response":{"status":"` + status + `","location":"Observation/x/_history/1","etag":"W/\"1\""}}`
	}
	f.Add(true, []byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[`+entry("201 Created")+`,`+entry("200 OK")+`,`+entry("200")+`]}`))
	f.Add(false, []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[`+entry("201 Created")+`,`+
		`{"response":{"status":"422 Unprocessable Entity","outcome":{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invariant","expression":["Observation.status"]}]}}},`+
		entry("503 Service Unavailable")+`]}`))
	f.Add(false, []byte(`{"resourceType":"Bundle","type":"batch-response","entry":[`+entry("401")+`,`+entry("abc")+`,{}]}`))
	f.Add(true, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"processing"}]}`))
	f.Add(true, []byte(`{"resourceType":"Bundle","type":"transaction-response","entry":null}`))
	f.Add(true, []byte(`{"resourceType":"Bundle","type":"transaction-response","entry":[1,2,3]}`))
	f.Add(true, []byte(`[]`))
	f.Add(true, []byte(``))
	f.Fuzz(func(t *testing.T, transaction bool, body []byte) {
		op, againp := "transaction", (*[]*item)(nil)
		var again []*item
		if !transaction {
			op, againp = "batch", &again
		}
		var res ohx.PublishResult
		err := p.handleResponse(&httpResult{status: 200, body: body}, op, chunk, &res, againp)
		seen := len(res.Written) + len(res.Rejected) + len(again)
		if err != nil {
			if !errors.Is(err, ohx.ErrTransient) && !errors.Is(err, ohx.ErrAuth) && !errors.Is(err, ohx.ErrPermanent) &&
				!errors.Is(err, ohx.ErrRateLimited) {
				t.Fatalf("unclassified error %v", err)
			}
			if seen > len(chunk) {
				t.Fatalf("%d outcomes for %d resources", seen, len(chunk))
			}
			return
		}
		if seen != len(chunk) {
			t.Fatalf("accepted answer accounts for %d of %d resources", seen, len(chunk))
		}
		for _, r := range res.Rejected {
			if r.Key == "" || r.Reason == "" {
				t.Fatalf("rejection without key or reason: %+v", r)
			}
		}
	})
}

// FuzzParseOutcome feeds arbitrary bodies to the OperationOutcome parser and
// to the error message built from it, which must never panic.
func FuzzParseOutcome(f *testing.F) {
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"invariant","diagnostics":"value 72","expression":["Bundle.entry[1].resource"]}]}`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"fatal","code":"structure","location":["Bundle.entry[0]"]}]}`))
	f.Add([]byte(`{"resourceType":"OperationOutcome","issue":null}`))
	f.Add([]byte(`{"resourceType":"Bundle"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		o := parseOutcome(body)
		e := &FHIRError{Destination: "d", Operation: "transaction", Status: 422, Outcome: o}
		_ = e.Error()
		if o != nil {
			_ = culprit(o, 3)
		}
	})
}
