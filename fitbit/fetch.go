package fitbit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
	"github.com/openhealthexchange/ohx/provider"
)

// maxSleepLength bounds a sleep session: sessions are read by end time, so
// the read reaches this far past the window to find sessions starting in it.
const maxSleepLength = 24 * time.Hour

// Fetch implements ohx.Provider. Dense types (heart rate, steps, HRV, SpO2)
// are read one UTC day at a time, every page of the day, and the day is
// yielded in ascending order; sparse types are read once for the window. The
// streams are merged so every ohx type, ECG companions included, comes in
// non-decreasing Start order. At most one day of dense samples is held.
//
// A Google type the token's grant does not cover (403
// ACCESS_TOKEN_SCOPE_INSUFFICIENT) yields one *ohx.TypeUnavailableError per
// requested type it feeds and is not read again; the others go on.
func (p *Provider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		if err := w.Validate(); err != nil {
			yield(ohx.Sample{}, fmt.Errorf("fitbit: %w", err))
			return
		}
		w = ohx.Window{Start: w.Start.UTC(), End: w.End.UTC()}
		want := map[ohx.DataType]bool{}
		var gts []*googleType
		for _, t := range types {
			g := googleTypeOf(t)
			if g == nil {
				continue
			}
			want[t] = true
			if !slices.Contains(gts, g) {
				gts = append(gts, g)
			}
		}
		if len(gts) == 0 {
			return
		}
		m := &mapper{loc: link.Location(), want: want}
		var names deviceNames
		streams := make([]*stream, 0, len(gts))
		for _, g := range gts {
			st := &stream{g: g, scratch: &rangeBuf{}}
			if !g.Dense {
				buf, err := p.readRange(ctx, link, m, g, w, st.scratch)
				if err != nil {
					if refused, stop := yieldRefused(yield, want, g, err); refused {
						if stop {
							return
						}
						continue
					}
					yield(ohx.Sample{}, err)
					return
				}
				if err := p.nameDevices(ctx, &link, &names, buf); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
				st.buf = buf
			}
			streams = append(streams, st)
		}
		last := -1
		for day := w.Start.Truncate(24 * time.Hour); day.Before(w.End); day = day.Add(24 * time.Hour) {
			chunk := ohx.Window{Start: maxTime(day, w.Start), End: minTime(day.Add(24*time.Hour), w.End)}
			for _, st := range streams {
				if !st.g.Dense || st.refused {
					continue
				}
				clear(st.buf[st.pos:]) // none left, but drop any waveform before reuse
				buf, err := p.readRange(ctx, link, m, st.g, chunk, st.scratch)
				if err != nil {
					if refused, stop := yieldRefused(yield, want, st.g, err); refused {
						if stop {
							return
						}
						st.refused, st.buf, st.pos = true, nil, 0
						continue
					}
					yield(ohx.Sample{}, err)
					return
				}
				if err := p.nameDevices(ctx, &link, &names, buf); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
				st.buf, st.pos = buf, 0
			}
			// Merge the streams' heads up to the chunk's end; on equal
			// starts stay on the last stream so an ECG's companion follows it.
			for {
				best := -1
				for i, st := range streams {
					if st.pos >= len(st.buf) || !st.buf[st.pos].Start.Before(chunk.End) {
						continue
					}
					if best < 0 || st.buf[st.pos].Start.Before(streams[best].buf[streams[best].pos].Start) ||
						(i == last && st.buf[st.pos].Start.Equal(streams[best].buf[streams[best].pos].Start)) {
						best = i
					}
				}
				if best < 0 {
					break
				}
				st := streams[best]
				s := st.buf[st.pos]
				st.buf[st.pos] = ohx.Sample{} // release waveforms early
				st.pos++
				last = best
				if !yield(s, nil) {
					return
				}
			}
			if err := ctx.Err(); err != nil {
				yield(ohx.Sample{}, err)
				return
			}
		}
	}
}

// stream is one Google type's buffered, ascending samples.
type stream struct {
	g       *googleType
	buf     []ohx.Sample
	pos     int
	refused bool // the token lacks g's scope: g is no longer read
	scratch *rangeBuf
}

// rangeBuf holds readRange's buffers from one day to the next, so reading a
// dense type costs one day's buffer for the whole window instead of a new,
// grown one every day.
type rangeBuf struct {
	samples []ohx.Sample
	groups  []int
}

// yieldRefused handles Google's 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT, a read
// of g outside the token's grant (a scope the user unticked at consent, or
// the link's scopes out of date): no refresh or retry can fix it, and the
// link's other types are still readable. refused reports whether err is
// that answer; if so, an *ohx.TypeUnavailableError is yielded for each
// wanted type g feeds, and stop reports whether the consumer stopped.
func yieldRefused(yield func(ohx.Sample, error) bool, want map[ohx.DataType]bool, g *googleType, err error) (refused, stop bool) {
	var pe *ohx.ProviderError
	if !errors.As(err, &pe) || pe.HTTPStatus != http.StatusForbidden || !strings.Contains(pe.Code, "ACCESS_TOKEN_SCOPE_INSUFFICIENT") {
		return false, false
	}
	reason := "scope " + strings.TrimPrefix(g.Scope, scopePrefix) + " not granted by the user (Google Health answered 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT)"
	for _, t := range g.Yields {
		if want[t] && !yield(ohx.Sample{}, &ohx.TypeUnavailableError{Type: t, Reason: reason, Err: err}) {
			return true, true
		}
	}
	return true, false
}

// readRange reads every page of g over w and returns the samples whose Start
// lies in w, in ascending order. The result lives in buf: it is overwritten
// by the next readRange with the same buf.
func (p *Provider) readRange(ctx context.Context, link ohx.Link, m *mapper, g *googleType, w ohx.Window, buf *rangeBuf) ([]ohx.Sample, error) {
	if g.Kind == kindDaily {
		if first, end := dayRange(w, m.loc); first == end {
			return nil, nil // no local midnight in w: no day starts in it
		}
	}
	q := url.Values{}
	q.Set("pageSize", strconv.Itoa(p.pageSize(g)))
	q.Set("filter", filterFor(g, w, m.loc))
	path := "users/me/dataTypes/" + g.ID + "/dataPoints"
	op := "dataPoints.list"
	if g.Kind == kindSleep {
		// sleep does not take dataSourceFamily on list; reconcile merges
		// the sources into one stream.
		path += ":reconcile"
		op = "dataPoints.reconcile"
	} else if p.cfg.DataSourceFamily != "" && !g.AllSources {
		q.Set("dataSourceFamily", p.cfg.DataSourceFamily)
	}
	samples := buf.samples[:0]
	groups := buf.groups[:0] // start index in samples of each point's samples
	defer func() { buf.samples, buf.groups = samples[:0], groups[:0] }()
	err := provider.Pages(ctx, 0, func(ctx context.Context, token string) (string, error) {
		if token != "" {
			q.Set("pageToken", token)
		}
		var next string
		mark, gmark := len(samples), len(groups)
		err := p.stream(ctx, &link, request{op: op, method: "GET", path: path, query: q}, func(status int, body io.Reader) error {
			// A retry of the request starts the page over.
			clear(samples[mark:])
			samples, groups = samples[:mark], groups[:gmark]
			var err error
			if next, samples, groups, err = decodePage(body, m, w, samples, groups); err != nil {
				return badJSON(op, status) // a broken stream is classified by the client
			}
			if token == "" && next != "" {
				samples = presize(samples, w)
			}
			return nil
		})
		return next, err
	})
	if err != nil {
		return nil, provider.PagesError(Name, op, err)
	}
	// The API answers newest first: reverse point by point (keeping each
	// point's own samples in order), in place: reverse the whole range, then
	// each point's samples back. Then make sure of the order.
	slices.Reverse(samples)
	n, end := len(samples), len(samples)
	for _, at := range slices.Backward(groups) {
		// The point's samples were samples[at:end] before the reversal.
		slices.Reverse(samples[n-end : n-at])
		end = at
	}
	out := samples[:0]
	for _, s := range samples {
		if w.Contains(s.Start) {
			out = append(out, s)
		}
	}
	clear(samples[len(out):])
	samples = out
	if !slices.IsSortedFunc(out, byStart) {
		slices.SortStableFunc(out, byStart)
	}
	return out, nil
}

// presize grows samples, the newest-first first page of a range of w with
// more pages to come, to the size the range will likely take if the rest of
// w is as dense as the page: a day of 1-second heart rate is then one
// allocation rather than append's many (growing by a quarter at a time, they
// add up to five times the day).
func presize(samples []ohx.Sample, w ohx.Window) []ohx.Sample {
	if len(samples) == 0 {
		return samples
	}
	oldest := samples[len(samples)-1].Start
	for _, s := range samples {
		if s.Start.Before(oldest) {
			oldest = s.Start
		}
	}
	covered := w.End.Sub(oldest)
	if covered <= 0 {
		return samples
	}
	want := float64(len(samples)) * float64(w.End.Sub(w.Start)) / float64(covered) * 1.02
	if want > float64(cap(samples)) && want < 1<<24 {
		samples = slices.Grow(samples, int(want)-len(samples))
	}
	return samples
}

// decodePage decodes the page in body point by point (wire.DecodeList: no
// page is held, dense points take no reflection), appends the samples of
// the points whose first sample lies in w, and records where each point's
// samples start in groups.
func decodePage(body io.Reader, m *mapper, w ohx.Window, samples []ohx.Sample, groups []int) (next string, _ []ohx.Sample, _ []int, err error) {
	next, err = wire.DecodeList(body, func(dp *wire.DataPoint) error {
		at := len(samples)
		samples = m.mapPoint(samples, dp)
		if len(samples) > at && !w.Contains(samples[at].Start) {
			// Outside the window (ECGs after its end, sleep starting
			// before it): dropped at once, waveform and all.
			clear(samples[at:])
			samples = samples[:at]
			return nil
		}
		groups = append(groups, at)
		return nil
	})
	if errors.Is(err, wire.ErrEmpty) {
		err = nil // an empty body: no points, as before streaming
	}
	return next, samples, groups, err
}

func byStart(a, b ohx.Sample) int { return a.Start.Compare(b.Start) }

func (p *Provider) pageSize(g *googleType) int {
	if g.Kind == kindSleep && p.cfg.PageSize > 25 {
		return 25 // sleep's maximum
	}
	return p.cfg.PageSize
}

// filterFor returns the AIP-160 filter of g over w: snake_case type id, only
// >= and <.
func filterFor(g *googleType, w ohx.Window, loc *time.Location) string {
	n := g.FilterName()
	ts := func(t time.Time) string { return strconv.Quote(t.UTC().Format(time.RFC3339Nano)) }
	switch g.Kind {
	case kindInterval:
		return fmt.Sprintf("%s.interval.start_time >= %s AND %s.interval.start_time < %s", n, ts(w.Start), n, ts(w.End))
	case kindDaily:
		first, end := dayRange(w, loc)
		return fmt.Sprintf("%s.date >= %q AND %s.date < %q", n, first.String(), n, end.String())
	case kindSleep:
		return fmt.Sprintf("%s.interval.end_time >= %s AND %s.interval.end_time < %s", n, ts(w.Start), n, ts(w.End.Add(maxSleepLength)))
	case kindECG:
		return fmt.Sprintf("%s.interval.start_time >= %s", n, ts(w.Start))
	default:
		return fmt.Sprintf("%s.sample_time.physical_time >= %s AND %s.sample_time.physical_time < %s", n, ts(w.Start), n, ts(w.End))
	}
}

// dayRange returns the civil dates [first, end) whose local midnight lies in
// w.
func dayRange(w ohx.Window, loc *time.Location) (first, end wire.Date) {
	ceilDay := func(t time.Time) time.Time {
		l := t.In(loc)
		mid := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		if mid.Before(t) {
			mid = time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
		}
		return mid
	}
	return wire.DateOf(ceilDay(w.Start)), wire.DateOf(ceilDay(w.End))
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
