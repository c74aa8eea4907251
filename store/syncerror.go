package store

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/openhealthexchange/ohx"
)

// maxSyncErrorLen bounds the stored message.
const maxSyncErrorLen = 200

// SyncErrorMessage classifies err for SyncStatus: it returns the kind name
// (ohx.KindOf, or "cancelled" for a cancelled or timed-out context) and a
// short message built only from fields known to be free of tokens and health
// values: for an *ohx.ProviderError its provider, operation, kind, HTTP
// status and provider code; for anything else the kind alone. The error's own
// text is never kept, since a wrapped error (a FHIR server's diagnostics, say)
// may quote the data that failed.
func SyncErrorMessage(err error) (kind, msg string) {
	if err == nil {
		return "", ""
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "cancelled", "cancelled"
	}
	k := ohx.KindOf(err)
	kind = k.String()
	var pe *ohx.ProviderError
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("%s %s: %s", pe.Provider, pe.Op, kind)
		switch {
		case pe.HTTPStatus != 0 && pe.Code != "":
			msg += fmt.Sprintf(" (http %d, %s)", pe.HTTPStatus, pe.Code)
		case pe.HTTPStatus != 0:
			msg += fmt.Sprintf(" (http %d)", pe.HTTPStatus)
		case pe.Code != "":
			msg += " (" + pe.Code + ")"
		}
	} else {
		msg = kind + " error"
	}
	if len(msg) > maxSyncErrorLen {
		msg = truncate(msg, maxSyncErrorLen)
	}
	return kind, msg
}

// truncate cuts s to at most n bytes, ending with "..." and never inside a
// UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
