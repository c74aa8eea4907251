package providertest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/ohxtest"
)

var (
	day    = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	window = ohx.Window{Start: day, End: day.Add(24 * time.Hour)}
	link   = ohx.Link{ID: "link-1", Provider: "fake", ExternalUserID: "user-1"}
	types  = []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.ECG, ohx.BodyWeight}
)

func errFor(f Failure) error {
	kind := map[Failure]ohx.ErrorKind{FailAuth: ohx.KindAuth, FailRateLimited: ohx.KindRateLimited, FailServer: ohx.KindTransient}[f]
	return &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: kind}
}

func config(p ohx.Provider) Config {
	return Config{
		Provider: p, Link: link, Window: window, Types: types, Timeout: 10 * time.Second,
		Fail: func(f Failure) (ohx.Provider, func()) {
			return &ohxtest.Provider{FailAfter: 1, FailErr: errFor(f)}, func() {}
		},
	}
}

// TestRunPassesForTheFakeProvider runs the suite the way a provider's tests
// do.
func TestRunPassesForTheFakeProvider(t *testing.T) {
	Run(t, config(&ohxtest.Provider{}))
}

// recorder is a tb that records failures instead of failing the test.
type recorder struct {
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) FailNow()                 { runtime.Goexit() }
func (r *recorder) Logf(string, ...any)      {}
func (r *recorder) Context() context.Context { return r.ctx }
func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errors)
}
func (r *recorder) failed() bool   { return len(r.failures()) > 0 }
func (r *recorder) String() string { return fmt.Sprint(r.failures()) }
func (r *recorder) run(fn func(), done chan struct{}) {
	defer close(done)
	fn()
}

// runCheck runs the named check against cfg and returns what it reported.
func runCheck(t *testing.T, name string, cfg Config) *recorder {
	t.Helper()
	i := slices.IndexFunc(checks, func(c check) bool { return c.name == name })
	require.GreaterOrEqual(t, i, 0, "unknown check %s", name)
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if len(cfg.Failures) == 0 {
		cfg.Failures = []Failure{FailAuth, FailRateLimited, FailServer}
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &recorder{ctx: ctx}
	done := make(chan struct{})
	go rec.run(func() { checks[i].run(rec, &cfg) }, done)
	<-done
	return rec
}

// broken wraps the fake provider and breaks one rule.
type broken struct {
	ohxtest.Provider
	fetch   func(b *broken, ctx context.Context, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error]
	devices func() ([]ohx.Device, error)
	calls   atomic.Int64
}

func (b *broken) Fetch(ctx context.Context, l ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	b.calls.Add(1)
	if b.fetch == nil {
		return b.Provider.Fetch(ctx, l, types, w)
	}
	return b.fetch(b, ctx, types, w)
}

func (b *broken) Devices(ctx context.Context, l ohx.Link) ([]ohx.Device, error) {
	if b.devices == nil {
		return b.Provider.Devices(ctx, l)
	}
	return b.devices()
}

// mapped yields the fake's samples through f, which may change a sample or
// drop it (false); extra are yielded first.
func mapped(f func(i int, s *ohx.Sample) bool, extra ...ohx.Sample) func(*broken, context.Context, []ohx.DataType, ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(b *broken, ctx context.Context, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
		return func(yield func(ohx.Sample, error) bool) {
			for _, s := range extra {
				if !yield(s, nil) {
					return
				}
			}
			i := 0
			for s, err := range b.Provider.Fetch(ctx, link, types, w) {
				if err == nil && !f(i, &s) {
					continue
				}
				i++
				if !yield(s, err) {
					return
				}
			}
		}
	}
}

func collectAll(ctx context.Context, b *broken, types []ohx.DataType, w ohx.Window) []ohx.Sample {
	var out []ohx.Sample
	for s, err := range b.Provider.Fetch(ctx, link, types, w) {
		if err != nil {
			break
		}
		out = append(out, s)
	}
	return out
}

func TestChecksFailOnBrokenProviders(t *testing.T) {
	hr := func(at time.Time) ohx.Sample {
		return ohx.Sample{Type: ohx.HeartRate, Start: at, End: at, Value: 60, Unit: "/min", Provider: "fake"}
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	leaky := &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
		return func(yield func(ohx.Sample, error) bool) {
			go func() { <-release }() // leaks a goroutine per call
			for s, err := range b.Provider.Fetch(ctx, link, ts, w) {
				if !yield(s, err) {
					return
				}
			}
		}
	}}
	tests := []struct {
		want  string
		check string
		p     *broken
		fail  func(Failure) (ohx.Provider, func())
	}{
		{want: "outside", check: "fetch/valid-samples-in-window", p: &broken{fetch: mapped(func(int, *ohx.Sample) bool { return true }, hr(day.Add(-time.Hour)))}},
		{want: "outside", check: "fetch/valid-samples-in-window", p: &broken{fetch: mapped(func(int, *ohx.Sample) bool { return true }, hr(window.End))}},
		{want: "non-finite value", check: "fetch/valid-samples-in-window", p: &broken{fetch: mapped(func(i int, s *ohx.Sample) bool {
			if i == 3 {
				s.Value = math.NaN()
			}
			return true
		})}},
		{want: "names provider \"someone-else\"", check: "fetch/valid-samples-in-window", p: &broken{fetch: mapped(func(_ int, s *ohx.Sample) bool {
			s.Provider = "someone-else"
			return true
		})}},
		{want: "no body-weight sample", check: "fetch/valid-samples-in-window", p: &broken{fetch: mapped(func(_ int, s *ohx.Sample) bool {
			return s.Type != ohx.BodyWeight // a type that silently yields nothing
		})}},
		{want: "before the previous one", check: "fetch/start-order-per-type", p: &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			all := collectAll(ctx, b, ts, w)
			slices.Reverse(all)
			return func(yield func(ohx.Sample, error) bool) {
				for _, s := range all {
					if !yield(s, nil) {
						return
					}
				}
			}
		}}},
		{want: "Fetch of heart-rate alone yielded a steps sample", check: "fetch/only-requested-types", p: &broken{fetch: func(b *broken, ctx context.Context, _ []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			return b.Provider.Fetch(ctx, link, types, w) // ignores the requested types
		}}},
		{want: "duplicates sample 0", check: "fetch/no-duplicates", p: &broken{fetch: mapped(func(int, *ohx.Sample) bool { return true }, hr(day), hr(day))}},
		{want: "a second Fetch of the same window", check: "fetch/repeatable", p: &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			n := b.calls.Load()
			return mapped(func(i int, s *ohx.Sample) bool { return i != int(n) })(b, ctx, ts, w) // drops a different sample each call
		}}},
		{want: "missing from its halves", check: "fetch/split-window", p: &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			if w.Duration() < window.Duration() { // pages of half windows lose their last sample
				return mapped(func(i int, s *ohx.Sample) bool { return s.Start.Before(w.End.Add(-time.Minute)) })(b, ctx, ts, w)
			}
			return b.Provider.Fetch(ctx, link, ts, w)
		}}},
		{want: "want an error matching context.Canceled", check: "fetch/cancel-mid-stream", p: &broken{fetch: func(b *broken, _ context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			return b.Provider.Fetch(context.Background(), link, ts, w) // ignores ctx
		}}},
		{want: "goroutine leak", check: "fetch/cancel-mid-stream", p: leaky},
		{want: "goroutine leak", check: "fetch/early-stop", p: leaky},
		{want: "want an error matching context.Canceled", check: "fetch/cancel-mid-stream", p: &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			return func(yield func(ohx.Sample, error) bool) {
				for s, err := range b.Provider.Fetch(ctx, link, ts, w) {
					if err != nil {
						return // stops, but swallows the context's error
					}
					if !yield(s, err) {
						return
					}
				}
			}
		}}},
		{want: "Fetch with a cancelled context yielded", check: "fetch/cancelled-before-start", p: &broken{fetch: func(b *broken, _ context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			return b.Provider.Fetch(context.Background(), link, ts, w)
		}}},
		{want: "a cancellation is not a provider failure", check: "fetch/cancelled-before-start", p: &broken{fetch: func(b *broken, ctx context.Context, _ []ohx.DataType, _ ohx.Window) iter.Seq2[ohx.Sample, error] {
			return func(yield func(ohx.Sample, error) bool) {
				if err := ctx.Err(); err != nil {
					yield(ohx.Sample{}, &ohx.ProviderError{Provider: "fake", Op: "fetch", Kind: ohx.KindTransient, Err: err})
				}
			}
		}}},
		{want: "more times after its consumer stopped", check: "fetch/early-stop", p: &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
			return func(yield func(ohx.Sample, error) bool) {
				for s, err := range b.Provider.Fetch(ctx, link, ts, w) {
					yield(s, err) // ignores the consumer's stop
				}
			}
		}}},
		{want: "has no id", check: "devices", p: &broken{devices: func() ([]ohx.Device, error) {
			return []ohx.Device{{Provider: "fake", Model: "Watch"}}, nil
		}}},
		{want: "Devices lists the account's devices", check: "devices", p: &broken{devices: func() ([]ohx.Device, error) { return nil, nil }}},
		{want: "boom", check: "devices", p: &broken{devices: func() ([]ohx.Device, error) { return nil, errors.New("boom") }}},
		{want: "classified unknown", check: "errors/classified", p: &broken{}, fail: func(Failure) (ohx.Provider, func()) {
			return &ohxtest.Provider{FailAfter: 1, FailErr: errors.New("boom")}, func() {} // unclassified
		}},
		{want: "classified transient, want one of [auth revoked]", check: "errors/classified", p: &broken{}, fail: func(f Failure) (ohx.Provider, func()) {
			return &ohxtest.Provider{FailAfter: 1, FailErr: errFor(FailServer)}, func() {} // everything is transient
		}},
		{want: "and no error", check: "errors/classified", p: &broken{}, fail: func(f Failure) (ohx.Provider, func()) {
			return &ohxtest.Provider{}, func() {} // the failure never shows
		}},
	}
	var stuckFailing atomic.Bool
	stuck := &broken{fetch: func(b *broken, ctx context.Context, ts []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
		if stuckFailing.Load() {
			return func(yield func(ohx.Sample, error) bool) { yield(ohx.Sample{}, errFor(FailServer)) }
		}
		return b.Provider.Fetch(ctx, link, ts, w)
	}}
	tests = append(tests, struct {
		want  string
		check string
		p     *broken
		fail  func(Failure) (ohx.Provider, func())
	}{want: "Fetch still fails", check: "errors/classified", p: stuck, fail: func(Failure) (ohx.Provider, func()) {
		stuckFailing.Store(true)
		return stuck, func() {} // the restore does not lift the failure
	}})
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			cfg := config(tt.p)
			cfg.Timeout = 2 * time.Second // the leaking provider makes the check wait this long
			if tt.fail != nil {
				cfg.Fail = tt.fail
			}
			rec := runCheck(t, tt.check, cfg)
			require.True(t, rec.failed(), "the check passed a broken provider")
			assert.Contains(t, rec.String(), tt.want, "the check failed for another reason")
		})
	}
}

// TestChecksPassOnTheFakeProvider proves each check, run alone on a sound
// provider, reports nothing, so that the failures above come from the
// breakage.
func TestChecksPassOnTheFakeProvider(t *testing.T) {
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			rec := runCheck(t, c.name, config(&broken{}))
			assert.False(t, rec.failed(), "%v", rec)
		})
	}
}
