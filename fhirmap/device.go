package fhirmap

import (
	"errors"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fhirmap/r5"
)

// DeviceAssociationID returns the deterministic id of the DeviceAssociation
// between a provider device and a link's patient.
func DeviceAssociationID(link *ohx.Link, provider, providerDeviceID string) string {
	return DeterministicID("device-association", provider, link.ExternalUserID, providerDeviceID, link.Patient)
}

var deviceKindText = map[ohx.DeviceKind]string{
	ohx.DeviceScale:           "Scale",
	ohx.DeviceBloodPressure:   "Blood pressure monitor",
	ohx.DeviceActivityTracker: "Activity tracker",
	ohx.DeviceWatch:           "Watch",
	ohx.DeviceSleepMonitor:    "Sleep monitor",
	ohx.DeviceThermometer:     "Thermometer",
	ohx.DevicePhone:           "Phone",
	ohx.DeviceOther:           "Other device",
}

// Device maps a provider device to its R5 Device.
func (t *Transformer) Device(link *ohx.Link, d *ohx.Device) (*r5.Device, error) {
	if d.ID == "" {
		return nil, errors.New("fhirmap: device has no provider id")
	}
	provider := d.Provider
	if provider == "" {
		provider = link.Provider
	}
	dev := &r5.Device{
		ID:         DeviceID(provider, d.ID),
		Meta:       t.meta(provider),
		Identifier: []r5.Identifier{{System: ptr(t.IdentifierSystem(provider, "device")), Value: ptr(d.ID)}},
		Status:     r5.DeviceActive,
	}
	if d.Manufacturer != "" {
		dev.Manufacturer = ptr(d.Manufacturer)
	}
	if d.Model != "" {
		dev.DisplayName = ptr(d.Model)
		dev.Name = []r5.DeviceName{{Value: d.Model, Type: r5.NameRegistered, Display: ptr(true)}}
	}
	if d.ModelNumber != "" {
		dev.ModelNumber = ptr(d.ModelNumber)
	}
	kind := d.Kind
	if kind == "" {
		kind = ohx.DeviceOther
	}
	text := deviceKindText[kind]
	if text == "" {
		text = string(kind)
	}
	// The most specific verified SNOMED CT device concept (see codes.go),
	// else the root 49062001 |Device|, plus our own kind code.
	dev.Type = []r5.CodeableConcept{t.codeable([]code{deviceType(kind), own("device-kind-"+string(kind), text)}, text)}
	if d.Firmware != "" {
		dev.Version = []r5.DeviceVersion{{Type: &r5.CodeableConcept{Text: ptr("firmware")}, Value: d.Firmware}}
	}
	if d.BatteryPercent != nil {
		dev.Property = append(dev.Property, r5.DeviceProperty{
			Type:          t.codeable([]code{own("battery-level", "Battery level")}, "Battery level"),
			ValueQuantity: quantity(*d.BatteryPercent, "%", 0),
		})
	} else if d.BatteryStatus != "" {
		dev.Property = append(dev.Property, r5.DeviceProperty{
			Type:                 t.codeable([]code{own("battery-status", "Battery status")}, "Battery status"),
			ValueCodeableConcept: &r5.CodeableConcept{Text: ptr(d.BatteryStatus)},
		})
	}
	return dev, nil
}

// deviceType is the SNOMED CT concept of a device kind: only codes verified
// in codes.go, the root concept for the others.
func deviceType(k ohx.DeviceKind) code {
	switch k {
	case ohx.DeviceScale:
		return cScale
	case ohx.DeviceBloodPressure:
		return cNIBP
	case ohx.DevicePhone:
		return cSmartphone
	}
	return cDevice
}

// associationStatus is the R5 DeviceAssociation.status of a device kind
// (http://hl7.org/fhir/deviceassociation-status, R5 5.0.0). "attached" means
// attached to the patient but not implanted: true of what the patient wears
// (a watch, a tracker, a ring). A scale, a blood-pressure monitor, an
// under-mattress sensor, a thermometer or a phone is used by the patient but
// not attached; the code system has no code for that, so the status is
// "unknown" and its text says how the device is used.
func associationStatus(k ohx.DeviceKind) r5.CodeableConcept {
	switch k {
	case ohx.DeviceWatch, ohx.DeviceActivityTracker:
		return r5.CodeableConcept{Coding: []r5.Coding{{System: ptr(SystemDeviceAssociationStatus), Code: ptr("attached"), Display: ptr("Attached")}},
			Text: ptr("Worn by the patient")}
	}
	return r5.CodeableConcept{Coding: []r5.Coding{{System: ptr(SystemDeviceAssociationStatus), Code: ptr("unknown"), Display: ptr("Unknown")}},
		Text: ptr("Used by the patient, not worn or attached")}
}

// DeviceAssociation maps the link between a provider device and the link's
// patient: the status of its kind (attached for what is worn), and
// period.start only from the provider's first-use time (never the time of
// the sync).
func (t *Transformer) DeviceAssociation(link *ohx.Link, d *ohx.Device) (*r5.DeviceAssociation, error) {
	if d.ID == "" {
		return nil, errors.New("fhirmap: device has no provider id")
	}
	provider := d.Provider
	if provider == "" {
		provider = link.Provider
	}
	id := DeviceAssociationID(link, provider, d.ID)
	a := &r5.DeviceAssociation{
		ID:         id,
		Meta:       t.meta(provider),
		Identifier: []r5.Identifier{{System: ptr(t.IdentifierSystem(provider, "device-association")), Value: ptr(id)}},
		Device:     t.ref("Device", DeviceID(provider, d.ID), t.IdentifierSystem(provider, "device"), d.ID),
		Status:     associationStatus(d.Kind),
		Subject:    &r5.Reference{Reference: ptr(link.Patient)},
	}
	if !d.FirstUse.IsZero() {
		a.Period = &r5.Period{Start: instant(d.FirstUse)}
	}
	return a, nil
}

func (t *Transformer) device(link *ohx.Link, d *ohx.Device) ([]ohx.Resource, error) {
	if t.r4() {
		return t.deviceR4(link, d)
	}
	dev, err := t.Device(link, d)
	if err != nil {
		return nil, err
	}
	a, err := t.DeviceAssociation(link, d)
	if err != nil {
		return nil, err
	}
	r1, err := t.resource("Device", dev.ID, "", dev.Identifier[0], dev)
	if err != nil {
		return nil, err
	}
	r2, err := t.resource("DeviceAssociation", a.ID, "", a.Identifier[0], a)
	if err != nil {
		return nil, err
	}
	return []ohx.Resource{r1, r2}, nil
}
