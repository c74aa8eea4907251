package publish_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// Writing resources twice into the same directory keeps one line per id.
func ExampleNDJSON() {
	dir, err := os.MkdirTemp("", "ohx-ndjson-")
	if err != nil {
		panic(err)
	}
	defer func() { _ = os.RemoveAll(dir) }()

	p, err := publish.NewNDJSON(dir)
	if err != nil {
		panic(err)
	}
	dev := ohx.Resource{Type: "Device", ID: "d1", JSON: json.RawMessage(`{"resourceType":"Device","id":"d1","status":"active"}`)}
	for range 2 {
		if _, err := p.Publish(context.Background(), []ohx.Resource{dev}); err != nil {
			panic(err)
		}
	}
	if err := p.Close(); err != nil {
		panic(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "Device.ndjson"))
	if err != nil {
		panic(err)
	}
	fmt.Print(string(b))
	// Output: {"resourceType":"Device","id":"d1","status":"active"}
}

// Publishing to a FHIR server, here the in-process test server, in the
// default PUT-by-id mode. Check reads the server's CapabilityStatement (an
// application calls it at start; Publish would before its first write) and
// fails on a server of another FHIR release. An invalid resource is
// rejected before sending.
func ExampleFHIR() {
	srv := fhirtest.NewServer()
	defer srv.Close()

	p, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), BundleSize: 100})
	if err != nil {
		panic(err)
	}
	if err := p.Check(context.Background()); err != nil {
		panic(err)
	}
	good := hrObservation(1, "")
	bad := hrObservation(2, "")
	bad.JSON = json.RawMessage(strings.Replace(string(bad.JSON), `"status":"final",`, "", 1))

	res, err := p.Publish(context.Background(), []ohx.Resource{good, bad})
	if err != nil {
		panic(err)
	}
	fmt.Println("written:", len(res.Written), "rejected:", len(res.Rejected))
	fmt.Println("server holds", srv.Count("Observation"), "Observation after", srv.RequestCount(), "requests (metadata, one transaction)")
	// Output:
	// written: 1 rejected: 1
	// server holds 1 Observation after 2 requests (metadata, one transaction)
}
