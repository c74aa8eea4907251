package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap"
	"github.com/openhealthexchange/ohx/ohxtest"
	"github.com/openhealthexchange/ohx/publish"
	"github.com/openhealthexchange/ohx/store"
)

// runDemo runs the whole path on in-process fakes: no network, no services.
func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "./ohx-demo", "directory for the NDJSON output (one file per resource type)")
	days := fs.Int("days", 7, "days of history for the initial sync")
	until := fs.String("until", "", "end of the synced history (RFC 3339); default: today 00:00 UTC, so runs on one day give identical output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *days < 1 || *days > 90 {
		return fmt.Errorf("-days must be between 1 and 90")
	}
	start := time.Now()

	st := store.NewMemory()
	prov := &ohxtest.Provider{ProviderName: "demo", Offset: time.Hour,
		Types: []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.ECG, ohx.BodyWeight}}
	tr, err := fhirmap.New(fhirmap.Config{SoftwareVersion: version})
	if err != nil {
		return err
	}
	ndjson, err := publish.NewNDJSON(*out)
	if err != nil {
		return err
	}
	defer func() { _ = ndjson.Close() }()

	now := time.Now().UTC().Truncate(24 * time.Hour)
	if *until != "" {
		if now, err = time.Parse(time.RFC3339, *until); err != nil {
			return fmt.Errorf("-until: %w", err)
		}
	}
	eng, err := ohx.NewEngine(ohx.EngineConfig{
		Providers: []ohx.Provider{prov}, Links: st, Cursors: st, Transformer: tr, Publisher: ndjson,
		Strategy: ohx.DefaultStrategy{InitialLookback: time.Duration(*days) * 24 * time.Hour},
		Now:      func() time.Time { return now },
	})
	if err != nil {
		return err
	}
	link := ohx.Link{ID: "demo-link-1", Provider: prov.Name(), ExternalUserID: "demo-user-1",
		Patient: "Patient/demo-1", Status: ohx.LinkActive, TimeZone: "Europe/Berlin"}
	if err := st.SaveLink(ctx, link); err != nil {
		return err
	}

	var reports []*ohx.Report
	for _, j := range []ohx.Job{
		{LinkID: link.ID, Trigger: ohx.TriggerDeviceSync},
		{LinkID: link.ID, Trigger: ohx.TriggerInitial},
	} {
		rep, err := eng.Sync(ctx, j)
		if err != nil {
			return fmt.Errorf("%s sync: %w", j.Trigger, err)
		}
		reports = append(reports, rep)
	}
	if err := ndjson.Flush(ctx); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "ohx demo: %d days of %s data for %s written to %s in %s\n\n",
		*days, prov.Name(), link.Patient, *out, time.Since(start).Round(time.Millisecond))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "patient\tprovider\tdata type\tsamples read\tresources written")
	for _, rep := range reports {
		types := make([]ohx.DataType, 0, len(rep.Types))
		for t := range rep.Types {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			tr := rep.Types[t]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", link.Patient, rep.Provider, t, tr.SamplesRead, tr.ResourcesWritten)
		}
		if rep.Devices > 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", link.Patient, rep.Provider, "devices", rep.Devices, rep.Written)
		}
	}
	return tw.Flush()
}
