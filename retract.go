package ohx

import (
	"context"
	"fmt"
	"net/url"
	"slices"
)

// RetractionQuery is one search of the destination for the resources a link
// published for a data type in a window: GET {ResourceType}?{Params}.
type RetractionQuery struct {
	// ResourceType is the FHIR resource type to search ("Observation").
	ResourceType string
	// Params are the search parameters (subject, code, date, identifier).
	Params url.Values
}

// Retracter is implemented by transformers that can retract what they
// published, for provider deletions. ohx keeps no copy of health data: the
// engine finds the resources to retract by searching the destination.
type Retracter interface {
	// RetractionQueries returns the searches that find the resources the
	// link published for data type t whose effective time lies in w. A nil
	// result means the type cannot be retracted.
	RetractionQueries(link Link, t DataType, w Window) []RetractionQuery
	// Retract returns r, found by one of the queries, marked as entered in
	// error and ready to publish under the same id, with Identifier and
	// DataType filled. ok is false when r must be left alone: it is already
	// retracted, its effective time is outside w, or it is not data of type t
	// of this link (servers may match more widely than asked).
	Retract(link Link, t DataType, w Window, r Resource) (out Resource, ok bool, err error)
}

// Searcher is implemented by publishers whose destination can be searched.
type Searcher interface {
	// SearchResources returns every resource of resourceType matching
	// params, with Type, ID (the destination's id) and JSON set.
	SearchResources(ctx context.Context, resourceType string, params url.Values) ([]Resource, error)
}

// producedSet holds the keys ("Type/ID") and business identifiers of every
// resource a deletion job's re-read produced in one window. It holds ids
// only, never health values, and grows with the number of resources the
// provider still has in the window (a few hundred bytes each), not with the
// samples' payloads; a nil set records nothing.
type producedSet map[string]struct{}

func (p producedSet) add(rs []Resource) {
	if p == nil {
		return
	}
	for i := range rs {
		p[rs[i].Key()] = struct{}{}
		if rs[i].Identifier != "" {
			p["identifier "+rs[i].Identifier] = struct{}{}
		}
	}
}

func (p producedSet) has(r *Resource) bool {
	if _, ok := p[r.Key()]; ok {
		return true
	}
	if r.Identifier == "" {
		return false
	}
	_, ok := p["identifier "+r.Identifier]
	return ok
}

// retracter returns the transformer as a Retracter when j is a deletion job
// and both the transformer and the publisher support retraction; otherwise
// nil, with the types' skip reasons added to the report for a deletion job.
func (e *Engine) retracter(j Job, types []DataType, rep *Report) Retracter {
	if !j.Deletion {
		return nil
	}
	ret, canRetract := e.cfg.Transformer.(Retracter)
	_, canSearch := e.cfg.Publisher.(Searcher)
	reason := ""
	switch {
	case !canRetract:
		reason = "deletion not retracted: the transformer cannot retract resources"
	case !canSearch:
		reason = "deletion not retracted: the publisher cannot search its destination"
	default:
		return ret
	}
	for _, t := range types {
		rep.Skipped = append(rep.Skipped, Skip{Type: t, Reason: reason})
	}
	return nil
}

// retract runs after a deletion job re-read and published plan's window: it
// searches the destination for the link's resources of each type in the
// window and publishes, marked entered-in-error, those the re-read did not
// produce again (their record was deleted at the provider). Resources already
// retracted are left alone, so running the job again changes nothing.
func (e *Engine) retract(ctx context.Context, ret Retracter, link Link, plan FetchPlan, produced producedSet, rep *Report) error {
	search, _ := e.cfg.Publisher.(Searcher)
	batch := make([]Resource, 0, min(e.cfg.BatchSize, 64))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := e.cfg.Publisher.Publish(ctx, batch)
		if err != nil {
			return fmt.Errorf("ohx: publish retractions of link %s: %w", link.ID, err)
		}
		rejected := make(map[string]bool, len(res.Rejected))
		for _, rj := range res.Rejected {
			rejected[rj.Key] = true
		}
		rep.Rejected = append(rep.Rejected, res.Rejected...)
		for i := range batch {
			if rejected[batch[i].Key()] {
				continue
			}
			rep.Written++
			rep.typeReport(batch[i].DataType).Retracted++
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	for _, t := range plan.Types {
		qs := ret.RetractionQueries(link, t, plan.Window)
		if len(qs) == 0 {
			reason := "deletion not retracted: the transformer cannot retract this type"
			if !slices.Contains(rep.Skipped, Skip{Type: t, Reason: reason}) {
				rep.Skipped = append(rep.Skipped, Skip{Type: t, Reason: reason})
			}
			continue
		}
		for _, q := range qs {
			found, err := search.SearchResources(ctx, q.ResourceType, q.Params)
			if err != nil {
				return fmt.Errorf("ohx: search %s of link %s for retraction: %w", q.ResourceType, link.ID, err)
			}
			for i := range found {
				if produced.has(&found[i]) {
					continue
				}
				out, ok, err := ret.Retract(link, t, plan.Window, found[i])
				if err != nil {
					rep.Rejected = append(rep.Rejected, Rejection{Key: found[i].Key(), Reason: "cannot retract: " + err.Error()})
					continue
				}
				if !ok || produced.has(&out) {
					continue
				}
				if out.DataType == "" {
					out.DataType = t
				}
				batch = append(batch, out)
				if len(batch) >= e.cfg.BatchSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
	}
	return flush()
}
