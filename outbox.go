package ohx

import (
	"slices"
	"strings"
	"time"
)

// BundleSizer is implemented by a Publisher that writes resources in
// bundles of a fixed number of entries (publish.FHIR). The engine then hands
// it whole bundles only, but for the last call of a sync.
type BundleSizer interface {
	// BundleSize returns the number of entries per bundle.
	BundleSize() int
}

// maxSharedDevices bounds the Devices a sync remembers as sent.
const maxSharedDevices = 64

// outbox holds what one sync mapped and has not sent yet, and the cursor
// moves that wait for it.
//
// With a publisher that writes bundles, the outbox sends whole bundles only:
// the resources that do not fill one wait for the next batch, also across the
// sync's windows, and go out with the last call of the sync. A cursor moves
// only once the destination acknowledged every resource queued before the
// move (the resources of everything the cursor passes): a cursor may lag
// behind what was read by the resources still waiting, never lead.
type outbox struct {
	bundle int
	// pending are the resources mapped but not sent yet; sent counts the
	// resources acknowledged before pending[0], so pending[i] is resource
	// number sent+i of the sync.
	pending []Resource
	sent    int
	// marks are the cursor moves waiting for acknowledgement, in the order
	// they were made; queued is the latest of them per type.
	marks  []cursorMark
	queued map[DataType]time.Time
	// devices are the Devices queued in this sync, key → JSON: a Device that
	// every batch carries (the Provenance agent) is sent once per sync, and
	// again only when its JSON changes or the destination refused it.
	devices map[string]string
	// arenas hold the JSON of queued resources (see Arena), in the order
	// they were queued.
	arenas []heldArena
}

// heldArena is an arena that is free once the first end resources of the
// sync were acknowledged.
type heldArena struct {
	end int
	a   *Arena
}

// cursorMark is a cursor move that is safe once the first pos resources of
// the sync were acknowledged.
type cursorMark struct {
	pos int
	t   DataType
	at  time.Time
}

func newOutbox(bundle int) *outbox {
	return &outbox{bundle: max(bundle, 0)}
}

// add queues resources, leaving out the Devices this sync queued before
// with the same JSON.
func (o *outbox) add(rs []Resource) {
	for i := range rs {
		r := &rs[i]
		if r.Type == "Device" {
			key := r.Key()
			if j, ok := o.devices[key]; ok && j == string(r.JSON) {
				continue
			}
			if o.devices == nil {
				o.devices = make(map[string]string)
			}
			if len(o.devices) < maxSharedDevices {
				o.devices[key] = string(r.JSON)
			}
		}
		o.pending = append(o.pending, *r)
	}
}

// mark queues a cursor move behind every resource queued so far.
func (o *outbox) mark(t DataType, at time.Time) {
	o.marks = append(o.marks, cursorMark{pos: o.sent + len(o.pending), t: t, at: at})
	if o.queued == nil {
		o.queued = make(map[DataType]time.Time)
	}
	if at.After(o.queued[t]) {
		o.queued[t] = at
	}
}

// cursor returns where t's cursor will be once everything queued is
// acknowledged: the latest of its acknowledged position and its moves
// waiting.
func (o *outbox) cursor(t DataType, acked map[DataType]time.Time) (time.Time, bool) {
	c, ok := acked[t]
	if q, queued := o.queued[t]; queued && (!ok || q.After(c)) {
		return q, true
	}
	return c, ok
}

// next returns the resources to send now: with bundles, the whole bundles
// pending (all of them when all is set); without, everything pending.
func (o *outbox) next(all bool) []Resource {
	n := len(o.pending)
	if !all && o.bundle > 0 {
		n -= n % o.bundle
	}
	return o.pending[:n]
}

// acknowledged records that the first n pending resources were published
// with result res, and returns the cursor moves that became safe, in order.
// The returned slice is valid until the next call.
func (o *outbox) acknowledged(n int, res PublishResult) []cursorMark {
	for _, rj := range res.Rejected {
		if strings.HasPrefix(rj.Key, "Device/") {
			delete(o.devices, rj.Key) // send it again with the next batch
		}
	}
	m := copy(o.pending, o.pending[n:])
	clear(o.pending[m:]) // drop references to resource JSON
	o.pending = o.pending[:m]
	o.sent += n
	k := 0
	for k < len(o.arenas) && o.arenas[k].end <= o.sent {
		putArena(o.arenas[k].a) // none of its resources is queued any more
		k++
	}
	o.arenas = slices.Delete(o.arenas, 0, k)
	return o.ready()
}

// hold keeps a, which holds the JSON of resources just queued, until every
// resource queued so far is acknowledged.
func (o *outbox) hold(a *Arena) {
	if a != nil {
		o.arenas = append(o.arenas, heldArena{end: o.sent + len(o.pending), a: a})
	}
}

// close ends the sync: the resources still queued are dropped, and the
// arenas that held them are free.
func (o *outbox) close() {
	clear(o.pending)
	o.pending = o.pending[:0]
	for _, h := range o.arenas {
		putArena(h.a)
	}
	o.arenas = nil
}

// ready removes and returns the cursor moves whose resources were all
// acknowledged.
func (o *outbox) ready() []cursorMark {
	k := 0
	for k < len(o.marks) && o.marks[k].pos <= o.sent {
		k++
	}
	if k == 0 {
		return nil
	}
	done := o.marks[:k:k]
	o.marks = o.marks[k:]
	return done
}
