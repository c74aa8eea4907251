// Command fakes serves the Google Health API fake (fitbittest, one user with
// 1-second heart rate) and the FHIR test server (fhirtest) on loopback ports,
// for benchmarks that must not count the fakes' memory or CPU. It prints one
// JSON line with the URLs, serves GET /stats on the control URL (request
// counts and the process's own CPU time), and runs until stdin closes or it is
// signalled.
//
// The FHIR server answers writes in full but keeps no resource bodies
// unless -keep-bodies is given (fhirtest.WithoutBodies): the benchmarks only
// count what was written, and keeping a day of 1-second Observations cost
// the fakes more CPU, in fresh memory, than reading them.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "fakes:", err)
		os.Exit(1)
	}
}

func run() error {
	nowFlag := flag.String("now", "2026-11-20T00:00:00Z", "the fakes' current time (RFC 3339)")
	validate := flag.Bool("validate", true, "validate incoming resources against the R5 schema at the FHIR server")
	user := flag.String("user", "hu-bench-1", "healthUserId of the fake's user")
	keepBodies := flag.Bool("keep-bodies", false, "keep the resources the FHIR server accepts (the benchmarks only count them; see fhirtest.WithoutBodies)")
	// The profile path may come from the environment because the sync
	// benchmarks start this command with fixed flags.
	cpuProfile := flag.String("cpuprofile", os.Getenv("FAKES_CPUPROFILE"), "write a CPU profile of the fakes to this file (default $FAKES_CPUPROFILE)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	defer reportCPU()
	now, err := time.Parse(time.RFC3339, *nowFlag)
	if err != nil {
		return err
	}
	fake, err := fitbittest.New(fitbittest.Config{HeartRateEvery: time.Second, RateLimitPerMinute: -1,
		AccessTokenTTL: 24 * time.Hour, Now: func() time.Time { return now }})
	if err != nil {
		return err
	}
	defer fake.Close()
	if _, err := fake.AddUser(fitbittest.User{HealthUserID: *user, TimeZone: "Europe/Berlin"}); err != nil {
		return err
	}
	opts := []fhirtest.Option{fhirtest.WithNow(func() time.Time { return now })}
	if !*validate {
		opts = append(opts, fhirtest.WithValidator(nil))
	}
	if !*keepBodies {
		opts = append(opts, fhirtest.WithoutBodies())
	}
	fhir := fhirtest.NewServer(opts...)
	defer fhir.Close()

	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) {
		counts := map[string]int{}
		for _, t := range fhir.Types() {
			counts[t] = fhir.Count(t)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"fhir_requests": fhir.RequestCount(), "resources": counts,
			"heart_rate_calls": fake.Calls("list:heart-rate"), "cpu_seconds": cpuSeconds()})
	})
	go func() { _ = http.Serve(l, mux) }()

	if err := json.NewEncoder(os.Stdout).Encode(map[string]string{
		"fitbit": fake.URL(), "fhir": fhir.URL, "control": "http://" + l.Addr().String(),
	}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or dies
	return nil
}

// cpuSeconds returns the user+system CPU time this process has used, so the
// benchmark can tell the fakes' CPU from the sync's.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// reportCPU writes the CPU time the fakes used to stderr, so that a benchmark
// run shows how much of the machine the fakes took.
func reportCPU() {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return
	}
	sec := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	fmt.Fprintf(os.Stderr, "fakes: cpu-s %.2f (user %.2f, sys %.2f)\n", sec(ru.Utime)+sec(ru.Stime), sec(ru.Utime), sec(ru.Stime))
}
