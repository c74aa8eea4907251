package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/openhealthexchange/ohx"
)

// ConnectFlow is one patient connect flow: the one-time page that
// POST /v1/links answers as authorize_url, the browser that opened it, and
// the OAuth round trip that follows. It holds ids, allow-listed URLs and
// hashes; never a token, a code or the page's secret.
type ConnectFlow struct {
	// ID is the SHA-256 (hex) of the secret the connect URL carries; the
	// store never sees the secret itself.
	ID string
	// LinkID names the pending link the flow completes.
	LinkID string
	// Provider is the link's provider.
	Provider string
	// DataTypes are the data types the page tells the patient about.
	DataTypes []ohx.DataType
	// SuccessURL and ErrorURL are where the browser lands after the
	// provider (allow-listed when the flow was created).
	SuccessURL, ErrorURL string
	// Created is when the flow was created; Expires is when its page stops
	// opening and its form stops being accepted.
	Created, Expires time.Time
	// Opened is when a browser first opened the page (zero before), and
	// Browser the SHA-256 (hex) of that browser's binding cookie.
	Opened  time.Time
	Browser string
	// Consumed is when the OAuth callback used the flow (zero before); a
	// flow is consumed once, whatever the outcome.
	Consumed time.Time
}

// Connect flow errors. A store returns ohx.ErrNotFound for an unknown flow.
var (
	// ErrConnectUsed: the page was opened by another browser, or the flow
	// was consumed already.
	ErrConnectUsed = errors.New("store: connect flow already used")
	// ErrConnectExpired: the page was not opened before it expired.
	ErrConnectExpired = errors.New("store: connect flow expired")
	// ErrConnectBrowser: the browser is not the one that opened the page
	// (or no browser opened it yet).
	ErrConnectBrowser = errors.New("store: connect flow belongs to another browser")
)

// ConnectStore keeps connect flows, so that every replica of an API sees the
// same one-time pages and consumes each OAuth state once. Each transition is
// atomic: of two replicas racing on one flow, one wins.
type ConnectStore interface {
	// CreateConnectFlow stores a new flow; an existing id is an error.
	CreateConnectFlow(ctx context.Context, f ConnectFlow) error
	// OpenConnectFlow binds the flow to browser when it was never opened
	// and now is before its expiry, and returns it. A flow already opened
	// by the same browser is returned unchanged while it has not expired
	// and is not consumed (a reload); otherwise ErrConnectUsed,
	// ErrConnectExpired or ohx.ErrNotFound.
	OpenConnectFlow(ctx context.Context, id, browser string, now time.Time) (ConnectFlow, error)
	// ConsumeConnectFlow marks the flow consumed at now and returns it,
	// when browser is the one that opened it and it was not consumed yet;
	// otherwise ErrConnectBrowser (nothing changes), ErrConnectUsed or
	// ohx.ErrNotFound.
	ConsumeConnectFlow(ctx context.Context, id, browser string, now time.Time) (ConnectFlow, error)
	// DeleteConnectFlows deletes the flows that expired before before and
	// returns how many it deleted.
	DeleteConnectFlows(ctx context.Context, before time.Time) (int, error)
}

// TokenDeleter deletes a link's token while keeping the link (a revoked link
// keeps its history, not its credentials).
type TokenDeleter interface {
	// DeleteToken deletes the link's token; deleting none is no error.
	DeleteToken(ctx context.Context, linkID string) error
}

// OpenFlow applies OpenConnectFlow's rule to f in memory; stores that read a
// flow and write it back in one transaction share it. changed reports
// whether f must be written back.
func OpenFlow(f ConnectFlow, browser string, now time.Time) (out ConnectFlow, changed bool, err error) {
	switch {
	case browser == "":
		return f, false, ErrConnectBrowser
	case !f.Consumed.IsZero():
		return f, false, ErrConnectUsed
	case !now.Before(f.Expires):
		if !f.Opened.IsZero() && f.Browser != browser {
			return f, false, ErrConnectUsed
		}
		return f, false, ErrConnectExpired
	case f.Opened.IsZero():
		f.Opened, f.Browser = now.UTC(), browser
		return f, true, nil
	case f.Browser != browser:
		return f, false, ErrConnectUsed
	}
	return f, false, nil
}

// ConsumeFlow applies ConsumeConnectFlow's rule to f in memory.
func ConsumeFlow(f ConnectFlow, browser string, now time.Time) (ConnectFlow, error) {
	switch {
	case f.Opened.IsZero() || browser == "" || f.Browser != browser:
		return f, ErrConnectBrowser
	case !f.Consumed.IsZero():
		return f, ErrConnectUsed
	}
	f.Consumed = now.UTC()
	return f, nil
}

// CloneFlow returns f with its own slice.
func CloneFlow(f ConnectFlow) ConnectFlow {
	f.DataTypes = slices.Clone(f.DataTypes)
	return f
}
