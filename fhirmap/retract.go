package fhirmap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// EnteredInError returns a copy of r whose status says entered-in-error, to be
// published under the same id when the provider deleted the record (the engine
// finds such resources by searching the destination; ohx keeps no copy). It
// supports Observation, DiagnosticReport, Device and DeviceAssociation.
func EnteredInError(r ohx.Resource) (ohx.Resource, error) {
	dec := json.NewDecoder(bytes.NewReader(r.JSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: decode %s: not a JSON object", r.Key())
	}
	if rt, _ := m["resourceType"].(string); rt != r.Type {
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s: JSON resourceType does not match", r.Key())
	}
	switch r.Type {
	case "Observation":
		m["status"] = string(r5.ObservationEnteredInError)
	case "DiagnosticReport":
		m["status"] = string(r5.ReportEnteredInError)
	case "Device":
		m["status"] = string(r5.DeviceEnteredInError)
	case "DeviceAssociation":
		m["status"] = r5.AssociationStatus(r5.AssociationEnteredInError)
	default:
		return ohx.Resource{}, fmt.Errorf("fhirmap: %s has no entered-in-error status", r.Type)
	}
	data, err := json.Marshal(m)
	if err != nil {
		return ohx.Resource{}, fmt.Errorf("fhirmap: encode %s: %w", r.Key(), err)
	}
	out := r
	out.JSON = data
	return out, nil
}

var _ ohx.Retracter = (*Transformer)(nil)

// retractionTarget is one resource kind a data type is published as.
type retractionTarget struct {
	resourceType string
	kind         string // identifier kind, see IdentifierSystem
	codes        []code // any of them may be the resource's code
	// text is the code's text, which tells apart data types that share a
	// code (resting heart rate and daily resting heart rate); with prefix
	// set it is a prefix.
	text   string
	prefix bool
}

func retractionTargets(t ohx.DataType) []retractionTarget {
	m, ok := tableIndex[t]
	if !ok || len(m.Codes) == 0 {
		return nil
	}
	if t == ohx.ECG {
		// A lead other than I is coded with the generic lead code; the
		// recording's DiagnosticReport goes with it. Former: the MDC codes as
		// written with the OID form of the system before issue 16.
		return []retractionTarget{
			{resourceType: "Observation", kind: "observation", codes: append([]code{cECGLeadI, cECGLead}, m.Former...), text: "ECG lead ", prefix: true},
			{resourceType: "DiagnosticReport", kind: "diagnostic-report", codes: []code{cEKGStudy}, text: "ECG"},
		}
	}
	codes := append(m.Codes[:1:1], m.Former...)
	if self := own(string(t), ""); !slices.ContainsFunc(codes, func(c code) bool { return c.System == ownCode && c.Code == self.Code }) {
		// Earlier releases coded a type without a verified standard code
		// with our own code named after the type; a retraction finds those
		// after the type got a standard code.
		codes = append(codes, self)
	}
	out := []retractionTarget{{resourceType: "Observation", kind: "observation", codes: codes, text: m.Text}}
	if m.Day != nil {
		// A provider's day total has its own code and text.
		out = append(out, retractionTarget{resourceType: "Observation", kind: "observation", codes: m.Day.Codes[:1], text: m.Day.Text})
	}
	return out
}

func (t *Transformer) codeSystem(c code) string {
	if c.System == ownCode {
		return t.sysCode
	}
	return c.System
}

// RetractionQueries implements ohx.Retracter: for data type dt it returns a
// search per resource kind dt is published as (Observation; for ECG also
// DiagnosticReport), restricted to the link's patient (subject), the type's
// code (code=system|code, alternatives comma-separated), the link's provider
// (identifier=system| on the provider's identifier system, so another
// provider's data of the same patient is never matched) and w
// (date=ge{start}&date=lt{end}). Servers match periods that merely overlap w,
// so Retract checks the effective start again. It returns nil for a type
// without a mapping or a link without patient or provider.
func (t *Transformer) RetractionQueries(link ohx.Link, dt ohx.DataType, w ohx.Window) []ohx.RetractionQuery {
	if link.Patient == "" || link.Provider == "" {
		return nil
	}
	targets := retractionTargets(dt)
	out := make([]ohx.RetractionQuery, 0, len(targets))
	for _, tg := range targets {
		codes := make([]string, len(tg.codes))
		for i, c := range tg.codes {
			codes[i] = t.codeSystem(c) + "|" + c.Code
		}
		out = append(out, ohx.RetractionQuery{
			ResourceType: tg.resourceType,
			Params: url.Values{
				"subject":    {link.Patient},
				"code":       {strings.Join(codes, ",")},
				"identifier": {t.IdentifierSystem(link.Provider, tg.kind) + "|"},
				"date": {
					"ge" + w.Start.UTC().Format(time.RFC3339Nano),
					"lt" + w.End.UTC().Format(time.RFC3339Nano),
				},
			},
		})
	}
	return out
}

// retractable is the part of a found resource Retract checks.
type retractable struct {
	ResourceType string          `json:"resourceType"`
	Status       string          `json:"status"`
	Identifier   []r5.Identifier `json:"identifier"`
	Code         *struct {
		Coding []r5.Coding `json:"coding"`
		Text   string      `json:"text"`
	} `json:"code"`
	Subject           *r5.Reference  `json:"subject"`
	EffectiveDateTime *string        `json:"effectiveDateTime"`
	EffectivePeriod   *r5.Period     `json:"effectivePeriod"`
	DerivedFrom       []r5.Reference `json:"derivedFrom"`
}

// Retract implements ohx.Retracter: it returns r marked entered-in-error
// (see EnteredInError), with Identifier set to its identifier on the link
// provider's system and DataType to dt. ok is false, and r is left alone,
// when r is already entered-in-error, belongs to another patient or
// provider, is not coded as dt (code and code.text, which tell apart types
// that share a code, such as resting and daily resting heart rate), starts
// outside w, or is the heart rate
// measured with an ECG (derivedFrom set): such a companion is not read with
// its own type, so its absence from a re-read proves nothing.
func (t *Transformer) Retract(link ohx.Link, dt ohx.DataType, w ohx.Window, r ohx.Resource) (ohx.Resource, bool, error) {
	var targets []retractionTarget
	for _, tg := range retractionTargets(dt) {
		if tg.resourceType == r.Type {
			targets = append(targets, tg)
		}
	}
	if len(targets) == 0 {
		return ohx.Resource{}, false, nil
	}
	target := &targets[0] // all targets of one resource type share the identifier kind
	var head retractable
	if err := json.Unmarshal(r.JSON, &head); err != nil {
		return ohx.Resource{}, false, fmt.Errorf("fhirmap: decode %s: not a %s", r.Key(), r.Type)
	}
	if head.ResourceType != r.Type {
		return ohx.Resource{}, false, fmt.Errorf("fhirmap: %s: JSON resourceType does not match", r.Key())
	}
	if head.Status == string(r5.ObservationEnteredInError) || len(head.DerivedFrom) > 0 ||
		head.Subject == nil || str(head.Subject.Reference) != link.Patient {
		return ohx.Resource{}, false, nil
	}
	system := t.IdentifierSystem(link.Provider, target.kind)
	ident := ""
	for _, id := range head.Identifier {
		if str(id.System) == system && str(id.Value) != "" {
			ident = system + "|" + str(id.Value)
			break
		}
	}
	if ident == "" || head.Code == nil || !slices.ContainsFunc(targets, func(tg retractionTarget) bool {
		return hasCode(head.Code.Coding, t, tg.codes) && tg.hasText(head.Code.Text)
	}) {
		return ohx.Resource{}, false, nil
	}
	start := head.EffectiveDateTime
	if start == nil && head.EffectivePeriod != nil {
		start = head.EffectivePeriod.Start
	}
	if start == nil {
		return ohx.Resource{}, false, nil
	}
	if !startsIn(*start, w) {
		return ohx.Resource{}, false, nil
	}
	out, err := EnteredInError(r)
	if err != nil {
		return ohx.Resource{}, false, err
	}
	out.Identifier = ident
	out.DataType = dt
	return out, true, nil
}

// startsIn reports whether an effective start lies in w. A date-only value
// (a daily summary) started at its local midnight in an unknown zone, some
// instant from 14 h before to 12 h after the date's UTC midnight: it is in w
// only when that whole range is.
func startsIn(start string, w ohx.Window) bool {
	if len(start) == len(time.DateOnly) {
		d, err := time.Parse(time.DateOnly, start)
		return err == nil && w.Contains(d.Add(-14*time.Hour)) && w.Contains(d.Add(12*time.Hour))
	}
	at, err := time.Parse(time.RFC3339Nano, start)
	return err == nil && w.Contains(at)
}

func (tg *retractionTarget) hasText(text string) bool {
	if tg.prefix {
		return strings.HasPrefix(text, tg.text)
	}
	return text == tg.text
}

func hasCode(have []r5.Coding, t *Transformer, want []code) bool {
	for _, h := range have {
		for _, c := range want {
			if str(h.System) == t.codeSystem(c) && str(h.Code) == c.Code {
				return true
			}
		}
	}
	return false
}
