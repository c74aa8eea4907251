package ohx_test

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/store"
)

// keyTransformer maps each sample to a tiny resource whose id is derived from
// the sample's identity only, like the real mapping's deterministic ids.
type keyTransformer struct{}

func (keyTransformer) Transform(_ context.Context, b ohx.Batch) ([]ohx.Resource, error) {
	rs := make([]ohx.Resource, 0, len(b.Samples)+len(b.Devices))
	for _, s := range b.Samples {
		id := fmt.Sprintf("%s-%s-%d-%s", b.Link.ID, s.Type, s.Start.UnixNano(), s.RecordID)
		rs = append(rs, ohx.Resource{Type: "Observation", ID: id, DataType: s.Type, JSON: json.RawMessage(`{}`)})
	}
	for _, d := range b.Devices {
		rs = append(rs, ohx.Resource{Type: "Device", ID: d.ID, JSON: json.RawMessage(`{}`)})
	}
	return rs, nil
}

// recordingPublisher keeps every id it acknowledged with a write count, and
// can fail its n-th call.
type recordingPublisher struct {
	mu       sync.Mutex
	writes   map[string]int
	calls    int
	failCall int // 1-based call number that fails; 0 never
	onCall   func(call int)
}

func newRecordingPublisher() *recordingPublisher {
	return &recordingPublisher{writes: map[string]int{}}
}

func (p *recordingPublisher) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	p.mu.Lock()
	p.calls++
	call := p.calls
	p.mu.Unlock()
	if p.onCall != nil {
		p.onCall(call)
	}
	if err := ctx.Err(); err != nil {
		return ohx.PublishResult{}, err
	}
	if call == p.failCall {
		return ohx.PublishResult{}, fmt.Errorf("destination down: %w", ohx.ErrTransient)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var res ohx.PublishResult
	for _, r := range rs {
		p.writes[r.Key()]++
		res.Written = append(res.Written, r.Key())
	}
	return res, nil
}

func (p *recordingPublisher) snapshot() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.writes))
	for k, v := range p.writes {
		out[k] = v
	}
	return out
}

// recordingMetrics counts the hooks the engine calls.
type recordingMetrics struct {
	ohx.NopMetrics
	mu             sync.Mutex
	providerErrors int
	statuses       map[string]int
	points         int
}

func (m *recordingMetrics) ProviderError(string, ohx.ErrorKind) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.providerErrors++
}

func (m *recordingMetrics) SyncFinished(_ string, _ ohx.DataType, status string, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.statuses == nil {
		m.statuses = map[string]int{}
	}
	m.statuses[status]++
}

func (m *recordingMetrics) DataPoints(_ string, _ ohx.DataType, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.points += n
}

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

type fixture struct {
	store    *store.Memory
	provider *ohxtest.Provider
	pub      *recordingPublisher
	metrics  *recordingMetrics
	engine   *ohx.Engine
	link     ohx.Link
}

func newFixture(t testing.TB, batch int, p *ohxtest.Provider) *fixture {
	t.Helper()
	f := &fixture{store: store.NewMemory(), provider: p, pub: newRecordingPublisher(), metrics: &recordingMetrics{}}
	f.link = ohx.Link{ID: "link-1", Provider: p.Name(), ExternalUserID: "u1", Patient: "Patient/1", Status: ohx.LinkActive}
	require.NoError(t, f.store.SaveLink(context.Background(), f.link))
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers:   []ohx.Provider{p},
		Links:       f.store,
		Cursors:     f.store,
		Transformer: keyTransformer{},
		Publisher:   f.pub,
		BatchSize:   batch,
		Metrics:     f.metrics,
		Strategy:    ohx.DefaultStrategy{InitialLookback: 24 * time.Hour},
		Now:         func() time.Time { return now },
	})
	require.NoError(t, err)
	f.engine = e
	return f
}

func TestEngineHappyPath(t *testing.T) {
	f := newFixture(t, 100, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate, ohx.Steps}})
	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.NoError(t, err)

	// One day of one-minute heart rate and one-minute steps intervals.
	assert.Equal(t, 1440, rep.Types[ohx.HeartRate].SamplesRead)
	assert.Equal(t, 1440, rep.Types[ohx.Steps].SamplesRead)
	assert.Equal(t, 1440, rep.Types[ohx.HeartRate].ResourcesWritten)
	assert.Equal(t, 2880, rep.Written)
	assert.Empty(t, rep.Skipped)

	writes := f.pub.snapshot()
	assert.Len(t, writes, 2880)
	for k, n := range writes {
		require.Equal(t, 1, n, "resource %s written more than once", k)
	}
	cursors, err := f.store.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate], "a finished window moves the cursor to its end")
	assert.Equal(t, now, cursors[ohx.Steps])
	assert.Equal(t, 2880, f.metrics.points)
	assert.Equal(t, 2, f.metrics.statuses["ok"])
}

func TestEnginePublishFailureKeepsCursorAtLastAckedBatch(t *testing.T) {
	f := newFixture(t, 100, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}})
	f.pub.failCall = 3 // batches 1 and 2 land, batch 3 fails

	_, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.ErrorIs(t, err, ohx.ErrTransient)

	cursors, err := f.store.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	start := now.Add(-24 * time.Hour)
	// Samples 0..199 were acknowledged; the cursor says "everything strictly
	// before sample 199's start was published".
	assert.Equal(t, start.Add(199*time.Minute), cursors[ohx.HeartRate])
	firstRun := f.pub.snapshot()
	assert.Len(t, firstRun, 200)

	// Run again incrementally: it resumes from the cursor (minus the overlap)
	// and writes the remaining samples under the same deterministic ids.
	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerIncremental})
	require.NoError(t, err)
	all := f.pub.snapshot()
	assert.Len(t, all, 1440, "no resource gets a second id")
	rewritten := 0
	for k := range firstRun {
		if all[k] > 1 {
			rewritten++
		}
	}
	// Only the overlap (15 minutes before the cursor, plus the sample at the
	// cursor) is written again, under the same ids.
	assert.Equal(t, 16, rewritten)
	assert.Equal(t, 1440-200+16, rep.Types[ohx.HeartRate].SamplesRead)
	cursors, err = f.store.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now, cursors[ohx.HeartRate])
}

func TestEngineCancelStopsPromptlyWithoutProviderFailure(t *testing.T) {
	f := newFixture(t, 10, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}, Every: time.Second})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.pub.onCall = func(call int) {
		if call == 5 {
			cancel()
		}
	}
	rep, err := f.engine.Sync(ctx, ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, f.provider.Yielded(), int64(100), "the provider stops right after the cancel")
	assert.Equal(t, 0, f.metrics.providerErrors, "a cancel is not a provider failure")
	assert.Equal(t, 1, f.metrics.statuses["cancelled"])
	assert.ErrorIs(t, rep.Err, context.Canceled)
	cursors, err := f.store.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	assert.Equal(t, now.Add(-24*time.Hour).Add(39*time.Second), cursors[ohx.HeartRate], "cursor of the 4th acknowledged batch")
}

func TestEngineProviderErrorIsClassifiedAndCounted(t *testing.T) {
	f := newFixture(t, 50, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}, FailAfter: 120})
	_, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.Error(t, err)
	assert.Equal(t, ohx.KindTransient, ohx.KindOf(err))
	assert.True(t, ohx.Retryable(err))
	assert.Equal(t, 1, f.metrics.providerErrors)
	assert.Equal(t, 1, f.metrics.statuses["error"])
}

func TestEngineECGBringsItsHeartRateInTheSameBatch(t *testing.T) {
	f := newFixture(t, 1, &ohxtest.Provider{Types: []ohx.DataType{ohx.ECG, ohx.HeartRate}})
	var batches [][]string
	f.engine = mustEngine(t, f, func(rs []ohx.Resource) {
		var keys []string
		for _, r := range rs {
			keys = append(keys, string(r.DataType))
		}
		batches = append(batches, keys)
	})
	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.ECG}})
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Types[ohx.ECG].SamplesRead, "one ECG every six hours")
	assert.Equal(t, 4, rep.Types[ohx.HeartRate].SamplesRead, "each ECG brings its heart rate")
	for _, b := range batches {
		assert.Equal(t, []string{"ecg", "heart-rate"}, b, "batch size 1 still keeps a recording together")
	}
	cursors, err := f.store.Cursors(t.Context(), "link-1")
	require.NoError(t, err)
	_, hasHR := cursors[ohx.HeartRate]
	assert.False(t, hasHR, "companion samples do not move the heart-rate cursor")
}

func TestEngineConsentWithoutHeartRateSendsECGAlone(t *testing.T) {
	f := newFixture(t, 10, &ohxtest.Provider{Types: []ohx.DataType{ohx.ECG, ohx.HeartRate}})
	f.link.DataTypes = []ohx.DataType{ohx.ECG}
	require.NoError(t, f.store.SaveLink(t.Context(), f.link))
	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.NoError(t, err)
	assert.Equal(t, 4, rep.Types[ohx.ECG].ResourcesWritten)
	require.NotNil(t, rep.Types[ohx.HeartRate])
	assert.Zero(t, rep.Types[ohx.HeartRate].ResourcesWritten, "no heart rate written")
	assert.Equal(t, 4, rep.Types[ohx.HeartRate].Skipped, "the four companions were dropped")
	assert.Contains(t, rep.Skipped, ohx.Skip{Type: ohx.HeartRate, Reason: "companion of ecg dropped: not in the link's consent"})
}

func TestEngineRefusesInactiveLinks(t *testing.T) {
	f := newFixture(t, 10, &ohxtest.Provider{})
	_, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "nope", Trigger: ohx.TriggerInitial})
	require.ErrorIs(t, err, ohx.ErrNotLinked)
	assert.False(t, ohx.Retryable(err))

	f.link.Status = ohx.LinkNeedsReconsent
	require.NoError(t, f.store.SaveLink(t.Context(), f.link))
	_, err = f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	require.ErrorIs(t, err, ohx.ErrTokenRevoked)
	assert.False(t, ohx.Retryable(err))

	_, err = f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: "sometime"})
	require.ErrorIs(t, err, ohx.ErrPermanent)
}

func TestEngineDeviceSync(t *testing.T) {
	f := newFixture(t, 10, &ohxtest.Provider{})
	rep, err := f.engine.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerDeviceSync})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Devices)
	assert.Equal(t, 1, f.pub.snapshot()["Device/fake-device-1"])
}

func TestEngineSkipsInvalidSamples(t *testing.T) {
	p := &nanProvider{}
	f := newFixture(t, 10, &ohxtest.Provider{})
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: f.store, Cursors: f.store,
		Transformer: keyTransformer{}, Publisher: f.pub, Now: func() time.Time { return now },
		// One read: the default 30 days would be read in 7-day chunks.
		Strategy: ohx.DefaultStrategy{Chunk: 31 * 24 * time.Hour},
	})
	require.NoError(t, err)
	f.link.Provider = p.Name()
	require.NoError(t, f.store.SaveLink(t.Context(), f.link))
	rep, err := e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial, DataTypes: []ohx.DataType{ohx.HeartRate}})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Types[ohx.HeartRate].SamplesRead)
	assert.Equal(t, 1, rep.Types[ohx.HeartRate].Skipped)
	require.Len(t, rep.Skipped, 1)
	assert.NotContains(t, rep.Skipped[0].Reason, "NaN", "reasons never echo values")
}

func TestNewEngineRejectsIncompleteConfig(t *testing.T) {
	s := store.NewMemory()
	p := &ohxtest.Provider{}
	full := ohx.EngineConfig{Providers: []ohx.Provider{p}, Links: s, Cursors: s, Transformer: keyTransformer{}, Publisher: newRecordingPublisher()}
	_, err := ohx.NewEngine(full)
	require.NoError(t, err)
	for name, mutate := range map[string]func(*ohx.EngineConfig){
		"no providers":   func(c *ohx.EngineConfig) { c.Providers = nil },
		"no links":       func(c *ohx.EngineConfig) { c.Links = nil },
		"no cursors":     func(c *ohx.EngineConfig) { c.Cursors = nil },
		"no transformer": func(c *ohx.EngineConfig) { c.Transformer = nil },
		"no publisher":   func(c *ohx.EngineConfig) { c.Publisher = nil },
		"duplicate":      func(c *ohx.EngineConfig) { c.Providers = []ohx.Provider{p, p} },
		"negative batch": func(c *ohx.EngineConfig) { c.BatchSize = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := full
			mutate(&c)
			_, err := ohx.NewEngine(c)
			assert.Error(t, err)
		})
	}
}

type nanProvider struct{ ohxtest.Provider }

func (*nanProvider) Name() string { return "nan" }

func (*nanProvider) Fetch(_ context.Context, _ ohx.Link, _ []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		bad := ohx.Sample{Type: ohx.HeartRate, Start: w.Start, End: w.Start, Value: nan(), Unit: "/min"}
		good := ohx.Sample{Type: ohx.HeartRate, Start: w.Start.Add(time.Minute), End: w.Start.Add(time.Minute), Value: 60, Unit: "/min"}
		_ = yield(bad, nil) && yield(good, nil)
	}
}

func nan() float64 { var z float64; return z / z }

// batchSpy wraps a publisher and reports each batch.
type batchSpy struct {
	inner ohx.Publisher
	seen  func([]ohx.Resource)
}

func (s batchSpy) Publish(ctx context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	s.seen(rs)
	return s.inner.Publish(ctx, rs)
}

func mustEngine(t *testing.T, f *fixture, seen func([]ohx.Resource)) *ohx.Engine {
	t.Helper()
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{f.provider}, Links: f.store, Cursors: f.store,
		Transformer: keyTransformer{}, Publisher: batchSpy{inner: f.pub, seen: seen}, BatchSize: 1,
		Strategy: ohx.DefaultStrategy{InitialLookback: 24 * time.Hour}, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	return e
}

// discardPublisher acknowledges everything and keeps nothing.
type discardPublisher struct{ n atomic.Int64 }

func (d *discardPublisher) Publish(_ context.Context, rs []ohx.Resource) (ohx.PublishResult, error) {
	d.n.Add(int64(len(rs)))
	return ohx.PublishResult{}, nil
}

// peakHeap samples the live heap while f runs and returns its maximum.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

// TestEngineMemoryIsBoundedByBatchNotWindow streams 200,000 one-second samples
// and checks the live heap stays far below what holding them would take
// (each Sample is about 250 bytes: 200,000 would be about 50 MB).
func TestEngineMemoryIsBoundedByBatchNotWindow(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 200,000 samples")
	}
	const n = 200_000
	f := newFixture(t, 500, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}, Every: time.Second})
	pub := &discardPublisher{}
	e, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{f.provider}, Links: f.store, Cursors: f.store,
		Transformer: keyTransformer{}, Publisher: pub, BatchSize: 500,
		Strategy: ohx.DefaultStrategy{InitialLookback: n * time.Second}, Now: func() time.Time { return now },
	})
	require.NoError(t, err)
	var rep *ohx.Report
	peak := peakHeap(func() {
		rep, err = e.Sync(t.Context(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
	})
	require.NoError(t, err)
	assert.Equal(t, n, rep.Types[ohx.HeartRate].SamplesRead)
	assert.EqualValues(t, n, pub.n.Load())
	assert.Less(t, peak, uint64(24<<20), "peak heap %d bytes", peak)
}

// BenchmarkEngineMillionSamples streams 1,000,000 one-second heart-rate
// samples through the engine (pass-through, trivial mapping) and reports
// samples per second and the peak live heap.
func BenchmarkEngineMillionSamples(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		f := newFixture(b, 500, &ohxtest.Provider{Types: []ohx.DataType{ohx.HeartRate}, Every: time.Second})
		pub := &discardPublisher{}
		e, err := ohx.NewEngine(ohx.EngineConfig{
			Providers: []ohx.Provider{f.provider}, Links: f.store, Cursors: f.store,
			Transformer: keyTransformer{}, Publisher: pub, BatchSize: 500,
			Strategy: ohx.DefaultStrategy{InitialLookback: n * time.Second}, Now: func() time.Time { return now },
		})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		var rep *ohx.Report
		peak := peakHeap(func() {
			rep, err = e.Sync(context.Background(), ohx.Job{LinkID: "link-1", Trigger: ohx.TriggerInitial})
		})
		if err != nil {
			b.Fatal(err)
		}
		if got := rep.Types[ohx.HeartRate].SamplesRead; got != n {
			b.Fatalf("read %d samples, want %d", got, n)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "samples/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	}
}
