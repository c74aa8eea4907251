package provider

import (
	"context"
	"sync"
	"time"

	"github.com/openhealthexchange/ohx"
)

// LocalLocker is an ohx.Locker whose locks live in this process: enough
// when one process refreshes a provider's tokens, and the default of
// Common.Locker. Several processes sharing a token store need a shared
// locker instead (store/redislock, or a store that implements ohx.Locker).
//
// The lease is ignored: a process that dies frees its locks with it. A lock
// that nobody holds or waits for is forgotten, so the locker's memory is
// bounded by the locks in use. The zero value is ready to use; it is safe
// for concurrent use and must not be copied after first use.
type LocalLocker struct {
	mu    sync.Mutex
	locks map[string]*localLock
}

// localLock is one named lock: a one-slot channel held by its owner, and the
// number of goroutines holding or waiting for it.
type localLock struct {
	slot  chan struct{}
	users int
}

var _ ohx.Locker = (*LocalLocker)(nil)

// Lock implements ohx.Locker: it waits until the lock called name is free or
// ctx ends, and returns the function that releases it (calling it more than
// once releases once).
func (l *LocalLocker) Lock(ctx context.Context, name string, _ time.Duration) (func(), error) {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*localLock{}
	}
	lk := l.locks[name]
	if lk == nil {
		lk = &localLock{slot: make(chan struct{}, 1)}
		l.locks[name] = lk
	}
	lk.users++
	l.mu.Unlock()

	select {
	case lk.slot <- struct{}{}:
		var once sync.Once
		return func() {
			once.Do(func() {
				<-lk.slot
				l.leave(name, lk)
			})
		}, nil
	case <-ctx.Done():
		l.leave(name, lk)
		return nil, ctx.Err()
	}
}

// leave forgets lk once nobody holds or waits for it.
func (l *LocalLocker) leave(name string, lk *localLock) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lk.users--
	if lk.users == 0 && l.locks[name] == lk {
		delete(l.locks, name)
	}
}
