package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/validate"
)

// ErrNoCapabilityStatement says that the server answered GET [base]/metadata
// with something other than a CapabilityStatement stating its fhirVersion
// (404, an HTML page, a resource without fhirVersion), so its FHIR release
// is unknown. A server without /metadata can still be written to with
// FHIRConfig.SkipVersionCheck.
var ErrNoCapabilityStatement = errors.New("publish: no CapabilityStatement with a fhirVersion at [base]/metadata")

// noCapabilityError is an ErrNoCapabilityStatement with the destination,
// what the server answered instead and, for an HTTP status, the
// *FHIRError.
type noCapabilityError struct {
	dest, answer string
	cause        error
}

func (e *noCapabilityError) Error() string {
	return "publish: fhir " + e.dest + ": no CapabilityStatement with a fhirVersion at [base]/metadata (" + e.answer +
		"), so the server's FHIR release is unknown; set SkipVersionCheck to write to a server without one"
}

// Is matches ErrNoCapabilityStatement, and ohx.ErrPermanent when the server
// answered 200 with something else.
func (e *noCapabilityError) Is(target error) bool {
	return target == ErrNoCapabilityStatement || (e.cause == nil && target == ohx.ErrPermanent)
}

func (e *noCapabilityError) Unwrap() error { return e.cause }

// VersionError says that a FHIR server speaks another FHIR release than the
// publisher or a resource was to send, so nothing was sent. It matches
// ohx.ErrPermanent: sending again does not help, the configuration must
// change (FHIRConfig.Version, the transformer's version, or the server).
type VersionError struct {
	// Destination is the publisher's name for the server.
	Destination string
	// Server is the release the server speaks: the one its
	// CapabilityStatement states, or the publisher's Version when the check
	// is skipped. It is empty when the server states a release ohx does not
	// write (say 4.3.0, R4B).
	Server ohx.FHIRVersion
	// Stated is the fhirVersion of the server's CapabilityStatement
	// ("4.0.1"); empty when the check was skipped.
	Stated string
	// Sent is the release of what was to be sent: the publisher's
	// FHIRConfig.Version, or the release of the resource named by Entry.
	Sent ohx.FHIRVersion
	// Entry is the key ("Observation/id") of the first resource of another
	// release than the server's; empty when the publisher's own Version is
	// what differs.
	Entry string
}

// Error implements error. It names both releases.
func (e *VersionError) Error() string {
	var b strings.Builder
	b.WriteString("publish: fhir ")
	b.WriteString(e.Destination)
	server := "FHIR " + e.Server.String() + " (" + e.serverSource() + ")"
	switch {
	case e.Server == "":
		fmt.Fprintf(&b, " speaks FHIR %s (CapabilityStatement fhirVersion), a release ohx does not write (it writes R5 = %s and R4 = %s)",
			e.Stated, ohx.R5.Number(), ohx.R4.Number())
	case e.Entry == "":
		fmt.Fprintf(&b, " speaks %s but the publisher is configured for FHIR %s (%s)", server, e.Sent, e.Sent.Number())
	default:
		fmt.Fprintf(&b, ": resource %s is FHIR %s (%s) but the server speaks %s", e.Entry, e.Sent, e.Sent.Number(), server)
	}
	b.WriteString("; nothing was sent")
	return b.String()
}

func (e *VersionError) serverSource() string {
	if e.Stated == "" {
		return "configured; version check skipped"
	}
	return "CapabilityStatement fhirVersion " + e.Stated
}

// Is matches ohx.ErrPermanent.
func (e *VersionError) Is(target error) bool { return target == ohx.ErrPermanent }

// releaseOf maps a CapabilityStatement's fhirVersion to the release ohx
// writes in it. 4.0.0 is R4 as first published and 4.0.1 its technical
// correction (the FHIR version history, https://hl7.org/fhir/directory.html);
// 5.0.0 is R5. Ballots, snapshots and R4B (4.3.0) are none of them.
func releaseOf(fhirVersion string) (ohx.FHIRVersion, bool) {
	switch fhirVersion {
	case "4.0.0", "4.0.1":
		return ohx.R4, true
	case "5.0.0":
		return ohx.R5, true
	}
	return "", false
}

// statedRE is what a fhirVersion code looks like; anything else a server
// states is not repeated in errors.
var statedRE = regexp.MustCompile(`^[0-9A-Za-z.\-]{1,32}$`)

// serverRelease is what the publisher knows of the server's release.
type serverRelease struct {
	version ohx.FHIRVersion // "" when the stated fhirVersion is none ohx writes
	stated  string          // "" when the check is skipped
}

// Version returns the FHIR release the publisher sends (FHIRConfig.Version;
// R5 when that is zero).
func (p *FHIR) Version() ohx.FHIRVersion { return release(p.cfg.Version) }

// release returns v, with the zero value as R5.
func release(v ohx.FHIRVersion) ohx.FHIRVersion {
	if v == "" {
		return ohx.R5
	}
	return v
}

// Check reads the server's CapabilityStatement (GET [base]/metadata), unless
// FHIRConfig.SkipVersionCheck is set, and returns a *VersionError when the
// server speaks another FHIR release than the publisher's Version. Publish
// makes the same check before its first write; an application calls Check
// at start to fail early. The answer is kept for the publisher's lifetime;
// a failure to read it (network, 5xx after the retries, 401) is not, so the
// next call asks again. A 404 or an answer that is not a CapabilityStatement
// with a fhirVersion is an error that matches ErrNoCapabilityStatement.
func (p *FHIR) Check(ctx context.Context) error {
	srv, err := p.serverRelease(ctx)
	if err != nil {
		return err
	}
	if srv.version != p.Version() {
		return &VersionError{Destination: p.cfg.Name, Server: srv.version, Stated: srv.stated, Sent: p.Version()}
	}
	return nil
}

// checkVersions makes Check and then checks that every resource is of the
// publisher's release, before anything is sent.
func (p *FHIR) checkVersions(ctx context.Context, rs []ohx.Resource) error {
	if len(rs) == 0 {
		return nil
	}
	if err := p.Check(ctx); err != nil {
		return err
	}
	srv, _ := p.serverRelease(ctx) // known now
	for i := range rs {
		if v := release(rs[i].FHIRVersion); v != srv.version {
			return &VersionError{Destination: p.cfg.Name, Server: srv.version, Stated: srv.stated, Sent: v, Entry: safeKey(&rs[i])}
		}
	}
	return nil
}

// serverRelease returns the server's release, reading the
// CapabilityStatement once. Concurrent callers wait for the first one's
// answer (or for their context).
func (p *FHIR) serverRelease(ctx context.Context) (serverRelease, error) {
	if p.cfg.SkipVersionCheck {
		return serverRelease{version: p.Version()}, nil
	}
	select {
	case p.metaLock <- struct{}{}:
	case <-ctx.Done():
		return serverRelease{}, ctx.Err()
	}
	defer func() { <-p.metaLock }()
	if p.server != nil {
		return *p.server, nil
	}
	srv, err := p.readMetadata(ctx)
	if err != nil {
		return serverRelease{}, err
	}
	p.server = &srv
	return srv, nil
}

// readMetadata asks the server for its CapabilityStatement, with the
// publisher's authentication, retries and breaker.
func (p *FHIR) readMetadata(ctx context.Context) (serverRelease, error) {
	r, err := p.do(ctx, "metadata", http.MethodGet, p.base+"/metadata", nil)
	if err != nil {
		return serverRelease{}, fmt.Errorf("publish: fhir %s: read the CapabilityStatement (GET [base]/metadata): %w", p.cfg.Name, err)
	}
	if r.status != http.StatusOK {
		ferr := p.requestError("metadata", r)
		if errors.Is(ferr, ohx.ErrAuth) {
			return serverRelease{}, fmt.Errorf("publish: fhir %s: read the CapabilityStatement (GET [base]/metadata): %w", p.cfg.Name, ferr)
		}
		return serverRelease{}, &noCapabilityError{dest: p.cfg.Name, answer: statusText(r.status), cause: ferr}
	}
	var cs struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
	}
	if err := json.Unmarshal(r.body, &cs); err != nil || cs.ResourceType != "CapabilityStatement" {
		return serverRelease{}, &noCapabilityError{dest: p.cfg.Name, answer: "the answer is not a CapabilityStatement"}
	}
	if cs.FHIRVersion == "" {
		return serverRelease{}, &noCapabilityError{dest: p.cfg.Name, answer: "the CapabilityStatement states no fhirVersion"}
	}
	stated := cs.FHIRVersion
	if !statedRE.MatchString(stated) {
		stated = "?"
	}
	v, _ := releaseOf(cs.FHIRVersion)
	p.log.Debug("fhir: server release read", zap.String("destination", p.cfg.Name), zap.String("fhir_version", stated))
	return serverRelease{version: v, stated: stated}, nil
}

// statusText renders an HTTP status as "http 404 Not Found".
func statusText(status int) string {
	return strings.TrimSpace(fmt.Sprintf("http %d %s", status, http.StatusText(status)))
}

// validatorOf returns the default validation of a release: its schema plus
// fhirmap's checks.
func validatorOf(v ohx.FHIRVersion) func([]byte) error {
	return func(data []byte) error { return validate.ResourceVersion(v, data) }
}
