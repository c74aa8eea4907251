package redislock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx"
	"github.com/openhealthexchange/ohx/store/internal/storeutil"
)

// DefaultPrefix is prepended to lease names to form Redis keys.
const DefaultPrefix = "ohx:lock:"

// release deletes the key only while it holds the caller's token.
var release = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// Locker is an ohx.Locker on Redis. It is safe for concurrent use.
type Locker struct {
	rdb    redis.UniversalClient
	prefix string
	log    *zap.Logger
	poll   storeutil.Backoff
}

var _ ohx.Locker = (*Locker)(nil)

// Option configures New.
type Option func(*Locker)

// WithPrefix sets the key prefix; default DefaultPrefix.
func WithPrefix(p string) Option { return func(l *Locker) { l.prefix = p } }

// WithLogger sets the logger; default: zap.NewNop().
func WithLogger(log *zap.Logger) Option {
	return func(l *Locker) {
		if log != nil {
			l.log = log
		}
	}
}

// WithPolling sets the backoff of waiters: the first wait and its cap
// (doubling in between, with jitter); default 5ms and 250ms.
func WithPolling(first, cap time.Duration) Option {
	return func(l *Locker) { l.poll = storeutil.Backoff{Min: first, Max: cap} }
}

// New returns a Locker using rdb, which the caller keeps owning.
func New(rdb redis.UniversalClient, opts ...Option) (*Locker, error) {
	if rdb == nil {
		return nil, errors.New("redislock: client is nil")
	}
	l := &Locker{rdb: rdb, prefix: DefaultPrefix, log: zap.NewNop()}
	for _, o := range opts {
		o(l)
	}
	return l, nil
}

// Lock implements ohx.Locker. Leases are rounded up to whole milliseconds.
func (l *Locker) Lock(ctx context.Context, name string, lease time.Duration) (func(), error) {
	if lease <= 0 {
		return nil, storeutil.ErrBadLease
	}
	lease = max(lease, time.Millisecond)
	holder, err := storeutil.HolderToken()
	if err != nil {
		return nil, fmt.Errorf("redislock: lock %q: %w", name, err)
	}
	key := l.prefix + name
	poll := l.poll
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := l.rdb.SetArgs(ctx, key, holder, redis.SetArgs{Mode: "NX", TTL: lease}).Err()
		switch {
		case err == nil:
			return l.releaser(key, holder), nil
		case errors.Is(err, redis.Nil):
			// held by someone else
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			return nil, fmt.Errorf("redislock: lock %q: %w", name, err)
		}
		if err := poll.Wait(ctx); err != nil {
			return nil, err
		}
	}
}

func (l *Locker) releaser(key, holder string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := release.Run(ctx, l.rdb, []string{key}, holder).Err(); err != nil {
				l.log.Warn("releasing lease failed; it frees when it expires", zap.String("key", key), zap.Error(err))
			}
		})
	}
}
