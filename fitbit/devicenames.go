package fitbit

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/openhealthexchange/ohx"
)

// deviceNames resolves the device a Google data point names by display name
// only (dataSource.device.displayName, e.g. "Charge 6") to one of the user's
// paired devices, whose product name is its deviceVersion. A name matches
// when exactly one paired device carries it (ignoring case and surrounding
// space); a name no paired device or several carry stays a display name.
// The paired devices are listed once per fetch, when the first sample that
// names a device appears.
type deviceNames struct {
	loaded bool
	ids    map[string]string // folded product name -> provider device id
}

// nameDevices sets DeviceID on the samples whose device name matches one paired
// device. The samples keep DeviceName.
func (p *Provider) nameDevices(ctx context.Context, link *ohx.Link, d *deviceNames, samples []ohx.Sample) error {
	for i := range samples {
		s := &samples[i]
		if s.DeviceName == "" || s.DeviceID != "" {
			continue
		}
		if !d.loaded {
			if err := p.loadDeviceNames(ctx, link, d); err != nil {
				return err
			}
		}
		if id, ok := d.ids[foldName(s.DeviceName)]; ok {
			s.DeviceID = id
		}
	}
	return nil
}

func (p *Provider) loadDeviceNames(ctx context.Context, link *ohx.Link, d *deviceNames) error {
	devs, err := p.Devices(ctx, *link)
	if err != nil {
		var pe *ohx.ProviderError
		if errors.As(err, &pe) && pe.HTTPStatus == http.StatusForbidden && strings.Contains(pe.Code, "ACCESS_TOKEN_SCOPE_INSUFFICIENT") {
			// The user did not grant the settings scope: the devices stay
			// named by display only, and the data is read all the same.
			d.loaded = true
			return nil
		}
		return err
	}
	d.loaded = true
	d.ids = indexDeviceNames(devs)
	return nil
}

// indexDeviceNames maps each folded product name that exactly one device
// carries to that device's id.
func indexDeviceNames(devs []ohx.Device) map[string]string {
	ids := map[string]string{}
	seen := map[string]int{}
	for _, dev := range devs {
		k := foldName(dev.Model)
		if k == "" || dev.ID == "" {
			continue
		}
		seen[k]++
		ids[k] = dev.ID
	}
	for k, n := range seen {
		if n != 1 {
			delete(ids, k)
		}
	}
	return ids
}

func foldName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
