package fitbit

import "github.com/openhealthexchange/ohx/fitbit/internal/wire"

// dataTypeOf returns the Google Health API data type of a data point (the
// kebab-case id of the v4 type catalog), written beside the standard code.
func dataTypeOf(p *wire.DataPoint) string {
	switch {
	case p.HeartRate != nil:
		return "heart-rate"
	case p.Steps != nil:
		return "steps"
	case p.HeartRateVariability != nil:
		return "heart-rate-variability"
	case p.DailyHeartRateVariability != nil:
		return "daily-heart-rate-variability"
	case p.DailyRestingHeartRate != nil:
		return "daily-resting-heart-rate"
	case p.OxygenSaturation != nil:
		return "oxygen-saturation"
	case p.DailyOxygenSaturation != nil:
		return "daily-oxygen-saturation"
	case p.RespiratoryRateSleepSummary != nil:
		return "respiratory-rate-sleep-summary"
	case p.DailyRespiratoryRate != nil:
		return "daily-respiratory-rate"
	case p.DailySleepTemperatureDerivations != nil:
		return "daily-sleep-temperature-derivations"
	case p.Weight != nil:
		return "weight"
	case p.BodyFat != nil:
		return "body-fat"
	case p.Sleep != nil:
		return "sleep"
	case p.Electrocardiogram != nil:
		return "electrocardiogram"
	}
	return ""
}
