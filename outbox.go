package ohx

import "slices"

// BundleSizer is implemented by a Publisher that writes resources in
// bundles of a fixed number of entries (publish.FHIR). The engine then sizes
// its batches so that their resources fill whole bundles.
type BundleSizer interface {
	// BundleSize returns the number of entries per bundle.
	BundleSize() int
}

// maxSharedDevices bounds the Devices a sync remembers as acknowledged.
const maxSharedDevices = 64

// outbox is what one sync knows about what it sends: how many samples make
// a batch whose resources fill whole bundles, and which Devices the
// destination already acknowledged.
//
// Cursors still move only after the destination acknowledged a whole batch;
// the outbox changes how many samples a batch has, not that contract. A
// batch of n samples maps to about n resources plus a fixed overhead (a
// Provenance per data type, the software Device that is its agent); the
// overhead seen in the last batch predicts the next one, so the next batch
// takes k·bundle − overhead samples, k whole bundles near BatchSize.
type outbox struct {
	bundle, size int
	// fill is the number of samples of the next batch.
	fill int
	// devices are the Devices acknowledged in this sync, key → JSON: a Device
	// that every batch carries (the Provenance agent) is sent once per sync,
	// and again only when its JSON changes.
	devices map[string]string
}

func newOutbox(bundle, size int) *outbox {
	return &outbox{bundle: bundle, size: size, fill: size}
}

// unsent drops the Devices this sync already wrote with the same JSON.
func (o *outbox) unsent(rs []Resource) []Resource {
	if len(o.devices) == 0 {
		return rs
	}
	return slices.DeleteFunc(rs, func(r Resource) bool {
		if r.Type != "Device" {
			return false
		}
		j, ok := o.devices[r.Key()]
		return ok && j == string(r.JSON)
	})
}

// acknowledged remembers the Devices the destination took and returns how
// many it remembered.
func (o *outbox) acknowledged(rs []Resource, res PublishResult) int {
	n := 0
	for i := range rs {
		r := &rs[i]
		if r.Type != "Device" || len(o.devices) >= maxSharedDevices || slices.ContainsFunc(res.Rejected, func(rj Rejection) bool { return rj.Key == r.Key() }) {
			continue
		}
		if o.devices == nil {
			o.devices = make(map[string]string)
		}
		o.devices[r.Key()] = string(r.JSON)
		n++
	}
	return n
}

// sized learns from a batch of samples that became resources what the next
// batch's size is.
func (o *outbox) sized(samples, resources int) {
	o.fill = batchFill(o.size, o.bundle, resources-samples)
}

// batchFill returns the number of samples whose resources, with overhead
// more, fill the whole number of bundles nearest to size samples. Without a
// bundle size, or with an overhead the formula cannot use, it is size.
func batchFill(size, bundle, overhead int) int {
	if bundle <= 0 || overhead < 0 || overhead >= bundle {
		return size
	}
	k := max(1, (size+overhead+bundle/2)/bundle)
	return k*bundle - overhead
}
