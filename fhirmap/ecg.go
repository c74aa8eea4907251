package fhirmap

import (
	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// ECGReportID returns the deterministic id of the DiagnosticReport that ties
// an ECG Observation (by its id) to its heart rate.
func ECGReportID(ecgObservationID string) string {
	return DeterministicID("ecg-report", ecgObservationID)
}

// ecgReport builds the EKG-study DiagnosticReport of one ECG recording: its
// result references the waveform Observation and, when it is in the same
// batch, the heart rate measured with it; conclusionCode carries the rhythm
// classification as the device gave it (SNOMED CT findings for sinus rhythm
// and atrial fibrillation, our own codes for "no atrial fibrillation
// detected" and an inconclusive recording).
func (t *Transformer) ecgReport(link *ohx.Link, s *ohx.Sample, ecgID, hrID string) (ohx.Resource, error) {
	provider := s.Provider
	if provider == "" {
		provider = link.Provider
	}
	id := ECGReportID(ecgID)
	r := &r5.DiagnosticReport{
		ID:         id,
		Meta:       t.meta(provider),
		Identifier: []r5.Identifier{{System: ptr(t.IdentifierSystem(provider, "diagnostic-report")), Value: ptr(id)}},
		Status:     r5.ReportFinal,
		Category:   []r5.CodeableConcept{t.codeable([]code{catElectrocardiac}, "")},
		Code:       t.codeable([]code{cEKGStudy}, "ECG"),
		Subject:    &r5.Reference{Reference: ptr(link.Patient)},
		Result:     []r5.Reference{t.ref("Observation", ecgID, t.IdentifierSystem(provider, "observation"), ecgID)},
	}
	if s.Instant() {
		r.EffectiveDateTime = dateTime(s.LocalStart())
	} else {
		r.EffectivePeriod = &r5.Period{Start: dateTime(s.LocalStart()), End: dateTime(s.LocalEnd())}
	}
	if !s.Modified.IsZero() {
		r.Issued = instant(s.Modified)
	} else if !s.Created.IsZero() {
		r.Issued = instant(s.Created)
	}
	if hrID != "" {
		r.Result = append(r.Result, t.ref("Observation", hrID, t.IdentifierSystem(provider, "observation"), hrID))
	}
	var class ohx.ECGClassification
	if s.Waveform != nil {
		class = s.Waveform.Classification
	}
	// Say what the device said, in its words: a watch that reports "no atrial
	// fibrillation" has not diagnosed a sinus rhythm.
	switch class {
	case ohx.ECGSinusRhythm:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{cSinusRhythm}, "Sinus rhythm")}
		r.Conclusion = ptr("Sinus rhythm (device classification, not a clinician's reading).")
	case ohx.ECGNoAtrialFibrillation:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{own("ecg-no-afib-detected", "No atrial fibrillation detected")}, "No atrial fibrillation detected")}
		r.Conclusion = ptr("No atrial fibrillation detected (device classification, not a clinician's reading; other rhythms are not assessed).")
	case ohx.ECGAtrialFibrillation:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{cAFibECG}, "Atrial fibrillation on ECG")}
		r.Conclusion = ptr("Signs of atrial fibrillation (device classification, not a clinician's reading).")
	case ohx.ECGInconclusive:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{own("ecg-inconclusive", "Inconclusive")}, "Inconclusive")}
		r.Conclusion = ptr("Inconclusive: the device could not classify the rhythm.")
	default:
		r.Conclusion = ptr("Not classified by the device.")
	}
	return t.resource("DiagnosticReport", id, ohx.ECG, r.Identifier[0], r)
}
