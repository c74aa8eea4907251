package oura

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// Fetch implements ohx.Provider. It reads one collection after the other
// (heart rate, sleep, daily activity, readiness, SpO2, VO2max), each in
// windows of at most its span (heart rate: 30 days), every next_token page
// of a window before the window's samples are yielded in ascending Start
// order. At most one window's documents are held.
//
// Day-indexed collections are read by the rule Oura's observed date filters
// call for (see the package documentation): the civil days that can hold a
// sample starting in the window, plus one day on each side for the user's
// zone, are asked for with one more day on each side; documents are kept by
// their day, deduplicated by id, and their samples by Start.
//
// A collection the user's grant does not cover (Oura's 401 with a missing
// scope) yields one *ohx.TypeUnavailableError per requested type it feeds,
// and Fetch goes on with the next collection.
func (p *Provider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		if err := w.Validate(); err != nil {
			yield(ohx.Sample{}, fmt.Errorf("oura: %w", err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(ohx.Sample{}, err)
			return
		}
		w = ohx.Window{Start: w.Start.UTC(), End: w.End.UTC()}
		m := &mapper{loc: link.Location(), want: map[ohx.DataType]bool{}}
		for _, t := range types {
			if collectionOf(t) != nil {
				m.want[t] = true
			}
		}
		for _, c := range collections {
			var wanted []ohx.DataType
			for _, t := range c.types {
				if m.want[t] {
					wanted = append(wanted, t)
				}
			}
			if len(wanted) == 0 {
				continue
			}
		chunks:
			for chunk := range provider.Chunks(w, p.spanOf(c)) {
				samples, err := p.read(ctx, &link, c, m, chunk)
				if err != nil {
					if scope, ok := isMissingScope(err); ok && ctx.Err() == nil {
						for _, t := range wanted {
							if !yield(ohx.Sample{}, &ohx.TypeUnavailableError{Type: t, Reason: missingScopeReason(c, scope), Err: err}) {
								return
							}
						}
						break chunks
					}
					yield(ohx.Sample{}, err)
					return
				}
				for i := range samples {
					if !yield(samples[i], nil) {
						return
					}
					if err := ctx.Err(); err != nil {
						yield(ohx.Sample{}, err)
						return
					}
				}
			}
		}
	}
}

// missingScopeReason is the report's reason for a type whose collection the
// grant does not cover.
func missingScopeReason(c *collection, scope string) string {
	if scope == "" {
		scope = c.scope
	}
	return fmt.Sprintf("scope %s not granted by the user (oura %s answered 401)", scope, c.path)
}

// read reads every page of c over chunk and returns the samples whose Start
// lies in chunk, in ascending order.
func (p *Provider) read(ctx context.Context, link *ohx.Link, c *collection, m *mapper, chunk ohx.Window) ([]ohx.Sample, error) {
	q := url.Values{}
	var first, last wire.Date // the days whose documents can matter
	if c.instants {
		q.Set("start_datetime", chunk.Start.Format(time.RFC3339))
		q.Set("end_datetime", chunk.End.Format(time.RFC3339))
	} else {
		first = wire.DateOf(chunk.Start.In(m.loc)).AddDays(-1)
		last = wire.DateOf(chunk.End.In(m.loc)).AddDays(1)
		q.Set("start_date", first.AddDays(-1).String())
		q.Set("end_date", last.AddDays(1).String())
	}
	inDays := func(d wire.Date) bool { return d.Valid() && d.Compare(first) >= 0 && d.Compare(last) <= 0 }
	var out []ohx.Sample
	var err error
	switch c {
	case heartRateCollection:
		var rows []wire.HeartRate
		rows, err = readAll[wire.HeartRate](ctx, p, link, c, q, nil, nil)
		out = m.heartRates(out, rows, chunk)
	case sleepCollection:
		var docs []wire.Sleep
		docs, err = readAll(ctx, p, link, c, q, func(d *wire.Sleep) string { return d.ID }, func(d *wire.Sleep) bool { return inDays(d.Day) })
		out = m.sleeps(out, docs)
	case activityCollection:
		var docs []wire.DailyActivity
		docs, err = readAll(ctx, p, link, c, q, func(d *wire.DailyActivity) string { return d.ID }, func(d *wire.DailyActivity) bool { return inDays(d.Day) })
		out = m.activities(out, docs)
	case readinessCollection:
		var docs []wire.DailyReadiness
		docs, err = readAll(ctx, p, link, c, q, func(d *wire.DailyReadiness) string { return d.ID }, func(d *wire.DailyReadiness) bool { return inDays(d.Day) })
		out = m.readiness(out, docs)
	case spo2Collection:
		var docs []wire.DailySpO2
		docs, err = readAll(ctx, p, link, c, q, func(d *wire.DailySpO2) string { return d.ID }, func(d *wire.DailySpO2) bool { return inDays(d.Day) })
		out = m.spo2(out, docs)
	case vo2MaxCollection:
		var docs []wire.VO2Max
		docs, err = readAll(ctx, p, link, c, q, func(d *wire.VO2Max) string { return d.ID }, func(d *wire.VO2Max) bool { return inDays(d.Day) })
		out = m.vo2Max(out, docs)
	}
	if err != nil {
		return nil, err
	}
	out = slices.DeleteFunc(out, func(s ohx.Sample) bool { return !chunk.Contains(s.Start) })
	slices.SortStableFunc(out, func(a, b ohx.Sample) int { return a.Start.Compare(b.Start) })
	return out, nil
}

// readAll reads every page of c with query q and returns the documents keep
// accepts (all when nil), each id once (no deduplication when id is nil).
func readAll[T any](ctx context.Context, p *Provider, link *ohx.Link, c *collection, q url.Values, id func(*T) string, keep func(*T) bool) ([]T, error) {
	op := c.path + ".list"
	path := "/v2/usercollection/" + c.path
	var out []T
	seen := map[string]bool{}
	err := provider.Pages(ctx, p.cfg.MaxPages, func(ctx context.Context, token string) (string, error) {
		if token != "" {
			q.Set("next_token", token)
		}
		// A page that does not decode fails the read (bad-json, retried
		// later) rather than losing a document.
		var page wire.Page[T]
		if err := p.get(ctx, link, op, path, q, &page); err != nil {
			return "", err
		}
		for i := range page.Data {
			d := &page.Data[i]
			if keep != nil && !keep(d) {
				continue
			}
			if id != nil {
				k := id(d)
				if k != "" && seen[k] {
					continue
				}
				seen[k] = true
			}
			out = append(out, *d)
		}
		return page.Next(), nil
	})
	if err != nil {
		return nil, provider.PagesError(Name, op, err)
	}
	return out, nil
}
