package fhirmap

import (
	"github.com/openhealthexchange/ohx"
)

// Code systems and value sets used by the mapping. Every URL here is the
// official identifier of an external terminology; systems we own are built
// from the configurable base URI (see Config.BaseURI).
const (
	// SystemLOINC is LOINC (https://loinc.org).
	SystemLOINC = "http://loinc.org"
	// SystemSNOMED is SNOMED CT.
	SystemSNOMED = "http://snomed.info/sct"
	// SystemUCUM is UCUM, the unit system of every Quantity we emit.
	SystemUCUM = "http://unitsofmeasure.org"
	// SystemMDC is ISO/IEEE 11073-10101 (MDC), as used by the R5 example
	// Observation "ekg" (observation-example-sample-data).
	SystemMDC = "urn:oid:2.16.840.1.113883.6.24"
	// SystemObservationCategory is the HL7 observation-category code system.
	SystemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	// SystemObservationStatistics is the HL7 observation-statistics code system
	// (average, minimum, maximum, count, sum, …).
	SystemObservationStatistics = "http://terminology.hl7.org/CodeSystem/observation-statistics"
	// SystemDiagnosticServiceSection is HL7 v2 table 0074 (EC = electrocardiac).
	SystemDiagnosticServiceSection = "http://terminology.hl7.org/CodeSystem/v2-0074"
	// SystemProvenanceParticipantType is the HL7 provenance-participant-type code system.
	SystemProvenanceParticipantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	// SystemIETF3986 marks an Identifier whose value is a URI.
	SystemIETF3986 = "urn:ietf:rfc:3986"

	ucum = SystemUCUM
)

// ownCode marks a coding in the code system we own, {BaseURI}:code.
const ownCode = "\x00own"

// code is one coding of a mapping table; System ownCode means our own system.
type code struct {
	System, Code, Display string
}

// componentMap maps one ohx component code to FHIR.
type componentMap struct {
	Component string
	Codes     []code
	Text      string
}

// Value shapes, as written in the mapping table.
const (
	valueQuantity    = "valueQuantity"
	valueComponents  = "component[] (no value)"
	valueSleep       = "valueQuantity (total sleep) + component[] stages"
	valueSampledData = "valueSampledData"
)

// mapping is one row of the mapping table: how a data type becomes FHIR.
type mapping struct {
	Type     ohx.DataType
	Resource string
	Category string // observation-category code
	Codes    []code
	Text     string // code.text
	Value    string
	// Components maps component codes of ShapeComponents samples (and extra
	// components of quantity samples, such as a skin-temperature baseline).
	Components []componentMap
	// Note explains choices such as the absence of a standard code.
	Note string
	// Day, when set, maps a sample of the type that is a provider's total
	// over one day (see dayTotal) instead of Codes, Text and the catalog unit.
	Day *dayMapping
	// Former lists codes earlier releases published the type with (same
	// Text): a retraction searches for them too, so a backfill with
	// retraction withdraws what an earlier mapping wrote (see CHANGELOG).
	// Our own code named after the type ({BaseURI}:code|{type}) is always
	// searched and need not be listed.
	Former []code
}

// dayMapping is how a provider's day total of a count is published.
type dayMapping struct {
	Codes []code
	Text  string
	// Unit is the UCUM code of the value and UnitText its human form.
	Unit, UnitText string
}

// Codes. Sources:
//   - FHIR R5 vital signs profiles (hl7.org/fhir/R5/observation-vitalsigns.html):
//     8867-4, 85354-9, 8480-6, 8462-4, 29463-7, 8310-5, 2708-6, 59408-5, 9279-1.
//   - LOINC (loinc.org, release 2.82): 40443-4 Heart rate --resting;
//     55423-8 Number of steps in unspecified time Pedometer; 80404-7 R-R
//     interval.standard deviation (Heart rate variability); 41982-0
//     Percentage of body fat Measured; 73708-0 Body fat [Mass] Calculated;
//     73964-9 Body muscle mass Calculated; 101683-1 Body water mass;
//     61008-9 Body surface temperature; 93832-4 Sleep duration, 93831-6
//     Deep sleep duration, 93830-8 Light sleep duration, 93829-0 REM sleep
//     duration (the LOINC 2.67 sleep terms); 11524-6 EKG study.
//   - MDC (ISO/IEEE 11073-10101) 131329 MDC_ECG_ELEC_POTL_I, 131328
//     MDC_ECG_ELEC_POTL, as in the R5 example Observation "ekg".
//   - SNOMED CT: 426783006 Normal sinus rhythm (finding), 49436004 Atrial
//     fibrillation (disorder), 49062001 Device (physical object).
//
// Where no standard code was verified (RMSSD, RR intervals, fat-free mass,
// bone mass, skin-temperature deviation and baseline, pulse wave velocity,
// VO2max, awake and in-bed durations) the coding is ours ({BaseURI}:code)
// and code.text names the measurement; the table says so.
var (
	cHeartRate   = code{SystemLOINC, "8867-4", "Heart rate"}
	cRestingHR   = code{SystemLOINC, "40443-4", "Heart rate --resting"}
	cSteps       = code{SystemLOINC, "55423-8", "Number of steps in unspecified time Pedometer"}
	cSDNN        = code{SystemLOINC, "80404-7", "R-R interval.standard deviation (Heart rate variability)"}
	cBPPanel     = code{SystemLOINC, "85354-9", "Blood pressure panel with all children optional"}
	cSystolic    = code{SystemLOINC, "8480-6", "Systolic blood pressure"}
	cDiastolic   = code{SystemLOINC, "8462-4", "Diastolic blood pressure"}
	cWeight      = code{SystemLOINC, "29463-7", "Body weight"}
	cFatRatio    = code{SystemLOINC, "41982-0", "Percentage of body fat Measured"}
	cFatMass     = code{SystemLOINC, "73708-0", "Body fat [Mass] Calculated"}
	cMuscleMass  = code{SystemLOINC, "73964-9", "Body muscle mass Calculated"}
	cWaterMass   = code{SystemLOINC, "101683-1", "Body water mass"}
	cBodyTemp    = code{SystemLOINC, "8310-5", "Body temperature"}
	cSkinTemp    = code{SystemLOINC, "61008-9", "Body surface temperature"}
	cSpO2        = code{SystemLOINC, "2708-6", "Oxygen saturation in Arterial blood"}
	cSpO2Pulse   = code{SystemLOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}
	cRespRate    = code{SystemLOINC, "9279-1", "Respiratory rate"}
	cSleep       = code{SystemLOINC, "93832-4", "Sleep duration"}
	cSleepDeep   = code{SystemLOINC, "93831-6", "Deep sleep duration"}
	cSleepLight  = code{SystemLOINC, "93830-8", "Light sleep duration"}
	cSleepREM    = code{SystemLOINC, "93829-0", "REM sleep duration"}
	cEKGStudy    = code{SystemLOINC, "11524-6", "EKG study"}
	cECGLeadI    = code{SystemMDC, "131329", "MDC_ECG_ELEC_POTL_I"}
	cECGLead     = code{SystemMDC, "131328", "MDC_ECG_ELEC_POTL"}
	cSinusRhythm = code{SystemSNOMED, "426783006", "Normal sinus rhythm"}
	cAFib        = code{SystemSNOMED, "49436004", "Atrial fibrillation"}
	cDevice      = code{SystemSNOMED, "49062001", "Device"}

	own = func(c, display string) code { return code{ownCode, c, display} }
)

// cStepsDay is a provider's step total of one day. Sources, verified on
// 2026-12-05: the HL7 Physical Activity IG (hl7.org/fhir/us/physical-activity,
// STU 1.0.0, example Observation "ExampleDailySteps") codes a day's steps
// LOINC 41950-7 "Number of steps in 24 hour Measured", with the value in UCUM
// "/d" shown as "steps per day" and effective the day; the LOINC parts of
// 41950-7 are component "Number of steps", property NRat (a number rate, hence
// the unit per day), time 24H, method Measured, so Oura's 24-hour day (04:00
// to 04:00) fits as well as a civil day.
var cStepsDay = code{SystemLOINC, "41950-7", "Number of steps in 24 hour Measured"}

const (
	catVitalSigns = "vital-signs"
	catActivity   = "activity"
	catExam       = "exam"
	catProcedure  = "procedure"
)

var categoryDisplay = map[string]string{
	catVitalSigns: "Vital Signs",
	catActivity:   "Activity",
	catExam:       "Exam",
	catProcedure:  "Procedure",
}

const noStandard = "no verified standard code: our own coding and code.text"

// table is the mapping of every data type of the ohx catalog.
var table = []mapping{
	{Type: ohx.HeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cHeartRate}, Text: "Heart rate", Value: valueQuantity},
	{Type: ohx.RestingHeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRestingHR}, Text: "Resting heart rate", Value: valueQuantity},
	{Type: ohx.Steps, Resource: "Observation", Category: catActivity, Codes: []code{cSteps}, Text: "Steps", Value: valueQuantity,
		Day: &dayMapping{Codes: []code{cStepsDay}, Text: "Steps per day", Unit: "/d", UnitText: "steps per day"}},
	{Type: ohx.RRIntervals, Resource: "Observation", Category: catVitalSigns, Codes: []code{own("rr-intervals", "RR intervals")}, Text: "RR intervals (beat-to-beat)", Value: valueSampledData, Note: noStandard + "; interval or offsets encoding"},
	{Type: ohx.HRVRMSSD, Resource: "Observation", Category: catVitalSigns, Codes: []code{own("hrv-rmssd", "Heart rate variability, RMSSD")}, Text: "Heart rate variability, RMSSD", Value: valueQuantity, Note: noStandard},
	{Type: ohx.HRVSDNN, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSDNN}, Text: "Heart rate variability, SDNN", Value: valueQuantity},
	{Type: ohx.ECG, Resource: "Observation + DiagnosticReport", Category: catProcedure, Codes: []code{cECGLeadI}, Text: "ECG lead I", Value: valueSampledData, Note: "origin 0 mV, factor to mV, interval 1000/Hz ms; DiagnosticReport LOINC 11524-6 with SNOMED conclusionCode; linked heart-rate Observation"},
	{Type: ohx.BloodPressure, Resource: "Observation", Category: catVitalSigns, Codes: []code{cBPPanel}, Text: "Blood pressure", Value: valueComponents, Components: []componentMap{
		{Component: ohx.ComponentSystolic, Codes: []code{cSystolic}, Text: "Systolic blood pressure"},
		{Component: ohx.ComponentDiastolic, Codes: []code{cDiastolic}, Text: "Diastolic blood pressure"},
	}},
	{Type: ohx.BodyWeight, Resource: "Observation", Category: catVitalSigns, Codes: []code{cWeight}, Text: "Body weight", Value: valueQuantity},
	{Type: ohx.BodyFatRatio, Resource: "Observation", Category: catExam, Codes: []code{cFatRatio}, Text: "Body fat ratio", Value: valueQuantity},
	{Type: ohx.FatMass, Resource: "Observation", Category: catExam, Codes: []code{cFatMass}, Text: "Fat mass", Value: valueQuantity},
	{Type: ohx.FatFreeMass, Resource: "Observation", Category: catExam, Codes: []code{own("fat-free-mass", "Fat-free mass")}, Text: "Fat-free mass", Value: valueQuantity, Note: noStandard},
	{Type: ohx.MuscleMass, Resource: "Observation", Category: catExam, Codes: []code{cMuscleMass}, Text: "Muscle mass", Value: valueQuantity},
	{Type: ohx.Hydration, Resource: "Observation", Category: catExam, Codes: []code{cWaterMass}, Text: "Hydration (body water mass)", Value: valueQuantity},
	{Type: ohx.BoneMass, Resource: "Observation", Category: catExam, Codes: []code{own("bone-mass", "Bone mass")}, Text: "Bone mass", Value: valueQuantity, Note: noStandard},
	{Type: ohx.BodyTemperature, Resource: "Observation", Category: catVitalSigns, Codes: []code{cBodyTemp}, Text: "Body temperature", Value: valueQuantity},
	{Type: ohx.SkinTemperature, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSkinTemp}, Text: "Skin temperature", Value: valueQuantity},
	{Type: ohx.SkinTemperatureDeviation, Resource: "Observation", Category: catVitalSigns, Codes: []code{own("skin-temperature-deviation", "Skin temperature deviation from baseline")}, Text: "Skin temperature deviation from baseline", Value: valueQuantity, Components: []componentMap{
		{Component: ohx.ComponentBaseline, Codes: []code{own("skin-temperature-baseline", "Skin temperature baseline")}, Text: "Skin temperature baseline"},
	}, Note: noStandard + "; baseline as a component when given"},
	{Type: ohx.SpO2, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSpO2, cSpO2Pulse}, Text: "Oxygen saturation (SpO2)", Value: valueQuantity},
	{Type: ohx.RespiratoryRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRespRate}, Text: "Respiratory rate", Value: valueQuantity},
	{Type: ohx.SleepSession, Resource: "Observation", Category: catActivity, Codes: []code{cSleep}, Text: "Sleep session", Value: valueSleep, Components: []componentMap{
		{Component: ohx.ComponentSleepLight, Codes: []code{cSleepLight}, Text: "Light sleep duration"},
		{Component: ohx.ComponentSleepDeep, Codes: []code{cSleepDeep}, Text: "Deep sleep duration"},
		{Component: ohx.ComponentSleepREM, Codes: []code{cSleepREM}, Text: "REM sleep duration"},
		{Component: ohx.ComponentSleepAwake, Codes: []code{own("sleep-awake", "Awake duration")}, Text: "Awake duration"},
		{Component: ohx.ComponentInBed, Codes: []code{own("in-bed", "Time in bed")}, Text: "Time in bed"},
	}, Note: "awake and in-bed components use our own coding"},
	{Type: ohx.PulseWaveVelocity, Resource: "Observation", Category: catVitalSigns, Codes: []code{own("pulse-wave-velocity", "Pulse wave velocity")}, Text: "Pulse wave velocity", Value: valueQuantity, Note: noStandard},
	{Type: ohx.VO2Max, Resource: "Observation", Category: catActivity, Codes: []code{own("vo2max", "VO2max")}, Text: "VO2max", Value: valueQuantity, Note: noStandard},
	{Type: ohx.DailyRestingHeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRestingHR}, Text: "Daily resting heart rate", Value: valueQuantity},
	{Type: ohx.DailyHRV, Resource: "Observation", Category: catVitalSigns, Codes: []code{own("hrv-rmssd", "Heart rate variability, RMSSD")}, Text: "Daily heart rate variability, RMSSD", Value: valueQuantity, Note: noStandard},
	{Type: ohx.DailySpO2, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSpO2, cSpO2Pulse}, Text: "Daily oxygen saturation", Value: valueQuantity},
	{Type: ohx.DailyRespiratoryRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRespRate}, Text: "Daily respiratory rate", Value: valueQuantity},
}

var tableIndex = func() map[ohx.DataType]*mapping {
	m := make(map[ohx.DataType]*mapping, len(table))
	for i := range table {
		m[table[i].Type] = &table[i]
	}
	return m
}()

// Statistic codes of http://terminology.hl7.org/CodeSystem/observation-statistics.
const (
	statAverage = "average"
	statMinimum = "minimum"
	statMaximum = "maximum"
	statCount   = "count"
	statSum     = "sum"
)

var statDisplay = map[string]string{
	statAverage: "Average", statMinimum: "Minimum", statMaximum: "Maximum", statCount: "Count", statSum: "Sum",
}
