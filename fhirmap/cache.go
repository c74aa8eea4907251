package fhirmap

import "sync"

// maxCached bounds each cache so a stream of unexpected keys cannot grow
// memory without limit; beyond it values are computed every time.
const maxCached = 4096

// providerStrings are the per-provider strings of the hot path.
type providerStrings struct {
	source, observation, record, device, providerType string
}

type caches struct {
	mu        sync.RWMutex
	providers map[string]*providerStrings
	devices   map[[2]string]string
}

func (t *Transformer) provider(name string) *providerStrings {
	t.cache.mu.RLock()
	p := t.cache.providers[name]
	t.cache.mu.RUnlock()
	if p != nil {
		return p
	}
	p = &providerStrings{
		source:       t.base + ":" + name,
		observation:  t.IdentifierSystem(name, "observation"),
		record:       t.IdentifierSystem(name, "record"),
		device:       t.IdentifierSystem(name, "device"),
		providerType: t.ProviderTypeSystem(name),
	}
	t.cache.mu.Lock()
	if t.cache.providers == nil {
		t.cache.providers = map[string]*providerStrings{}
	}
	if len(t.cache.providers) < maxCached {
		t.cache.providers[name] = p
	}
	t.cache.mu.Unlock()
	return p
}

// deviceID is DeviceID with a cache: a sync of one link sees a handful of
// devices for millions of samples.
func (t *Transformer) deviceID(provider, id string) string {
	k := [2]string{provider, id}
	t.cache.mu.RLock()
	v, ok := t.cache.devices[k]
	t.cache.mu.RUnlock()
	if ok {
		return v
	}
	v = DeviceID(provider, id)
	t.cache.mu.Lock()
	if t.cache.devices == nil {
		t.cache.devices = map[[2]string]string{}
	}
	if len(t.cache.devices) < maxCached {
		t.cache.devices[k] = v
	}
	t.cache.mu.Unlock()
	return v
}
