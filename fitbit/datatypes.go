package fitbit

import (
	"slices"
	"strings"

	"github.com/openhealthexchange/ohx"
)

// scopePrefix is the prefix of every Google Health API scope.
const scopePrefix = "https://www.googleapis.com/auth/googlehealth."

// Scopes the provider asks for.
const (
	ScopeHealthMetrics = scopePrefix + "health_metrics_and_measurements.readonly"
	ScopeActivity      = scopePrefix + "activity_and_fitness.readonly"
	ScopeSleep         = scopePrefix + "sleep.readonly"
	ScopeECG           = scopePrefix + "ecg.readonly"
	ScopeSettings      = scopePrefix + "settings.readonly"
)

// recordKind says how a Google data type is filtered and how dense it is.
type recordKind int

const (
	kindSample   recordKind = iota + 1 // {t}.sample_time.physical_time
	kindInterval                       // {t}.interval.start_time
	kindDaily                          // {t}.date
	kindSleep                          // reconcile, sleep.interval.end_time
	kindECG                            // electrocardiogram.interval.start_time >= only
)

// googleType is one Google Health data type the provider reads.
type googleType struct {
	// ID is the kebab-case id used in paths ("heart-rate").
	ID string
	// Kind selects the filter field and the fetch plan.
	Kind recordKind
	// Dense types are read day by day; the others once per window.
	Dense bool
	// Scope is the read scope the type needs.
	Scope string
	// Yields are the ohx types mapped from the type.
	Yields []ohx.DataType
	// AllSources types are read without the data source family: weigh-ins
	// come from scales and manual logs, which google-wearables excludes.
	AllSources bool
}

// FilterName returns the snake_case id used in filters ("heart_rate").
func (g *googleType) FilterName() string { return strings.ReplaceAll(g.ID, "-", "_") }

var googleTypes = []*googleType{
	{ID: "heart-rate", Kind: kindSample, Dense: true, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.HeartRate}},
	{ID: "steps", Kind: kindInterval, Dense: true, Scope: ScopeActivity, Yields: []ohx.DataType{ohx.Steps}},
	{ID: "heart-rate-variability", Kind: kindSample, Dense: true, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.HRVRMSSD, ohx.HRVSDNN}},
	{ID: "oxygen-saturation", Kind: kindSample, Dense: true, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.SpO2}},
	{ID: "daily-heart-rate-variability", Kind: kindDaily, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.DailyHRV}},
	{ID: "daily-resting-heart-rate", Kind: kindDaily, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.DailyRestingHeartRate}},
	{ID: "daily-oxygen-saturation", Kind: kindDaily, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.DailySpO2}},
	{ID: "respiratory-rate-sleep-summary", Kind: kindSample, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.RespiratoryRate}},
	{ID: "daily-respiratory-rate", Kind: kindDaily, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.DailyRespiratoryRate}},
	{ID: "daily-sleep-temperature-derivations", Kind: kindDaily, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.SkinTemperature, ohx.SkinTemperatureDeviation}},
	{ID: "weight", Kind: kindSample, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.BodyWeight}, AllSources: true},
	{ID: "body-fat", Kind: kindSample, Scope: ScopeHealthMetrics, Yields: []ohx.DataType{ohx.BodyFatRatio}, AllSources: true},
	{ID: "sleep", Kind: kindSleep, Scope: ScopeSleep, Yields: []ohx.DataType{ohx.SleepSession}},
	{ID: "electrocardiogram", Kind: kindECG, Scope: ScopeECG, Yields: []ohx.DataType{ohx.ECG}},
}

// googleTypeByID returns the Google type with the kebab-case id.
func googleTypeByID(id string) *googleType {
	for _, g := range googleTypes {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// googleTypeOf returns the Google type an ohx type is read from.
func googleTypeOf(t ohx.DataType) *googleType {
	for _, g := range googleTypes {
		if slices.Contains(g.Yields, t) {
			return g
		}
	}
	return nil
}

// offered is the list of ohx types the provider can fetch, in catalog order.
var offered = func() []ohx.DataType {
	var out []ohx.DataType
	for _, info := range ohx.DataTypes() {
		if googleTypeOf(info.Type) != nil {
			out = append(out, info.Type)
		}
	}
	return out
}()

// scopeOf returns the read scope an ohx type needs; ok is false for a type the
// provider does not offer.
func scopeOf(t ohx.DataType) (scope string, ok bool) {
	g := googleTypeOf(t)
	if g == nil {
		return "", false
	}
	return g.Scope, true
}

// scopesFor returns the scopes to ask for so that types can be read, plus the
// settings scope (time zone and devices). Empty types means every offered
// type.
func scopesFor(types []ohx.DataType) []string {
	if len(types) == 0 {
		types = offered
	}
	scopes := []string{ScopeSettings}
	for _, t := range types {
		if s, ok := scopeOf(t); ok && !slices.Contains(scopes, s) {
			scopes = append(scopes, s)
		}
	}
	slices.Sort(scopes)
	return scopes
}

// splitScopes flattens scopes that may hold space-separated lists.
func splitScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		out = append(out, strings.Fields(s)...)
	}
	return out
}
