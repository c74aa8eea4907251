package oura

import (
	"slices"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Scopes of the Oura API. The server enforces them per collection; a read
// without the scope answers 401 "Token is not authorized access <scope>
// scope." (see the package documentation).
const (
	ScopeDaily             = "daily"              // sleep, daily_activity, daily_readiness, daily_sleep
	ScopeHeartRate         = "heartrate"          // heartrate
	ScopeSpO2              = "spo2"               // daily_spo2
	ScopeHeartHealth       = "heart_health"       // vO2_max, daily_cardiovascular_age
	ScopeRingConfiguration = "ring_configuration" // ring_configuration (devices)
	ScopePersonal          = "personal"           // personal_info age, weight, height, sex
	ScopeEmail             = "email"              // personal_info email
	ScopeWorkout           = "workout"            // workout
	ScopeSession           = "session"            // session
	ScopeTag               = "tag"                // tag, enhanced_tag
	ScopeStress            = "stress"             // daily_stress, daily_resilience

	// scopeSpO2Spec is the name Oura's OpenAPI gives the SpO2 scope; the
	// server enforces "spo2". Both are asked for (unknown names are dropped
	// silently at consent) and both are accepted when granted.
	scopeSpO2Spec = "spo2Daily"
)

// collection is one Oura collection the provider reads and the ohx types it
// yields.
type collection struct {
	// path is the collection's path segment below /v2/usercollection/.
	path string
	// scope is the scope that grants it.
	scope string
	// types are the ohx types it yields.
	types []ohx.DataType
	// instants: queried with start_datetime/end_datetime (heartrate);
	// otherwise with start_date/end_date.
	instants bool
	// event is the webhook data_type that announces its documents ("" when
	// Oura sends no webhook for it).
	event string
}

// Collections read, in the order Fetch reads them.
var (
	heartRateCollection = &collection{path: "heartrate", scope: ScopeHeartRate, instants: true,
		types: []ohx.DataType{ohx.HeartRate}}
	sleepCollection = &collection{path: "sleep", scope: ScopeDaily, event: "sleep",
		types: []ohx.DataType{ohx.SleepSession, ohx.HRVRMSSD, ohx.DailyHRV, ohx.DailyRestingHeartRate, ohx.DailyRespiratoryRate}}
	activityCollection = &collection{path: "daily_activity", scope: ScopeDaily, event: "daily_activity",
		types: []ohx.DataType{ohx.Steps}}
	readinessCollection = &collection{path: "daily_readiness", scope: ScopeDaily, event: "daily_readiness",
		types: []ohx.DataType{ohx.SkinTemperatureDeviation}}
	spo2Collection = &collection{path: "daily_spo2", scope: ScopeSpO2, event: "daily_spo2",
		types: []ohx.DataType{ohx.DailySpO2}}
	vo2MaxCollection = &collection{path: "vO2_max", scope: ScopeHeartHealth, event: "vo2_max",
		types: []ohx.DataType{ohx.VO2Max}}

	collections = []*collection{heartRateCollection, sleepCollection, activityCollection, readinessCollection, spo2Collection, vo2MaxCollection}
)

// offered is the data types Oura offers, in catalog order.
var offered = func() []ohx.DataType {
	var out []ohx.DataType
	for _, info := range ohx.DataTypes() {
		if collectionOf(info.Type) != nil {
			out = append(out, info.Type)
		}
	}
	return out
}()

// collectionOf returns the collection that yields t, or nil.
func collectionOf(t ohx.DataType) *collection {
	for _, c := range collections {
		if slices.Contains(c.types, t) {
			return c
		}
	}
	return nil
}

// ScopeOf returns the scope an ohx type needs; ok is false for a type Oura
// does not offer.
func ScopeOf(t ohx.DataType) (scope string, ok bool) {
	if c := collectionOf(t); c != nil {
		return c.scope, true
	}
	return "", false
}

// ScopesFor returns the scopes to ask for so that types can be read (every
// offered type when types is empty), plus ring_configuration for devices.
// The SpO2 scope is asked for under both the name the server enforces and
// the one Oura's OpenAPI gives. personal_info's id, the user id ohx keeps,
// needs no scope; personal and email are never asked for.
func ScopesFor(types []ohx.DataType) []string {
	if len(types) == 0 {
		types = offered
	}
	scopes := []string{ScopeRingConfiguration}
	for _, t := range types {
		s, ok := ScopeOf(t)
		if !ok || slices.Contains(scopes, s) {
			continue
		}
		scopes = append(scopes, s)
		if s == ScopeSpO2 {
			scopes = append(scopes, scopeSpO2Spec)
		}
	}
	slices.Sort(scopes)
	return scopes
}

// normalizeScopes flattens granted scopes (space- or comma-separated
// entries), drops an "extapi:" prefix, lower-cases them and maps spo2Daily
// to spo2.
func normalizeScopes(scopes []string) []string {
	var out []string
	for _, entry := range scopes {
		for _, s := range strings.FieldsFunc(entry, func(r rune) bool { return r == ' ' || r == ',' }) {
			s = strings.ToLower(strings.TrimPrefix(strings.ToLower(s), "extapi:"))
			if s == strings.ToLower(scopeSpO2Spec) {
				s = ScopeSpO2
			}
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// eventTypes maps a webhook data_type to the ohx types to re-read.
func eventTypes(dataType string) []ohx.DataType {
	for _, c := range collections {
		if c.event != "" && c.event == dataType {
			return slices.Clone(c.types)
		}
	}
	return nil
}

// spanOf returns the longest window of one read of c.
func (p *Provider) spanOf(c *collection) time.Duration {
	if c.instants {
		return p.cfg.HeartRateSpan
	}
	return p.cfg.DailySpan
}
