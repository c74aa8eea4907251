package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/openhealthexchange/ohx"
)

// maxSearchPages bounds how many searchset pages Search follows.
const maxSearchPages = 100

// SearchMatch is one resource a search found.
type SearchMatch struct {
	// ID is the resource's logical id on the server.
	ID string
	// Resource is the resource's JSON.
	Resource json.RawMessage
}

// Search runs GET {base}/{resourceType}?{params} and returns the matching
// resources, following the searchset's "next" links (on the same server, up
// to 100 pages). It shares the publisher's authentication, retries and
// breaker. Typical parameters: identifier=system|value, or subject, code and
// date for finding the Observations of a sample that was deleted upstream.
func (p *FHIR) Search(ctx context.Context, resourceType string, params url.Values) ([]SearchMatch, error) {
	if !resourceTypeRE.MatchString(resourceType) {
		return nil, errors.New("publish: search: invalid resource type")
	}
	next := p.base + "/" + resourceType
	if len(params) > 0 {
		next += "?" + params.Encode()
	}
	var out []SearchMatch
	for page := 0; next != "" && page < maxSearchPages; page++ {
		r, err := p.do(ctx, "search", http.MethodGet, next, nil)
		if err != nil {
			return out, err
		}
		if r.status != http.StatusOK {
			return out, p.requestError("search", r)
		}
		var b struct {
			ResourceType string `json:"resourceType"`
			Type         string `json:"type"`
			Link         []struct {
				Relation string `json:"relation"`
				URL      string `json:"url"`
			} `json:"link"`
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
				Search   *struct {
					Mode string `json:"mode"`
				} `json:"search"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(r.body, &b); err != nil || b.ResourceType != "Bundle" || b.Type != "searchset" {
			return out, fmt.Errorf("publish: fhir %s search: answer is not a searchset Bundle", p.cfg.Name)
		}
		for _, e := range b.Entry {
			if e.Search != nil && e.Search.Mode != "" && e.Search.Mode != "match" {
				continue // included resources
			}
			var head struct {
				ResourceType string `json:"resourceType"`
				ID           string `json:"id"`
			}
			if json.Unmarshal(e.Resource, &head) != nil || head.ResourceType != resourceType {
				continue
			}
			out = append(out, SearchMatch{ID: head.ID, Resource: e.Resource})
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" && strings.HasPrefix(l.URL, p.base+"/") {
				next = l.URL
			}
		}
	}
	return out, nil
}

// FindByIdentifier returns the ids of the resources of a type that carry the
// business identifier "system|value" (normally zero or one).
func (p *FHIR) FindByIdentifier(ctx context.Context, resourceType, identifier string) ([]string, error) {
	system, value, ok := strings.Cut(identifier, "|")
	if !ok || value == "" {
		return nil, errors.New("publish: find by identifier: identifier must be system|value")
	}
	ms, err := p.Search(ctx, resourceType, url.Values{"identifier": {system + "|" + value}})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids, nil
}

var _ ohx.Searcher = (*FHIR)(nil)

// SearchResources implements ohx.Searcher on top of Search: every match is
// returned as an ohx.Resource with Type, the server's ID, the JSON as the
// server holds it and the publisher's FHIRVersion. The engine uses it to find what a deleted provider record
// was published as.
func (p *FHIR) SearchResources(ctx context.Context, resourceType string, params url.Values) ([]ohx.Resource, error) {
	ms, err := p.Search(ctx, resourceType, params)
	if err != nil {
		return nil, err
	}
	out := make([]ohx.Resource, 0, len(ms))
	for _, m := range ms {
		if m.ID == "" {
			continue
		}
		out = append(out, ohx.Resource{Type: resourceType, ID: m.ID, JSON: m.Resource, FHIRVersion: p.Version()})
	}
	return out, nil
}
