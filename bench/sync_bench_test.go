package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/aggregate"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
)

var benchNow = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// fakes is the child process serving fitbittest and fhirtest.
type fakes struct {
	Fitbit, FHIR, Control string
	cmd                   *exec.Cmd
	stdin                 io.WriteCloser
}

type fakeStats struct {
	FHIRRequests   int            `json:"fhir_requests"`
	Resources      map[string]int `json:"resources"`
	HeartRateCalls int            `json:"heart_rate_calls"`
	CPUSeconds     float64        `json:"cpu_seconds"`
}

func startFakes(b *testing.B, validate bool) *fakes {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "fakes")
	build := exec.Command("go", "build", "-o", bin, "./cmd/fakes")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		b.Fatal(err)
	}
	f := &fakes{cmd: exec.Command(bin, "-now", benchNow.Format(time.RFC3339), fmt.Sprintf("-validate=%t", validate))}
	f.cmd.Stderr = os.Stderr
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if f.stdin, err = f.cmd.StdinPipe(); err != nil {
		b.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.stdin.Close(); _ = f.cmd.Wait() })
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(line, f); err != nil {
		b.Fatal(err)
	}
	return f
}

func (f *fakes) stats(b *testing.B) fakeStats {
	b.Helper()
	resp, err := http.Get(f.Control + "/stats")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var s fakeStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		b.Fatal(err)
	}
	return s
}

// syncSide is the library side of a sync: provider, engine and publisher.
type syncSide struct {
	engine *ohx.Engine
	link   ohx.Link
}

func newSyncSide(b *testing.B, f *fakes, hourly bool, lookback time.Duration, bundle int) *syncSide {
	b.Helper()
	st := store.NewMemory()
	p, err := fitbit.New(fitbit.Config{
		ClientID: fitbittest.DefaultClientID, ClientSecret: fitbittest.DefaultClientSecret,
		RedirectURL: "https://ehr.example/oauth/fitbit/callback",
		AuthURL:     f.Fitbit + "/o/oauth2/v2/auth", TokenURL: f.Fitbit + "/token", RevokeURL: f.Fitbit + "/revoke",
		APIBaseURL: f.Fitbit + "/", KeysetURL: f.Fitbit + "/webhooks_public_keyset.json",
		Common: provider.Common{
			Tokens: st, Locker: st, UserLimit: provider.NoLimit(),
			Now:   func() time.Time { return benchNow },
			Retry: resilience.RetrySettings{MaxWait: time.Second},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	verifier := "verifier-0123456789-0123456789-0123456789-0123456789"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(p.AuthCodeURL("bench", verifier, []ohx.DataType{ohx.HeartRate}))
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.Fatal(err)
	}
	link := ohx.Link{ID: "link-bench-1", Patient: "Patient/bench-1", DataTypes: []ohx.DataType{ohx.HeartRate}, Status: ohx.LinkActive}
	tok, err := p.Exchange(context.Background(), loc.Query().Get("code"), verifier, &link)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.SaveToken(context.Background(), link.ID, tok); err != nil {
		b.Fatal(err)
	}
	if err := st.SaveLink(context.Background(), link); err != nil {
		b.Fatal(err)
	}
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: f.FHIR, BundleSize: bundle})
	if err != nil {
		b.Fatal(err)
	}
	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: "bench", Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	policy := &ohx.Policy{}
	if hourly {
		policy.Aggregation = map[ohx.DataType]ohx.AggregationMode{ohx.HeartRate: ohx.AggregationHourly}
	}
	agg, err := aggregate.ForPolicy(policy, aggregate.HourlyConfig{})
	if err != nil {
		b.Fatal(err)
	}
	eng, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st, Policy: policy, Aggregator: agg,
		Transformer: tr, Publisher: pub, Now: func() time.Time { return benchNow },
		Strategy: ohx.DefaultStrategy{InitialLookback: lookback},
	})
	if err != nil {
		b.Fatal(err)
	}
	return &syncSide{engine: eng, link: link}
}

// peakHeap samples the live heap every 5 ms until stop is called and returns
// the largest value seen.
func peakHeap() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

func benchmarkSync(b *testing.B, hourly bool, lookback time.Duration, bundle int, validateAtServer bool) {
	f := startFakes(b, validateAtServer)
	side := newSyncSide(b, f, hourly, lookback, bundle)
	// Warm up the schema validator (compiled once per process) outside the
	// measurement.
	warm := newSyncSide(b, f, hourly, time.Hour, bundle)
	if _, err := warm.engine.Sync(context.Background(), ohx.Job{LinkID: warm.link.ID, Trigger: ohx.TriggerInitial}); err != nil {
		b.Fatal(err)
	}
	samples := int(lookback / time.Second)
	var lastWritten, lastRequests int
	var lastPeak uint64
	var syncCPU, fakesCPU float64
	var allocated uint64
	var ms runtime.MemStats
	b.ResetTimer()
	for b.Loop() {
		before := f.stats(b)
		runtime.GC()
		runtime.ReadMemStats(&ms)
		allocBefore := ms.TotalAlloc
		stop := peakHeap()
		cpuBefore := processCPU()
		rep, err := side.engine.Sync(context.Background(), ohx.Job{LinkID: side.link.ID, Trigger: ohx.TriggerInitial})
		syncCPU += processCPU() - cpuBefore
		lastPeak = stop()
		if err != nil {
			b.Fatal(err)
		}
		runtime.ReadMemStats(&ms)
		allocated += ms.TotalAlloc - allocBefore
		after := f.stats(b)
		fakesCPU += after.CPUSeconds - before.CPUSeconds
		tr := rep.Types[ohx.HeartRate]
		if tr.SamplesRead != samples {
			b.Fatalf("read %d samples, want %d", tr.SamplesRead, samples)
		}
		lastWritten = rep.Written
		lastRequests = after.FHIRRequests - before.FHIRRequests
	}
	n := float64(b.N)
	elapsed := b.Elapsed().Seconds() / n
	b.ReportMetric(float64(samples)/elapsed, "samples/s")
	b.ReportMetric(elapsed, "wall-s")
	b.ReportMetric(float64(samples)/(syncCPU/n), "samples/cpu-s")
	b.ReportMetric(syncCPU/n, "sync-cpu-s")
	b.ReportMetric(fakesCPU/n, "fakes-cpu-s")
	b.ReportMetric(float64(allocated)/n/float64(samples), "B/sample")
	b.ReportMetric(float64(lastPeak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(lastWritten), "resources")
	b.ReportMetric(float64(lastRequests), "fhir-requests")
	b.ReportMetric(float64((lastWritten+bundle-1)/bundle), "min-fhir-requests")
}

// processCPU returns the user+system CPU seconds of this process alone: the
// fakes run in a child process that is only reaped at cleanup, and
// RUSAGE_SELF never includes children anyway.
func processCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkInitialSync30DaysHourly: 30 days of 1-second heart rate
// (2,592,000 samples) from fitbittest through hourly aggregation, fhirmap and
// publish.FHIR into fhirtest, fakes in a child process.
func BenchmarkInitialSync30DaysHourly(b *testing.B) {
	benchmarkSync(b, true, 30*24*time.Hour, publish.DefaultBundleSize, true)
}

// BenchmarkInitialSync1DayIndividual: one day of 1-second heart rate
// (86,400 samples) published as individual Observations. The FHIR server does
// not validate here (the publisher still does), so the sync side dominates.
func BenchmarkInitialSync1DayIndividual(b *testing.B) {
	benchmarkSync(b, false, 24*time.Hour, publish.DefaultBundleSize, false)
}
