package fhirmap

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/openhealthexchange/ohx"
)

// WriteMode says how a transaction Bundle writes its entries.
type WriteMode int

// Write modes.
const (
	// WriteUpdate writes each resource with PUT {Type}/{id}: an update-as-create
	// with the deterministic id, so a re-run overwrites instead of duplicating.
	WriteUpdate WriteMode = iota
	// WriteConditionalCreate writes each resource that has a business
	// identifier with POST {Type} and ifNoneExist "identifier=system|value"
	// (the bare query, without "Type?"); resources without one are PUT.
	WriteConditionalCreate
)

// Transaction builds a transaction Bundle of rs. Every entry's fullUrl is the
// urn:uuid of its deterministic id, so the same resources always give the
// same bundle.
func Transaction(rs []ohx.Resource, mode WriteMode) (*Bundle, error) {
	b := &Bundle{Type: BundleTransaction, Entry: make([]BundleEntry, 0, len(rs))}
	seen := make(map[string]bool, len(rs))
	for i := range rs {
		r := &rs[i]
		if r.Type == "" || r.ID == "" || len(r.JSON) == 0 {
			return nil, fmt.Errorf("fhirmap: resource %d has no type, id or JSON", i)
		}
		if seen[r.ID] {
			return nil, fmt.Errorf("fhirmap: resource %s appears twice in one transaction", r.Key())
		}
		seen[r.ID] = true
		e := BundleEntry{FullURL: FullURL(r.ID), Resource: r.JSON}
		sys, val, ok := strings.Cut(r.Identifier, "|")
		if mode == WriteConditionalCreate && ok && sys != "" && val != "" {
			q := "identifier=" + url.QueryEscape(sys) + "|" + url.QueryEscape(val)
			e.Request = &BundleRequest{Method: MethodPost, URL: r.Type, IfNoneExist: &q}
		} else {
			e.Request = &BundleRequest{Method: MethodPut, URL: r.Type + "/" + r.ID}
		}
		b.Entry = append(b.Entry, e)
	}
	if len(b.Entry) == 0 {
		return nil, errors.New("fhirmap: a transaction needs at least one resource")
	}
	return b, b.Validate()
}
