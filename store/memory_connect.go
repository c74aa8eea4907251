package store

import (
	"context"
	"errors"
	"time"

	"github.com/openhealthexchange/ohx"
)

var (
	_ ConnectStore = (*Memory)(nil)
	_ TokenDeleter = (*Memory)(nil)
)

// CreateConnectFlow implements ConnectStore.
func (m *Memory) CreateConnectFlow(_ context.Context, f ConnectFlow) error {
	if f.ID == "" {
		return errNoID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.flows == nil {
		m.flows = map[string]ConnectFlow{}
	}
	if _, dup := m.flows[f.ID]; dup {
		return errors.New("store: connect flow exists")
	}
	f.Created, f.Expires = f.Created.UTC(), f.Expires.UTC()
	m.flows[f.ID] = CloneFlow(f)
	return nil
}

// OpenConnectFlow implements ConnectStore.
func (m *Memory) OpenConnectFlow(_ context.Context, id, browser string, now time.Time) (ConnectFlow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.flows[id]
	if !ok {
		return ConnectFlow{}, ohx.ErrNotFound
	}
	f, changed, err := OpenFlow(f, browser, now)
	if err != nil {
		return ConnectFlow{}, err
	}
	if changed {
		m.flows[id] = f
	}
	return CloneFlow(f), nil
}

// ConsumeConnectFlow implements ConnectStore.
func (m *Memory) ConsumeConnectFlow(_ context.Context, id, browser string, now time.Time) (ConnectFlow, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.flows[id]
	if !ok {
		return ConnectFlow{}, ohx.ErrNotFound
	}
	f, err := ConsumeFlow(f, browser, now)
	if err != nil {
		return ConnectFlow{}, err
	}
	m.flows[id] = f
	return CloneFlow(f), nil
}

// DeleteConnectFlows implements ConnectStore.
func (m *Memory) DeleteConnectFlows(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, f := range m.flows {
		if f.Expires.Before(before) {
			delete(m.flows, id)
			n++
		}
	}
	return n, nil
}

// DeleteToken implements TokenDeleter.
func (m *Memory) DeleteToken(_ context.Context, linkID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.tokens, linkID)
	return nil
}
