package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/openhealthexchange/ohx/events"
	"github.com/openhealthexchange/ohx/store/seal"
)

func init() { commands["keys"] = runKeys }

// runKeys generates a key ("keys generate [id]"), rewraps every stored
// token under the primary key of OHX_SECRET_KEYS ("keys rewrap"), or
// generates a signing secret for events ("keys events-secret"). Rewrapping
// opens the store and nothing else: no queue, no Redis, no provider.
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: ohxd keys generate [id] | ohxd keys rewrap | ohxd keys events-secret")
	}
	switch args[0] {
	case "generate":
		id := "k1"
		if len(args) > 1 {
			id = args[1]
		}
		k, err := seal.GenerateKey(id)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k.Encode())
		fmt.Fprintln(stderr, "put it first in OHX_SECRET_KEYS (keep the old keys after it), run `ohxd keys rewrap`, then drop the old keys")
		return nil
	case "events-secret":
		secret, err := events.NewSecret()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, secret)
		fmt.Fprintln(stderr, "set it as OHX_EVENTS_SECRET, and give it to the receiver of OHX_EVENTS_URL to verify signatures")
		return nil
	case "rewrap":
		cfg, err := loadConfig(environ)
		if err != nil {
			return err
		}
		a, err := openStoreOnly(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer a.close()
		n, err := a.store.Rewrap(ctx)
		if err != nil {
			return err
		}
		a.audit.Info("keys.rewrap", zap.String("actor", "cli"), zap.Int("tokens", n))
		fmt.Fprintf(stdout, "rewrapped %d tokens under key %s\n", n, a.ring.PrimaryID())
		return nil
	}
	return fmt.Errorf("unknown keys command %q", args[0])
}

// openStoreOnly opens the logs and the store of the configuration, for
// commands that need nothing else.
func openStoreOnly(ctx context.Context, cfg *config, logOut io.Writer) (*app, error) {
	a := &app{cfg: cfg}
	err := a.openLogs(logOut)
	if err == nil {
		err = a.openStore(ctx)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}
