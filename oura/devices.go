package oura

import (
	"context"
	"net/url"
	"strings"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/oura/internal/wire"
)

// ringModels names Oura's hardware types.
var ringModels = map[string]string{
	"gen1": "Oura Ring (1st generation)",
	"gen2": "Oura Ring Gen2",
	"gen3": "Oura Ring Gen3",
	"gen4": "Oura Ring 4",
}

// setUpPlaceholder: ring_configuration reports set_up_at 1970-01-01 for
// rings set up before Oura recorded it; such dates are not a first use.
var setUpPlaceholder = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Devices implements ohx.Provider: the user's rings from ring_configuration
// (every page), as activity trackers with Oura's hardware type as model
// number, their firmware, and set_up_at as first use. Without the
// ring_configuration scope it returns no device and no error: the user did
// not share device details.
func (p *Provider) Devices(ctx context.Context, link ohx.Link) ([]ohx.Device, error) {
	c := &collection{path: "ring_configuration", scope: ScopeRingConfiguration}
	rings, err := readAll(ctx, p, &link, c, url.Values{}, func(r *wire.RingConfiguration) string { return r.ID }, nil)
	if _, missing := isMissingScope(err); missing && ctx.Err() == nil {
		p.log.Info("ring configuration not shared by the user; no devices")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]ohx.Device, 0, len(rings))
	for _, r := range rings {
		if r.ID == "" {
			continue
		}
		d := ohx.Device{Provider: Name, ID: r.ID, Kind: ohx.DeviceActivityTracker, Manufacturer: "Oura", Model: "Oura Ring"}
		if r.HardwareType != nil && *r.HardwareType != "" {
			hw := strings.ToLower(*r.HardwareType)
			d.ModelNumber = hw
			if m, ok := ringModels[hw]; ok {
				d.Model = m
			}
		}
		if r.FirmwareVersion != nil {
			d.Firmware = *r.FirmwareVersion
		}
		if r.SetUpAt.After(setUpPlaceholder) {
			d.FirstUse = r.SetUpAt.UTC()
		}
		out = append(out, d)
	}
	return out, nil
}
