package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/openhealthexchange/ohx"
)

func init() { commands["sync"] = runSync }

// syncStep is the longest window one engine run of a backfill covers, so the
// progress moves and an interrupted backfill keeps its finished days.
const syncStep = 24 * time.Hour

// runSync runs one incremental sync, or a backfill of [-from, -to), of one
// link directly on the engine (not through the queue), with the daemon's
// wiring and configuration. With -retract the backfill also marks
// entered-in-error the link's resources of the window that the current
// mapping no longer produces (what an earlier release wrote under other ids).
// It shows a progress bar when stdout is a terminal and one line per window
// otherwise, then prints the report.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	f, err := parseSyncFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(environ)
	if err != nil {
		return err
	}
	logOut := io.Discard
	if f.verbose {
		logOut = stderr
	}
	a, err := wire(ctx, cfg, wireOptions{logOut: logOut})
	if err != nil {
		return err
	}
	defer a.close()
	if a.engine == nil {
		return errors.New("no provider is configured: set OHX_WITHINGS_CLIENT_ID and/or OHX_GOOGLE_CLIENT_ID (see README)")
	}
	if f.retract && cfg.FHIRURL == "" {
		return errors.New("-retract needs a FHIR server to search (OHX_FHIR_URL); NDJSON files cannot be retracted")
	}
	link, err := a.store.Link(ctx, f.linkID)
	if errors.Is(err, ohx.ErrNotFound) {
		return fmt.Errorf("link %q not found", f.linkID)
	} else if err != nil {
		return fmt.Errorf("read link: %w", err)
	}
	for _, t := range f.types {
		if !slices.Contains(link.DataTypes, t) {
			return fmt.Errorf("-types: link %s does not sync %s (it syncs %s)", link.ID, t, joinTypes(link.DataTypes))
		}
	}

	jobs := syncJobs(link.ID, f.types, f.window, f.retract)
	bar := newProgress(stdout, len(jobs))
	total := &ohx.Report{LinkID: link.ID, Provider: link.Provider, Trigger: jobs[0].Trigger, Started: time.Now()}
	var runErr error
	for i, j := range jobs {
		rep, err := a.engine.Sync(ctx, j)
		mergeReport(total, rep)
		bar.step(i+1, j, rep)
		if err != nil {
			runErr = err
			break
		}
	}
	bar.done()
	total.Duration = time.Since(total.Started)
	printSyncReport(stdout, total)
	if runErr != nil {
		return fmt.Errorf("sync of %s failed: %w", link.ID, runErr)
	}
	return nil
}

// syncFlags are the flags of ohxd sync.
type syncFlags struct {
	linkID  string
	types   []ohx.DataType
	window  *ohx.Window // nil for an incremental sync
	retract bool
	verbose bool
}

func parseSyncFlags(args []string, stderr io.Writer) (syncFlags, error) {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	linkID := fs.String("link", "", "id of the link to sync (required)")
	types := fs.String("types", "", "comma-separated data types (default: every type of the link)")
	from := fs.String("from", "", "start of a backfill window (RFC 3339, inclusive); needs -to")
	to := fs.String("to", "", "end of a backfill window (RFC 3339, exclusive); needs -from")
	retract := fs.Bool("retract", false, "with -from and -to: also mark entered-in-error the link's resources in the window that the current mapping no longer produces (after an upgrade that changed resource ids)")
	verbose := fs.Bool("v", false, "show the daemon's logs on stderr")
	if err := fs.Parse(args); err != nil {
		return syncFlags{}, err
	}
	if fs.NArg() > 0 {
		return syncFlags{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *linkID == "" {
		return syncFlags{}, errors.New("-link is required")
	}
	window, err := parseWindow(*from, *to)
	if err != nil {
		return syncFlags{}, err
	}
	if *retract && window == nil {
		return syncFlags{}, errors.New("-retract needs a backfill window (-from and -to)")
	}
	f := syncFlags{linkID: *linkID, window: window, retract: *retract, verbose: *verbose}
	for _, s := range splitList(*types, ",") {
		t, err := ohx.ParseDataType(s)
		if err != nil {
			return syncFlags{}, fmt.Errorf("-types: %w", err)
		}
		f.types = append(f.types, t)
	}
	return f, nil
}

// parseWindow reads -from and -to; both empty means an incremental sync.
func parseWindow(from, to string) (*ohx.Window, error) {
	if from == "" && to == "" {
		return nil, nil
	}
	if from == "" || to == "" {
		return nil, errors.New("-from and -to go together (a backfill needs both)")
	}
	start, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return nil, errors.New("-from must be an RFC 3339 time (e.g. 2026-01-02T00:00:00Z)")
	}
	end, err := time.Parse(time.RFC3339, to)
	if err != nil {
		return nil, errors.New("-to must be an RFC 3339 time (e.g. 2026-01-09T00:00:00Z)")
	}
	if !end.After(start) {
		return nil, errors.New("-to must be after -from")
	}
	return &ohx.Window{Start: start.UTC(), End: end.UTC()}, nil
}

// syncJobs is one incremental job, or a backfill cut into syncStep windows,
// with retraction when retract is set.
func syncJobs(linkID string, types []ohx.DataType, w *ohx.Window, retract bool) []ohx.Job {
	if w == nil {
		return []ohx.Job{{LinkID: linkID, DataTypes: types, Trigger: ohx.TriggerIncremental}}
	}
	var jobs []ohx.Job
	for start := w.Start; start.Before(w.End); start = start.Add(syncStep) {
		end := start.Add(syncStep)
		if end.After(w.End) {
			end = w.End
		}
		jobs = append(jobs, ohx.Job{LinkID: linkID, DataTypes: types, Trigger: ohx.TriggerBackfill,
			Window: &ohx.Window{Start: start, End: end}, Deletion: retract})
	}
	return jobs
}

func mergeReport(dst, src *ohx.Report) {
	if src == nil {
		return
	}
	if dst.Types == nil {
		dst.Types = map[ohx.DataType]*ohx.TypeReport{}
	}
	for t, tr := range src.Types {
		d := dst.Types[t]
		if d == nil {
			d = &ohx.TypeReport{}
			dst.Types[t] = d
		}
		d.SamplesRead += tr.SamplesRead
		d.ResourcesWritten += tr.ResourcesWritten
		d.Retracted += tr.Retracted
		d.Skipped += tr.Skipped
		if tr.Cursor.After(d.Cursor) {
			d.Cursor = tr.Cursor
		}
	}
	dst.Devices += src.Devices
	dst.Written += src.Written
	dst.Rejected = append(dst.Rejected, src.Rejected...)
	for _, s := range src.Skipped {
		if !slices.Contains(dst.Skipped, s) {
			dst.Skipped = append(dst.Skipped, s)
		}
	}
}

// progress shows how many windows are done: a bar redrawn in place on a
// terminal, one line per window otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	total int
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		p.tty = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
	}
	return p
}

func (p *progress) step(n int, j ohx.Job, rep *ohx.Report) {
	read, written := 0, 0
	if rep != nil {
		for _, tr := range rep.Types {
			read += tr.SamplesRead
			written += tr.ResourcesWritten
		}
	}
	what := "incremental sync"
	if j.Window != nil {
		what = j.Window.Start.Format(time.RFC3339) + "/" + j.Window.End.Format(time.RFC3339)
	}
	if !p.tty {
		fmt.Fprintf(p.w, "window %d/%d %s: %d samples read, %d resources written\n", n, p.total, what, read, written)
		return
	}
	fmt.Fprintf(p.w, "\r%s %d/%d %s", bar(n, p.total, 30), n, p.total, what)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

// bar draws a bar of width cells, n of total filled.
func bar(n, total, width int) string {
	filled := width
	if total > 0 {
		filled = n * width / total
	}
	return "[" + strings.Repeat("#", filled) + strings.Repeat(".", width-filled) + "]"
}

func joinTypes(ts []ohx.DataType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// printSyncReport prints the counts per data type, then what was skipped and
// rejected and why. It prints counts only, never health values.
func printSyncReport(w io.Writer, r *ohx.Report) {
	fmt.Fprintf(w, "\n%s sync of link %s (%s) in %s\n\n", r.Trigger, r.LinkID, r.Provider, r.Duration.Round(time.Millisecond))
	types := make([]ohx.DataType, 0, len(r.Types))
	for t := range r.Types {
		types = append(types, t)
	}
	slices.Sort(types)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "data type\tsamples read\tresources written\tskipped\tcursor")
	read, written := 0, 0
	for _, t := range types {
		tr := r.Types[t]
		cursor := "-"
		if !tr.Cursor.IsZero() {
			cursor = tr.Cursor.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\n", t, tr.SamplesRead, tr.ResourcesWritten, tr.Skipped, cursor)
		read += tr.SamplesRead
		written += tr.ResourcesWritten
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t\t\n", read, written)
	_ = tw.Flush()
	fmt.Fprintf(w, "\n%d resources acknowledged in all (with devices and provenance)\n", r.Written)
	for _, t := range types {
		if n := r.Types[t].Retracted; n > 0 {
			fmt.Fprintf(w, "retracted %s: %d resources the current mapping no longer produces, now entered-in-error\n", t, n)
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Type, s.Reason)
	}
	for _, rj := range r.Rejected {
		fmt.Fprintf(w, "rejected %s: %s\n", rj.Key, rj.Reason)
	}
}
