package withings

import (
	"context"
	"errors"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/provider"
)

// dayChunk is the span of one Fetch step when a requested type needs a
// 24 h endpoint. Withings returns at most 24 h of intraday activity and of
// high-frequency sleep data per call, so Fetch walks a window in 24 h steps,
// reads every endpoint the requested types need for the step, and yields the
// step's samples in time order. That buffers at most one step of data and
// keeps each type's samples in non-decreasing Start order even when a type
// comes from several endpoints (heart rate comes from measures, intraday
// activity, sleep and ECGs).
const dayChunk = 24 * time.Hour

// longChunk is the span of one Fetch step when no requested type needs
// a 24 h endpoint (intraday activity, high-frequency sleep): measures, ECGs,
// sleep sessions and daily steps are then read 30 days per call (paged),
// which saves most of the application's 120 requests per minute on an
// initial sync of, say, weight and blood pressure.
const longChunk = 30 * 24 * time.Hour

// chunkSize returns the Fetch step for the wanted types.
func (p *Provider) chunkSize(want typeSet) time.Duration {
	if want.any(ohx.HeartRate, ohx.RespiratoryRate, ohx.HRVRMSSD, ohx.HRVSDNN) ||
		(want.has(ohx.Steps) && p.cfg.Steps == StepsIntraday) {
		return dayChunk
	}
	return longChunk
}

// maxPages bounds the pages read for one step, against a server that never
// stops saying "more".
const maxPages = 1000

// Fetch implements ohx.Provider. Samples start inside w; per type they come
// in non-decreasing Start order. Types Withings does not offer are ignored.
func (p *Provider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		if err := w.Validate(); err != nil {
			yield(ohx.Sample{}, &ohx.ProviderError{Provider: Name, Op: "fetch", Kind: ohx.KindPermanent, Err: err})
			return
		}
		want := typeSet{}
		for _, t := range types {
			for _, o := range offered {
				if t == o {
					want[t] = true
				}
			}
		}
		if len(want) == 0 {
			return
		}
		w = ohx.Window{Start: w.Start.UTC(), End: w.End.UTC()}
		loc := link.Location()
		var buf []ohx.Sample
		step := p.chunkSize(want)
		for chunk := range provider.Chunks(w, step) {
			var err error
			buf, err = p.fetchChunk(ctx, link, want, chunk, loc, buf[:0])
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				yield(ohx.Sample{}, err)
				return
			}
			sortSamples(buf)
			buf = dedupe(buf)
			for i := range buf {
				if !chunk.Contains(buf[i].Start) {
					continue
				}
				if err := ctx.Err(); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
				if !yield(buf[i], nil) {
					return
				}
			}
			clear(buf) // drop waveform references
		}
	}
}

// fetchChunk appends the samples of one step from every endpoint want needs.
func (p *Provider) fetchChunk(ctx context.Context, link ohx.Link, want typeSet, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	var err error
	if codes := measTypesOf(want); len(codes) > 0 {
		if dst, err = p.getmeas(ctx, link, want, codes, w, loc, dst); err != nil {
			return dst, err
		}
	}
	if want.has(ohx.Steps) && p.cfg.Steps == StepsDaily {
		if dst, err = p.getactivity(ctx, link, w, loc, dst); err != nil {
			return dst, err
		}
	}
	if want.has(ohx.HeartRate) || (want.has(ohx.Steps) && p.cfg.Steps == StepsIntraday) {
		iw := want
		if p.cfg.Steps != StepsIntraday && want.has(ohx.Steps) {
			iw = typeSet{ohx.HeartRate: want.has(ohx.HeartRate)}
		}
		if dst, err = p.getintradayactivity(ctx, link, iw, w, loc, dst); err != nil {
			return dst, err
		}
	}
	if want.has(ohx.ECG) {
		if dst, err = p.heartECGs(ctx, link, w, loc, dst); err != nil {
			return dst, err
		}
	}
	if want.has(ohx.SleepSession) {
		if dst, err = p.sleepSummaries(ctx, link, w, loc, dst); err != nil {
			return dst, err
		}
	}
	if want.any(ohx.HeartRate, ohx.RespiratoryRate, ohx.HRVRMSSD, ohx.HRVSDNN) {
		if dst, err = p.sleepGet(ctx, link, want, w, loc, dst); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func epoch(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

func joinInts(xs []int) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(x))
	}
	return b.String()
}

// lastSecond returns the inclusive end Withings' startdate/enddate ranges
// take for the half-open window w.
func lastSecond(w ohx.Window) time.Time {
	e := w.End.Add(-time.Second)
	if e.Before(w.Start) {
		return w.Start
	}
	return e
}

// getmeas reads measure groups (category 1, real measures) in w, page by
// page, and appends their samples.
func (p *Provider) getmeas(ctx context.Context, link ohx.Link, want typeSet, codes []int, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	form := url.Values{}
	form.Set("action", "getmeas")
	form.Set("meastypes", joinInts(codes))
	form.Set("category", "1")
	form.Set("startdate", epoch(w.Start))
	form.Set("enddate", epoch(lastSecond(w)))
	return p.getmeasPages(ctx, link, want, form, loc, dst)
}

func (p *Provider) getmeasPages(ctx context.Context, link ohx.Link, want typeSet, form url.Values, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	opt := mapOptions{includeAmbiguous: p.cfg.IncludeAmbiguous}
	for page := 0; page < maxPages; page++ {
		var b measureBody
		if err := p.call(ctx, link, "getmeas", "/measure", form, &b); err != nil {
			return dst, err
		}
		bl := location(b.Timezone, loc)
		for i := range b.MeasureGrps {
			dst = measureSamples(dst, &b.MeasureGrps[i], want, bl, opt)
		}
		if !b.More {
			return dst, nil
		}
		form.Set("offset", strconv.FormatInt(int64(b.Offset), 10))
	}
	return dst, errTooManyPages("getmeas")
}

func errTooManyPages(op string) error {
	return &ohx.ProviderError{Provider: Name, Op: op, Kind: ohx.KindTransient, Err: errors.New("too many pages")}
}

// localDates returns the Y-m-d dates in loc of w's first and last instants.
func localDates(w ohx.Window, loc *time.Location) (string, string) {
	return w.Start.In(loc).Format(time.DateOnly), lastSecond(w).In(loc).Format(time.DateOnly)
}

// getactivity reads the daily summaries of the civil days around w and
// appends the Steps of the days that start in w.
func (p *Provider) getactivity(ctx context.Context, link ohx.Link, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	// A day's own time zone may differ from the link's: ask for one day
	// more on each side and keep the days whose midnight lies in w.
	from, to := localDates(ohx.Window{Start: w.Start.Add(-24 * time.Hour), End: w.End.Add(24 * time.Hour)}, loc)
	form := url.Values{}
	form.Set("action", "getactivity")
	form.Set("startdateymd", from)
	form.Set("enddateymd", to)
	form.Set("data_fields", "steps")
	for page := 0; page < maxPages; page++ {
		var b activityBody
		if err := p.call(ctx, link, "getactivity", "/v2/measure", form, &b); err != nil {
			return dst, err
		}
		for i := range b.Activities {
			if s, ok := activitySample(&b.Activities[i], loc); ok && w.Contains(s.Start) {
				dst = append(dst, s)
			}
		}
		if !b.More {
			return dst, nil
		}
		form.Set("offset", strconv.FormatInt(int64(b.Offset), 10))
	}
	return dst, errTooManyPages("getactivity")
}

// getintradayactivity reads one ≤ 24 h window of intraday heart rate and
// steps. Withings returns only the first 24 h of a range, which is why Fetch
// never asks for more.
func (p *Provider) getintradayactivity(ctx context.Context, link ohx.Link, want typeSet, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	form := url.Values{}
	form.Set("action", "getintradayactivity")
	form.Set("startdate", epoch(w.Start))
	form.Set("enddate", epoch(lastSecond(w)))
	var fields []string
	if want.has(ohx.HeartRate) {
		fields = append(fields, "heart_rate")
	}
	if want.has(ohx.Steps) {
		fields = append(fields, "steps")
	}
	form.Set("data_fields", strings.Join(fields, ","))
	var b intradayBody
	if err := p.call(ctx, link, "getintradayactivity", "/v2/measure", form, &b); err != nil {
		return dst, err
	}
	return intradaySamples(dst, b.Series, want, loc), nil
}

// heartECGs lists the ECG recordings in w and reads each signal in full.
func (p *Provider) heartECGs(ctx context.Context, link ohx.Link, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	form := url.Values{}
	form.Set("action", "list")
	form.Set("startdate", epoch(w.Start))
	form.Set("enddate", epoch(lastSecond(w)))
	for page := 0; page < maxPages; page++ {
		var b heartListBody
		if err := p.call(ctx, link, "heart.list", "/v2/heart", form, &b); err != nil {
			return dst, err
		}
		for i := range b.Series {
			it := &b.Series[i]
			if it.ECG == nil || it.ECG.SignalID == 0 || !w.Contains(unix(int64(it.Timestamp))) {
				continue
			}
			get := url.Values{}
			get.Set("action", "get")
			get.Set("signalid", strconv.FormatInt(int64(it.ECG.SignalID), 10))
			var sig heartGetBody
			if err := p.call(ctx, link, "heart.get", "/v2/heart", get, &sig); err != nil {
				return dst, err
			}
			dst = ecgSamples(dst, it, &sig, loc)
		}
		if !b.More {
			return dst, nil
		}
		form.Set("offset", strconv.FormatInt(int64(b.Offset), 10))
	}
	return dst, errTooManyPages("heart.list")
}

// sleepSummaries reads the sleep summaries around w and appends the
// sessions that start in w.
func (p *Provider) sleepSummaries(ctx context.Context, link ohx.Link, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	// A summary is dated by the day the user woke up: look one day further.
	from, to := localDates(ohx.Window{Start: w.Start, End: w.End.Add(24 * time.Hour)}, loc)
	form := url.Values{}
	form.Set("action", "getsummary")
	form.Set("startdateymd", from)
	form.Set("enddateymd", to)
	for page := 0; page < maxPages; page++ {
		var b sleepSummaryBody
		if err := p.call(ctx, link, "sleep.getsummary", "/v2/sleep", form, &b); err != nil {
			return dst, err
		}
		for i := range b.Series {
			if s, ok := sleepSummarySample(&b.Series[i], loc); ok && w.Contains(s.Start) {
				dst = append(dst, s)
			}
		}
		if !b.More {
			return dst, nil
		}
		form.Set("offset", strconv.FormatInt(int64(b.Offset), 10))
	}
	return dst, errTooManyPages("sleep.getsummary")
}

// sleepGet reads one ≤ 24 h window of high-frequency sleep data.
func (p *Provider) sleepGet(ctx context.Context, link ohx.Link, want typeSet, w ohx.Window, loc *time.Location, dst []ohx.Sample) ([]ohx.Sample, error) {
	var fields []string
	for _, f := range [...]struct {
		t    ohx.DataType
		name string
	}{{ohx.HeartRate, "hr"}, {ohx.RespiratoryRate, "rr"}, {ohx.HRVRMSSD, "rmssd"}, {ohx.HRVSDNN, "sdnn_1"}} {
		if want.has(f.t) {
			fields = append(fields, f.name)
		}
	}
	form := url.Values{}
	form.Set("action", "get")
	form.Set("startdate", epoch(w.Start))
	form.Set("enddate", epoch(lastSecond(w)))
	form.Set("data_fields", strings.Join(fields, ","))
	var b sleepGetBody
	if err := p.call(ctx, link, "sleep.get", "/v2/sleep", form, &b); err != nil {
		return dst, err
	}
	return sleepGetSamples(dst, b.Series, want, loc), nil
}

// Devices implements ohx.Provider with User v2 getdevice.
func (p *Provider) Devices(ctx context.Context, link ohx.Link) ([]ohx.Device, error) {
	var b deviceBody
	if err := p.call(ctx, link, "getdevice", "/v2/user", url.Values{"action": {"getdevice"}}, &b); err != nil {
		return nil, err
	}
	return devicesOf(b.Devices), nil
}

// UpdatedMeasures streams the measures of the given types that Withings
// created or changed since the given time (getmeas lastupdate), for an
// incremental sync that must also catch corrected and late-uploaded
// measures whatever their measurement time. Samples come page by page, each
// page in Start order; unlike Fetch, Start order does not hold across pages.
func (p *Provider) UpdatedMeasures(ctx context.Context, link ohx.Link, types []ohx.DataType, since time.Time) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		want := newTypeSet(types)
		codes := measTypesOf(want)
		if len(codes) == 0 {
			return
		}
		form := url.Values{}
		form.Set("action", "getmeas")
		form.Set("meastypes", joinInts(codes))
		form.Set("category", "1")
		form.Set("lastupdate", epoch(since))
		opt := mapOptions{includeAmbiguous: p.cfg.IncludeAmbiguous}
		loc := link.Location()
		var buf []ohx.Sample
		for page := 0; page < maxPages; page++ {
			var b measureBody
			if err := p.call(ctx, link, "getmeas", "/measure", form, &b); err != nil {
				yield(ohx.Sample{}, err)
				return
			}
			bl := location(b.Timezone, loc)
			buf = buf[:0]
			for i := range b.MeasureGrps {
				buf = measureSamples(buf, &b.MeasureGrps[i], want, bl, opt)
			}
			sortSamples(buf)
			for _, s := range dedupe(buf) {
				if !yield(s, nil) {
					return
				}
			}
			if !b.More {
				return
			}
			form.Set("offset", strconv.FormatInt(int64(b.Offset), 10))
		}
		yield(ohx.Sample{}, errTooManyPages("getmeas"))
	}
}
