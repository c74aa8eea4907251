// Command embed shows ohx inside an existing net/http service: the service
// keeps its own routes, brings its own storage and job system through ohx's
// interfaces, and mounts ohx's HTTP surface (linking API, OAuth callback,
// provider webhooks, health) under /ohx/ of its own mux.
//
//   - inHouseStore wraps a store (here store.Memory; in your service, your
//     database through store/postgres or your own server.Store) and keeps the
//     service's own index of which patient has which wearable, served at
//     GET /patients/{id}/wearables.
//   - workerPool adapts a job system to ohx.Queue: Enqueue and Run, with
//     retries that follow ohx.Retryable and ohx.RetryAfter.
//   - server.New wires the linking flow, webhooks and workers around an
//     ohx.Engine.
//
// As shipped it runs against withingstest (the fake Withings cloud) and
// fhirtest (an in-process FHIR R5 server): it links one patient through the
// real OAuth redirect flow, waits for the initial sync, sends one Withings
// notification, and prints what the FHIR server holds.
//
//	go run ./examples/embed            # the walkthrough, then exit
//	go run ./examples/embed -serve     # keep serving on -addr afterwards
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
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/server"
	"github.com/openhealthexchange/ohx/server/connecttest"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

// inHouseStore is the service's store: every method goes to the wrapped
// store, and saving a link also updates the service's own index of patients'
// wearables. It wraps a server.Store (an ohx.Store that can also list links,
// for the scheduler): wrapping a plain ohx.Store would not compile where
// server.Config needs it.
type inHouseStore struct {
	server.Store

	mu        sync.Mutex
	wearables map[string]map[string]ohx.LinkStatus // patient → provider → status
}

// SaveLink implements ohx.LinkWriter.
func (s *inHouseStore) SaveLink(ctx context.Context, l ohx.Link) error {
	if err := s.Store.SaveLink(ctx, l); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wearables[l.Patient] == nil {
		s.wearables[l.Patient] = map[string]ohx.LinkStatus{}
	}
	s.wearables[l.Patient][l.Provider] = l.Status
	return nil
}

func (s *inHouseStore) patientWearables(patient string) map[string]ohx.LinkStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]ohx.LinkStatus{}
	for p, st := range s.wearables[patient] {
		out[p] = st
	}
	return out
}

// workerPool adapts an in-process job system to ohx.Queue. It has no
// coalescing and no durability: a real adapter maps Enqueue and Run onto
// the service's existing queue (or uses queue.Memory or queue/redisq).
type workerPool struct {
	workers     int
	maxAttempts int

	mu      sync.Mutex
	pending int
	jobs    chan ohx.Job
}

func newWorkerPool(workers, maxAttempts int) *workerPool {
	return &workerPool{workers: workers, maxAttempts: maxAttempts, jobs: make(chan ohx.Job, 1024)}
}

var _ ohx.Queue = (*workerPool)(nil)

// Enqueue implements ohx.Queue. Delays are honoured by a timer.
func (q *workerPool) Enqueue(ctx context.Context, j ohx.Job, opts ohx.EnqueueOptions) (string, error) {
	if err := j.Validate(); err != nil {
		return "", err
	}
	if j.ID == "" {
		j.ID = "job-" + randomHex(8)
	}
	if j.EnqueuedAt.IsZero() {
		j.EnqueuedAt = time.Now().UTC()
	}
	q.mu.Lock()
	q.pending++
	q.mu.Unlock()
	if opts.Delay <= 0 {
		return j.ID, q.push(ctx, j)
	}
	time.AfterFunc(opts.Delay, func() { _ = q.push(context.Background(), j) })
	return j.ID, nil
}

func (q *workerPool) push(ctx context.Context, j ohx.Job) error {
	select {
	case q.jobs <- j:
		return nil
	case <-ctx.Done():
		q.done()
		return ctx.Err()
	}
}

func (q *workerPool) done() {
	q.mu.Lock()
	q.pending--
	q.mu.Unlock()
}

// idle reports whether no job is queued, delayed or running.
func (q *workerPool) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending == 0
}

// Run implements ohx.Queue: it runs jobs with h until ctx ends. A failed job
// is retried after an exponential backoff (at least what ohx.RetryAfter asks)
// unless ohx.Retryable says it is final.
func (q *workerPool) Run(ctx context.Context, h ohx.Handler) error {
	var wg sync.WaitGroup
	for range q.workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-q.jobs:
					err := h.HandleJob(ctx, j)
					if err == nil || !ohx.Retryable(err) || j.Attempt+1 >= q.maxAttempts || ctx.Err() != nil {
						q.done()
						continue
					}
					wait := max(ohx.RetryAfter(err), time.Duration(1<<j.Attempt)*time.Second+mrand.N(time.Second))
					j.Attempt++
					time.AfterFunc(wait, func() { _ = q.push(context.Background(), j) })
				}
			}
		})
	}
	wg.Wait()
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "127.0.0.1:0", "listen address of the service")
	serve := fs.Bool("serve", false, "keep serving after the walkthrough until interrupted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()

	// The remote parties: the fake Withings cloud and the EHR's FHIR server.
	wfake := withingstest.NewServer(withingstest.Config{})
	defer wfake.Close()
	const withingsUser = 2002
	wfake.AddUser(withingstest.User{ID: withingsUser, TimeZone: "Europe/Berlin"})
	wfake.ApproveAs(withingsUser)
	fhirSrv := fhirtest.NewServer()
	defer fhirSrv.Close()

	// The service's own parts, behind ohx's interfaces.
	st := &inHouseStore{Store: store.NewMemory(), wearables: map[string]map[string]ohx.LinkStatus{}}
	queue := newWorkerPool(2, 5)

	webhookSecret := randomHex(16)
	wp, err := withings.New(withings.Config{
		ClientID: wfake.ClientID(), ClientSecret: wfake.ClientSecret(),
		RedirectURL: base + "/ohx/oauth/withings/callback",
		CallbackURL: base + "/ohx/webhooks/withings/" + webhookSecret,
		APIBaseURL:  wfake.URL(), AuthURL: wfake.AuthURL(),
		Webhook: withings.WebhookConfig{Secret: webhookSecret},
		Common:  provider.Common{Tokens: st, Locker: st},
	})
	if err != nil {
		return err
	}
	pub, err := publish.NewFHIR(publish.FHIRConfig{BaseURL: fhirSrv.URL})
	if err != nil {
		return err
	}
	tr, err := fhirmap.New(fhirmap.Config{})
	if err != nil {
		return err
	}
	engine, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{wp}, Links: st, Cursors: st, Transformer: tr, Publisher: pub,
		Strategy: ohx.DefaultStrategy{InitialLookback: 3 * 24 * time.Hour},
	})
	if err != nil {
		return err
	}
	apiKey := randomHex(16)
	stateKey := make([]byte, 32)
	_, _ = rand.Read(stateKey) // in production: derive it from your key ring (seal.KeyRing.SubKey)
	srv, err := server.New(server.Config{
		Store: st, Queue: queue, Engine: engine, Providers: []ohx.Provider{wp},
		PublicURL: base + "/ohx", StateKey: stateKey, APIKeys: []string{apiKey},
		RedirectAllowlist: []string{base + "/patients/"}, OrganizationName: "Example Clinic",
		Debounce: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}

	// The existing service's mux: its own routes, and ohx under /ohx/.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /patients/{id}/wearables", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st.patientWearables("Patient/" + r.PathValue("id")))
	})
	mux.HandleFunc("GET /patients/{id}/linked", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "Your wearable is connected.\n")
	})
	mux.Handle("/ohx/", http.StripPrefix("/ohx", srv.Handler()))

	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = hs.Serve(ln) })
	wg.Go(func() { _ = srv.RunWorkers(ctx) })
	defer func() {
		cancel()
		_ = hs.Close()
		wg.Wait()
	}()
	fmt.Fprintln(out, "service listening on", base)

	if err := walkthrough(ctx, out, base, apiKey, queue, wfake, fhirSrv); err != nil {
		return err
	}
	if *serve {
		fmt.Fprintln(out, "serving until interrupted")
		<-ctx.Done()
	}
	return nil
}

// walkthrough links a patient as the EHR's front end would, waits for the
// initial sync, then plays one Withings notification.
func walkthrough(ctx context.Context, out io.Writer, base, apiKey string, q *workerPool, wfake *withingstest.Server, fhirSrv *fhirtest.Server) error {
	body := `{"provider":"withings","patient":"Patient/42","data_types":["body-weight","blood-pressure"],` +
		`"success_url":"` + base + `/patients/42/linked","error_url":"` + base + `/patients/42/failed"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ohx/v1/links", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	var created struct {
		AuthorizeURL string `json:"authorize_url"`
	}
	err = json.NewDecoder(resp.Body).Decode(&created)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create link: status %d", resp.StatusCode)
	}
	fmt.Fprintln(out, "link created; the patient's browser opens the connect page")

	// The patient's browser, in the patient's session of the EHR right
	// after the link was created: ohx's connect page (under /ohx/), its
	// button, the consent at Withings (the fake approves at once), the OAuth
	// callback under /ohx/, then the service's own success page.
	patient := connecttest.New(nil)
	landing, err := patient.Connect(ctx, created.AuthorizeURL)
	if err != nil {
		return err
	}
	_, page, err := patient.Get(ctx, landing) //nolint:bodyclose // Get read and closed the body
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "browser landed on %s: %s", strings.SplitN(strings.TrimPrefix(landing, base), "?", 2)[0], page)

	if err := waitIdle(ctx, q); err != nil {
		return err
	}
	fmt.Fprintln(out, "initial sync done; FHIR Observations:", fhirSrv.Count("Observation"))

	// Withings notifies new weigh-ins; the push job re-reads that window.
	now := time.Now().UTC()
	if err := wfake.Notify(ctx, withingstest.Notification{UserID: 2002, Appli: withings.AppliWeight,
		Start: now.Add(-24 * time.Hour), End: now}); err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	time.Sleep(300 * time.Millisecond) // the push job's debounce
	if err := waitIdle(ctx, q); err != nil {
		return err
	}

	req, err = http.NewRequestWithContext(ctx, http.MethodGet, base+"/patients/42/wearables", nil)
	if err != nil {
		return err
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	wearables, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	fmt.Fprintf(out, "GET /patients/42/wearables: %s", wearables)
	fmt.Fprintln(out, "the FHIR server holds:")
	types := fhirSrv.Types()
	slices.Sort(types)
	for _, t := range types {
		fmt.Fprintf(out, "  %-18s %d\n", t, fhirSrv.Count(t))
	}
	return nil
}

func waitIdle(ctx context.Context, q *workerPool) error {
	for calm := 0; calm < 3; {
		if q.idle() {
			calm++
		} else {
			calm = 0
		}
		select {
		case <-ctx.Done():
			return errors.New("the jobs did not finish in time")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
