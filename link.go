package ohx

import (
	"slices"
	"time"
)

// LinkStatus is the state of a link.
type LinkStatus string

// Link states.
const (
	// LinkPending: the link was created and the patient was sent to the
	// provider's consent page; it becomes active on the OAuth callback.
	LinkPending LinkStatus = "pending"
	// LinkActive: tokens are valid as far as ohx knows; syncs run.
	LinkActive LinkStatus = "active"
	// LinkNeedsReconsent: the provider refused the tokens for good (revoked or
	// expired refresh token); the patient must link again. Syncs stop.
	LinkNeedsReconsent LinkStatus = "needs-reconsent"
	// LinkRevoked: the user or an operator unlinked the account. Syncs stop.
	LinkRevoked LinkStatus = "revoked"
)

// SyncFrequency says how a link is kept up to date.
type SyncFrequency string

// Sync frequencies.
const (
	// SyncRealtime: webhook-driven, plus the nightly reconciliation.
	SyncRealtime SyncFrequency = "realtime"
	// SyncHourly: polled incremental syncs every hour.
	SyncHourly SyncFrequency = "hourly"
	// SyncDaily: polled incremental syncs every day.
	SyncDaily SyncFrequency = "daily"
)

// Link connects a patient's account at a provider to a patient in the EHR. It
// holds no health data and no tokens (those are sealed in a TokenStore).
type Link struct {
	// ID is ohx's id of the link.
	ID string
	// Provider is the provider's name ("withings", "fitbit").
	Provider string
	// ExternalUserID is the provider's id of the user (Withings userid, Google
	// healthUserId); webhooks name users by it.
	ExternalUserID string
	// LegacyUserID is a provider's older id of the same user, kept for
	// migration only (Google's legacyUserId for former Fitbit accounts).
	LegacyUserID string
	// Patient is the FHIR reference of the patient, e.g. "Patient/123".
	Patient string
	// Scopes are the OAuth scopes the user actually granted.
	Scopes []string
	// DataTypes is the consent set: the data types the patient agreed to
	// share. Empty means every type the provider offers.
	DataTypes []DataType
	// TimeZone is the user's IANA time zone (from the provider at link time,
	// overridable); empty means UTC.
	TimeZone string
	// Frequency is how the link is kept up to date; empty means realtime.
	Frequency SyncFrequency
	// Status is the link's state.
	Status LinkStatus
	// Created and Updated are bookkeeping times.
	Created, Updated time.Time
}

// Location returns the link's time zone, or UTC when it is empty or unknown.
func (l *Link) Location() *time.Location {
	if l.TimeZone == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(l.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Consents reports whether the link's consent set allows t.
func (l *Link) Consents(t DataType) bool {
	return len(l.DataTypes) == 0 || slices.Contains(l.DataTypes, t)
}

// Token is an OAuth token as stores keep it (sealed at rest).
type Token struct {
	// AccessToken is the bearer token.
	AccessToken string
	// RefreshToken is the refresh token; providers may rotate it.
	RefreshToken string
	// TokenType is usually "Bearer".
	TokenType string
	// Expiry is when AccessToken expires.
	Expiry time.Time
	// Scope is the granted scope string as the provider returned it.
	Scope string
}
