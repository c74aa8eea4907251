package store

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
)

// Memory is an in-memory ohx.Store. It is safe for concurrent use. Its lock is
// process-local: use a shared store's lock when several processes refresh
// tokens.
type Memory struct {
	mu      sync.Mutex
	links   map[string]ohx.Link
	tokens  map[string]ohx.Token
	cursors map[string]map[ohx.DataType]time.Time
	leases  map[string]*lease
	now     func() time.Time
}

type lease struct {
	expires time.Time
	freed   chan struct{}
}

var _ ohx.Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		links:   map[string]ohx.Link{},
		tokens:  map[string]ohx.Token{},
		cursors: map[string]map[ohx.DataType]time.Time{},
		leases:  map[string]*lease{},
		now:     time.Now,
	}
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

// LinkByExternalUser implements ohx.LinkFinder.
func (m *Memory) LinkByExternalUser(_ context.Context, provider, externalUserID string) (ohx.Link, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range slices.Sorted(maps.Keys(m.links)) {
		l := m.links[id]
		if l.Provider == provider && l.ExternalUserID == externalUserID {
			return cloneLink(l), nil
		}
	}
	return ohx.Link{}, ohx.ErrNotFound
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
	now := m.now().UTC()
	if old, ok := m.links[l.ID]; ok {
		l.Created = old.Created
	} else if l.Created.IsZero() {
		l.Created = now
	}
	l.Updated = now
	m.links[l.ID] = cloneLink(l)
	return nil
}

// DeleteLink implements ohx.LinkWriter.
func (m *Memory) DeleteLink(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.links, id)
	delete(m.tokens, id)
	delete(m.cursors, id)
	return nil
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
		wait := l.expires.Sub(now)
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

func cloneLink(l ohx.Link) ohx.Link {
	l.Scopes = slices.Clone(l.Scopes)
	l.DataTypes = slices.Clone(l.DataTypes)
	return l
}

type storeError string

func (e storeError) Error() string { return string(e) }

const errNoID = storeError("store: link id is empty")
