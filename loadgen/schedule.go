package loadgen

import (
	"sync/atomic"
	"time"
)

// Schedule hands out the intended start times of an open-loop run: slot i
// starts at start + i/rate, whatever happened to the slots before it. A
// request's latency is measured from its slot, so time spent waiting for
// a free worker (queueing behind a slow server) counts against the server
// instead of being silently skipped. Safe for concurrent use.
type Schedule struct {
	start    time.Time
	interval float64 // nanoseconds between slots
	next     atomic.Int64
}

// NewSchedule returns a schedule of rate slots per second from start.
func NewSchedule(start time.Time, rate float64) *Schedule {
	return &Schedule{start: start, interval: 1e9 / rate}
}

// Next claims the next slot and returns its intended start.
func (s *Schedule) Next() time.Time {
	return s.at(s.next.Add(1) - 1)
}

func (s *Schedule) at(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * s.interval))
}

// Claimed is how many slots have been handed out.
func (s *Schedule) Claimed() int64 { return s.next.Load() }

// SlotsBefore is how many slots start before t.
func (s *Schedule) SlotsBefore(t time.Time) int64 {
	d := t.Sub(s.start)
	if d <= 0 {
		return 0
	}
	n := int64(float64(d) / s.interval)
	// Correct the float rounding either way so that at(n-1) < t <= at(n).
	for n > 0 && !s.at(n-1).Before(t) {
		n--
	}
	for s.at(n).Before(t) {
		n++
	}
	return n
}
