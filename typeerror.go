package ohx

import "fmt"

// TypeUnavailableError reports that a provider cannot read one data type of
// a link, for a reason that neither a token refresh nor a retry will fix: the
// user did not grant the scope the type needs (Oura answers such a read with
// HTTP 401 and a "not authorized access <scope> scope" detail, which is not
// an authentication failure of the link).
//
// A provider's Fetch yields it in place of a sample and goes on with the
// other types. The engine records the type in Report.Skipped with Reason,
// reads nothing more of it in that sync, leaves its cursor where it was and
// never retracts its resources because of the missing read; the other types
// sync as usual. A consumer that stops at the first error simply sees a
// permanent failure (the error matches its Err, normally a
// *ProviderError of KindPermanent).
type TypeUnavailableError struct {
	// Type is the data type that cannot be read.
	Type DataType
	// Reason says why, for the sync report: bounded text, no value, token
	// or body (e.g. "scope spo2 not granted by the user").
	Reason string
	// Err is the underlying error, normally a classified *ProviderError.
	Err error
}

// Error implements error.
func (e *TypeUnavailableError) Error() string {
	msg := fmt.Sprintf("ohx: %s unavailable: %s", e.Type, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *TypeUnavailableError) Unwrap() error { return e.Err }
