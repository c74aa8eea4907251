package provider

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Replays remembers webhook deliveries that were already made durable, so
// that a replayed delivery (the same signed bytes again, from an attacker or
// from a provider retrying after a lost answer) is acknowledged without new
// work. A receiver asks Seen before it hands a delivery on, and calls Mark
// only after every notification of the delivery was made durable (its
// ohx.NotifyFunc returned nil): a delivery whose first attempt failed with a
// 5xx is not marked, so the provider's retry gets through.
//
// Marks are rebuildable deduplication state: a lost mark costs one duplicate
// job (which the queue coalesces), never data. Implementations: MemoryReplays
// for one process, store/redisreplay for processes sharing a Redis.
type Replays interface {
	// Seen reports whether key was marked and its mark has not expired.
	Seen(ctx context.Context, key string) (bool, error)
	// Mark records key for ttl.
	Mark(ctx context.Context, key string, ttl time.Duration) error
}

// ReplayKey returns the key of a delivery for Replays: the hex SHA-256 of
// its signature and body (length-prefixed, so that no two different pairs
// share a key). It holds neither of them in the clear.
func ReplayKey(signature string, body []byte) string {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(signature))))
	h.Write([]byte(signature))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// DefaultMaxReplays bounds the marks a MemoryReplays keeps when NewMemoryReplays
// is given no bound.
const DefaultMaxReplays = 100_000

// MemoryReplays is Replays in process memory, for a daemon without Redis or
// a single process. It keeps at most its bound of marks (the oldest are
// forgotten first), so its memory is bounded whatever the traffic. It is safe
// for concurrent use.
type MemoryReplays struct {
	max int
	now func() time.Time

	mu    sync.Mutex
	until map[string]time.Time
	order []mark // marks in the order they were made (a FIFO with head)
	head  int
}

type mark struct {
	key   string
	until time.Time
}

var _ Replays = (*MemoryReplays)(nil)

// NewMemoryReplays returns an empty MemoryReplays keeping at most max marks
// (0 or less means DefaultMaxReplays) and telling time with now (nil means
// time.Now).
func NewMemoryReplays(max int, now func() time.Time) *MemoryReplays {
	if max <= 0 {
		max = DefaultMaxReplays
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryReplays{max: max, now: now, until: map[string]time.Time{}}
}

// Seen implements Replays.
func (m *MemoryReplays) Seen(_ context.Context, key string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.until[key]
	return ok && m.now().Before(u), nil
}

// Mark implements Replays.
func (m *MemoryReplays) Mark(_ context.Context, key string, ttl time.Duration) error {
	if ttl <= 0 {
		return errors.New("provider: a replay mark needs a positive time to live")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.evict(now)
	u := now.Add(ttl)
	m.until[key] = u
	m.order = append(m.order, mark{key, u})
	return nil
}

// Len returns the number of marks held (expired ones included until they are
// evicted).
func (m *MemoryReplays) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.until)
}

// evict forgets expired marks at the front of the order and, while the
// bound is reached, the oldest ones.
func (m *MemoryReplays) evict(now time.Time) {
	for m.head < len(m.order) {
		f := m.order[m.head]
		if len(m.until) < m.max && now.Before(f.until) {
			break
		}
		if u, ok := m.until[f.key]; ok && u.Equal(f.until) {
			delete(m.until, f.key) // not re-marked since
		}
		m.order[m.head] = mark{}
		m.head++
	}
	if m.head > len(m.order)/2 && m.head > 64 {
		m.order = append(m.order[:0], m.order[m.head:]...)
		m.head = 0
	}
}
