// Command assentd is the Assent identity server.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// Every password check allocates argon2id's 19 MiB; with the default
	// GOGC each one sets off a collection. 400 cuts that GC work to a
	// quarter (docs/PERFORMANCE.md); GOGC and GOMEMLIMIT still override it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// GOGC 400 lets the heap grow to five times what is live: fine for
	// a few MiB of requests in flight, too much with thousands of app
	// devices connected. A soft limit that follows the live heap keeps
	// the growth in check (memlimit.go); GOMEMLIMIT overrides it.
	tuneMemory := os.Getenv("GOMEMLIMIT") == ""
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if tuneMemory {
		go tuneMemoryLimit(ctx)
	}
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "assentd:", err)
		os.Exit(1)
	}
}
