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
// classification (SNOMED CT for sinus rhythm and atrial fibrillation, our own
// code for an inconclusive recording).
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
		Category: []r5.CodeableConcept{{Coding: []r5.Coding{{System: ptr(SystemDiagnosticServiceSection), Code: ptr("EC"),
			Display: ptr("Electrocardiac (e.g., EKG, EEC, Holter)")}}}},
		Code:    t.codeable([]code{cEKGStudy}, "ECG"),
		Subject: &r5.Reference{Reference: ptr(link.Patient)},
		Result:  []r5.Reference{t.ref("Observation", ecgID, t.IdentifierSystem(provider, "observation"), ecgID)},
	}
	if status(s) == r5.ObservationAmended {
		r.Status = r5.ReportAmended
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
	switch class {
	case ohx.ECGSinusRhythm:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{cSinusRhythm}, "Sinus rhythm")}
		r.Conclusion = ptr("Sinus rhythm (device classification).")
	case ohx.ECGAtrialFibrillation:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{cAFib}, "Atrial fibrillation")}
		r.Conclusion = ptr("Atrial fibrillation (device classification).")
	case ohx.ECGInconclusive:
		r.ConclusionCode = []r5.CodeableConcept{t.codeable([]code{own("ecg-inconclusive", "Inconclusive")}, "Inconclusive")}
		r.Conclusion = ptr("Inconclusive: the device could not classify the rhythm.")
	default:
		r.Conclusion = ptr("Not classified by the device.")
	}
	return t.resource("DiagnosticReport", id, ohx.ECG, r.Identifier[0], r)
}
