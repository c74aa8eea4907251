package storeutil

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// releaseTimeout bounds the release of a lease row.
const releaseTimeout = 10 * time.Second

// TakeLease is the waiting loop of a lease-row Locker: it checks lease,
// draws a holder token and calls try with it until try takes the lease,
// fails or ctx ends, waiting on a copy of poll between tries. It returns
// the holder token. store names the store in errors ("postgres"); an error
// of try after ctx ended is ctx's error.
func TakeLease(ctx context.Context, store, name string, lease time.Duration, poll Backoff,
	try func(holder string) (taken bool, err error)) (string, error) {
	if lease <= 0 {
		return "", ErrBadLease
	}
	holder, err := HolderToken()
	if err != nil {
		return "", fmt.Errorf("%s: lock %q: %w", store, name, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		taken, err := try(holder)
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("%s: lock %q: %w", store, name, err)
		}
		if taken {
			return holder, nil
		}
		if err := poll.Wait(ctx); err != nil {
			return "", err
		}
	}
}

// Releaser returns the release func of lease name: the first call runs del
// with a fresh context of its own (the lock's may have ended), later calls
// do nothing. A failure is logged, not returned: the lease frees when it
// expires.
func Releaser(log *zap.Logger, name string, del func(ctx context.Context) error) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
			defer cancel()
			if err := del(ctx); err != nil {
				log.Warn("releasing lease failed; it frees when it expires", zap.String("lease", name), zap.Error(err))
			}
		})
	}
}
