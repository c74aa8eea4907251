// Command ohxd is the turnkey ohx daemon. It wires the library's packages
// into one service configured from OHX_* environment variables (see the
// README's configuration table); every behaviour lives in the library.
//
// Sub-commands:
//
//	ohxd serve [-api-only|-worker-only]   API, webhooks, workers and scheduler
//	ohxd demo [-out DIR] [-days N] [-fhir-version R5|R4]   the whole path on in-process fakes
//	ohxd sync -link ID [-types T,...] [-from T -to T]
//	ohxd keys generate | rewrap
//	ohxd version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ohxd:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: ohxd <command> [flags]

commands:
  serve     run the API, webhooks, workers and scheduler (-api-only, -worker-only)
  demo      run the whole path on in-process fakes and write NDJSON (-out, -days, -fhir-version)
  sync      run one sync or backfill of a link (-link, -types, -from, -to)
  keys      generate a secret key, or rewrap stored tokens under the primary key
  version   print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "ohxd", version)
		return nil
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	if h, ok := commands[cmd]; ok {
		return h(ctx, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// commands holds the sub-commands registered by other files of this package.
var commands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{}
