package ohxtest

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Provider is a fake ohx.Provider. For every requested data type it generates
// samples at a fixed spacing, aligned to multiples of Every since the Unix
// epoch, with values from a deterministic function of the time, so the same
// window always yields the same samples. It needs no network.
type Provider struct {
	// ProviderName is returned by Name; empty means "fake".
	ProviderName string
	// Every is the spacing of instantaneous samples; zero means one minute.
	Every time.Duration
	// Offset is the UTC offset stamped on every sample.
	Offset time.Duration
	// Types are the data types it offers; empty means heart rate, steps,
	// ECG and body weight.
	Types []ohx.DataType
	// FailAfter, when positive, makes Fetch yield FailErr after that many
	// samples (counted over the provider's life), once.
	FailAfter int64
	// FailErr is the error FailAfter yields; nil means a transient
	// *ohx.ProviderError.
	FailErr error

	yielded atomic.Int64
	failed  atomic.Bool
}

var (
	_ ohx.Provider       = (*Provider)(nil)
	_ ohx.DataTypeLister = (*Provider)(nil)
)

// Name implements ohx.Provider.
func (p *Provider) Name() string {
	if p.ProviderName == "" {
		return "fake"
	}
	return p.ProviderName
}

// DataTypes implements ohx.DataTypeLister.
func (p *Provider) DataTypes() []ohx.DataType {
	if len(p.Types) == 0 {
		return []ohx.DataType{ohx.HeartRate, ohx.Steps, ohx.ECG, ohx.BodyWeight}
	}
	return slices.Clone(p.Types)
}

// Allowed implements ohx.DataTypeLister: the fake has no scopes, so every
// offered type is allowed.
func (p *Provider) Allowed(_ []string, types []ohx.DataType) []ohx.DataType {
	return slices.Clone(types)
}

// Yielded returns how many samples the provider has yielded so far.
func (p *Provider) Yielded() int64 { return p.yielded.Load() }

func (p *Provider) every() time.Duration {
	if p.Every <= 0 {
		return time.Minute
	}
	return p.Every
}

// spacing returns the sample spacing of t: weight daily, ECG every six hours,
// steps per minute interval, the rest at Every.
func (p *Provider) spacing(t ohx.DataType) time.Duration {
	switch t {
	case ohx.BodyWeight:
		return 24 * time.Hour
	case ohx.ECG:
		return 6 * time.Hour
	case ohx.Steps:
		return time.Minute
	}
	return p.every()
}

// Fetch implements ohx.Provider. It yields the types one after the other,
// each in time order.
func (p *Provider) Fetch(ctx context.Context, link ohx.Link, types []ohx.DataType, w ohx.Window) iter.Seq2[ohx.Sample, error] {
	return func(yield func(ohx.Sample, error) bool) {
		for _, t := range types {
			if !slices.Contains(p.DataTypes(), t) {
				continue
			}
			step := p.spacing(t)
			first := w.Start.Truncate(step)
			if first.Before(w.Start) {
				first = first.Add(step)
			}
			for at := first; at.Before(w.End); at = at.Add(step) {
				if err := ctx.Err(); err != nil {
					yield(ohx.Sample{}, err)
					return
				}
				if p.FailAfter > 0 && p.yielded.Load() >= p.FailAfter && p.failed.CompareAndSwap(false, true) {
					err := p.FailErr
					if err == nil {
						err = &ohx.ProviderError{Provider: p.Name(), Op: "fetch", Kind: ohx.KindTransient, HTTPStatus: 503}
					}
					yield(ohx.Sample{}, err)
					return
				}
				for _, s := range p.samples(link, t, at.UTC()) {
					p.yielded.Add(1)
					if !yield(s, nil) {
						return
					}
				}
			}
		}
	}
}

func (p *Provider) samples(link ohx.Link, t ohx.DataType, at time.Time) []ohx.Sample {
	base := ohx.Sample{
		Type: t, Start: at, End: at, StartOffset: p.Offset, EndOffset: p.Offset,
		Provider: p.Name(), DeviceID: "fake-device-1", Recording: ohx.RecordedByDevice,
	}
	info, _ := t.Info()
	base.Unit = info.Unit
	phase := float64(at.Unix()) / 3600
	switch t {
	case ohx.HeartRate:
		base.Value = math.Round(70 + 12*math.Sin(phase))
	case ohx.Steps:
		base.End = at.Add(time.Minute)
		base.Value = float64((at.Unix()/60)%97 + 3)
	case ohx.BodyWeight:
		base.Value = 70 + math.Round(10*math.Sin(phase/24))/10
	case ohx.ECG:
		const hz = 300
		base.End = at.Add(30 * time.Second)
		base.RecordID = fmt.Sprintf("ecg-%d", at.Unix())
		base.Group = base.RecordID
		samples := make([]int32, 30*hz)
		for i := range samples {
			samples[i] = int32(800 * math.Sin(float64(i)*2*math.Pi/float64(hz)))
		}
		base.Waveform = &ohx.Waveform{Samples: samples, SamplingFrequency: hz, FactorToMillivolts: 0.001, Lead: "I", Classification: ohx.ECGSinusRhythm}
		hr := ohx.Sample{
			Type: ohx.HeartRate, Start: at, End: at, StartOffset: p.Offset, EndOffset: p.Offset,
			Value: 66, Unit: "/min", Provider: p.Name(), DeviceID: base.DeviceID, Recording: ohx.RecordedByDevice,
			RecordID: base.RecordID, Group: base.Group, CompanionOf: ohx.ECG,
		}
		return []ohx.Sample{base, hr}
	default:
		base.Value = 1
	}
	return []ohx.Sample{base}
}

// Devices implements ohx.Provider.
func (p *Provider) Devices(ctx context.Context, _ ohx.Link) ([]ohx.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pct := 80.0
	return []ohx.Device{{
		Provider: p.Name(), ID: "fake-device-1", Kind: ohx.DeviceWatch, Manufacturer: "ohx",
		Model: "Fake Watch", ModelNumber: "FW-1", Firmware: "1.0.0", BatteryPercent: &pct,
		FirstUse: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}}, nil
}

// ErrInjected is a ready-made error for tests to inject, for example as
// Provider.FailErr.
var ErrInjected = errors.New("ohxtest: injected failure")
