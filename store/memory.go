package store

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
)

// Memory is an in-memory ohx.Store. It is safe for concurrent use. Its lock is
// process-local: use a shared store's lock when several processes refresh
// tokens.
//
// Memory keeps tokens in plain process memory (there is no rest to protect
// them at); the durable stores seal them.
type Memory struct {
	mu      sync.Mutex
	links   map[string]ohx.Link
	tokens  map[string]ohx.Token
	cursors map[string]map[ohx.DataType]time.Time
	syncs   map[string]map[ohx.DataType]SyncStatus
	initial map[string]InitialSync
	outbox  memoryOutbox
	leases  map[string]*lease
	flows   map[string]ConnectFlow // connect flows by id (memory_connect.go)
	now     func() time.Time
}

// MemoryOption configures a Memory store.
type MemoryOption func(*Memory)

// WithMemoryClock makes the store read the time from now (link bookkeeping
// times and lease expiry), for deterministic tests. Lock waiters notice a
// clock moved forward within 50ms.
func WithMemoryClock(now func() time.Time) MemoryOption {
	return func(m *Memory) {
		if now != nil {
			m.now = now
		}
	}
}

type lease struct {
	expires time.Time
	freed   chan struct{}
}

var (
	_ ohx.Store = (*Memory)(nil)
	_ Store     = (*Memory)(nil)
)

// NewMemory returns an empty in-memory store.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{
		links:   map[string]ohx.Link{},
		tokens:  map[string]ohx.Token{},
		cursors: map[string]map[ohx.DataType]time.Time{},
		syncs:   map[string]map[ohx.DataType]SyncStatus{},
		initial: map[string]InitialSync{},
		outbox:  memoryOutbox{byID: map[string]*OutboxEvent{}},
		leases:  map[string]*lease{},
		now:     time.Now,
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Link implements ohx.LinkFinder.
func (m *Memory) Link(_ context.Context, id string) (ohx.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.links[id]
	if !ok {
		return ohx.Link{}, ohx.ErrNotFound
	}
	return cloneLink(l), nil
}

// LinkByExternalUser implements ohx.LinkFinder. When several links name the
// same provider user (an account linked again), it returns an active one
// first, then the most recently updated, then the lowest ID; every store
// follows this rule.
func (m *Memory) LinkByExternalUser(_ context.Context, provider, externalUserID string) (ohx.Link, error) {
	if externalUserID == "" {
		return ohx.Link{}, ohx.ErrNotFound
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var best *ohx.Link
	for _, l := range m.links {
		if l.Provider != provider || l.ExternalUserID != externalUserID {
			continue
		}
		if best == nil || betterExternalMatch(l, *best) {
			best = &l
		}
	}
	if best == nil {
		return ohx.Link{}, ohx.ErrNotFound
	}
	return cloneLink(*best), nil
}

// betterExternalMatch orders candidate links of one provider user.
func betterExternalMatch(a, b ohx.Link) bool {
	if aa, ba := a.Status == ohx.LinkActive, b.Status == ohx.LinkActive; aa != ba {
		return aa
	}
	if !a.Updated.Equal(b.Updated) {
		return a.Updated.After(b.Updated)
	}
	return a.ID < b.ID
}

// Links implements LinkLister.
func (m *Memory) Links(_ context.Context, q LinkQuery) ([]ohx.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ohx.Link
	for _, id := range slices.Sorted(maps.Keys(m.links)) {
		if q.Limit > 0 && len(out) >= q.Limit {
			break
		}
		l := m.links[id]
		if id <= q.AfterID || q.Provider != "" && l.Provider != q.Provider || q.Status != "" && l.Status != q.Status {
			continue
		}
		out = append(out, cloneLink(l))
	}
	return out, nil
}

// LinksByPatient implements ohx.LinkFinder.
func (m *Memory) LinksByPatient(_ context.Context, patient string) ([]ohx.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []ohx.Link
	for _, id := range slices.Sorted(maps.Keys(m.links)) {
		if l := m.links[id]; l.Patient == patient {
			out = append(out, cloneLink(l))
		}
	}
	return out, nil
}

// SaveLink implements ohx.LinkWriter.
func (m *Memory) SaveLink(_ context.Context, l ohx.Link) error {
	if l.ID == "" {
		return errNoID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saveLink(l)
	return nil
}

// saveLink saves l. m.mu is held.
func (m *Memory) saveLink(l ohx.Link) {
	now := m.now().UTC()
	if old, ok := m.links[l.ID]; ok {
		l.Created = old.Created
	} else if l.Created.IsZero() {
		l.Created = now
	}
	l.Updated = now
	m.links[l.ID] = cloneLink(l)
}

// DeleteLink implements ohx.LinkWriter.
func (m *Memory) DeleteLink(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deleteLink(id)
	return nil
}

// deleteLink deletes the link and what belongs to it. m.mu is held.
func (m *Memory) deleteLink(id string) {
	delete(m.links, id)
	delete(m.tokens, id)
	delete(m.cursors, id)
	delete(m.syncs, id)
	delete(m.initial, id)
}

// RecordSync implements SyncStatusStore.
func (m *Memory) RecordSync(_ context.Context, linkID string, t ohx.DataType, r SyncResult) error {
	if linkID == "" {
		return errNoID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recordSync(linkID, t, r)
	return nil
}

// recordSync folds r into the status of (link, t). m.mu is held.
func (m *Memory) recordSync(linkID string, t ohx.DataType, r SyncResult) {
	if r.At.IsZero() {
		r.At = m.now()
	}
	r.At = r.At.UTC()
	s := m.syncs[linkID]
	if s == nil {
		s = map[ohx.DataType]SyncStatus{}
		m.syncs[linkID] = s
	}
	st := s[t]
	st.DataType = t
	s[t] = st.Apply(r)
}

// SyncStatus implements SyncStatusStore.
func (m *Memory) SyncStatus(_ context.Context, linkID string) (map[ohx.DataType]SyncStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.syncs[linkID]), nil
}

// Token implements ohx.TokenStore.
func (m *Memory) Token(_ context.Context, linkID string) (ohx.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[linkID]
	if !ok {
		return ohx.Token{}, ohx.ErrNotFound
	}
	return t, nil
}

// SaveToken implements ohx.TokenStore.
func (m *Memory) SaveToken(_ context.Context, linkID string, t ohx.Token) error {
	if linkID == "" {
		return errNoID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t.Expiry = t.Expiry.UTC()
	m.tokens[linkID] = t
	return nil
}

// Cursors implements ohx.CursorStore.
func (m *Memory) Cursors(_ context.Context, linkID string) (map[ohx.DataType]time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.cursors[linkID]), nil
}

// AdvanceCursor implements ohx.CursorStore.
func (m *Memory) AdvanceCursor(_ context.Context, linkID string, t ohx.DataType, at time.Time) error {
	if linkID == "" {
		return errNoID
	}
	if err := storeutil.CheckCursorTime(at); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.cursors[linkID]
	if c == nil {
		c = map[ohx.DataType]time.Time{}
		m.cursors[linkID] = c
	}
	if old, ok := c[t]; !ok || at.After(old) {
		c[t] = at.UTC()
	}
	return nil
}

// Lock implements ohx.Locker with process-local leases.
func (m *Memory) Lock(ctx context.Context, name string, d time.Duration) (func(), error) {
	if d <= 0 {
		return nil, storeutil.ErrBadLease
	}
	for {
		m.mu.Lock()
		l := m.leases[name]
		now := m.now()
		if l == nil || !now.Before(l.expires) {
			mine := &lease{expires: now.Add(d), freed: make(chan struct{})}
			m.leases[name] = mine
			m.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					m.mu.Lock()
					if m.leases[name] == mine {
						delete(m.leases, name)
					}
					m.mu.Unlock()
					close(mine.freed)
				})
			}, nil
		}
		wait := min(l.expires.Sub(now), 50*time.Millisecond)
		m.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-l.freed:
			t.Stop()
		case <-t.C:
		}
	}
}

// cloneLink copies the link's slices; empty slices become nil, as every
// store returns them.
func cloneLink(l ohx.Link) ohx.Link {
	l.Scopes = cloneOrNil(l.Scopes)
	l.DataTypes = cloneOrNil(l.DataTypes)
	return l
}

func cloneOrNil[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

var errNoID = storeutil.ErrNoID
