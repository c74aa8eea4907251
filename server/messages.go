package server

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/text/language"

	"github.com/openhealthexchange/ohx"
)

// Messages is a catalog of the strings the patient-facing pages show (the
// connect page and the pages that refuse or explain), by message id. In a
// string, {org} stands for the organisation's name and {provider} for the
// provider's display name. DefaultMessages returns the English catalog,
// which also lists every id; a catalog of Config.Messages that lacks an id
// falls back to the English string.
type Messages map[string]string

// DefaultMessages returns the English catalog. Each call returns a new map,
// which a caller may change to start a translation.
func DefaultMessages() Messages {
	m := Messages{
		"lang":              "en",
		"org.default":       "Your care provider",
		"connect.title":     "Connect your {provider} account",
		"connect.lead":      "{org} asks to receive health data from your {provider} account, to add it to your health record.",
		"connect.types":     "These kinds of data will be shared:",
		"connect.how":       "Next you sign in at {provider} and agree there. {org} receives only the kinds of data listed here. You can disconnect at any time, at {provider} or by asking {org}.",
		"connect.button":    "Continue to {provider}",
		"connect.once":      "This page works once, and only in this browser. Please do not forward it.",
		"gone.title":        "This link no longer works",
		"gone.body":         "It was already opened, or it has expired. Please ask {org} for a new link.",
		"notfound.title":    "This link is not valid",
		"notfound.body":     "Please check that you opened the whole link, or ask {org} for a new one.",
		"browser.title":     "Please finish in the browser you started in",
		"browser.body":      "This connection was started in another browser, or the link was opened elsewhere first. Go back to the browser where you opened the link, or ask {org} for a new link.",
		"used.title":        "This connection was already completed",
		"used.body":         "There is nothing more to do here. If you did not complete it yourself, please tell {org}.",
		"invalid.title":     "This request is not valid",
		"invalid.body":      "The page you came from sent something ohx cannot use. Please ask {org} for a new link.",
		"error.title":       "Something went wrong",
		"error.body":        "Please try again later, or ask {org} for a new link.",
		"done.title":        "Your {provider} account is connected",
		"done.body":         "You can close this window.",
		"failed.title":      "Your {provider} account was not connected",
		"failed.body":       "You can close this window and ask {org} for a new link if you want to try again.",
		"provider.withings": "Withings",
		"provider.fitbit":   "Fitbit (Google)",
		"provider.oura":     "Oura",
	}
	for _, c := range ohx.DataTypes() {
		m["type."+string(c.Type)] = plainTypes[c.Type]
		if m["type."+string(c.Type)] == "" {
			m["type."+string(c.Type)] = c.Title
		}
	}
	return m
}

// plainTypes names the data types as a patient would.
var plainTypes = map[ohx.DataType]string{
	ohx.HeartRate:                "Heart rate",
	ohx.RestingHeartRate:         "Resting heart rate",
	ohx.Steps:                    "Steps",
	ohx.RRIntervals:              "Time between heartbeats",
	ohx.HRVRMSSD:                 "Heart rate variability",
	ohx.HRVSDNN:                  "Heart rate variability (SDNN)",
	ohx.ECG:                      "ECG recordings",
	ohx.BloodPressure:            "Blood pressure",
	ohx.BodyWeight:               "Weight",
	ohx.BodyFatRatio:             "Body fat percentage",
	ohx.FatMass:                  "Fat mass",
	ohx.FatFreeMass:              "Fat-free mass",
	ohx.MuscleMass:               "Muscle mass",
	ohx.Hydration:                "Body water",
	ohx.BoneMass:                 "Bone mass",
	ohx.BodyTemperature:          "Body temperature",
	ohx.SkinTemperature:          "Skin temperature",
	ohx.SkinTemperatureDeviation: "Changes in skin temperature",
	ohx.SpO2:                     "Blood oxygen (SpO2)",
	ohx.RespiratoryRate:          "Breathing rate",
	ohx.SleepSession:             "Sleep",
	ohx.PulseWaveVelocity:        "Pulse wave velocity (artery stiffness)",
	ohx.VO2Max:                   "Cardio fitness (VO2 max)",
	ohx.DailyRestingHeartRate:    "Daily resting heart rate",
	ohx.DailyHRV:                 "Daily heart rate variability",
	ohx.DailySpO2:                "Daily blood oxygen",
	ohx.DailyRespiratoryRate:     "Daily breathing rate",
}

// catalogs holds the configured catalogs, each completed with the English
// strings, and the matcher that picks one for a request.
type catalogs struct {
	byTag   []Messages
	matcher language.Matcher
}

func newCatalogs(extra map[string]Messages) (*catalogs, error) {
	en := DefaultMessages()
	c := &catalogs{byTag: []Messages{en}}
	tags := []language.Tag{language.English}
	// Sorted, so the pick among equal matches does not depend on map order.
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		tag, err := language.Parse(k)
		if err != nil {
			return nil, fmt.Errorf("server: messages: %q is not a BCP 47 language tag", k)
		}
		m := maps.Clone(en)
		maps.Copy(m, extra[k])
		if extra[k]["lang"] == "" {
			m["lang"] = tag.String()
		}
		c.byTag = append(c.byTag, m)
		tags = append(tags, tag)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// pick returns the catalog that best matches the request's Accept-Language.
func (c *catalogs) pick(r *http.Request) Messages {
	accept := r.Header.Get("Accept-Language")
	if accept == "" || len(accept) > 512 {
		return c.byTag[0]
	}
	tags, _, err := language.ParseAcceptLanguage(accept)
	if err != nil || len(tags) == 0 {
		return c.byTag[0]
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No || i < 0 || i >= len(c.byTag) {
		return c.byTag[0]
	}
	return c.byTag[i]
}

// text returns message id with {org} and {provider} filled in.
func (m Messages) text(id, org, provider string) string {
	return strings.NewReplacer("{org}", org, "{provider}", provider).Replace(m[id])
}

// providerName returns the provider's display name of the catalog.
func (m Messages) providerName(name string) string {
	if v := m["provider."+name]; v != "" {
		return v
	}
	return name
}
