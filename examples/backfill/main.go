// Command backfill is a one-off backfill of one linked Withings account into a
// FHIR R5 server, day by day, with progress output. It uses the engine
// directly: no daemon, no queue, no database.
//
// As shipped it runs against withingstest, the in-process fake of the
// Withings cloud, so it needs no network and no credentials:
//
//	go run ./examples/backfill -days 7
//	go run ./examples/backfill -days 7 -fhir https://ehr.example/fhir -fhir-token "$TOKEN"
//
// Without -fhir it publishes to an in-process FHIR R5 test server
// (publish/fhirtest) and prints what that server holds. To backfill a real
// account, replace the fake with withings.Config{ClientID, ClientSecret}
// and the link and token with those of your own store (store/sqlite or
// store/postgres opened with your key ring).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/provider"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/publish/fhirtest"
	"github.com/openhealthexchange/ohx/resilience"
	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/withings"
	"github.com/openhealthexchange/ohx/withings/withingstest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "backfill:", err)
		os.Exit(1)
	}
}

// run parses the flags, wires the engine and backfills one day at a time.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(out)
	days := fs.Int("days", 7, "days to backfill, ending at -until")
	until := fs.String("until", "", "end of the backfill (RFC 3339); default: today 00:00 UTC")
	typeList := fs.String("types", "heart-rate,steps,body-weight,blood-pressure", "comma-separated data types")
	fhirURL := fs.String("fhir", "", "FHIR R5 base URL; empty publishes to an in-process test server")
	fhirToken := fs.String("fhir-token", "", "static bearer token for -fhir")
	perMinute := fs.Int("requests-per-minute", 120, "the Withings app's request budget (120 on the standard plan)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *perMinute < 1 {
		return errors.New("-requests-per-minute must be positive")
	}
	if *days < 1 || *days > 365 {
		return errors.New("-days must be between 1 and 365")
	}
	end := time.Now().UTC().Truncate(24 * time.Hour)
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return fmt.Errorf("-until: %w", err)
		}
		end = t.UTC()
	}
	var types []ohx.DataType
	for _, s := range strings.Split(*typeList, ",") {
		t, err := ohx.ParseDataType(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-types: %w", err)
		}
		types = append(types, t)
	}

	// The Withings cloud: the fake, with its clock at the end of the backfill.
	fake := withingstest.New(withingstest.Config{Now: func() time.Time { return end }})
	defer fake.Close()
	const withingsUser = 1001
	fake.AddUser(withingstest.User{ID: withingsUser, TimeZone: "Europe/Berlin"})

	// The link and its token; a real backfill reads both from its store.
	st := store.NewMemory()
	link := ohx.Link{
		ID: "link-backfill-1", Provider: withings.Name, ExternalUserID: fmt.Sprint(withingsUser),
		Patient: "Patient/example-1", Scopes: []string{withings.ScopeInfo, withings.ScopeMetrics, withings.ScopeActivity},
		TimeZone: "Europe/Berlin", Status: ohx.LinkActive,
	}
	if err := st.SaveLink(ctx, link); err != nil {
		return err
	}
	if err := st.SaveToken(ctx, link.ID, fake.IssueToken(withingsUser, link.Scopes...)); err != nil {
		return err
	}

	p, err := withings.New(withings.Config{
		ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		APIBaseURL: fake.URL(), AuthURL: fake.AuthURL(),
		// The app's budget is shared by every user of the app: a backfill
		// that runs beside a live service should take only a part of it.
		Common: provider.Common{
			HTTPClient: fake.Client(), Tokens: st, Locker: st,
			AppLimit: resilience.PerMinute(*perMinute),
		},
	})
	if err != nil {
		return err
	}

	// The destination.
	var fhirSrv *fhirtest.Server
	if *fhirURL == "" {
		fhirSrv = fhirtest.NewServer()
		defer fhirSrv.Close()
		*fhirURL = fhirSrv.URL
	}
	fcfg := publish.FHIRConfig{BaseURL: *fhirURL}
	if *fhirToken != "" {
		fcfg.Auth = publish.StaticToken(*fhirToken)
	}
	pub, err := publish.NewFHIR(fcfg)
	if err != nil {
		return err
	}
	tr, err := fhirmap.New(fhirmap.Config{})
	if err != nil {
		return err
	}

	engine, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{p}, Links: st, Cursors: st,
		Transformer: tr, Publisher: pub,
	})
	if err != nil {
		return err
	}

	// One backfill job per day, oldest first, so progress shows as it goes
	// and an interrupted run can resume where it stopped (-until).
	start := end.AddDate(0, 0, -*days)
	var read, written, rejected int
	began := time.Now()
	for i := range *days {
		w := ohx.Window{Start: start.AddDate(0, 0, i), End: start.AddDate(0, 0, i+1)}
		rep, err := engine.Sync(ctx, ohx.Job{LinkID: link.ID, Trigger: ohx.TriggerBackfill, DataTypes: types, Window: &w})
		if err != nil {
			return fmt.Errorf("day %s: %w (re-run with -until %s to resume)", w.Start.Format(time.DateOnly), err, w.End.Format(time.RFC3339))
		}
		read += rep.SamplesRead()
		written += rep.Written
		rejected += len(rep.Rejected)
		fmt.Fprintf(out, "[%d/%d] %s: %d samples read, %d resources written\n",
			i+1, *days, w.Start.Format(time.DateOnly), rep.SamplesRead(), rep.Written)
	}
	fmt.Fprintf(out, "done: %d days, %d samples, %d resources written, %d rejected, in %s\n",
		*days, read, written, rejected, time.Since(began).Round(time.Millisecond))
	if fhirSrv != nil {
		fmt.Fprintln(out, "the in-process FHIR server holds:")
		for _, t := range fhirSrv.Types() {
			fmt.Fprintf(out, "  %-18s %d\n", t, fhirSrv.Count(t))
		}
	}
	return nil
}
