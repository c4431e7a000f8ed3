package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryFloor is the smallest soft memory limit the server sets itself.
const memoryFloor = 160 << 20

// memoryLimit is the soft limit for a live heap of live bytes: twice what
// is live, and never under memoryFloor. Under the floor the limit keeps
// GOGC 400 from growing the heap past it; above, the collector runs once
// the heap has doubled (GOGC 100), so a large live heap never leaves the
// collector running without pause, as a fixed limit below it would.
func memoryLimit(live uint64) int64 {
	return max(int64(memoryFloor), 2*int64(min(live, 1<<60)))
}

// tuneMemoryLimit sets the soft memory limit from the live heap now and
// every few seconds until ctx ends.
func tuneMemoryLimit(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	set := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(memoryLimit(sample[0].Value.Uint64()))
		}
	}
	set()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			set()
		}
	}
}
