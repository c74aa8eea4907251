// Command load drives the webhook endpoint of a running `ohxd serve` with N
// concurrent senders for a bounded time and reports requests per second and
// p50/p99 latency, side by side with a minimal net/http handler (the ceiling)
// measured the same way in the same run; then it measures the rate of sync
// jobs completed per second through the Redis queue.
//
// Everything runs on loopback: the program starts the Withings fake
// (withingstest), a FHIR server (fhirtest, validation off), and `ohxd serve`
// as a child process with OHX_REDIS_URL, links users through the daemon's real
// OAuth flow, then sends Withings form notifications for a linked user (or,
// with -spread, for all linked users in turn).
//
// The daemon answers 200 only once a notification's job is durable in
// Redis (and 503 when it cannot be), so every answer other than 200 counts
// as an error. The load averages before and after the two phases are
// printed: on a shared machine, the ceiling and the daemon compete with
// other work, and the ratio is only as good as the quiet.
//
//	go build -o /tmp/ohxd ./cmd/ohxd
//	go run ./bench/load -ohxd /tmp/ohxd -senders 64 -duration 10s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

const (
	webhookSecret = "load-webhook-secret-0123456789"
	firstUser     = 7000
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

type config struct {
	ohxd     string
	redis    string
	senders  int
	duration time.Duration
	users    int
	jobs     int
	spread   bool
}

func run() error {
	var c config
	flag.StringVar(&c.ohxd, "ohxd", "", "path of the ohxd binary (required)")
	flag.StringVar(&c.redis, "redis", "", "Redis URL for the daemon's queue; empty starts a redis-server of the run's own on a free port")
	flag.IntVar(&c.senders, "senders", 64, "concurrent webhook senders")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "how long each load phase runs")
	flag.IntVar(&c.users, "users", 8, "linked users for the sync-job phase")
	flag.IntVar(&c.jobs, "jobs", 400, "sync jobs to run in the sync-job phase")
	flag.BoolVar(&c.spread, "spread", false, "spread notifications over all linked users instead of one")
	flag.Parse()
	if c.ohxd == "" {
		return errors.New("-ohxd is required")
	}
	ctx := context.Background()
	if c.redis == "" {
		stop, url, err := startRedis()
		if err != nil {
			return err
		}
		defer stop()
		c.redis = url
	}

	// The ceiling: the smallest handler that reads the same form.
	bare, err := listen(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("userid") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	if err != nil {
		return err
	}

	d, err := startDaemon(ctx, c)
	if err != nil {
		return err
	}
	defer d.stop()
	ids := make([]string, 0, c.users)
	for i := range c.users {
		id, err := d.link(ctx, firstUser+int64(i))
		if err != nil {
			return fmt.Errorf("link user %d: %w", i, err)
		}
		ids = append(ids, id)
	}
	// Let the initial syncs of the links finish before measuring.
	if err := d.waitSyncs(ctx, c.users, 3*time.Minute); err != nil {
		return err
	}

	fmt.Printf("machine: %d CPUs (GOMAXPROCS of this program), shared by sender, daemon, Redis and fakes\n", numCPU())
	fmt.Printf("webhook load: %d senders, %s per phase, notifications for %s\n\n", c.senders, c.duration,
		map[bool]string{false: "one user", true: fmt.Sprintf("%d users", c.users)}[c.spread])
	form := func(i int) string {
		end := time.Now().Add(-time.Duration(i%600) * time.Second).Unix()
		user := firstUser
		if c.spread {
			user += i % c.users
		}
		return url.Values{"userid": {strconv.Itoa(user)}, "appli": {"1"},
			"startdate": {strconv.FormatInt(end-60, 10)}, "enddate": {strconv.FormatInt(end, 10)}}.Encode()
	}
	fmt.Printf("load average before: %s\n", loadAverage())
	bareRes := hammer(ctx, bare+"/webhook", c.senders, c.duration, form)
	ohxRes := hammer(ctx, d.base+"/webhooks/withings/"+webhookSecret, c.senders, c.duration, form)
	fmt.Printf("load average after:  %s\n\n", loadAverage())
	fmt.Printf("%-28s %10s %10s %10s %10s %8s\n", "target", "req/s", "p50", "p99", "max", "errors")
	bareRes.print("bare net/http (ceiling)")
	ohxRes.print("ohxd /webhooks/withings")
	fmt.Printf("\nohxd / ceiling: %.2f\n\n", ohxRes.rate()/bareRes.rate())

	rate, err := d.jobRate(ctx, ids, c.jobs)
	if err != nil {
		return err
	}
	fmt.Printf("sync jobs (Withings body-weight backfill of one day, Redis queue, %d users): %.1f jobs/s completed\n", c.users, rate)
	return nil
}

func numCPU() int { return runtimeNumCPU() }

// loadAverage returns the 1, 5 and 15 minute load averages (Linux), so a
// figure measured on a busy machine says so; "unknown" elsewhere.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// startRedis starts redis-server on a free loopback port, without
// persistence.
func startRedis() (stop func(), url string, err error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.CommandContext(context.Background(), "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	for range 100 {
		if c, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", l.Addr().String()); err == nil {
			_ = c.Close()
			return stop, "redis://" + l.Addr().String() + "/0", nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return nil, "", errors.New("redis-server did not start")
}

func listen(h http.Handler) (string, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(l, h) }()
	return "http://" + l.Addr().String(), nil
}

type result struct {
	n, errs   int
	elapsed   time.Duration
	latencies []time.Duration
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r result) print(name string) {
	fmt.Printf("%-28s %10.0f %10s %10s %10s %8d\n", name, r.rate(), r.pct(0.50).Round(10*time.Microsecond),
		r.pct(0.99).Round(10*time.Microsecond), r.latencies[len(r.latencies)-1].Round(10*time.Microsecond), r.errs)
}

// hammer posts forms to target from n senders for d.
func hammer(ctx context.Context, target string, n int, d time.Duration, body func(int) string) result {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all result
	start := time.Now()
	var wg sync.WaitGroup
	for s := range n {
		wg.Go(func() {
			var lat []time.Duration
			errs := 0
			for i := s; ctx.Err() == nil; i += n {
				req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, target, strings.NewReader(body(i)))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					errs++
				}
			}
			mu.Lock()
			all.latencies = append(all.latencies, lat...)
			all.errs += errs
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	all.n = len(all.latencies)
	slices.Sort(all.latencies)
	return all
}

// daemon is `ohxd serve` with its fakes.
type daemon struct {
	base   string
	keys   []string
	fake   *withingstest.Server
	fhir   *fhirtest.Server
	cmd    *exec.Cmd
	client *http.Client
	next   int
}

func startDaemon(ctx context.Context, c config) (*daemon, error) {
	d := &daemon{client: &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	_ = l.Close()
	d.base = "http://" + addr
	d.fake = withingstest.NewServer(withingstest.Config{})
	for i := range c.users {
		d.fake.AddUser(withingstest.User{ID: firstUser + int64(i), TimeZone: "Europe/Paris"})
	}
	d.fhir = fhirtest.NewServer(fhirtest.WithValidator(nil))
	for i := range 16 {
		d.keys = append(d.keys, fmt.Sprintf("load-api-key-%02d-0123456789abcdef", i))
	}
	dir, err := os.MkdirTemp("", "ohx-load-")
	if err != nil {
		return nil, err
	}
	d.cmd = exec.CommandContext(ctx, c.ohxd, "serve")
	d.cmd.Env = append(os.Environ(),
		"OHX_ADDR="+addr, "OHX_PUBLIC_URL="+d.base, "OHX_DATA_DIR="+dir,
		"OHX_API_KEYS="+strings.Join(d.keys, ","), "OHX_REDIRECT_ALLOWLIST=https://ehr.example/",
		"OHX_WITHINGS_CLIENT_ID="+d.fake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET="+d.fake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET="+webhookSecret, "OHX_WITHINGS_API_URL="+d.fake.URL(),
		"OHX_WITHINGS_AUTH_URL="+d.fake.AuthURL(), "OHX_WITHINGS_REQUESTS_PER_MINUTE=1000000",
		"OHX_FHIR_URL="+d.fhir.URL, "OHX_REDIS_URL="+c.redis, "OHX_INITIAL_DAYS=1",
		"OHX_LOG_LEVEL=error", "OHX_AUDIT_LOG="+filepath.Join(dir, "audit.log"))
	d.cmd.Stdout = os.Stderr
	d.cmd.Stderr = os.Stderr
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := get(ctx, d.client, d.base+"/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return d, nil
			}
		}
		if time.Now().After(deadline) {
			d.stop()
			return nil, errors.New("ohxd did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *daemon) stop() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(os.Interrupt)
		_ = d.cmd.Wait()
	}
	d.fake.Close()
	d.fhir.Close()
}

func (d *daemon) api(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return 0, err
	}
	d.next++
	req.Header.Set("Authorization", "Bearer "+d.keys[d.next%len(d.keys)])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return resp.StatusCode, err
		}
	}
	return resp.StatusCode, nil
}

// link links a Withings user through the daemon: API → fake consent →
// callback.
func (d *daemon) link(ctx context.Context, user int64) (string, error) {
	d.fake.ApproveAs(user)
	var created struct {
		ID           string `json:"id"`
		AuthorizeURL string `json:"authorize_url"`
	}
	status, err := d.api(ctx, "POST", "/v1/links", map[string]any{"provider": "withings", "patient": fmt.Sprintf("Patient/load-%d", user),
		"data_types": []string{"body-weight"}, "success_url": "https://ehr.example/done", "error_url": "https://ehr.example/failed"}, &created)
	if err != nil {
		return "", fmt.Errorf("create link: %w", err)
	}
	if status != http.StatusCreated {
		return "", fmt.Errorf("create link: status %d", status)
	}
	// The patient's browser: connect page, its form, the fake's consent,
	// the callback.
	landing, err := connecttest.New(d.client).Connect(ctx, created.AuthorizeURL)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(landing, "https://ehr.example/done") {
		return "", fmt.Errorf("callback redirected to %q", landing)
	}
	return created.ID, nil
}

// syncsDone reads the number of finished syncs from /metrics.
func (d *daemon) syncsDone(ctx context.Context) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, d.base+"/metrics", nil)
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	n := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "ohx_sync_operations_total{") {
			f := strings.Fields(line)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += v
		}
	}
	return int(n), sc.Err()
}

func (d *daemon) waitSyncs(ctx context.Context, atLeast int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		n, err := d.syncsDone(ctx)
		if err == nil && n >= atLeast {
			return nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("only %d of %d syncs finished: %w", n, atLeast, err)
			}
			return fmt.Errorf("only %d of %d syncs finished", n, atLeast)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jobRate queues n backfill jobs (one day of body weight each, never
// coalesced) spread over the links and measures how fast they complete.
func (d *daemon) jobRate(ctx context.Context, links []string, n int) (float64, error) {
	before, err := d.syncsDone(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	for i := 0; i < n; {
		w := map[string]any{"start": day.Add(-time.Duration(i%20+1) * 24 * time.Hour), "end": day.Add(-time.Duration(i%20) * 24 * time.Hour)}
		status, err := d.api(ctx, "POST", "/v1/links/"+links[i%len(links)]+"/sync", map[string]any{"data_types": []string{"body-weight"}, "window": w}, nil)
		if err != nil {
			return 0, err
		}
		if status == http.StatusTooManyRequests {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if status != http.StatusAccepted {
			return 0, fmt.Errorf("sync request: %d", status)
		}
		i++
	}
	if err := d.waitSyncs(ctx, before+n, 5*time.Minute); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

func get(ctx context.Context, c *http.Client, u string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return c.Do(req)
}
