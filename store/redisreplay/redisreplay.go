// Package redisreplay keeps webhook replay marks (provider.Replays) in
// Redis, so that every process of a deployment sharing a Redis recognises a
// delivery another one already made durable. A mark is one key
// "<prefix><key>" set with an expiry; Redis holds nothing else. Marks are
// rebuildable deduplication state: losing them (a flushed or failed-over
// Redis) costs duplicate jobs, which the queue coalesces, never data.
//
// It works with a single Redis, Sentinel or a Cluster client
// (redis.UniversalClient): every command touches one key.
package redisreplay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/openhealthexchange/ohx/provider"
)

// DefaultPrefix is prepended to replay keys to form Redis keys.
const DefaultPrefix = "ohx:replay:"

// Replays is provider.Replays on Redis. It is safe for concurrent use.
type Replays struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ provider.Replays = (*Replays)(nil)

// Option configures New.
type Option func(*Replays)

// WithPrefix sets the key prefix; default DefaultPrefix.
func WithPrefix(p string) Option { return func(r *Replays) { r.prefix = p } }

// New returns Replays on rdb, which the caller keeps owning.
func New(rdb redis.UniversalClient, opts ...Option) (*Replays, error) {
	if rdb == nil {
		return nil, errors.New("redisreplay: client is nil")
	}
	r := &Replays{rdb: rdb, prefix: DefaultPrefix}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Seen implements provider.Replays.
func (r *Replays) Seen(ctx context.Context, key string) (bool, error) {
	n, err := r.rdb.Exists(ctx, r.prefix+key).Result()
	if err != nil {
		return false, fmt.Errorf("redisreplay: seen: %w", err)
	}
	return n > 0, nil
}

// Mark implements provider.Replays. The mark expires on the server after
// ttl (at least a millisecond).
func (r *Replays) Mark(ctx context.Context, key string, ttl time.Duration) error {
	if ttl < time.Millisecond {
		return errors.New("redisreplay: a mark needs a positive time to live")
	}
	if err := r.rdb.Set(ctx, r.prefix+key, "1", ttl).Err(); err != nil {
		return fmt.Errorf("redisreplay: mark: %w", err)
	}
	return nil
}
