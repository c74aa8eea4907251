package ohx

import "encoding/json"

// Resource is a FHIR resource ready to publish. The root package never imports
// a FHIR model: a Transformer fills this, a Publisher sends it.
type Resource struct {
	// Type is the FHIR resource type ("Observation").
	Type string
	// ID is the deterministic logical id; the same source always yields the
	// same id.
	ID string
	// Identifier is the business identifier used for conditional writes, as
	// "system|value". A resource type without identifier element
	// (Provenance) carries here the meta.tag ("system|code") that names it,
	// which a publisher searches with _tag.
	Identifier string
	// DataType is the data type the resource carries; empty for devices,
	// device associations and provenance.
	DataType DataType
	// JSON is the resource's JSON, including resourceType and id.
	JSON json.RawMessage
	// FHIRVersion is the release JSON is written in; empty means R5.
	FHIRVersion FHIRVersion
}

// Key returns "Type/ID".
func (r *Resource) Key() string { return r.Type + "/" + r.ID }

// Batch is what a Transformer maps in one call: the samples and devices of one
// link, published together.
type Batch struct {
	// Link is the link the data belongs to.
	Link Link
	// Samples are in non-decreasing Start order per data type.
	Samples []Sample
	// Devices are provider devices to publish (device syncs).
	Devices []Device
	// Window is the fetch window the batch comes from (for provenance).
	Window Window
	// Trigger is why the sync runs.
	Trigger Trigger
	// Arena, when not nil, is where the Transformer may write the JSON of
	// the batch's resources; the engine reuses it for a later batch once
	// the resources were published (see Arena).
	Arena *Arena
}

// PublishResult says what a Publisher wrote.
type PublishResult struct {
	// Written lists the keys ("Type/ID") of resources acknowledged by the
	// destination.
	Written []string
	// Rejected lists resources the destination (or validation before sending)
	// refused for good; the rest of the batch was still written.
	Rejected []Rejection
}

// Rejection names a resource that was refused and why; Reason never echoes
// health values.
type Rejection struct {
	// Key is "Type/ID".
	Key string
	// Reason is the destination's or validator's reason.
	Reason string
}
