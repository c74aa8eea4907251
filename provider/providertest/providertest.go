package providertest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openhealthexchange/ohx"
)

// Failure is a failure a provider's fake can be told to produce.
type Failure int

// Failures the suite checks.
const (
	// FailAuth: the provider rejects the access token (HTTP 401 or the
	// provider's equivalent) and refreshing does not help. Expected kind:
	// ohx.KindAuth or ohx.KindRevoked.
	FailAuth Failure = iota + 1
	// FailRateLimited: the provider answers with its rate-limit answer (HTTP
	// 429, Withings status 601) on every call. Expected kind:
	// ohx.KindRateLimited.
	FailRateLimited
	// FailServer: the provider answers with a server error (HTTP 5xx) on
	// every call. Expected kind: ohx.KindTransient.
	FailServer
)

// String returns the failure's name.
func (f Failure) String() string {
	switch f {
	case FailAuth:
		return "auth"
	case FailRateLimited:
		return "rate-limited"
	case FailServer:
		return "server"
	}
	return fmt.Sprintf("failure(%d)", int(f))
}

// Kinds returns the error kinds a provider may report for f.
func (f Failure) Kinds() []ohx.ErrorKind {
	switch f {
	case FailAuth:
		return []ohx.ErrorKind{ohx.KindAuth, ohx.KindRevoked}
	case FailRateLimited:
		return []ohx.ErrorKind{ohx.KindRateLimited}
	case FailServer:
		return []ohx.ErrorKind{ohx.KindTransient}
	}
	return nil
}

// DefaultTimeout is how long the suite waits for one Fetch or Devices call
// before it reports the provider as hanging.
const DefaultTimeout = time.Minute

// Config tells Run what to check. Provider, Window and Types are required.
type Config struct {
	// Provider is the provider under test, wired to a fake of its cloud.
	Provider ohx.Provider
	// Link is a linked account the provider can read.
	Link ohx.Link
	// Window is a window in which the fake holds data of every type in
	// Types.
	Window ohx.Window
	// Types are the data types to fetch.
	Types []ohx.DataType
	// AllowEmpty lists types of Types that may yield no sample in Window;
	// every other type must yield at least one.
	AllowEmpty []ohx.DataType
	// NoDevices says the account has no devices; otherwise Devices must
	// return at least one.
	NoDevices bool
	// Fail, when set, makes the provider's calls fail with f until restore
	// is called, and returns the provider to use meanwhile (often the same
	// one). Nil skips the error checks.
	Fail func(f Failure) (p ohx.Provider, restore func())
	// Failures are the failures to check; empty means all of them.
	Failures []Failure
	// Timeout bounds each Fetch and Devices call; 0 means DefaultTimeout.
	Timeout time.Duration
	// SkipLeakCheck turns the goroutine-leak checks off (for tests that run
	// in parallel with other goroutine-starting tests).
	SkipLeakCheck bool
}

// tb is the part of *testing.T the checks use; the suite's own tests run the
// checks against a recorder to prove they fail on broken providers.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
	Logf(format string, args ...any)
	Context() context.Context
}

type check struct {
	name string
	run  func(t tb, cfg *Config)
}

var checks = []check{
	{"fetch/valid-samples-in-window", checkValidInWindow},
	{"fetch/start-order-per-type", checkOrder},
	{"fetch/only-requested-types", checkOnlyRequested},
	{"fetch/no-duplicates", checkNoDuplicates},
	{"fetch/repeatable", checkRepeatable},
	{"fetch/split-window", checkSplitWindow},
	{"fetch/cancel-mid-stream", checkCancelMidStream},
	{"fetch/cancelled-before-start", checkCancelledBeforeStart},
	{"fetch/early-stop", checkEarlyStop},
	{"devices", checkDevices},
	{"errors/classified", checkErrorsClassified},
}

// Run runs the conformance suite against cfg.Provider, one subtest per
// check.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	require.NotNil(t, cfg.Provider, "providertest: Config.Provider is required")
	require.NoError(t, cfg.Window.Validate(), "providertest: Config.Window")
	require.NotEmpty(t, cfg.Types, "providertest: Config.Types is required")
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if len(cfg.Failures) == 0 {
		cfg.Failures = []Failure{FailAuth, FailRateLimited, FailServer}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { c.run(t, &cfg) })
	}
}

// result is one complete Fetch.
type result struct {
	samples []ohx.Sample
	err     error
}

// fetch drains a Fetch, failing t when it does not end within the timeout.
func fetch(ctx context.Context, t tb, cfg *Config, p ohx.Provider, types []ohx.DataType, w ohx.Window) result {
	t.Helper()
	done := make(chan result, 1)
	go func() {
		var r result
		for s, err := range p.Fetch(ctx, cfg.Link, types, w) {
			if err != nil {
				r.err = err
				break
			}
			r.samples = append(r.samples, s)
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r
	case <-time.After(cfg.Timeout):
		t.Errorf("Fetch did not finish within %s", cfg.Timeout)
		t.FailNow()
		return result{}
	}
}

// fetchAll fetches cfg.Types over cfg.Window and requires success.
func fetchAll(t tb, cfg *Config) []ohx.Sample {
	t.Helper()
	r := fetch(t.Context(), t, cfg, cfg.Provider, cfg.Types, cfg.Window)
	require.NoError(t, r.err, "Fetch over the window")
	require.NotEmpty(t, r.samples, "Fetch over the window yields samples")
	return r.samples
}

func checkValidInWindow(t tb, cfg *Config) {
	samples := fetchAll(t, cfg)
	seen := map[ohx.DataType]int{}
	for i, s := range samples {
		if err := s.Validate(); err != nil {
			t.Errorf("sample %d (%s at %s) is invalid: %v", i, s.Type, s.Start.Format(time.RFC3339), err)
		}
		if !cfg.Window.Contains(s.Start) {
			t.Errorf("sample %d (%s) starts at %s, outside %s", i, s.Type, s.Start.Format(time.RFC3339Nano), cfg.Window)
		}
		if s.Provider != cfg.Provider.Name() {
			t.Errorf("sample %d (%s) names provider %q, want %q", i, s.Type, s.Provider, cfg.Provider.Name())
		}
		if s.CompanionOf == "" {
			seen[s.Type]++
		}
	}
	for _, typ := range cfg.Types {
		if seen[typ] == 0 && !slices.Contains(cfg.AllowEmpty, typ) {
			t.Errorf("no %s sample in %s (list the type in AllowEmpty if that is expected)", typ, cfg.Window)
		}
	}
}

// stream names the stream a sample's order is checked in: companions of
// another type form their own stream.
type stream struct{ typ, companionOf ohx.DataType }

func checkOrder(t tb, cfg *Config) {
	last := map[stream]time.Time{}
	for i, s := range fetchAll(t, cfg) {
		k := stream{s.Type, s.CompanionOf}
		if prev, ok := last[k]; ok && s.Start.Before(prev) {
			t.Errorf("sample %d (%s) starts at %s, before the previous one at %s",
				i, s.Type, s.Start.Format(time.RFC3339Nano), prev.Format(time.RFC3339Nano))
		}
		last[k] = s.Start
	}
}

func checkOnlyRequested(t tb, cfg *Config) {
	for _, typ := range cfg.Types {
		r := fetch(t.Context(), t, cfg, cfg.Provider, []ohx.DataType{typ}, cfg.Window)
		require.NoError(t, r.err, "Fetch of %s alone", typ)
		for _, s := range r.samples {
			if s.Type != typ && s.CompanionOf != typ {
				t.Errorf("Fetch of %s alone yielded a %s sample", typ, s.Type)
			}
		}
	}
}

// key identifies a sample: its type, its companion role and its record id,
// or its time span, device and values when the provider gives no record id.
type key struct {
	typ, companionOf ohx.DataType
	record           string
	start, end       int64
	device           string
	value            float64
}

func keyOf(s ohx.Sample) key {
	k := key{typ: s.Type, companionOf: s.CompanionOf, record: s.RecordID}
	if s.RecordID == "" {
		k.start, k.end, k.device, k.value = s.Start.UnixNano(), s.End.UnixNano(), s.DeviceID, s.Value
	}
	return k
}

func checkNoDuplicates(t tb, cfg *Config) {
	seen := map[key]int{}
	for i, s := range fetchAll(t, cfg) {
		k := keyOf(s)
		if j, dup := seen[k]; dup {
			t.Errorf("sample %d (%s at %s) duplicates sample %d", i, s.Type, s.Start.Format(time.RFC3339Nano), j)
			continue
		}
		seen[k] = i
	}
}

func checkRepeatable(t tb, cfg *Config) {
	first := fetchAll(t, cfg)
	second := fetchAll(t, cfg)
	require.Len(t, second, len(first), "a second Fetch of the same window yields as many samples")
	for i := range first {
		if !assert.Equal(t, first[i], second[i], "sample %d differs between two fetches", i) {
			return
		}
	}
}

func checkSplitWindow(t tb, cfg *Config) {
	whole := fetchAll(t, cfg)
	mid := cfg.Window.Start.Add(cfg.Window.Duration() / 2).Truncate(time.Second)
	if !mid.After(cfg.Window.Start) {
		mid = cfg.Window.Start.Add(cfg.Window.Duration() / 2)
	}
	count := map[key]int{}
	for _, s := range whole {
		count[keyOf(s)]++
	}
	for _, half := range []ohx.Window{{Start: cfg.Window.Start, End: mid}, {Start: mid, End: cfg.Window.End}} {
		r := fetch(t.Context(), t, cfg, cfg.Provider, cfg.Types, half)
		require.NoError(t, r.err, "Fetch over %s", half)
		for _, s := range r.samples {
			if !half.Contains(s.Start) {
				t.Errorf("Fetch over %s yielded a %s sample at %s", half, s.Type, s.Start.Format(time.RFC3339Nano))
			}
			count[keyOf(s)]--
		}
	}
	for k, n := range count {
		switch {
		case n > 0:
			t.Errorf("a %s sample of the whole window is missing from its halves", k.typ)
		case n < 0:
			t.Errorf("a %s sample of the halves is missing from the whole window", k.typ)
		}
	}
}

func checkCancelMidStream(t tb, cfg *Config) {
	baseline := goroutines(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		var r result
		for s, err := range cfg.Provider.Fetch(ctx, cfg.Link, cfg.Types, cfg.Window) {
			if err != nil {
				r.err = err
				break
			}
			r.samples = append(r.samples, s)
			cancel()
		}
		done <- r
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(cfg.Timeout):
		t.Errorf("Fetch did not stop within %s of its context being cancelled", cfg.Timeout)
		t.FailNow()
	}
	require.NotEmpty(t, r.samples, "Fetch yields a sample before it is cancelled")
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Fetch ended after cancellation with %v, want an error matching context.Canceled", r.err)
	}
	noLeak(t, cfg, baseline)
}

func checkCancelledBeforeStart(t tb, cfg *Config) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := fetch(ctx, t, cfg, cfg.Provider, cfg.Types, cfg.Window)
	if len(r.samples) > 0 {
		t.Errorf("Fetch with a cancelled context yielded %d samples", len(r.samples))
	}
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Fetch with a cancelled context ended with %v, want an error matching context.Canceled", r.err)
	}
	if ohx.KindOf(r.err) != ohx.KindUnknown {
		t.Errorf("a cancelled Fetch is classified %s: a cancellation is not a provider failure", ohx.KindOf(r.err))
	}
}

func checkEarlyStop(t tb, cfg *Config) {
	baseline := goroutines(t, cfg)
	calls, afterStop := 0, 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		cfg.Provider.Fetch(t.Context(), cfg.Link, cfg.Types, cfg.Window)(func(ohx.Sample, error) bool {
			calls++
			if calls > 1 {
				afterStop++
			}
			return false
		})
	}()
	select {
	case <-done:
	case <-time.After(cfg.Timeout):
		t.Errorf("Fetch did not return within %s after its consumer stopped", cfg.Timeout)
		t.FailNow()
	}
	require.Positive(t, calls, "Fetch yields something")
	if afterStop > 0 {
		t.Errorf("Fetch yielded %d more times after its consumer stopped", afterStop)
	}
	noLeak(t, cfg, baseline)
}

func checkDevices(t tb, cfg *Config) {
	type answer struct {
		ds  []ohx.Device
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ds, err := cfg.Provider.Devices(t.Context(), cfg.Link)
		done <- answer{ds, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-time.After(cfg.Timeout):
		t.Errorf("Devices did not return within %s", cfg.Timeout)
		t.FailNow()
	}
	require.NoError(t, a.err, "Devices")
	if !cfg.NoDevices {
		require.NotEmpty(t, a.ds, "Devices lists the account's devices (set NoDevices if it has none)")
	}
	ids := map[string]bool{}
	for i, d := range a.ds {
		if d.ID == "" {
			t.Errorf("device %d (%s) has no id", i, d.Model)
		} else if ids[d.ID] {
			t.Errorf("device %d (%s) repeats id %q", i, d.Model, d.ID)
		}
		ids[d.ID] = true
		if d.Provider != cfg.Provider.Name() {
			t.Errorf("device %d names provider %q, want %q", i, d.Provider, cfg.Provider.Name())
		}
	}
}

func checkErrorsClassified(t tb, cfg *Config) {
	if cfg.Fail == nil {
		t.Logf("Config.Fail is nil: error classification not checked")
		return
	}
	for _, f := range cfg.Failures {
		failErr := func() error {
			p, restore := cfg.Fail(f)
			defer restore()
			r := fetch(t.Context(), t, cfg, p, cfg.Types, cfg.Window)
			if r.err == nil {
				t.Errorf("%s failure: Fetch yielded %d samples and no error", f, len(r.samples))
				return nil
			}
			if !slices.Contains(f.Kinds(), ohx.KindOf(r.err)) {
				t.Errorf("%s failure: Fetch error %q is classified %s, want one of %v", f, r.err, ohx.KindOf(r.err), f.Kinds())
			}
			if _, err := p.Devices(t.Context(), cfg.Link); err != nil && !slices.Contains(f.Kinds(), ohx.KindOf(err)) {
				t.Errorf("%s failure: Devices error %q is classified %s, want one of %v", f, err, ohx.KindOf(err), f.Kinds())
			}
			return r.err
		}
		if failErr() == nil {
			continue
		}
		// Once restored, the provider works again: its first sample comes.
		if err := firstSample(t, cfg); err != nil {
			t.Errorf("after the %s failure was lifted, Fetch still fails: %v", f, err)
		}
	}
}

// firstSample fetches until the first sample or error and stops.
func firstSample(t tb, cfg *Config) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		var ferr error
		for _, err := range cfg.Provider.Fetch(t.Context(), cfg.Link, cfg.Types, cfg.Window) {
			ferr = err
			break
		}
		done <- ferr
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(cfg.Timeout):
		t.Errorf("Fetch did not yield within %s", cfg.Timeout)
		t.FailNow()
		return nil
	}
}

// goroutines returns the ids of the live goroutines.
func goroutines(_ tb, cfg *Config) map[string]bool {
	if cfg.SkipLeakCheck {
		return nil
	}
	ids := map[string]bool{}
	for id := range stacks() {
		ids[id] = true
	}
	return ids
}

// stacks returns the stack of every live goroutine by id.
func stacks() map[string]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, " [")
		if id, ok := strings.CutPrefix(head, "goroutine "); ok {
			out[id] = g
		}
	}
	return out
}

// pooled reports whether a goroutine belongs to an HTTP connection kept by a
// transport's or a server's pool: those outlive a call by design.
func pooled(stack string) bool {
	for _, f := range []string{"net/http.(*persistConn)", "net/http.(*conn).serve", "net/http.(*Transport).dialConnFor"} {
		if strings.Contains(stack, f) {
			return true
		}
	}
	return false
}

// noLeak waits until every goroutine started since before is gone, except
// pooled HTTP connections.
func noLeak(t tb, cfg *Config, before map[string]bool) {
	t.Helper()
	if cfg.SkipLeakCheck {
		return
	}
	deadline := time.Now().Add(cfg.Timeout)
	for {
		var leaked []string
		for id, st := range stacks() {
			if !before[id] && !pooled(st) {
				leaked = append(leaked, st)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutine leak: %d goroutines started by Fetch are still running:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
