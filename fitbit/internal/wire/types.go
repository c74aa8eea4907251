package wire

import (
	"fmt"
	"time"
)

// Date is a google.type.Date (a civil date).
type Date struct {
	Year  int `json:"year,omitempty"`
	Month int `json:"month,omitempty"`
	Day   int `json:"day,omitempty"`
}

// String renders the date as YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Valid reports whether the date names a real calendar day.
func (d Date) Valid() bool {
	if d.Year < 1 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return false
	}
	t := time.Date(d.Year, time.Month(d.Month), d.Day, 0, 0, 0, 0, time.UTC)
	return t.Day() == d.Day
}

// DateOf returns the civil date of t in its location.
func DateOf(t time.Time) Date {
	return Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}
}

// TimeOfDay is a google.type.TimeOfDay. An empty object means midnight.
type TimeOfDay struct {
	Hours   int `json:"hours,omitempty"`
	Minutes int `json:"minutes,omitempty"`
	Seconds int `json:"seconds,omitempty"`
	Nanos   int `json:"nanos,omitempty"`
}

// CivilDateTime is a civil date and time of day in the user's zone.
type CivilDateTime struct {
	Date Date      `json:"date,omitzero"`
	Time TimeOfDay `json:"time,omitzero"`
}

// Civil returns the civil form of t, which must be in the wanted zone.
func Civil(t time.Time) CivilDateTime {
	return CivilDateTime{Date: DateOf(t), Time: TimeOfDay{Hours: t.Hour(), Minutes: t.Minute(), Seconds: t.Second(), Nanos: t.Nanosecond()}}
}

// SampleTime is an ObservationSampleTime: the instant of a sample.
type SampleTime struct {
	PhysicalTime time.Time     `json:"physicalTime"`
	UTCOffset    *Duration     `json:"utcOffset,omitempty"`
	CivilTime    CivilDateTime `json:"civilTime,omitzero"`
}

// Interval is an ObservationTimeInterval or SessionTimeInterval.
type Interval struct {
	StartTime      time.Time     `json:"startTime"`
	StartUTCOffset *Duration     `json:"startUtcOffset,omitempty"`
	EndTime        time.Time     `json:"endTime"`
	EndUTCOffset   *Duration     `json:"endUtcOffset,omitempty"`
	CivilStartTime CivilDateTime `json:"civilStartTime,omitzero"`
	CivilEndTime   CivilDateTime `json:"civilEndTime,omitzero"`
}

// DataSource says where a data point comes from. Reconciled points have none.
type DataSource struct {
	Platform        string       `json:"platform,omitempty"`
	RecordingMethod string       `json:"recordingMethod,omitempty"`
	Device          *Device      `json:"device,omitempty"`
	Application     *Application `json:"application,omitempty"`
}

// Device is the device of a data source.
type Device struct {
	DisplayName  string `json:"displayName,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	FormFactor   string `json:"formFactor,omitempty"`
}

// Application is the application of a data source.
type Application struct {
	PackageName       string `json:"packageName,omitempty"`
	WebClientID       string `json:"webClientId,omitempty"`
	GoogleWebClientID string `json:"googleWebClientId,omitempty"`
}

// DataPoint is a DataPoint of dataPoints.list or a ReconciledDataPoint of
// dataPoints.reconcile (which names itself dataPointName and has no data
// source). Exactly one value field is set.
type DataPoint struct {
	Name          string      `json:"name,omitempty"`
	DataPointName string      `json:"dataPointName,omitempty"`
	DataSource    *DataSource `json:"dataSource,omitempty"`

	HeartRate                        *HeartRate                        `json:"heartRate,omitempty"`
	Steps                            *Steps                            `json:"steps,omitempty"`
	HeartRateVariability             *HeartRateVariability             `json:"heartRateVariability,omitempty"`
	DailyHeartRateVariability        *DailyHeartRateVariability        `json:"dailyHeartRateVariability,omitempty"`
	DailyRestingHeartRate            *DailyRestingHeartRate            `json:"dailyRestingHeartRate,omitempty"`
	OxygenSaturation                 *OxygenSaturation                 `json:"oxygenSaturation,omitempty"`
	DailyOxygenSaturation            *DailyOxygenSaturation            `json:"dailyOxygenSaturation,omitempty"`
	RespiratoryRateSleepSummary      *RespiratoryRateSleepSummary      `json:"respiratoryRateSleepSummary,omitempty"`
	DailyRespiratoryRate             *DailyRespiratoryRate             `json:"dailyRespiratoryRate,omitempty"`
	DailySleepTemperatureDerivations *DailySleepTemperatureDerivations `json:"dailySleepTemperatureDerivations,omitempty"`
	Weight                           *Weight                           `json:"weight,omitempty"`
	BodyFat                          *BodyFat                          `json:"bodyFat,omitempty"`
	Sleep                            *Sleep                            `json:"sleep,omitempty"`
	Electrocardiogram                *Electrocardiogram                `json:"electrocardiogram,omitempty"`
}

// ID returns the point's resource name (name or dataPointName).
func (p *DataPoint) ID() string {
	if p.Name != "" {
		return p.Name
	}
	return p.DataPointName
}

// ListResponse is a ListDataPointsResponse or ReconcileDataPointsResponse.
type ListResponse struct {
	DataPoints    []DataPoint `json:"dataPoints"`
	NextPageToken string      `json:"nextPageToken,omitempty"`
}

// HeartRate is a heart-rate sample.
type HeartRate struct {
	BeatsPerMinute Int64              `json:"beatsPerMinute"`
	SampleTime     SampleTime         `json:"sampleTime"`
	Metadata       *HeartRateMetadata `json:"metadata,omitempty"`
}

// HeartRateMetadata is the context of a heart-rate sample.
type HeartRateMetadata struct {
	MotionContext  string `json:"motionContext,omitempty"`
	SensorLocation string `json:"sensorLocation,omitempty"`
}

// Steps is a step count over an interval.
type Steps struct {
	Count    Int64    `json:"count"`
	Interval Interval `json:"interval"`
}

// HeartRateVariability is an HRV sample.
type HeartRateVariability struct {
	RMSSD      *Float64   `json:"rootMeanSquareOfSuccessiveDifferencesMilliseconds,omitempty"`
	SDNN       *Float64   `json:"standardDeviationMilliseconds,omitempty"`
	SampleTime SampleTime `json:"sampleTime"`
	Metadata   *struct {
		HighFrequencyPower *Float64 `json:"highFrequencyPower,omitempty"`
		LowFrequencyPower  *Float64 `json:"lowFrequencyPower,omitempty"`
	} `json:"metadata,omitempty"`
}

// DailyHeartRateVariability is a daily HRV summary.
type DailyHeartRateVariability struct {
	Date                          Date     `json:"date"`
	AverageHeartRateVariabilityMs *Float64 `json:"averageHeartRateVariabilityMilliseconds,omitempty"`
	DeepSleepRMSSDMs              *Float64 `json:"deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds,omitempty"`
	Entropy                       *Float64 `json:"entropy,omitempty"`
	NonRemHeartRateBeatsPerMinute *Int64   `json:"nonRemHeartRateBeatsPerMinute,omitempty"`
}

// DailyRestingHeartRate is a daily resting heart rate.
type DailyRestingHeartRate struct {
	Date           Date  `json:"date"`
	BeatsPerMinute Int64 `json:"beatsPerMinute"`
	Metadata       *struct {
		CalculationMethod string `json:"calculationMethod,omitempty"`
	} `json:"dailyRestingHeartRateMetadata,omitempty"`
}

// OxygenSaturation is an SpO2 sample.
type OxygenSaturation struct {
	Percentage Float64    `json:"percentage"`
	SampleTime SampleTime `json:"sampleTime"`
}

// DailyOxygenSaturation is a daily (sleep-time) SpO2 summary.
type DailyOxygenSaturation struct {
	Date                        Date     `json:"date"`
	AveragePercentage           *Float64 `json:"averagePercentage,omitempty"`
	LowerBoundPercentage        *Float64 `json:"lowerBoundPercentage,omitempty"`
	UpperBoundPercentage        *Float64 `json:"upperBoundPercentage,omitempty"`
	StandardDeviationPercentage *Float64 `json:"standardDeviationPercentage,omitempty"`
}

// RespiratoryRateStats are the statistics of one sleep phase.
type RespiratoryRateStats struct {
	BreathsPerMinute  *Float64 `json:"breathsPerMinute,omitempty"`
	StandardDeviation *Float64 `json:"standardDeviation,omitempty"`
	SignalToNoise     *Float64 `json:"signalToNoise,omitempty"`
}

// RespiratoryRateSleepSummary is the respiratory rate of one sleep.
type RespiratoryRateSleepSummary struct {
	SampleTime     SampleTime            `json:"sampleTime"`
	FullSleepStats *RespiratoryRateStats `json:"fullSleepStats,omitempty"`
	DeepSleepStats *RespiratoryRateStats `json:"deepSleepStats,omitempty"`
	LightSleepStat *RespiratoryRateStats `json:"lightSleepStats,omitempty"`
	REMSleepStats  *RespiratoryRateStats `json:"remSleepStats,omitempty"`
}

// DailyRespiratoryRate is the daily respiratory rate (main sleep).
type DailyRespiratoryRate struct {
	Date             Date     `json:"date"`
	BreathsPerMinute *Float64 `json:"breathsPerMinute,omitempty"`
}

// DailySleepTemperatureDerivations is the nightly skin temperature.
type DailySleepTemperatureDerivations struct {
	Date                            Date     `json:"date"`
	NightlyTemperatureCelsius       *Float64 `json:"nightlyTemperatureCelsius,omitempty"`
	BaselineTemperatureCelsius      *Float64 `json:"baselineTemperatureCelsius,omitempty"`
	RelativeNightlyStddev30dCelsius *Float64 `json:"relativeNightlyStddev30dCelsius,omitempty"`
}

// Weight is a weigh-in in grams.
type Weight struct {
	WeightGrams Float64    `json:"weightGrams"`
	SampleTime  SampleTime `json:"sampleTime"`
	Notes       string     `json:"notes,omitempty"`
}

// BodyFat is a body fat percentage.
type BodyFat struct {
	Percentage Float64    `json:"percentage"`
	SampleTime SampleTime `json:"sampleTime"`
}

// Sleep is a sleep session.
type Sleep struct {
	Type       string        `json:"type,omitempty"`
	Interval   Interval      `json:"interval"`
	Stages     []SleepStage  `json:"stages,omitempty"`
	Summary    *SleepSummary `json:"summary,omitempty"`
	Metadata   *SleepMeta    `json:"metadata,omitempty"`
	CreateTime *time.Time    `json:"createTime,omitempty"`
	UpdateTime *time.Time    `json:"updateTime,omitempty"`
}

// SleepStage is one stage of a sleep session.
type SleepStage struct {
	Type           string    `json:"type"`
	StartTime      time.Time `json:"startTime"`
	StartUTCOffset *Duration `json:"startUtcOffset,omitempty"`
	EndTime        time.Time `json:"endTime"`
	EndUTCOffset   *Duration `json:"endUtcOffset,omitempty"`
}

// SleepSummary is the provider's summary of a sleep session.
type SleepSummary struct {
	MinutesAsleep        *Int64         `json:"minutesAsleep,omitempty"`
	MinutesAwake         *Int64         `json:"minutesAwake,omitempty"`
	MinutesInSleepPeriod *Int64         `json:"minutesInSleepPeriod,omitempty"`
	MinutesToFallAsleep  *Int64         `json:"minutesToFallAsleep,omitempty"`
	MinutesAfterWakeUp   *Int64         `json:"minutesAfterWakeUp,omitempty"`
	StagesSummary        []StageSummary `json:"stagesSummary,omitempty"`
}

// StageSummary is the total of one stage type.
type StageSummary struct {
	Type    string `json:"type"`
	Minutes Int64  `json:"minutes"`
	Count   Int64  `json:"count"`
}

// SleepMeta is a sleep session's metadata.
type SleepMeta struct {
	MainSleep      bool   `json:"mainSleep,omitempty"`
	Nap            bool   `json:"nap,omitempty"`
	Processed      bool   `json:"processed,omitempty"`
	ManuallyEdited bool   `json:"manuallyEdited,omitempty"`
	StagesStatus   string `json:"stagesStatus,omitempty"`
	ExternalID     string `json:"externalId,omitempty"`
}

// Electrocardiogram is a single-lead ECG recording.
type Electrocardiogram struct {
	Interval                Interval           `json:"interval"`
	WaveformSamples         []int32            `json:"waveformSamples,omitempty"`
	SamplingFrequencyHertz  int32              `json:"samplingFrequencyHertz,omitempty"`
	MillivoltsScalingFactor int32              `json:"millivoltsScalingFactor,omitempty"`
	LeadNumber              int32              `json:"leadNumber,omitempty"`
	BeatsPerMinuteAvg       *Int64             `json:"beatsPerMinuteAvg,omitempty"`
	ResultClassification    string             `json:"resultClassification,omitempty"`
	MedicalDeviceInfo       *MedicalDeviceInfo `json:"medicalDeviceInfo,omitempty"`
}

// MedicalDeviceInfo describes the SaMD that recorded an ECG.
type MedicalDeviceInfo struct {
	DeviceModel      string `json:"deviceModel,omitempty"`
	FirmwareVersion  string `json:"firmwareVersion,omitempty"`
	FeatureVersion   string `json:"featureVersion,omitempty"`
	AlgorithmVersion string `json:"algorithmVersion,omitempty"`
	ServiceVersion   string `json:"serviceVersion,omitempty"`
}

// Identity is the answer of users.getIdentity.
type Identity struct {
	Name         string `json:"name,omitempty"`
	HealthUserID string `json:"healthUserId"`
	LegacyUserID string `json:"legacyUserId,omitempty"`
}

// Settings is the subset of users.getSettings the provider reads (plus the
// unit preferences, kept for the fake).
type Settings struct {
	Name            string    `json:"name,omitempty"`
	TimeZone        string    `json:"timeZone,omitempty"`
	UTCOffset       *Duration `json:"utcOffset,omitempty"`
	WeightUnit      string    `json:"weightUnit,omitempty"`
	TemperatureUnit string    `json:"temperatureUnit,omitempty"`
	DistanceUnit    string    `json:"distanceUnit,omitempty"`
	LanguageLocale  string    `json:"languageLocale,omitempty"`
}

// PairedDevice is a device paired with the user's account.
type PairedDevice struct {
	Name          string     `json:"name"`
	DeviceType    string     `json:"deviceType,omitempty"`
	DeviceVersion string     `json:"deviceVersion,omitempty"`
	BatteryLevel  *int       `json:"batteryLevel,omitempty"`
	BatteryStatus string     `json:"batteryStatus,omitempty"`
	LastSyncTime  *time.Time `json:"lastSyncTime,omitempty"`
	MacAddress    string     `json:"macAddress,omitempty"`
	Features      []string   `json:"features,omitempty"`
}

// PairedDevicesResponse is a ListPairedDevicesResponse.
type PairedDevicesResponse struct {
	PairedDevices []PairedDevice `json:"pairedDevices"`
	NextPageToken string         `json:"nextPageToken,omitempty"`
}

// Subscriber is a project's webhook endpoint registration.
type Subscriber struct {
	Name                  string                 `json:"name,omitempty"`
	EndpointURI           string                 `json:"endpointUri,omitempty"`
	SubscriberConfigs     []SubscriberConfig     `json:"subscriberConfigs,omitempty"`
	EndpointAuthorization *EndpointAuthorization `json:"endpointAuthorization,omitempty"`
	State                 string                 `json:"state,omitempty"`
	CreateTime            *time.Time             `json:"createTime,omitempty"`
	UpdateTime            *time.Time             `json:"updateTime,omitempty"`
}

// SubscriberConfig says which data types a subscriber gets and how
// subscriptions are created.
type SubscriberConfig struct {
	DataTypes                []string `json:"dataTypes"`
	SubscriptionCreatePolicy string   `json:"subscriptionCreatePolicy"`
}

// EndpointAuthorization carries the Authorization secret (write) or whether
// one is set (read; the guide's sample calls it authorizationTokenSet).
type EndpointAuthorization struct {
	Secret                string `json:"secret,omitempty"`
	SecretSet             bool   `json:"secretSet,omitempty"`
	AuthorizationTokenSet bool   `json:"authorizationTokenSet,omitempty"`
}

// SubscribersResponse is a ListSubscribersResponse.
type SubscribersResponse struct {
	Subscribers   []Subscriber `json:"subscribers"`
	NextPageToken string       `json:"nextPageToken,omitempty"`
	TotalSize     int          `json:"totalSize,omitempty"`
}

// Status is a google.rpc.Status error body.
type Status struct {
	Error struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Status  string          `json:"status"`
		Details []StatusDetails `json:"details,omitempty"`
	} `json:"error"`
}

// StatusDetails is one entry of google.rpc.Status details (ErrorInfo,
// BadRequest, QuotaFailure fields flattened).
type StatusDetails struct {
	Type            string            `json:"@type"`
	Reason          string            `json:"reason,omitempty"`
	Domain          string            `json:"domain,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	FieldViolations []FieldViolation  `json:"fieldViolations,omitempty"`
	Violations      []QuotaViolation  `json:"violations,omitempty"`
}

// FieldViolation is a google.rpc.BadRequest field violation.
type FieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// QuotaViolation is a google.rpc.QuotaFailure violation.
type QuotaViolation struct {
	Subject     string `json:"subject"`
	Description string `json:"description"`
}

// Reason returns the ErrorInfo reason of the status, if any.
func (s *Status) Reason() string {
	for _, d := range s.Error.Details {
		if d.Reason != "" {
			return d.Reason
		}
	}
	return ""
}
