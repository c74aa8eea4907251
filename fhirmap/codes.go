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
	// SystemMDC is ISO/IEEE 11073-10101 (MDC). Verified: HL7 Terminology
	// (THO) CodeSystem v3-mdc, url urn:iso:std:iso:11073:10101, which lists
	// the OID form urn:oid:2.16.840.1.113883.6.24 only as an identifier; the
	// Personal Health Device IG's MDC value set uses the same url.
	SystemMDC = "urn:iso:std:iso:11073:10101"
	// SystemObservationCategory is the HL7 observation-category code system.
	SystemObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category"
	// SystemObservationStatistics is the HL7 observation-statistics code system
	// (average, minimum, maximum, count, sum, …).
	SystemObservationStatistics = "http://terminology.hl7.org/CodeSystem/observation-statistics"
	// SystemDiagnosticServiceSection is HL7 v2 table 0074 (EC = electrocardiac).
	SystemDiagnosticServiceSection = "http://terminology.hl7.org/CodeSystem/v2-0074"
	// SystemProvenanceParticipantType is the HL7 provenance-participant-type code system.
	SystemProvenanceParticipantType = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
	// SystemDeviceAssociationStatus is the R5 DeviceAssociation.status code
	// system (required binding).
	SystemDeviceAssociationStatus = "http://hl7.org/fhir/deviceassociation-status"
	// SystemIETF3986 marks an Identifier whose value is a URI.
	SystemIETF3986 = "urn:ietf:rfc:3986"

	ucum = SystemUCUM
)

// The R5 vital-signs profiles (hl7.fhir.r5.core 5.0.0) an Observation claims
// in meta.profile when it meets them; see profiles.go.
const (
	ProfileR5VitalSigns = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
	ProfileR5HeartRate  = "http://hl7.org/fhir/StructureDefinition/heartrate"
	ProfileR5BP         = "http://hl7.org/fhir/StructureDefinition/bp"
	ProfileR5BodyWeight = "http://hl7.org/fhir/StructureDefinition/bodyweight"
	ProfileR5BodyTemp   = "http://hl7.org/fhir/StructureDefinition/bodytemp"
	ProfileR5OxygenSat  = "http://hl7.org/fhir/StructureDefinition/oxygensat"
	ProfileR5RespRate   = "http://hl7.org/fhir/StructureDefinition/resprate"
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
	// Profile is the R5 vital-signs profile (beyond the base vitalsigns
	// profile) the type's Observations claim when they meet it.
	Profile string
	// Statistic names what a provider's daily summary is (e.g. an average
	// during sleep), written as Observation.method.
	Statistic statistic
	// Night names the providers whose daily summaries of the type are
	// samples over the sleep period they were measured in (so the
	// Observation has effectivePeriod, not a date): for the mapping table.
	Night string
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

// Codes. Each one names where it was verified (looked up for issue 16 with
// the project's search tool; "LOINC 2.82" means the LOINC 2.82 term detail,
// "R5" the hl7.fhir.r5.core 5.0.0 package).
//
// Where no standard code was verified (RMSSD, RR intervals, skin-temperature
// deviation and baseline, VO2max, awake duration) the coding is ours
// ({BaseURI}:code) and code.text names the measurement; the table says so.
var (
	// LOINC 8867-4: R5 heartrate profile (fixed code), StructureDefinition-heartrate.
	cHeartRate = code{SystemLOINC, "8867-4", "Heart rate"}
	// LOINC 40443-4: LOINC 2.82 (tx.fhir.org expansion of the R5
	// observation-vitalsign-heartrate value set, which includes it).
	cRestingHR = code{SystemLOINC, "40443-4", "Heart rate --resting"}
	// LOINC 55423-8: LOINC 2.82; the HL7 Physical Activity IG step-count code
	// for a count over an unspecified (here: the sample's) period.
	cSteps = code{SystemLOINC, "55423-8", "Number of steps in unspecified time Pedometer"}
	// LOINC 80404-7: LOINC 2.82, the standard deviation of R-R intervals
	// (SDNN); never used for RMSSD.
	cSDNN = code{SystemLOINC, "80404-7", "R-R interval.standard deviation (Heart rate variability)"}
	// LOINC 85354-9, 8480-6, 8462-4: R5 bp profile (fixed codes), StructureDefinition-bp.
	cBPPanel   = code{SystemLOINC, "85354-9", "Blood pressure panel with all children optional"}
	cSystolic  = code{SystemLOINC, "8480-6", "Systolic blood pressure"}
	cDiastolic = code{SystemLOINC, "8462-4", "Diastolic blood pressure"}
	// LOINC 29463-7: R5 bodyweight profile (fixed code); LOINC 2.82 "Body weight".
	cWeight = code{SystemLOINC, "29463-7", "Body weight"}
	// LOINC 41982-0: LOINC 2.82 (cited by 73708-0 as the body fat percentage).
	cFatRatio = code{SystemLOINC, "41982-0", "Percentage of body fat Measured"}
	// LOINC 73708-0: LOINC 2.82 "Body fat [Mass] Calculated" (weight × fat %).
	cFatMass = code{SystemLOINC, "73708-0", "Body fat [Mass] Calculated"}
	// LOINC 91557-9 "Lean body weight": NOT confirmed on loinc.org. The term
	// page (loinc.org/91557-9) is not in the public material the project's
	// search tool holds (searched 2026-12-05: "91557-9 LOINC" in the docs and
	// pages corpora; no loinc.org page, no tx.fhir.org expansion listing it),
	// so neither the code's status nor its display could be read from LOINC
	// itself. Kept because a reliable source uses it for exactly this
	// measurement: StanfordBDHG/HealthKitOnFHIR (Stanford Biodesign Digital
	// Health's maintained HealthKit-to-FHIR library) codes HealthKit's
	// leanBodyMass as 91557-9 "Lean body weight" (HKSampleMapping.json and its
	// Swift mapping table), as does an Android Health Connect mapping for
	// LeanBodyMassRecord (display "Lean body mass"). The display written is
	// HealthKitOnFHIR's. LOINC 2.82's own text (the descriptions of 73964-9
	// and 73965-6) defines lean body weight as everything but body fat
	// (muscle, bone and organs), which is what Withings' fat-free mass
	// (meastype 5) is. Confirm against loinc.org or tx.fhir.org before
	// relying on the display.
	cLeanBodyWeight = code{SystemLOINC, "91557-9", "Lean body weight"}
	// LOINC 73964-9: LOINC 2.82 "Body muscle mass Calculated".
	cMuscleMass = code{SystemLOINC, "73964-9", "Body muscle mass Calculated"}
	// LOINC 101683-1: LOINC 2.82 "Body water mass" (BDYWGT.MOLEC class).
	cWaterMass = code{SystemLOINC, "101683-1", "Body water mass"}
	// LOINC 101685-6 "Body bone mass": the mass sibling of LOINC 2.82
	// 101686-4 "Body bone percentage" (BIA, BDYWGT.MOLEC); the display is the
	// one used by independent public LOINC mappings of scale bone mass.
	cBoneMass = code{SystemLOINC, "101685-6", "Body bone mass"}
	// LOINC 8310-5: R5 bodytemp profile (fixed code).
	cBodyTemp = code{SystemLOINC, "8310-5", "Body temperature"}
	// LOINC 61008-9: LOINC 2.82 "Body surface temperature" (absolute, Cel).
	cSkinTemp = code{SystemLOINC, "61008-9", "Body surface temperature"}
	// LOINC 2708-6: R5 oxygensat profile (fixed code); 59408-5 is the pulse
	// oximetry child the profile's summary lists as an additional coding.
	cSpO2      = code{SystemLOINC, "2708-6", "Oxygen saturation in Arterial blood"}
	cSpO2Pulse = code{SystemLOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"}
	// LOINC 9279-1: R5 resprate profile (fixed code).
	cRespRate = code{SystemLOINC, "9279-1", "Respiratory rate"}
	// LOINC 93832-4, 93831-6, 93830-8, 93829-0: LOINC 2.82 (first released
	// 2.67, class H&P.HX, property Time); also the HL7 Personal Health Record
	// IG sleep value set.
	cSleep      = code{SystemLOINC, "93832-4", "Sleep duration"}
	cSleepDeep  = code{SystemLOINC, "93831-6", "Deep sleep duration"}
	cSleepLight = code{SystemLOINC, "93830-8", "Light sleep duration"}
	cSleepREM   = code{SystemLOINC, "93829-0", "REM sleep duration"}
	// LOINC 103213-5 "Duration in bed": LOINC 2.82 (status ACTIVE, method
	// Measured). LOINC lists its property as NRat with example unit /h,
	// which does not fit a duration; we follow the term's name and carry
	// seconds, and say so here.
	cInBed = code{SystemLOINC, "103213-5", "Duration in bed"}
	// LOINC 77196-4 "Pulse wave velocity": LOINC 2.82 (class CARD.RISK,
	// property Vel, system Arterial system).
	cPWV = code{SystemLOINC, "77196-4", "Pulse wave velocity"}
	// LOINC 11524-6: LOINC 2.82 "EKG study".
	cEKGStudy = code{SystemLOINC, "11524-6", "EKG study"}
	// MDC 131329 / 131328: the R5 example Observation "ekg"
	// (observation-example-sample-data).
	cECGLeadI = code{SystemMDC, "131329", "MDC_ECG_ELEC_POTL_I"}
	cECGLead  = code{SystemMDC, "131328", "MDC_ECG_ELEC_POTL"}
	// SNOMED CT 426783006 (finding): normal sinus rhythm, the code of the
	// sinus-rhythm class in the public SNOMED mappings of ECG rhythm labels
	// (PhysioNet/CinC 2020 tables).
	cSinusRhythm = code{SystemSNOMED, "426783006", "Normal sinus rhythm"}
	// SNOMED CT 164889003 (finding, ECG presence finding): atrial fibrillation
	// seen on an ECG — a finding, not the disorder 49436004. Code checked in
	// the same public ECG-label mappings; the display is the descriptive name
	// of the concept, to be confirmed against a terminology server.
	cAFibECG = code{SystemSNOMED, "164889003", "Electrocardiographic atrial fibrillation"}
	// SNOMED CT device concepts: 49062001 |Device (physical object)| is the
	// root of the R5 device-type value set; 19892000 "Scale, device",
	// 258057004 "Non-invasive blood pressure monitor" and 1187059002
	// "Smartphone" are in the eHealth Denmark device-types value set expanded
	// by tx.fhir.org (SNOMED CT International 2025-02-01); 258057004 is also in
	// the HL7 Vital Signs IG blood-pressure device value set.
	//
	// None found for a wrist-worn activity tracker, a watch, a ring or an
	// under-mattress sleep sensor: searched 2026-12-05 (the search tool's
	// docs and pages corpora and public code: "activity tracker", "wearable",
	// "wrist-worn", "pedometer", "sleep monitor", "under mattress" with
	// SNOMED CT and "physical object"; the IPS and EU medical-device value
	// set expansions, descendants of 49062001, as far as they are published;
	// the R5/R6 device-type value set). No source showed a SNOMED CT concept
	// for them, so they keep the verified root concept 49062001 and our
	// device kind says what they are. (The R6 ballot device-type value set
	// adds ISO/IEEE 11073 MDC device specializations, e.g. 528391 Blood
	// Pressure Cuff, 528404 Body Composition Analyzer, 528455 Independent
	// Activity/Living Hub; none of them is a wrist-worn tracker or a sleep
	// sensor either.)
	cDevice     = code{SystemSNOMED, "49062001", "Device"}
	cScale      = code{SystemSNOMED, "19892000", "Scale, device"}
	cNIBP       = code{SystemSNOMED, "258057004", "Non-invasive blood pressure monitor"}
	cSmartphone = code{SystemSNOMED, "1187059002", "Smartphone"}

	own = func(c, display string) code { return code{ownCode, c, display} }
)

// The provider's own coding (ohx.Sample.ProviderType), written after the
// standard codes in {BaseURI}:{provider}:type (Transformer.ProviderTypeSystem).
// ohx owns these code systems; each code is the provider's own name of the
// measurement, written as the provider's API reference writes it, so a
// reader can look it up there (the facts and their sources are in
// docs/providers/):
//
//   - withings: a getmeas measure is its meastype ("1" weight, "5" fat-free
//     mass, "11" pulse, …: Withings API reference, Measure - Getmeas,
//     meastype). Every other measurement is service/action/field of the v2
//     API (POST /v2/{service} with action={action}; Withings API reference,
//     OpenAPI): measure/getactivity/steps (a day total),
//     measure/getintradayactivity/steps and …/heart_rate (data_fields),
//     sleep/getsummary (a night's summary: Sleep v2 - Getsummary),
//     sleep/get/hr, …/rr, …/rmssd, …/sdnn_1 (Sleep v2 - Get data_fields),
//     heart/get/signal (the ECG: Heart v2 - Get signal), and the ECG's
//     average heart rate as heart/list/heart_rate (Heart v2 - List) or,
//     when the list item has none, heart/get/heart_rate.
//   - fitbit: the Google Health API data type, e.g. heart-rate,
//     daily-resting-heart-rate (Google Health API data types reference).
//   - oura: collection/field of /v2/usercollection (Oura API v2 OpenAPI
//     1.37): heartrate/bpm; sleep (a sleep period document, the session),
//     sleep/hrv (its 5-minute rMSSD series), sleep/average_hrv,
//     sleep/lowest_heart_rate, sleep/average_breath; daily_activity/steps;
//     daily_readiness/temperature_deviation;
//     daily_spo2/spo2_percentage.average; vO2_max/vo2_max.
//
// providerStatistic names the statistic of a provider's summary where the
// provider says more than its type's Statistic does, keyed by provider and
// ProviderType. Only for types whose mapping has a Statistic: the fast
// encoder (fast.go) leaves those to the generic path, which writes method.
var providerStatistic = map[[2]string]providerStat{
	// Oura's sleep lowest_heart_rate: "Lowest heart rate during sleep" (Oura
	// OpenAPI 1.37, SleepModel; a 30-second based value per
	// docs/providers/oura.md), which the Oura app shows as the night's
	// resting heart rate: the minimum over the sleep period, not a resting
	// rate computed over the day.
	{"oura", "sleep/lowest_heart_rate"}: {Type: ohx.DailyRestingHeartRate, statistic: statistic{Code: statMinimum,
		Text: "Lowest heart rate during the sleep period, which Oura reports as the resting heart rate"}},
}

// providerStat is a provider's statistic of one of its summaries.
type providerStat struct {
	Type ohx.DataType // the data type the summary maps to
	statistic
}

// statisticOf is the statistic s names: the provider's own when
// providerStatistic knows it, else its type's.
func statisticOf(m *mapping, provider string, s *ohx.Sample) statistic {
	if ps, ok := providerStatistic[[2]string{provider, s.ProviderType}]; ok && ps.Type == s.Type {
		return ps.statistic
	}
	return m.Statistic
}

// formerMDC is an MDC code as releases before issue 16 wrote it, with the OID
// form of the MDC system; a retraction searches for it too.
func formerMDC(c code) code {
	return code{"urn:oid:2.16.840.1.113883.6.24", c.Code, c.Display}
}

// cStepsDay is a provider's step total of one day. Sources, verified on
// 2026-12-05: the HL7 Physical Activity IG (hl7.org/fhir/us/physical-activity,
// STU 1.0.0, example Observation "ExampleDailySteps") codes a day's steps
// LOINC 41950-7 "Number of steps in 24 hour Measured", with the value in UCUM
// "/d" shown as "steps per day" and effective the day; the LOINC parts of
// 41950-7 are component "Number of steps", property NRat (a number rate, hence
// the unit per day), time 24H, method Measured, so Oura's 24-hour day (04:00
// to 04:00) fits as well as a civil day.
var cStepsDay = code{SystemLOINC, "41950-7", "Number of steps in 24 hour Measured"}

// DiagnosticReport.category: v2-0074 "EC". The display is HL7 Terminology's,
// byte for byte, including its two spaces (UTG source of truth
// cs-v2-0074.xml, concept 1045).
var catElectrocardiac = code{SystemDiagnosticServiceSection, "EC", "Electrocardiac (e.g., EKG,  EEC, Holter)"}

// Observation categories (http://terminology.hl7.org/CodeSystem/observation-category).
// vital-signs is kept for LOINC-coded vital signs: the R5 vital-signs profile
// applies to every Observation in that category. Measurements without a LOINC
// code, or that are not vital signs, use exam (body measurements with simple
// instruments) or procedure (cardiac signal analysis, as the ECG).
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

// Statistic of a provider's daily summary: what the one value of the day is.
type statistic struct {
	Code string // observation-statistics code, empty when none fits
	Text string
}

// table is the mapping of every data type of the ohx catalog.
var table = []mapping{
	{Type: ohx.HeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cHeartRate}, Text: "Heart rate", Value: valueQuantity, Profile: ProfileR5HeartRate},
	{Type: ohx.RestingHeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRestingHR}, Text: "Resting heart rate", Value: valueQuantity},
	{Type: ohx.Steps, Resource: "Observation", Category: catActivity, Codes: []code{cSteps}, Text: "Steps", Value: valueQuantity,
		Day: &dayMapping{Codes: []code{cStepsDay}, Text: "Steps per day", Unit: "/d", UnitText: "steps per day"}},
	{Type: ohx.RRIntervals, Resource: "Observation", Category: catProcedure, Codes: []code{own("rr-intervals", "RR intervals")}, Text: "RR intervals (beat-to-beat)", Value: valueSampledData, Note: noStandard + "; interval or offsets encoding"},
	{Type: ohx.HRVRMSSD, Resource: "Observation", Category: catProcedure, Codes: []code{own("hrv-rmssd", "Heart rate variability, RMSSD")}, Text: "Heart rate variability, RMSSD", Value: valueQuantity, Note: noStandard},
	{Type: ohx.HRVSDNN, Resource: "Observation", Category: catProcedure, Codes: []code{cSDNN}, Text: "Heart rate variability, SDNN", Value: valueQuantity},
	{Type: ohx.ECG, Resource: "Observation + DiagnosticReport", Category: catProcedure, Codes: []code{cECGLeadI}, Text: "ECG lead I", Value: valueSampledData, Note: "origin 0 mV, factor to mV, interval 1000/Hz ms; DiagnosticReport LOINC 11524-6 with the device's classification as SNOMED CT finding (or our code); linked heart-rate Observation",
		Former: []code{formerMDC(cECGLeadI), formerMDC(cECGLead)}},
	{Type: ohx.BloodPressure, Resource: "Observation", Category: catVitalSigns, Codes: []code{cBPPanel}, Text: "Blood pressure", Value: valueComponents, Profile: ProfileR5BP, Components: []componentMap{
		{Component: ohx.ComponentSystolic, Codes: []code{cSystolic}, Text: "Systolic blood pressure"},
		{Component: ohx.ComponentDiastolic, Codes: []code{cDiastolic}, Text: "Diastolic blood pressure"},
	}},
	{Type: ohx.BodyWeight, Resource: "Observation", Category: catVitalSigns, Codes: []code{cWeight}, Text: "Body weight", Value: valueQuantity, Profile: ProfileR5BodyWeight},
	{Type: ohx.BodyFatRatio, Resource: "Observation", Category: catExam, Codes: []code{cFatRatio}, Text: "Body fat ratio", Value: valueQuantity},
	{Type: ohx.FatMass, Resource: "Observation", Category: catExam, Codes: []code{cFatMass}, Text: "Fat mass", Value: valueQuantity},
	{Type: ohx.FatFreeMass, Resource: "Observation", Category: catExam, Codes: []code{cLeanBodyWeight}, Text: "Fat-free mass", Value: valueQuantity},
	{Type: ohx.MuscleMass, Resource: "Observation", Category: catExam, Codes: []code{cMuscleMass}, Text: "Muscle mass", Value: valueQuantity},
	{Type: ohx.Hydration, Resource: "Observation", Category: catExam, Codes: []code{cWaterMass}, Text: "Hydration (body water mass)", Value: valueQuantity},
	{Type: ohx.BoneMass, Resource: "Observation", Category: catExam, Codes: []code{cBoneMass}, Text: "Bone mass", Value: valueQuantity},
	{Type: ohx.BodyTemperature, Resource: "Observation", Category: catVitalSigns, Codes: []code{cBodyTemp}, Text: "Body temperature", Value: valueQuantity, Profile: ProfileR5BodyTemp},
	{Type: ohx.SkinTemperature, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSkinTemp}, Text: "Skin temperature", Value: valueQuantity},
	{Type: ohx.SkinTemperatureDeviation, Resource: "Observation", Category: catExam, Codes: []code{own("skin-temperature-deviation", "Skin temperature deviation from baseline")}, Text: "Skin temperature deviation from baseline", Value: valueQuantity,
		Statistic: statistic{Text: "Nightly skin temperature minus the personal baseline"},
		Components: []componentMap{
			{Component: ohx.ComponentBaseline, Codes: []code{own("skin-temperature-baseline", "Skin temperature baseline")}, Text: "Skin temperature baseline"},
		}, Note: noStandard + "; a temperature difference, so UCUM K (never Cel); baseline (absolute, Cel) as a component when given"},
	{Type: ohx.SpO2, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSpO2, cSpO2Pulse}, Text: "Oxygen saturation (SpO2)", Value: valueQuantity, Profile: ProfileR5OxygenSat},
	{Type: ohx.RespiratoryRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRespRate}, Text: "Respiratory rate", Value: valueQuantity, Profile: ProfileR5RespRate},
	{Type: ohx.SleepSession, Resource: "Observation", Category: catActivity, Codes: []code{cSleep}, Text: "Sleep session", Value: valueSleep, Components: []componentMap{
		{Component: ohx.ComponentSleepLight, Codes: []code{cSleepLight}, Text: "Light sleep duration"},
		{Component: ohx.ComponentSleepDeep, Codes: []code{cSleepDeep}, Text: "Deep sleep duration"},
		{Component: ohx.ComponentSleepREM, Codes: []code{cSleepREM}, Text: "REM sleep duration"},
		{Component: ohx.ComponentSleepAwake, Codes: []code{own("sleep-awake", "Awake duration")}, Text: "Awake duration"},
		{Component: ohx.ComponentInBed, Codes: []code{cInBed}, Text: "Time in bed"},
	}, Note: "the awake component uses our own coding"},
	{Type: ohx.PulseWaveVelocity, Resource: "Observation", Category: catExam, Codes: []code{cPWV}, Text: "Pulse wave velocity", Value: valueQuantity},
	{Type: ohx.VO2Max, Resource: "Observation", Category: catActivity, Codes: []code{own("vo2max", "VO2max")}, Text: "VO2max", Value: valueQuantity, Note: noStandard},
	{Type: ohx.DailyRestingHeartRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRestingHR}, Text: "Daily resting heart rate", Value: valueQuantity, Night: "Oura",
		Statistic: statistic{Text: "Resting heart rate the provider computed for the day, mostly from the night's data"}},
	{Type: ohx.DailyHRV, Resource: "Observation", Category: catProcedure, Codes: []code{own("hrv-rmssd", "Heart rate variability, RMSSD")}, Text: "Daily heart rate variability, RMSSD", Value: valueQuantity, Night: "Oura",
		Statistic: statistic{Code: statAverage, Text: "Average RMSSD during the night's sleep"}, Note: noStandard},
	{Type: ohx.DailySpO2, Resource: "Observation", Category: catVitalSigns, Codes: []code{cSpO2, cSpO2Pulse}, Text: "Daily oxygen saturation", Value: valueQuantity, Profile: ProfileR5OxygenSat,
		Statistic: statistic{Code: statAverage, Text: "Average oxygen saturation during the night's sleep"}},
	{Type: ohx.DailyRespiratoryRate, Resource: "Observation", Category: catVitalSigns, Codes: []code{cRespRate}, Text: "Daily respiratory rate", Value: valueQuantity, Profile: ProfileR5RespRate, Night: "Oura",
		Statistic: statistic{Code: statAverage, Text: "Average breathing rate during the night's sleep"}},
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
