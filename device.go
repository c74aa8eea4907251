package ohx

import "time"

// DeviceKind is the broad kind of a provider device.
type DeviceKind string

// Device kinds.
const (
	DeviceScale           DeviceKind = "scale"
	DeviceBloodPressure   DeviceKind = "blood-pressure-monitor"
	DeviceActivityTracker DeviceKind = "activity-tracker"
	DeviceWatch           DeviceKind = "watch"
	DeviceSleepMonitor    DeviceKind = "sleep-monitor"
	DeviceThermometer     DeviceKind = "thermometer"
	DevicePhone           DeviceKind = "phone"
	DeviceOther           DeviceKind = "other"
)

// Device is a device of a provider user, as the provider reports it.
type Device struct {
	// Provider is the provider's name.
	Provider string
	// ID is the provider's device id; Sample.DeviceID refers to it.
	ID string
	// Kind is the broad device kind.
	Kind DeviceKind
	// Manufacturer is the maker ("Withings", "Google").
	Manufacturer string
	// Model is the product name ("Body+", "Pixel Watch 3").
	Model string
	// ModelNumber is the provider's model number or id, when known.
	ModelNumber string
	// Firmware is the firmware version, when known.
	Firmware string
	// BatteryPercent is the battery level in percent, when the provider gives a
	// number.
	BatteryPercent *float64
	// BatteryStatus is the provider's battery word ("high", "low"), when given.
	BatteryStatus string
	// FirstUse is when the device was first used by this user (zero if unknown).
	FirstUse time.Time
	// LastSync is when the device last synced with the provider (zero if unknown).
	LastSync time.Time
	// Features lists capabilities the provider reports (e.g. "HEART_RATE").
	Features []string
}
