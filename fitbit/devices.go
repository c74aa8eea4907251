package fitbit

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/fitbit/internal/wire"
)

// Devices implements ohx.Provider: it lists users/me/pairedDevices, every
// page.
func (p *Provider) Devices(ctx context.Context, link ohx.Link) ([]ohx.Device, error) {
	q := url.Values{"pageSize": {"100"}}
	var out []ohx.Device
	for {
		var page wire.PairedDevicesResponse
		if err := p.call(ctx, &link, request{op: "pairedDevices.list", method: http.MethodGet, path: "users/me/pairedDevices", query: q}, &page); err != nil {
			return nil, err
		}
		for i := range page.PairedDevices {
			out = append(out, deviceOf(&page.PairedDevices[i]))
		}
		if page.NextPageToken == "" {
			return out, nil
		}
		q.Set("pageToken", page.NextPageToken)
	}
}

func deviceOf(d *wire.PairedDevice) ohx.Device {
	id := d.Name
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	dev := ohx.Device{
		Provider:      Name,
		ID:            id,
		Kind:          ohx.DeviceOther,
		Manufacturer:  "Google",
		Model:         d.DeviceVersion,
		BatteryStatus: strings.ToLower(d.BatteryStatus),
		Features:      d.Features,
	}
	switch d.DeviceType {
	case "TRACKER":
		dev.Kind = ohx.DeviceActivityTracker
		if strings.Contains(strings.ToLower(d.DeviceVersion), "watch") || strings.Contains(strings.ToLower(d.DeviceVersion), "sense") || strings.Contains(strings.ToLower(d.DeviceVersion), "versa") {
			dev.Kind = ohx.DeviceWatch
		}
	case "SCALE":
		dev.Kind = ohx.DeviceScale
	}
	if strings.HasPrefix(d.DeviceVersion, "Pixel") {
		dev.Manufacturer = "Google"
	} else if d.DeviceVersion != "" {
		dev.Manufacturer = "Fitbit"
	}
	if d.BatteryLevel != nil {
		v := float64(*d.BatteryLevel)
		dev.BatteryPercent = &v
	}
	if d.LastSyncTime != nil {
		dev.LastSync = d.LastSyncTime.UTC()
	}
	return dev
}
