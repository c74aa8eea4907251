package fhirmap

import (
	"context"
	"crypto/sha256"
	"errors"

	"github.com/openhealthexchange/ohx"
)

// Stream implements ohx.StreamTransformer: it maps the batches of one fetch
// of link over w and writes one Provenance per kind (data type; the heart
// rate of an ECG counts as "ecg") and bucket of grid (nil means
// ohx.HourGrid), id BucketProvenanceID, after the last of its targets.
//
// A bucket is complete when a sample of its kind from a later bucket
// arrives, or when the stream closes. The engine reads whole buckets (w
// starts on a bucket boundary and ends on one or at the time of the read), so
// a bucket's Provenance lists every resource the provider holds for it, and
// a later read of the bucket rewrites the same Provenance with the same
// targets or more (when the provider has more by then). A bucket that starts
// before w, and a sample that arrives after its bucket was complete (a
// provider that breaks the time order), get a Provenance of their own whose
// id follows from its targets (ProvenanceID), so that nothing is left
// without one and nothing is taken from a bucket's.
//
// Memory is bounded by a bucket: the stream holds the type, id and
// identifier of each resource of the buckets still open, one per kind. With
// the hour, 1-second heart rate gives 3,600 targets per Provenance.
func (t *Transformer) Stream(link ohx.Link, w ohx.Window, _ ohx.Trigger, grid ohx.BucketAligner) ohx.TransformStream {
	if grid == nil {
		grid = ohx.HourGrid{}
	}
	return &stream{t: t, link: link, w: w, grid: grid, open: map[string]*provGroup{}}
}

var _ ohx.StreamTransformer = (*Transformer)(nil)

type stream struct {
	t    *Transformer
	link ohx.Link
	w    ohx.Window
	grid ohx.BucketAligner
	// open is the open bucket of each kind; kinds lists them in the order
	// they first came, for Close.
	open  map[string]*provGroup
	kinds []string
	// done are the groups the current batch completed, emitted at its end.
	done []*provGroup
	// agent is set once the software Device went out with a Provenance.
	agent  bool
	closed bool
}

var errStreamClosed = errors.New("fhirmap: stream closed")

// Next implements ohx.TransformStream.
func (st *stream) Next(ctx context.Context, samples []ohx.Sample) ([]ohx.Resource, error) {
	return st.NextIn(ctx, samples, nil)
}

var _ ohx.ArenaStream = (*stream)(nil)

// NextIn implements ohx.ArenaStream: the batch's Observations are written
// into a (nil: chunks of the call's own). What the stream keeps for a later
// Provenance (a resource's type, id and identifier) is not in a.
func (st *stream) NextIn(ctx context.Context, samples []ohx.Sample, a *ohx.Arena) ([]ohx.Resource, error) {
	if st.closed {
		return nil, errStreamClosed
	}
	if st.link.Patient == "" {
		return nil, ErrNoPatient
	}
	if st.link.Provider == "" {
		return nil, errors.New("fhirmap: link has no provider")
	}
	out := a.Resources(len(samples) + 2)
	var bufs buffers = a
	if a == nil {
		bufs = &slab{left: len(samples)}
	}
	var sink func(*ohx.Sample, ohx.Resource) *provGroup
	if !st.t.cfg.NoProvenance {
		sink = st.add
	}
	out, err := st.t.mapSamples(ctx, &st.link, samples, out, sink, bufs)
	if err != nil {
		return nil, err
	}
	rs, err := st.emit(st.done)
	clear(st.done)
	st.done = st.done[:0]
	if err != nil {
		return nil, err
	}
	return append(out, rs...), nil
}

// Close implements ohx.TransformStream.
func (st *stream) Close(context.Context) ([]ohx.Resource, error) {
	if st.closed {
		return nil, errStreamClosed
	}
	st.closed = true
	groups := make([]*provGroup, 0, len(st.kinds))
	for _, k := range st.kinds {
		if g := st.open[k]; g != nil {
			groups = append(groups, g)
		}
	}
	st.open, st.kinds = nil, nil
	return st.emit(groups)
}

// add puts a sample's resource into the group of its kind and bucket.
func (st *stream) add(s *ohx.Sample, r ohx.Resource) *provGroup {
	kind := provenanceKind(s)
	g := st.open[kind]
	switch {
	case g != nil && !s.Start.Before(g.bucket.Start) && s.Start.Before(g.bucket.End):
	case g != nil && s.Start.Before(g.bucket.Start):
		g = st.late(kind, s)
	default:
		if g != nil {
			st.done = append(st.done, g)
		} else {
			st.kinds = append(st.kinds, kind)
		}
		g = st.group(kind, s)
		st.open[kind] = g
	}
	g.addSample(s, r)
	return g
}

// group opens the group of the bucket holding s. A bucket that starts before
// the window was read in part: its group's id follows from its content.
func (st *stream) group(kind string, s *ohx.Sample) *provGroup {
	b := ohx.Window{Start: st.grid.BucketStart(st.link, s.Start), End: st.grid.BucketEnd(st.link, s.Start)}
	g := &provGroup{kind: kind, bucket: b}
	if b.Start.Before(st.w.Start) {
		g.sum = sha256.New()
	}
	return g
}

// late returns the group of a sample that came after a later bucket of its
// kind had opened: the bucket's group when the current batch completed it,
// else a group of its own for the batch, whose id follows from its content.
func (st *stream) late(kind string, s *ohx.Sample) *provGroup {
	for _, g := range st.done {
		if g.kind == kind && !s.Start.Before(g.bucket.Start) && s.Start.Before(g.bucket.End) {
			return g
		}
	}
	g := st.group(kind, s)
	if g.sum == nil {
		g.sum = sha256.New()
	}
	st.done = append(st.done, g)
	return g
}

// emit returns the Provenance of each group, the software Device before the
// first of the stream.
func (st *stream) emit(groups []*provGroup) ([]ohx.Resource, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	rs, err := st.t.provenance(&st.link, groups, !st.agent)
	if err != nil {
		return nil, err
	}
	st.agent = true
	return rs, nil
}
