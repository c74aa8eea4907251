package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit"
	"github.com/openhealthexchange/ohx/fitbit/fitbittest"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// demoPatient is one patient the demo links.
type demoPatient struct {
	patient  string
	provider string
	timeZone string // the link's, for a provider that reports none (Oura)
	linkID   string
}

// demoFlags are the flags of ohxd demo.
type demoFlags struct {
	out         string
	days        int
	base        time.Time // end of the synced history
	aggregation string
	version     ohx.FHIRVersion // the FHIR release of the demo's server and output
	verbose     bool
}

// demo is one run of ohxd demo: the fakes, the daemon and what it saw.
type demo struct {
	flags   demoFlags
	wfake   *withingstest.Server
	gfake   *fitbittest.Server
	guser   fitbittest.User
	fhir    *fhirtest.Server
	ln      net.Listener
	url     string // the daemon's public URL
	dataDir string
	apiKey  string
	gsecret string
	oura    demoOura // demo_oura.go
	app     *app
	stop    func() // stops the daemon and waits for it
	events  *demoEvents

	mu      sync.Mutex
	reports []*ohx.Report
	failed  []string
}

// demoWithingsUser is the Withings fake's user id of the demo patient.
const demoWithingsUser = 1001

// runDemo runs the daemon's real wiring against in-process fakes of the
// Withings cloud, the Google Health API, the Oura cloud and a FHIR server
// of the release -fhir-version names (R5 by default): no network, no
// services. It links one patient per provider
// through the daemon's HTTP API and OAuth callback, runs the device and
// initial syncs, sends one webhook per provider (Oura's signed, to the
// subscriptions the daemon created), lets the push syncs run, and writes
// what the FHIR server holds to -out as NDJSON, one file per resource type.
// It prints the events an EHR's endpoint received (signed; the demo
// verifies them).
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags, err := parseDemoFlags(args, stderr)
	if err != nil {
		return err
	}
	started := time.Now()
	d := &demo{flags: flags}
	defer d.close()
	if err := d.startFakes(); err != nil {
		return err
	}
	if err := d.startDaemon(ctx, stderr); err != nil {
		return err
	}
	patients, err := d.linkPatients(ctx)
	if err != nil {
		return err
	}
	if err := d.sendWebhooks(ctx); err != nil {
		return err
	}
	if err := d.events.wait(ctx, d.app); err != nil {
		return err
	}
	if err := d.fhir.WriteNDJSON(flags.out); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	printDemoTable(stdout, patients, d.reports, d.fhir, flags.out, flags.days, time.Since(started))
	d.events.print(stdout)
	if len(d.failed) > 0 {
		return fmt.Errorf("%d syncs failed:\n  %s", len(d.failed), strings.Join(d.failed, "\n  "))
	}
	return nil
}

func parseDemoFlags(args []string, stderr io.Writer) (demoFlags, error) {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "./ohx-demo", "directory for the NDJSON output (one file per resource type)")
	days := fs.Int("days", 7, "days of history for the initial sync")
	until := fs.String("until", "", "end of the synced history (RFC 3339); default: today 00:00 UTC, so runs on one day give identical output")
	aggregation := fs.String("aggregation", "auto", "auto (hourly series, individual spot measurements), hourly or individual")
	fhirVersion := fs.String("fhir-version", "R5", "FHIR release of the server and the output: R5 or R4")
	verbose := fs.Bool("v", false, "show the daemon's logs")
	if err := fs.Parse(args); err != nil {
		return demoFlags{}, err
	}
	if *days < 1 || *days > 30 {
		return demoFlags{}, errors.New("-days must be between 1 and 30")
	}
	v, err := ohx.ParseFHIRVersion(*fhirVersion)
	if err != nil {
		return demoFlags{}, errors.New("-fhir-version must be R5 or R4")
	}
	if held, ok, err := publish.DirectoryVersion(*out); err != nil {
		return demoFlags{}, fmt.Errorf("-out: %w", err)
	} else if ok && held != v {
		return demoFlags{}, fmt.Errorf("-out %s holds FHIR %s output: give the %s demo a directory of its own", *out, held, v)
	}
	f := demoFlags{out: *out, days: *days, base: time.Now().UTC().Truncate(24 * time.Hour), aggregation: *aggregation,
		version: v, verbose: *verbose}
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return demoFlags{}, fmt.Errorf("-until: %w", err)
		}
		f.base = t.UTC()
	}
	return f, nil
}

// fixed is the demo's clock: every clock of the demo (fakes, providers,
// engine) stands still at the end of the history, so the synced history,
// and the output, is the same on every run.
func (d *demo) fixed() time.Time { return d.flags.base }

// startFakes starts the Withings, Google Health and Oura fakes with one user
// each, and the FHIR server.
func (d *demo) startFakes() (err error) {
	d.wfake = withingstest.NewServer(withingstest.Config{Now: d.fixed})
	d.wfake.AddUser(withingstest.User{ID: demoWithingsUser, TimeZone: "Europe/Berlin"})
	d.wfake.ApproveAs(demoWithingsUser)
	if d.gfake, err = fitbittest.New(fitbittest.Config{Now: d.fixed, HeartRateEvery: 15 * time.Second, RateLimitPerMinute: -1}); err != nil {
		return err
	}
	if d.guser, err = d.gfake.AddUser(fitbittest.User{HealthUserID: "demo-health-user-1", LegacyUserID: "2E4RVC", TimeZone: "America/New_York"}); err != nil {
		return err
	}
	if err = d.startOuraFake(); err != nil {
		return err
	}
	d.fhir = fhirtest.NewServer(fhirtest.WithVersion(d.flags.version))
	d.events, err = startDemoEvents()
	return err
}

// close stops the daemon, removes its data, then stops the fakes.
func (d *demo) close() {
	if d.stop != nil {
		d.stop()
	}
	if d.app != nil {
		d.app.close()
	}
	if d.dataDir != "" {
		_ = os.RemoveAll(d.dataDir)
	}
	if d.fhir != nil {
		d.fhir.Close()
	}
	if d.events != nil {
		d.events.close()
	}
	if d.gfake != nil {
		d.gfake.Close()
	}
	if d.wfake != nil {
		d.wfake.Close()
	}
	d.closeOura()
}

// env is the daemon's configuration: the providers on their fakes, the FHIR
// server, fresh secrets, a temporary data directory.
func (d *demo) env(dataDir string) (map[string]string, error) {
	key, err := seal.GenerateKey("demo")
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"OHX_ADDR": d.ln.Addr().String(), "OHX_DATA_DIR": dataDir, "OHX_API_KEYS": d.apiKey,
		"OHX_SECRET_KEYS": key.Encode(), "OHX_PUBLIC_URL": d.url, "OHX_REDIRECT_ALLOWLIST": d.url + "/demo/",
		"OHX_WITHINGS_CLIENT_ID": d.wfake.ClientID(), "OHX_WITHINGS_CLIENT_SECRET": d.wfake.ClientSecret(),
		"OHX_WITHINGS_WEBHOOK_SECRET": randomHex(16), "OHX_WITHINGS_API_URL": d.wfake.URL(), "OHX_WITHINGS_AUTH_URL": d.wfake.AuthURL(),
		"OHX_GOOGLE_CLIENT_ID": d.gfake.ClientID(), "OHX_GOOGLE_CLIENT_SECRET": d.gfake.ClientSecret(),
		"OHX_GOOGLE_WEBHOOK_SECRET": d.gsecret, "OHX_GOOGLE_HEALTH_API_URL": d.gfake.APIBaseURL(),
		"OHX_GOOGLE_AUTH_URL": d.gfake.AuthURL(), "OHX_GOOGLE_TOKEN_URL": d.gfake.TokenURL(),
		"OHX_GOOGLE_REVOKE_URL": d.gfake.RevokeURL(), "OHX_GOOGLE_WEBHOOK_KEYSET_URL": d.gfake.KeysetURL(),
		"OHX_FHIR_URL": d.fhir.URL, "OHX_FHIR_VERSION": d.flags.version.String(), "OHX_AGGREGATION": d.flags.aggregation, "OHX_INITIAL_DAYS": fmt.Sprint(d.flags.days),
		"OHX_LOG_LEVEL": "info", "OHX_WORKERS": "4", "OHX_WITHINGS_REQUESTS_PER_MINUTE": "6000",
		"OHX_GOOGLE_REQUESTS_PER_MINUTE": "6000",
	}
	d.ouraEnv(env)
	maps.Copy(env, d.events.env())
	return env, nil
}

// startDaemon wires the daemon on a loopback listener and a temporary data
// directory and serves it in the background; every sync's report is kept
// for the table.
func (d *demo) startDaemon(ctx context.Context, stderr io.Writer) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.ln, d.url = ln, "http://"+ln.Addr().String()
	d.apiKey, d.gsecret = randomHex(16), "Bearer "+randomHex(16)
	if d.dataDir, err = os.MkdirTemp("", "ohx-demo-data-"); err != nil {
		_ = ln.Close()
		return err
	}
	if d.app, err = d.wire(ctx, stderr); err != nil {
		_ = ln.Close()
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- d.app.serve(runCtx, ln, true, true) }()
	d.stop = func() {
		stop()
		if err := <-served; err != nil {
			fmt.Fprintln(stderr, "ohxd demo: daemon:", err)
		}
	}
	return nil
}

// wire loads the demo's configuration and wires the daemon with the demo's
// clock and a short debounce.
func (d *demo) wire(ctx context.Context, stderr io.Writer) (*app, error) {
	env, err := d.env(d.dataDir)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		return nil, err
	}
	logOut := io.Discard
	if d.flags.verbose {
		logOut = stderr
	}
	return wire(ctx, cfg, wireOptions{logOut: logOut, now: d.fixed, debounce: 300 * time.Millisecond, onSync: d.onSync,
		schedule: stoppedClock{d.fixed}})
}

// onSync keeps each sync's report and failure.
func (d *demo) onSync(j ohx.Job, rep *ohx.Report, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if rep != nil {
		d.reports = append(d.reports, rep)
	}
	if err != nil {
		d.failed = append(d.failed, fmt.Sprintf("%s sync of %s: %v", j.Trigger, j.LinkID, err))
	}
}

// linkPatients registers the Google Health subscriber (the operator's step),
// links one patient per provider through the API and the consent flow, and
// waits for the device and initial syncs.
func (d *demo) linkPatients(ctx context.Context) ([]*demoPatient, error) {
	// Google verifies the endpoint while the subscriber is created, with the
	// project's (service account) credentials.
	operator := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "demo-service-account-token"}))
	subs := &fitbit.Subscribers{Client: operator, BaseURL: d.gfake.APIBaseURL(), ProjectNumber: "123456789"}
	if _, err := subs.Create(ctx, "ohx-demo", d.url+"/webhooks/fitbit", d.gsecret, fitbit.WebhookDataTypes()); err != nil {
		return nil, fmt.Errorf("register the Google Health subscriber: %w", err)
	}
	patients := []*demoPatient{
		{patient: "Patient/demo-withings-1", provider: withings.Name},
		{patient: "Patient/demo-fitbit-1", provider: "fitbit"},
		demoOuraPatient(),
	}
	for _, p := range patients {
		var err error
		if p.linkID, err = demoLink(ctx, d.url, d.apiKey, p); err != nil {
			return nil, fmt.Errorf("link %s: %w", p.patient, err)
		}
	}
	return patients, waitIdle(ctx, d.app)
}

// sendWebhooks sends one notification per provider, inside the synced
// history (the push syncs re-read those windows, idempotently), and waits
// for the push syncs.
func (d *demo) sendWebhooks(ctx context.Context) error {
	base := d.flags.base
	if err := d.wfake.Notify(ctx, withingstest.Notification{UserID: demoWithingsUser, Appli: withings.AppliWeight,
		Start: base.Add(-26 * time.Hour), End: base.Add(-2 * time.Hour)}); err != nil {
		return fmt.Errorf("withings webhook: %w", err)
	}
	if _, err := d.gfake.Notify(ctx, fitbittest.Notification{HealthUserID: d.guser.HealthUserID, DataType: "steps",
		Start: base.Add(-3 * time.Hour), End: base.Add(-time.Hour)}); err != nil {
		return fmt.Errorf("fitbit webhook: %w", err)
	}
	if err := d.sendOuraWebhook(ctx); err != nil {
		return err
	}
	time.Sleep(400 * time.Millisecond) // let the debounced push jobs become due
	return waitIdle(ctx, d.app)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demoLink creates a link through the API and plays the patient's browser
// through the provider's consent page and the daemon's OAuth callback.
func demoLink(ctx context.Context, publicURL, apiKey string, p *demoPatient) (string, error) {
	body, _ := json.Marshal(map[string]string{"provider": p.provider, "patient": p.patient, "time_zone": p.timeZone,
		"success_url": publicURL + "/demo/linked", "error_url": publicURL + "/demo/failed"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, publicURL+"/v1/links", strings.NewReader(string(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	var created struct {
		ID           string `json:"id"`
		AuthorizeURL string `json:"authorize_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("POST /v1/links: status %d", resp.StatusCode)
	}
	// The patient's browser: the connect page, its button, the fake's
	// consent, the callback; it stops where the daemon sends it to the
	// application's success or error page.
	landing, err := connecttest.New(nil).Connect(ctx, created.AuthorizeURL)
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(landing)
	if err != nil || loc.Path != "/demo/linked" {
		return "", fmt.Errorf("consent flow ended at %q", landing)
	}
	return loc.Query().Get("link_id"), nil
}

// waitIdle waits until the queue holds no pending, scheduled, running or
// retrying job. The deadline only guards against a hang: the demo normally
// drains in seconds, but a race-instrumented build on a busy machine is
// many times slower.
func waitIdle(ctx context.Context, a *app) error {
	deadline := time.Now().Add(10 * time.Minute)
	idle := 0
	for idle < 3 {
		st, err := a.queue.Stats(ctx)
		if err != nil {
			return err
		}
		busy := 0
		for _, p := range st.Priorities {
			busy += p.Pending + p.Scheduled + p.Running + p.Retry
		}
		if busy == 0 {
			idle++
		} else {
			idle = 0
		}
		if time.Now().After(deadline) {
			return errors.New("the queue did not drain within 10 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func printDemoTable(w io.Writer, patients []*demoPatient, reports []*ohx.Report, fhir *fhirtest.Server, out string, days int, took time.Duration) {
	type key struct {
		link string
		t    ohx.DataType
	}
	read, written := map[key]int{}, map[key]int{}
	devices := map[string]int{}
	for _, r := range reports {
		for t, tr := range r.Types {
			read[key{r.LinkID, t}] += tr.SamplesRead
			written[key{r.LinkID, t}] += tr.ResourcesWritten
		}
		devices[r.LinkID] += r.Devices
	}
	fmt.Fprintf(w, "ohx demo: %d days synced for %d patients through the daemon in %s; the FHIR %s server's content is in %s\n\n",
		days, len(patients), took.Round(time.Millisecond), fhir.Version(), out)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "patient\tprovider\tdata type\tsamples read\tresources written")
	for _, p := range patients {
		var types []ohx.DataType
		for k := range read {
			if k.link == p.linkID {
				types = append(types, k.t)
			}
		}
		slices.Sort(types)
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", p.patient, p.provider, t, read[key{p.linkID, t}], written[key{p.linkID, t}])
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t\n", p.patient, p.provider, "devices", devices[p.linkID])
	}
	_ = tw.Flush()
	fmt.Fprintln(w, "\nFHIR server holds:")
	for _, t := range fhir.Types() {
		fmt.Fprintf(w, "  %-18s %d\n", t, fhir.Count(t))
	}
}
