package publish

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// FHIRError is a failure reported by a FHIR server: the HTTP status of a
// request or of one bundle entry, with the server's OperationOutcome when it
// sent one. Its message names the destination, the entry ("Observation/id")
// and the outcome's issue codes and locations, never the server's free-text
// diagnostics, which may echo resource values.
//
// A FHIRError matches the ohx sentinels through errors.Is: 429 is
// ohx.ErrRateLimited; 408, 409 and 5xx are ohx.ErrTransient; 401 and 403 are
// ohx.ErrAuth; any other status is ohx.ErrPermanent.
type FHIRError struct {
	// Destination is the publisher's name for the server.
	Destination string
	// Operation is "transaction", "batch", "read", "search" or "metadata".
	Operation string
	// Status is the HTTP status of the request or of the entry.
	Status int
	// Entry is the key ("Type/id") of the failing entry, or "" when the
	// failure concerns a whole request.
	Entry string
	// Outcome is the server's OperationOutcome, when it sent one.
	Outcome *r5.OperationOutcome
	// RetryAfter is the wait the server asked for (429, 503), if any.
	RetryAfter time.Duration
}

// Error implements error.
func (e *FHIRError) Error() string {
	var b strings.Builder
	b.WriteString("publish: fhir ")
	if e.Destination != "" {
		b.WriteString(e.Destination)
		b.WriteString(" ")
	}
	b.WriteString(e.Operation)
	if e.Entry != "" {
		b.WriteString(" entry ")
		b.WriteString(e.Entry)
	}
	fmt.Fprintf(&b, ": http %d", e.Status)
	if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" ")
		b.WriteString(t)
	}
	if s := outcomeSummary(e.Outcome); s != "" {
		b.WriteString(" (")
		b.WriteString(s)
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

// Is matches the sentinel of the status class.
func (e *FHIRError) Is(target error) bool {
	return target == statusSentinel(e.Status)
}

// RetryDelay returns RetryAfter; ohx.RetryAfter reads it.
func (e *FHIRError) RetryDelay() time.Duration { return e.RetryAfter }

func statusSentinel(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ohx.ErrRateLimited
	case status == http.StatusRequestTimeout || status == http.StatusConflict || status >= 500:
		return ohx.ErrTransient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ohx.ErrAuth
	default:
		return ohx.ErrPermanent
	}
}

// outcomeSummary renders the issues as "severity code at expression" without
// diagnostics or details text, which may carry values.
func outcomeSummary(o *r5.OperationOutcome) string {
	if o == nil {
		return ""
	}
	parts := make([]string, 0, len(o.Issue))
	for i, is := range o.Issue {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("%d more issues", len(o.Issue)-5))
			break
		}
		s := safeToken(is.Severity) + " " + safeToken(is.Code)
		if len(is.Expression) > 0 {
			exprs := make([]string, 0, len(is.Expression))
			for _, x := range is.Expression {
				exprs = append(exprs, safeExpression(x))
			}
			s += " at " + strings.Join(exprs, ", ")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// safeToken keeps a code if it looks like one.
func safeToken(s string) string {
	if len(s) == 0 || len(s) > 40 {
		return "?"
	}
	for _, r := range s {
		if !isAlnum(r) && r != '-' {
			return "?"
		}
	}
	return s
}

// safeExpression keeps a FHIRPath location made of names and indexes only;
// anything else (a function call with a literal) is dropped.
func safeExpression(s string) string {
	if len(s) == 0 || len(s) > 200 {
		return "?"
	}
	for _, r := range s {
		if !isAlnum(r) && !strings.ContainsRune(".[]_", r) {
			return "?"
		}
	}
	return s
}

// parseOutcome decodes an OperationOutcome, or returns nil.
func parseOutcome(body []byte) *r5.OperationOutcome {
	if len(body) == 0 {
		return nil
	}
	var o struct {
		ResourceType string `json:"resourceType"`
		r5.OperationOutcome
	}
	if err := json.Unmarshal(body, &o); err != nil || o.ResourceType != "OperationOutcome" {
		return nil
	}
	return &o.OperationOutcome
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}
