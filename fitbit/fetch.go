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
			st := &stream{g: g}
			if !g.Dense {
				if err := p.readRange(ctx, link, m, g, w, &st.buf); err != nil {
					if refused, stop := yieldRefused(yield, want, g, err); refused {
						if stop {
							return
						}
						continue
					}
					yield(ohx.Sample{}, err)
					return
				}
				if err := p.nameDevices(ctx, &link, &names, st.buf.tmpls); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
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
				st.pos = 0
				if err := p.readRange(ctx, link, m, st.g, chunk, &st.buf); err != nil {
					if refused, stop := yieldRefused(yield, want, st.g, err); refused {
						if stop {
							return
						}
						st.refused, st.buf = true, rangeBuf{}
						continue
					}
					yield(ohx.Sample{}, err)
					return
				}
				if err := p.nameDevices(ctx, &link, &names, st.buf.tmpls); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
			}
			// Merge the streams' heads up to the chunk's end; on equal
			// starts stay on the last stream so an ECG's companion follows it.
			for {
				best := -1
				var bestAt time.Time
				for i, st := range streams {
					if st.pos >= len(st.buf.points) {
						continue
					}
					at := st.buf.points[st.pos].start
					if !at.Before(chunk.End) {
						continue
					}
					if best < 0 || at.Before(bestAt) || (i == last && at.Equal(bestAt)) {
						best, bestAt = i, at
					}
				}
				if best < 0 {
					break
				}
				st := streams[best]
				s := st.buf.sample(st.pos)
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
	buf     rangeBuf // read from pos on
	pos     int
	refused bool // the token lacks g's scope: g is no longer read
}

// rangeBuf holds the samples of one read range (a day of a dense type, the
// window of a sparse one), ascending, packed: a day of 1-second heart rate
// is 86,400 samples, and an ohx.Sample is over 300 bytes, most of them the
// same from one point to the next (type, unit, device, provider). A packed
// sample keeps what varies and the index of a template holding the rest,
// so a day takes about 9 MB instead of 27. The buffers are reused from one
// day to the next.
type rangeBuf struct {
	points []packed
	tmpls  []ohx.Sample // the samples with their varying fields zeroed
	starts []int        // start index in points of each data point's samples
	// What decodePage fills for one page, reused from page to page.
	page   []ohx.Sample
	groups []int
}

// packed is a sample of a rangeBuf: the fields that vary from one dense
// point to the next, and the index of its template in rangeBuf.tmpls.
type packed struct {
	start, end             time.Time
	startOffset, endOffset time.Duration
	value                  float64
	recordID               string
	tmpl                   int
}

// add packs s (whose varying fields it zeroes) onto b.points, sharing the
// last template when s matches it.
func (b *rangeBuf) add(s *ohx.Sample) {
	p := packed{start: s.Start, end: s.End, startOffset: s.StartOffset, endOffset: s.EndOffset, value: s.Value, recordID: s.RecordID}
	s.Start, s.End, s.StartOffset, s.EndOffset, s.Value, s.RecordID = time.Time{}, time.Time{}, 0, 0, 0, ""
	if n := len(b.tmpls); n > 0 && sameTemplate(&b.tmpls[n-1], s) {
		p.tmpl = n - 1
	} else {
		b.tmpls = append(b.tmpls, *s)
		p.tmpl = len(b.tmpls) - 1
	}
	b.points = append(b.points, p)
}

// sample unpacks the i-th sample.
func (b *rangeBuf) sample(i int) ohx.Sample {
	p := &b.points[i]
	s := b.tmpls[p.tmpl]
	s.Start, s.End, s.StartOffset, s.EndOffset, s.Value, s.RecordID = p.start, p.end, p.startOffset, p.endOffset, p.value, p.recordID
	return s
}

// sameTemplate reports whether two templates are the same sample. Templates
// holding slices or pointers (components, waveforms, series, aggregates)
// are never shared. TestSameTemplateComparesEveryField fails when
// ohx.Sample gains a field this does not compare.
func sameTemplate(a, b *ohx.Sample) bool {
	if a.Components != nil || b.Components != nil || a.Waveform != nil || b.Waveform != nil ||
		a.Series != nil || b.Series != nil || a.Aggregate != nil || b.Aggregate != nil {
		return false
	}
	return a.Type == b.Type && a.Unit == b.Unit && a.Provider == b.Provider && a.DeviceID == b.DeviceID &&
		a.DeviceName == b.DeviceName && a.Recording == b.Recording && a.Group == b.Group &&
		a.CompanionOf == b.CompanionOf && a.ProviderType == b.ProviderType && sameTime(a.Created, b.Created) && sameTime(a.Modified, b.Modified)
}

// sameTime reports whether a and b are the same instant in the same
// location, so that a shared template gives back the time it was given.
func sameTime(a, b time.Time) bool { return a.Equal(b) && a.Location() == b.Location() }

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

// readRange reads every page of g over w into buf: the samples whose Start
// lies in w, in ascending order. buf's previous samples are dropped.
func (p *Provider) readRange(ctx context.Context, link ohx.Link, m *mapper, g *googleType, w ohx.Window, buf *rangeBuf) error {
	clear(buf.tmpls) // drop the last range's waveforms
	buf.points, buf.tmpls, buf.starts = buf.points[:0], buf.tmpls[:0], buf.starts[:0]
	if g.Kind == kindDaily {
		if first, end := dayRange(w, m.loc); first == end {
			return nil // no local midnight in w: no day starts in it
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
	err := provider.Pages(ctx, 0, func(ctx context.Context, token string) (string, error) {
		if token != "" {
			q.Set("pageToken", token)
		}
		var next string
		err := p.stream(ctx, &link, request{op: op, method: "GET", path: path, query: q}, func(status int, body io.Reader) error {
			// A retry of the request starts the page over.
			clear(buf.page)
			var err error
			if next, buf.page, buf.groups, err = decodePage(body, m, w, buf.page[:0], buf.groups[:0]); err != nil {
				return badJSON(op, status) // a broken stream is classified by the client
			}
			return nil
		})
		if err != nil {
			return next, err
		}
		for i, at := range buf.groups {
			buf.starts = append(buf.starts, len(buf.points))
			end := len(buf.page)
			if i+1 < len(buf.groups) {
				end = buf.groups[i+1]
			}
			for j := at; j < end; j++ {
				buf.add(&buf.page[j])
			}
		}
		if token == "" && next != "" {
			buf.presize(w)
		}
		return next, nil
	})
	clear(buf.page) // the page's waveforms now live in buf.tmpls
	if err != nil {
		return provider.PagesError(Name, op, err)
	}
	// The API answers newest first: reverse point by point (keeping each
	// point's own samples in order), in place: reverse the whole range, then
	// each point's samples back. Then make sure of the order.
	pts := buf.points
	slices.Reverse(pts)
	n, end := len(pts), len(pts)
	for _, at := range slices.Backward(buf.starts) {
		// The point's samples were pts[at:end] before the reversal.
		slices.Reverse(pts[n-end : n-at])
		end = at
	}
	out := pts[:0]
	for _, s := range pts {
		if w.Contains(s.start) {
			out = append(out, s)
		}
	}
	clear(pts[len(out):])
	buf.points = out
	if !slices.IsSortedFunc(out, byStart) {
		slices.SortStableFunc(out, byStart)
	}
	return nil
}

// presize grows b.points, holding the newest-first first page of a range
// of w with more pages to come, to the size the range will likely take if
// the rest of w is as dense as the page: a day of 1-second heart rate is
// then one allocation rather than append's many (growing by a quarter at a
// time, they add up to five times the day).
func (b *rangeBuf) presize(w ohx.Window) {
	if len(b.points) == 0 {
		return
	}
	oldest := b.points[0].start
	for _, p := range b.points {
		if p.start.Before(oldest) {
			oldest = p.start
		}
	}
	covered := w.End.Sub(oldest)
	if covered <= 0 {
		return
	}
	want := float64(len(b.points)) * float64(w.End.Sub(w.Start)) / float64(covered) * 1.02
	if want > float64(cap(b.points)) && want < 1<<24 {
		b.points = slices.Grow(b.points, int(want)-len(b.points))
	}
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

func byStart(a, b packed) int { return a.start.Compare(b.start) }

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
