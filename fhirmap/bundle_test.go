package fhirmap_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// transaction wraps rs in a transaction Bundle as a FHIR publisher does
// (publish.FHIR is the real one): fullUrl urn:uuid:<id>; each entry PUT
// {Type}/{id}, or, when conditional, POST {Type} with ifNoneExist
// "identifier=system|value" for the resources that have an identifier. The
// tests use it to check that what the transformer emits is valid inside a
// transaction too.
func transaction(t *testing.T, rs []ohx.Resource, conditional bool) *r5.Bundle {
	t.Helper()
	b := &r5.Bundle{Type: r5.BundleTransaction}
	for _, r := range rs {
		e := r5.BundleEntry{FullURL: fhirmap.FullURL(r.ID), Resource: r.JSON}
		sys, val, ok := strings.Cut(r.Identifier, "|")
		if conditional && ok && sys != "" && val != "" {
			q := "identifier=" + url.QueryEscape(sys) + "|" + url.QueryEscape(val)
			e.Request = &r5.BundleRequest{Method: r5.MethodPost, URL: r.Type, IfNoneExist: &q}
		} else {
			e.Request = &r5.BundleRequest{Method: r5.MethodPut, URL: r.Type + "/" + r.ID}
		}
		b.Entry = append(b.Entry, e)
	}
	require.NoError(t, b.Validate())
	return b
}
