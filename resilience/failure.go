package resilience

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/openhealthexchange/ohx"
)

// Failure describes one failed call the way a breaker logs and remembers
// it: who was called, which operation, the error kind, the HTTP status and
// the cause. Every text in it is scrubbed (see Scrub).
type Failure struct {
	// Provider is the provider called, for a provider call.
	Provider string
	// Destination is the destination called, for a publication.
	Destination string
	// Op is the operation ("getmeas", "transaction").
	Op string
	// Kind classifies the failure.
	Kind ohx.ErrorKind
	// HTTPStatus is the HTTP status of the answer; 0 when none came (a
	// network failure, a timeout).
	HTTPStatus int
	// Code is the remote party's own status or reason ("601",
	// "RESOURCE_EXHAUSTED"), if any.
	Code string
	// Cause is the underlying error, scrubbed; empty when the status says
	// it all.
	Cause string
}

// String returns "remote op: kind (http status, code): cause", leaving out
// what is unknown:
//
//	withings getmeas: transient: POST https://wbsapi.withings.net/measure: dial tcp 192.0.2.1:443: connect: connection refused
func (f Failure) String() string {
	var b strings.Builder
	for _, s := range []string{f.Provider, f.Destination, f.Op} {
		if s != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s)
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(f.Kind.String())
	switch {
	case f.HTTPStatus != 0 && f.Code != "":
		fmt.Fprintf(&b, " (http %d, %s)", f.HTTPStatus, f.Code)
	case f.HTTPStatus != 0:
		fmt.Fprintf(&b, " (http %d)", f.HTTPStatus)
	case f.Code != "":
		fmt.Fprintf(&b, " (%s)", f.Code)
	}
	if f.Cause != "" {
		b.WriteString(": ")
		b.WriteString(f.Cause)
	}
	return b.String()
}

// cause is the log field "cause": the underlying error, else the code, else
// the HTTP status.
func (f Failure) cause() string {
	switch {
	case f.Cause != "":
		return f.Cause
	case f.Code != "":
		return f.Code
	case f.HTTPStatus != 0:
		return fmt.Sprintf("http %d", f.HTTPStatus)
	}
	return f.Kind.String()
}

// FailureDescriber is implemented by errors that describe themselves to
// Describe; the FHIR publisher's request errors do.
type FailureDescriber interface {
	// Failure describes the error; Describe scrubs its texts.
	Failure() Failure
}

// Describe describes err for a log line: from the first FailureDescriber in
// its chain, else from the first *ohx.ProviderError, else from its kind
// (ohx.KindOf) and its message. The texts are scrubbed.
func Describe(err error) Failure {
	if err == nil {
		return Failure{}
	}
	var fd FailureDescriber
	if errors.As(err, &fd) {
		f := fd.Failure()
		f.Provider, f.Destination, f.Op = Scrub(f.Provider), Scrub(f.Destination), Scrub(f.Op)
		f.Code, f.Cause = Scrub(f.Code), Scrub(f.Cause)
		return f
	}
	var pe *ohx.ProviderError
	if errors.As(err, &pe) {
		f := Failure{Provider: Scrub(pe.Provider), Op: Scrub(pe.Op), Kind: pe.Kind, HTTPStatus: pe.HTTPStatus, Code: Scrub(pe.Code)}
		if pe.Err != nil {
			f.Cause = Scrub(pe.Err.Error())
		}
		return f
	}
	return Failure{Kind: ohx.KindOf(err), Cause: Scrub(err.Error())}
}

// secretKeys are the names whose values Scrub redacts.
const secretKeys = `access_token|refresh_token|id_token|client_secret|client_assertion|assertion|code|code_verifier|` +
	`password|secret|api_?key|token|signature|state`

// maxScrubbed bounds a scrubbed text, in bytes.
const maxScrubbed = 300

var (
	// urlRE finds absolute URLs.
	urlRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>\x60]+`)
	// credentialRE finds an authorization scheme and its credentials.
	credentialRE = regexp.MustCompile(`\b((?i:bearer)|Basic)\s+[A-Za-z0-9\-._~+/]+=*`)
	// formSecretRE finds secret-looking key=value pairs outside URLs (a form
	// body or a query quoted in an error).
	formSecretRE = regexp.MustCompile(`(?i)\b(` + secretKeys + `)=[^&\s"']+`)
	// jsonSecretRE finds secret-looking "key": "value" pairs (a JSON body
	// quoted in an error).
	jsonSecretRE = regexp.MustCompile(`(?i)"(` + secretKeys + `)"\s*:\s*"[^"]*"`)
)

// Scrub makes a text fit for a log line or an error message the way
// go-github strips secrets from URLs, and more strictly: every absolute URL
// loses its query, fragment and user info (scheme://host/path is kept, so
// the failing endpoint stays visible); "Bearer …" and "Basic …" credentials
// and secret-looking key=value or "key": "value" pairs become [redacted];
// only the first line is kept (x/oauth2 and others append the response body
// on the next lines) and at most 300 bytes of it.
func Scrub(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = urlRE.ReplaceAllStringFunc(s, scrubURL)
	s = credentialRE.ReplaceAllString(s, "$1 [redacted]")
	s = formSecretRE.ReplaceAllString(s, "$1=[redacted]")
	s = jsonSecretRE.ReplaceAllString(s, `"$1":"[redacted]"`)
	if len(s) > maxScrubbed {
		cut := maxScrubbed
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func scrubURL(raw string) string {
	// Punctuation that ends a URL in running text ("…/measure: dial tcp")
	// belongs to the text.
	trimmed := strings.TrimRight(raw, ":,;.)]")
	return scrubbedURL(trimmed) + raw[len(trimmed):]
}

func scrubbedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// Not a URL we can take apart: keep the scheme only.
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://[redacted]"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
