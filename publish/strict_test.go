package publish_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

// TestFHIRNeverSendsMalformedJSON: whichever validator the publisher has,
// a body that is not exactly one JSON object, or whose top-level id is not
// the resource's, is rejected before sending. With the default validator
// its strict parse is the only full read of the body (the publisher then
// reads the top level alone), so this also pins what that parse refuses.
func TestFHIRNeverSendsMalformedJSON(t *testing.T) {
	good := hrObservation(1, "")
	body := string(good.JSON)
	malformed := map[string]string{
		"trailing bytes":      body + ` x`,
		"two objects":         body + body,
		"truncated":           body[:len(body)-1],
		"an array":            `[` + body + `]`,
		"trailing comma":      strings.TrimSuffix(body, `}`) + `,}`,
		"bad escape":          strings.Replace(body, `"final"`, `"fin\al"`, 1),
		"id repeated, other":  strings.TrimSuffix(body, `}`) + `,"id":"00000000-0000-5000-8000-000000000000"}`,
		"escaped id repeated": strings.TrimSuffix(body, `}`) + `,"\u0069d":"00000000-0000-5000-8000-000000000000"}`,
		"no id":               strings.Replace(body, `"id":"`+good.ID+`",`, ``, 1),
	}
	anything := func([]byte) error { return nil }
	for _, tc := range []struct {
		name     string
		version  ohx.FHIRVersion
		validate func([]byte) error
	}{
		{"default R5 validator", ohx.R5, nil},
		{"default R4 validator", ohx.R4, nil},
		{"a validator that accepts anything", ohx.R5, anything},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fhirtest.NewServer(fhirtest.WithVersion(tc.version), fhirtest.WithValidator(nil))
			defer srv.Close()
			p := checked(t, publish.FHIRConfig{BaseURL: srv.URL, HTTPClient: srv.Client(), Version: tc.version, Validate: tc.validate})
			g := good
			g.FHIRVersion = tc.version
			batch := []ohx.Resource{g}
			for _, js := range malformed {
				r := g
				r.JSON = json.RawMessage(js)
				batch = append(batch, r)
			}
			res, err := p.Publish(t.Context(), batch)
			require.NoError(t, err)
			assert.Equal(t, []string{g.Key()}, res.Written)
			assert.Len(t, res.Rejected, len(malformed))
			assert.Equal(t, 1, srv.Received("Observation"), "only the well-formed resource was sent")
		})
	}
}
