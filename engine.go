package ohx

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"
	"time"

	"go.uber.org/zap"
)

// DefaultBatchSize is the number of samples the engine maps at a time when
// EngineConfig.BatchSize is zero.
const DefaultBatchSize = 500

// EngineConfig wires an Engine. Providers, Links, Cursors, Transformer and
// Publisher are required; the zero value of every other field is a sensible
// default.
type EngineConfig struct {
	// Providers are the providers the engine can sync, by Name.
	Providers []Provider
	// Links finds the link of a job.
	Links LinkFinder
	// Cursors keeps per (link, data type) cursors.
	Cursors CursorStore
	// Strategy chooses windows; nil means DefaultStrategy{}. Whatever the
	// strategy, the engine widens every window to whole buckets of its grid:
	// the aggregator's when it is a BucketAligner, else, with a
	// StreamTransformer, HourGrid. A DefaultStrategy without Align gets the
	// grid, so that its chunks meet at bucket boundaries.
	Strategy SyncStrategy
	// Aggregator wraps the sample stream; nil means pass-through.
	Aggregator Aggregator
	// Transformer maps batches to FHIR resources.
	Transformer Transformer
	// Publisher writes resources.
	Publisher Publisher
	// Policy restricts what may be synced; nil allows everything consent and
	// scopes allow.
	Policy *Policy
	// BatchSize is the number of samples per mapping call; their resources
	// are published at once, or, with a BundleSizer publisher, in whole
	// bundles (what does not fill one waits for the next batch). 0 means
	// DefaultBatchSize.
	BatchSize int
	// Logger receives structured logs (no health values, no tokens); nil
	// means no logs.
	Logger *zap.Logger
	// Metrics receives measurements; nil means NopMetrics.
	Metrics Metrics
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Engine runs one sync along the path strategy → Provider.Fetch → Aggregator →
// Transformer → Publisher → cursors. It is safe for concurrent use by several
// workers.
type Engine struct {
	cfg       EngineConfig
	providers map[string]Provider
}

// NewEngine checks cfg and returns an engine.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	switch {
	case len(cfg.Providers) == 0:
		return nil, errors.New("ohx: engine needs at least one provider")
	case cfg.Links == nil:
		return nil, errors.New("ohx: engine needs a link finder")
	case cfg.Cursors == nil:
		return nil, errors.New("ohx: engine needs a cursor store")
	case cfg.Transformer == nil:
		return nil, errors.New("ohx: engine needs a transformer")
	case cfg.Publisher == nil:
		return nil, errors.New("ohx: engine needs a publisher")
	case cfg.BatchSize < 0:
		return nil, errors.New("ohx: engine batch size must not be negative")
	}
	if err := cfg.Policy.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, providers: make(map[string]Provider, len(cfg.Providers))}
	for _, p := range cfg.Providers {
		if p == nil {
			return nil, errors.New("ohx: engine got a nil provider")
		}
		if _, dup := e.providers[p.Name()]; dup {
			return nil, fmt.Errorf("ohx: engine got provider %q twice", p.Name())
		}
		e.providers[p.Name()] = p
	}
	switch st := e.cfg.Strategy.(type) {
	case nil:
		e.cfg.Strategy = DefaultStrategy{Align: e.grid()}
	case DefaultStrategy:
		if st.Align == nil {
			st.Align = e.grid()
			e.cfg.Strategy = st
		}
	}
	if e.cfg.BatchSize == 0 {
		e.cfg.BatchSize = DefaultBatchSize
	}
	if e.cfg.Logger == nil {
		e.cfg.Logger = zap.NewNop()
	}
	if e.cfg.Metrics == nil {
		e.cfg.Metrics = NopMetrics{}
	}
	if e.cfg.Now == nil {
		e.cfg.Now = time.Now
	}
	return e, nil
}

// Provider returns the engine's provider with the given name.
func (e *Engine) Provider(name string) (Provider, bool) {
	p, ok := e.providers[name]
	return p, ok
}

// HandleJob runs the job; it lets an Engine serve as a queue Handler.
func (e *Engine) HandleJob(ctx context.Context, j Job) error {
	_, err := e.Sync(ctx, j)
	return err
}

// Sync runs one job and reports what it did. The report is never nil. A
// cursor moves only once the destination acknowledged every resource of what
// it passes; on a failure the cursors stay where the last acknowledged
// resources left them, so the job can simply run again: publishing is
// idempotent.
func (e *Engine) Sync(ctx context.Context, j Job) (*Report, error) {
	start := e.cfg.Now()
	rep := &Report{LinkID: j.LinkID, Trigger: j.Trigger, Started: start}
	err := e.sync(ctx, j, rep)
	rep.Duration = e.cfg.Now().Sub(start)
	if err != nil {
		rep.Err = err
	}
	return rep, err
}

func (e *Engine) sync(ctx context.Context, j Job, rep *Report) error {
	if err := j.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrPermanent, err)
	}
	link, err := e.cfg.Links.Link(ctx, j.LinkID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("ohx: link %s: %w", j.LinkID, ErrNotLinked)
		}
		return fmt.Errorf("ohx: load link %s: %w", j.LinkID, err)
	}
	rep.Provider = link.Provider
	switch link.Status {
	case LinkActive:
	case LinkNeedsReconsent:
		return fmt.Errorf("ohx: link %s needs re-consent: %w", link.ID, ErrTokenRevoked)
	default:
		return fmt.Errorf("ohx: link %s is %s: %w", link.ID, link.Status, ErrNotLinked)
	}
	p, ok := e.providers[link.Provider]
	if !ok {
		return fmt.Errorf("ohx: link %s: provider %q is not configured: %w", link.ID, link.Provider, ErrPermanent)
	}
	log := e.cfg.Logger.With(zap.String("link_id", link.ID), zap.String("provider", link.Provider), zap.String("trigger", string(j.Trigger)))

	if j.Trigger == TriggerRevocationCheck {
		return e.checkGrant(ctx, p, link, log)
	}
	if j.Trigger == TriggerDeviceSync {
		err := e.syncDevices(ctx, p, link, j, rep, log)
		if err != nil && ctx.Err() == nil {
			log.Warn("device sync failed", zap.String("kind", KindOf(err).String()), zap.Error(err))
		}
		return err
	}

	sel := e.selectTypes(p, link, j)
	rep.Skipped = append(rep.Skipped, sel.skipped...)
	if len(sel.fetch) == 0 {
		log.Info("nothing to sync")
		return nil
	}
	cursors, err := e.cfg.Cursors.Cursors(ctx, link.ID)
	if err != nil {
		return fmt.Errorf("ohx: load cursors of link %s: %w", link.ID, err)
	}
	if cursors == nil {
		cursors = map[DataType]time.Time{}
	}
	plans, err := e.cfg.Strategy.Plan(PlanRequest{Link: link, Job: j, Types: sel.fetch, Cursors: cursors, Now: e.cfg.Now()})
	if err != nil {
		return fmt.Errorf("ohx: plan sync of link %s: %w", link.ID, err)
	}
	// Whatever the strategy: whole buckets of the grid (the aggregator's, or
	// the hours a streaming transformer's Provenance covers), and nothing
	// before the policy's maximum lookback.
	now := e.cfg.Now()
	grid := e.grid()
	plans = e.cfg.Policy.clampPlans(alignPlans(plans, grid, link, now), grid, link, j.Trigger, now)
	ret := e.retracter(j, sel.fetch, rep)
	out := newOutbox(e.bundleSize())
	defer out.close() // the sync is over: what is still queued is never sent
	// Types the provider reported unreadable for good (a scope the user did
	// not grant) are left out of the rest of the sync.
	unavailable := map[DataType]bool{}
	fail := func(err error, window Window) error {
		if ctx.Err() != nil {
			log.Info("sync cancelled", zap.Stringer("window", window))
			return ctx.Err()
		}
		kind := KindOf(err)
		if kind != KindUnknown {
			e.cfg.Metrics.ProviderError(link.Provider, kind)
		}
		log.Warn("sync failed", zap.Stringer("window", window), zap.String("kind", kind.String()), zap.Error(err))
		return err
	}
	var last Window
	for _, plan := range plans {
		plan.Types = slices.DeleteFunc(slices.Clone(plan.Types), func(t DataType) bool { return unavailable[t] })
		if plan.Window.Empty() || len(plan.Types) == 0 {
			continue
		}
		t0 := e.cfg.Now()
		var produced producedSet
		if ret != nil {
			produced = producedSet{}
		}
		err := e.runPlan(ctx, p, link, j, plan, sel, cursors, produced, unavailable, out, rep)
		if err == nil && ret != nil {
			// What the re-read produced is at the destination before the
			// search for what it no longer produces.
			err = e.send(ctx, link, out, cursors, rep, true)
			if err == nil {
				// Never retract what could not be read.
				read := plan
				read.Types = slices.DeleteFunc(slices.Clone(plan.Types), func(t DataType) bool { return unavailable[t] })
				err = e.retract(ctx, ret, link, read, produced, rep)
			}
		}
		status := "ok"
		switch {
		case err == nil:
		case ctx.Err() != nil:
			status = "cancelled"
		default:
			status = "error"
		}
		for _, t := range plan.Types {
			e.cfg.Metrics.SyncFinished(link.Provider, t, status, e.cfg.Now().Sub(t0))
		}
		if err != nil {
			return fail(err, plan.Window)
		}
		log.Info("window synced", zap.Stringer("window", plan.Window), zap.Duration("duration", e.cfg.Now().Sub(t0)))
		last = plan.Window
	}
	// The resources that did not fill a bundle, and the cursor moves that
	// wait for them.
	if err := e.send(ctx, link, out, cursors, rep, true); err != nil {
		return fail(err, last)
	}
	return nil
}

// typeSelection is the outcome of applying provider offer, consent, scopes
// and policy to a job's data types.
type typeSelection struct {
	fetch      []DataType              // types to fetch
	accept     map[DataType]bool       // types whose samples may be published
	companions map[DataType][]DataType // primary → companion types that may ride with it
	skipped    []Skip
}

// accepts reports whether a sample may be published: its type was selected,
// or it is linked data the rules and consent allow with its primary.
func (sel *typeSelection) accepts(s *Sample) bool {
	if sel.accept[s.Type] {
		return true
	}
	return s.CompanionOf != "" && sel.accept[s.CompanionOf] && slices.Contains(sel.companions[s.CompanionOf], s.Type)
}

// aligner returns the aggregator's bucket aligner, if it has one.
func (e *Engine) aligner() BucketAligner {
	a, _ := e.cfg.Aggregator.(BucketAligner)
	return a
}

// grid returns the buckets every window is aligned to: the aggregator's,
// else, when the transformer streams (its Provenance covers whole hours),
// the hours of the link's zone; nil when nothing needs whole buckets.
func (e *Engine) grid() BucketAligner {
	if a := e.aligner(); a != nil {
		return a
	}
	if _, ok := e.cfg.Transformer.(StreamTransformer); ok {
		return HourGrid{}
	}
	return nil
}

func (e *Engine) selectTypes(p Provider, link Link, j Job) typeSelection {
	sel := typeSelection{accept: map[DataType]bool{}, companions: map[DataType][]DataType{}}
	lister, _ := p.(DataTypeLister)
	requested := j.DataTypes
	if len(requested) == 0 {
		switch {
		case len(link.DataTypes) > 0:
			requested = link.DataTypes
		case lister != nil:
			requested = lister.DataTypes()
		default:
			for _, c := range catalog {
				requested = append(requested, c.Type)
			}
		}
	}
	var offered, granted []DataType
	if lister != nil {
		offered = lister.DataTypes()
		granted = lister.Allowed(link.Scopes, offered)
	}
	allowed := func(t DataType) (bool, string) {
		switch {
		case lister != nil && !slices.Contains(offered, t):
			return false, "provider does not offer it"
		case !link.Consents(t):
			return false, "not in the link's consent"
		case lister != nil && !slices.Contains(granted, t):
			return false, "scope not granted by the user"
		}
		if ok, why := e.cfg.Policy.allows(t); !ok {
			return false, why
		}
		return true, ""
	}
	for _, t := range requested {
		if slices.Contains(sel.fetch, t) {
			continue
		}
		if ok, why := allowed(t); !ok {
			sel.skipped = append(sel.skipped, Skip{Type: t, Reason: why})
			continue
		}
		sel.fetch = append(sel.fetch, t)
		sel.accept[t] = true
	}
	// Companion data (the heart rate of an ECG) rides with its primary when
	// the rules ask for it and consent allows it. The provider yields it with
	// the primary (CompanionOf set); the companion type itself is not fetched,
	// and only its companion samples are accepted.
	for _, t := range sel.fetch {
		for _, c := range e.cfg.Policy.companions(t) {
			if sel.accept[c] {
				continue
			}
			if ok, why := allowed(c); ok {
				sel.companions[t] = append(sel.companions[t], c)
			} else {
				sel.skipped = append(sel.skipped, Skip{Type: c, Reason: fmt.Sprintf("companion of %s dropped: %s", t, why)})
			}
		}
	}
	return sel
}

// runPlan streams one fetch through aggregation, mapping and publishing.
func (e *Engine) runPlan(ctx context.Context, p Provider, link Link, j Job, plan FetchPlan, sel typeSelection, cursors map[DataType]time.Time, produced producedSet, unavailable map[DataType]bool, out *outbox, rep *Report) error {
	advance := map[DataType]bool{}
	for _, t := range plan.Types {
		// Where the cursor will be once what the sync queued is
		// acknowledged: the end of the window before, still waiting.
		c, ok := out.cursor(t, cursors)
		switch {
		case ok:
			advance[t] = !plan.Window.Start.After(c)
		default:
			advance[t] = j.Trigger == TriggerInitial || j.Trigger == TriggerIncremental || j.Trigger == TriggerReconciliation
		}
	}

	// With an aggregator that holds an hour open, no cursor may pass the
	// start of the hour still open at the window's end, not even through the
	// end of a partial bucket flushed at the end of the stream.
	limit := plan.Window.End
	if lim, ok := e.cfg.Aggregator.(CursorLimiter); ok {
		limit = lim.CursorLimit(link, limit)
	}

	in := e.read(ctx, p, link, plan, sel, unavailable, rep)
	if e.cfg.Aggregator != nil {
		in = e.cfg.Aggregator.Aggregate(link, in)
	}
	var stream TransformStream
	if st, ok := e.cfg.Transformer.(StreamTransformer); ok {
		stream = st.Stream(link, plan.Window, j.Trigger, e.grid())
	}
	batch := make([]Sample, 0, e.cfg.BatchSize)
	progress := map[DataType]time.Time{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := e.mapBatch(ctx, link, j, plan.Window, stream, batch, produced, out); err != nil {
			return err
		}
		for _, s := range batch {
			if !advance[s.Type] || s.CompanionOf != "" {
				continue
			}
			at := s.Start
			if s.Aggregate != nil {
				at = s.End
			}
			if at.After(limit) {
				at = limit
			}
			if at.After(progress[s.Type]) {
				progress[s.Type] = at
			}
		}
		for _, t := range plan.Types {
			if at, ok := progress[t]; ok {
				out.mark(t, at)
			}
		}
		clear(progress)
		clear(batch) // drop references to waveforms before reuse
		batch = batch[:0]
		return e.send(ctx, link, out, cursors, rep, false)
	}
	for s, err := range in {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		// Keep a recording's samples (an ECG and its heart rate) in one batch.
		if len(batch) >= e.cfg.BatchSize && (s.Group == "" || s.Group != batch[len(batch)-1].Group) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, s)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if stream != nil {
		rs, err := stream.Close(ctx)
		if err != nil {
			return fmt.Errorf("ohx: map batch of link %s: %w", link.ID, err)
		}
		produced.add(rs)
		out.add(rs)
	}
	// The whole window was read and mapped: once its resources are
	// acknowledged, everything before its end (or before the start of an
	// hour an aggregator still holds open) is done.
	for _, t := range plan.Types {
		if unavailable[t] {
			continue
		}
		// A type read to the end of the window was synced, even when the
		// window held none of its data: the report names it, so that its
		// last successful sync is recorded.
		rep.typeReport(t)
		if advance[t] {
			out.mark(t, limit)
		}
	}
	return e.send(ctx, link, out, cursors, rep, false)
}

// read wraps the provider's stream: it drops samples the sync may not
// publish, drops invalid ones (reporting them), records the types the
// provider reports unavailable (*TypeUnavailableError) as skipped in
// unavailable and the report, and counts what was read.
func (e *Engine) read(ctx context.Context, p Provider, link Link, plan FetchPlan, sel typeSelection, unavailable map[DataType]bool, rep *Report) iter.Seq2[Sample, error] {
	return func(yield func(Sample, error) bool) {
		counts := map[DataType]int{}
		defer func() {
			for t, n := range counts {
				e.cfg.Metrics.DataPoints(link.Provider, t, n)
			}
		}()
		for s, err := range p.Fetch(ctx, link, plan.Types, plan.Window) {
			if err != nil {
				// tu is declared here so it is not allocated per sample.
				var tu *TypeUnavailableError
				if errors.As(err, &tu) && slices.Contains(plan.Types, tu.Type) {
					if !unavailable[tu.Type] {
						unavailable[tu.Type] = true
						rep.Skipped = append(rep.Skipped, Skip{Type: tu.Type, Reason: tu.Reason})
					}
					continue
				}
				yield(Sample{}, err)
				return
			}
			if !sel.accepts(&s) {
				rep.skip(s.Type, "not allowed for this sync")
				continue
			}
			if s.Provider == "" {
				s.Provider = link.Provider
			}
			if err := s.Validate(); err != nil {
				rep.skip(s.Type, "invalid sample: "+err.Error())
				continue
			}
			counts[s.Type]++
			rep.typeReport(s.Type).SamplesRead++
			if !yield(s, nil) {
				return
			}
		}
	}
}

// mapBatch maps a batch, through the fetch's stream when the transformer
// streams, and queues its resources.
func (e *Engine) mapBatch(ctx context.Context, link Link, j Job, w Window, stream TransformStream, samples []Sample, produced producedSet, out *outbox) error {
	// With a publisher that keeps none of it, the batch's JSON goes into an
	// arena that the outbox holds until the resources are acknowledged.
	var arena *Arena
	if rel, ok := e.cfg.Publisher.(JSONReleaser); ok && rel.ReleasesJSON() {
		arena = getArena()
	}
	var rs []Resource
	var err error
	as, inArena := stream.(ArenaStream)
	switch {
	case stream != nil && inArena && arena != nil:
		rs, err = as.NextIn(ctx, samples, arena)
	case stream != nil:
		rs, err = stream.Next(ctx, samples)
	default:
		rs, err = e.cfg.Transformer.Transform(ctx, Batch{Link: link, Samples: samples, Window: w, Trigger: j.Trigger, Arena: arena})
	}
	if err != nil {
		putArena(arena) // nothing of it is queued
		return fmt.Errorf("ohx: map batch of link %s: %w", link.ID, err)
	}
	produced.add(rs)
	out.add(rs)
	out.hold(arena)
	return nil
}

// send publishes what the outbox holds in whole bundles (everything, when
// all is set) and moves the cursors whose resources are now all
// acknowledged.
func (e *Engine) send(ctx context.Context, link Link, out *outbox, cursors map[DataType]time.Time, rep *Report, all bool) error {
	rs := out.next(all)
	var marks []cursorMark
	if len(rs) > 0 {
		res, err := e.cfg.Publisher.Publish(ctx, rs)
		if err != nil {
			return fmt.Errorf("ohx: publish batch of link %s: %w", link.ID, err)
		}
		rep.count(rs, res)
		marks = out.acknowledged(len(rs), res)
	} else {
		marks = out.ready()
	}
	for _, m := range marks {
		if err := e.advance(ctx, link.ID, m.t, m.at, cursors, rep); err != nil {
			return err
		}
	}
	return nil
}

// bundleSize returns the publisher's bundle size, or 0 when it has none.
func (e *Engine) bundleSize() int {
	if bs, ok := e.cfg.Publisher.(BundleSizer); ok {
		return bs.BundleSize()
	}
	return 0
}

func (e *Engine) advance(ctx context.Context, linkID string, t DataType, at time.Time, cursors map[DataType]time.Time, rep *Report) error {
	if c, ok := cursors[t]; ok && !at.After(c) {
		return nil
	}
	if err := e.cfg.Cursors.AdvanceCursor(ctx, linkID, t, at); err != nil {
		return fmt.Errorf("ohx: advance cursor of link %s: %w", linkID, err)
	}
	cursors[t] = at
	rep.typeReport(t).Cursor = at
	return nil
}

// checkGrant asks the provider whether the link's grant holds (see
// TriggerRevocationCheck): with its GrantChecker, else by listing devices.
func (e *Engine) checkGrant(ctx context.Context, p Provider, link Link, log *zap.Logger) error {
	var err error
	if gc, ok := p.(GrantChecker); ok {
		err = gc.CheckGrant(ctx, link)
	} else {
		_, err = p.Devices(ctx, link)
	}
	switch {
	case err == nil:
		log.Info("grant confirmed by the provider")
		return nil
	case errors.Is(err, ErrTokenRevoked):
		log.Info("grant refused by the provider")
		return fmt.Errorf("ohx: link %s: the provider refused the grant: %w", link.ID, err)
	}
	return fmt.Errorf("ohx: link %s: checking the grant: %w", link.ID, err)
}

func (e *Engine) syncDevices(ctx context.Context, p Provider, link Link, j Job, rep *Report, log *zap.Logger) error {
	devs, err := p.Devices(ctx, link)
	if err != nil {
		if ctx.Err() == nil {
			if kind := KindOf(err); kind != KindUnknown {
				e.cfg.Metrics.ProviderError(link.Provider, kind)
			}
		}
		return fmt.Errorf("ohx: list devices of link %s: %w", link.ID, err)
	}
	rs, err := e.cfg.Transformer.Transform(ctx, Batch{Link: link, Devices: devs, Trigger: j.Trigger})
	if err != nil {
		return fmt.Errorf("ohx: map devices of link %s: %w", link.ID, err)
	}
	if len(rs) > 0 {
		res, err := e.cfg.Publisher.Publish(ctx, rs)
		if err != nil {
			return fmt.Errorf("ohx: publish devices of link %s: %w", link.ID, err)
		}
		rep.count(rs, res)
	}
	rep.Devices = len(devs)
	log.Info("devices synced", zap.Int("devices", len(devs)))
	return nil
}
