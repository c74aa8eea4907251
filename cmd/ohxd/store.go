package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx/store"
	"github.com/openhealthexchange/ohx/store/postgres"
	"github.com/openhealthexchange/ohx/store/seal"
	"github.com/openhealthexchange/ohx/store/sqlite"
)

// durableStore is what the daemon needs of a store: what the server needs,
// the sync bookkeeping, atomic changes and the event outbox (store.Store),
// key rotation and closing.
type durableStore interface {
	store.Store
	store.Rewrapper
	Close() error
}

// openStore loads the key ring and opens the store: PostgreSQL when
// configured, else the embedded SQLite file in the data directory. It needs
// nothing else of the daemon (keys rewrap uses it alone).
func (a *app) openStore(ctx context.Context) (err error) {
	if a.ring, err = loadKeyRing(a.cfg, a.log); err != nil {
		return err
	}
	if a.cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, a.cfg.DatabaseURL, a.ring, postgres.WithLogger(a.log))
		if err != nil {
			return fmt.Errorf("open PostgreSQL store: %w", err)
		}
		a.store = pgStore{st}
	} else {
		if err := os.MkdirAll(a.cfg.DataDir, 0o700); err != nil {
			return err
		}
		warnIfShared(a.cfg.DataDir, a.log)
		st, err := sqlite.Open(ctx, filepath.Join(a.cfg.DataDir, "ohx.db"), a.ring, sqlite.WithLogger(a.log))
		if err != nil {
			return fmt.Errorf("open SQLite store: %w", err)
		}
		a.store = st
	}
	a.closers = append(a.closers, a.store.Close)
	return nil
}

// pgStore gives the PostgreSQL store the Close signature of the others.
type pgStore struct{ *postgres.Store }

func (s pgStore) Close() error {
	s.Store.Close()
	return nil
}

// loadKeyRing reads OHX_SECRET_KEYS or, for the embedded SQLite store only,
// reads the key file of the data directory, creating it (mode 0600) on the
// first start.
func loadKeyRing(cfg *config, log *zap.Logger) (*seal.KeyRing, error) {
	if cfg.SecretKeys != "" {
		ring, err := seal.ParseKeyRing(cfg.SecretKeys)
		if err != nil {
			return nil, fmt.Errorf("OHX_SECRET_KEYS: %w", err)
		}
		return ring, nil
	}
	if cfg.DatabaseURL != "" {
		return nil, errors.New("OHX_SECRET_KEYS is required with PostgreSQL")
	}
	path := filepath.Join(cfg.DataDir, "secret-keys")
	warnIfShared(cfg.DataDir, log)
	data, err := readPrivate(path)
	switch {
	case err == nil:
		ring, err := seal.ParseKeyRing(strings.TrimSpace(string(data)))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", path, err)
		}
		return ring, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("key file: %w", err)
	}
	ring, err := createKeyFile(cfg.DataDir, path)
	if err != nil {
		return nil, err
	}
	log.Warn("generated a secret key ring in the data directory; back it up, or set OHX_SECRET_KEYS", zap.String("path", path))
	return ring, nil
}

// createKeyFile generates a key and writes it to a new file at path (never
// over an existing one).
func createKeyFile(dir, path string) (*seal.KeyRing, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k, err := seal.GenerateKey("k1")
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(k.Encode() + "\n"); err != nil {
		_ = f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return seal.NewKeyRing(k)
}

// readPrivate reads a file of secrets (a key ring, a private key) and
// refuses one that its group or others may read or write: a secret's file
// must be 0600 (or stricter) and, on a shared machine, nobody else's.
func readPrivate(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%s is readable or writable by others (mode %04o): run chmod 600 %s", path, perm, path)
	}
	return os.ReadFile(path)
}

// warnIfShared warns, loudly, when the data directory is open to others:
// its files are private, but a directory others may list or enter leaks
// names and invites mistakes.
func warnIfShared(dir string, log *zap.Logger) {
	if log == nil {
		return
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Error("SECURITY: the data directory is accessible to other users; run chmod 700 on it",
			zap.String("dir", dir), zap.String("mode", fmt.Sprintf("%04o", fi.Mode().Perm())))
	}
}
