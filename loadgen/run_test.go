package loadgen

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// fakeScenario takes cost(i) for its i-th operation (counted across
// workers) and fails it when fail(i) says so.
type fakeScenario struct {
	calls     atomic.Int64
	cost      func(i int64) time.Duration
	fail      func(i int64) error
	setupErr  error
	setups    int
	teardowns int
}

func (f *fakeScenario) Setup(ctx context.Context, workers int) error { f.setups++; return f.setupErr }
func (f *fakeScenario) Teardown(ctx context.Context) error           { f.teardowns++; return nil }
func (f *fakeScenario) Do(ctx context.Context, w int) error {
	i := f.calls.Add(1) - 1
	time.Sleep(f.cost(i))
	if f.fail != nil {
		return f.fail(i)
	}
	return nil
}

func constant(d time.Duration) func(int64) time.Duration {
	return func(int64) time.Duration { return d }
}

func TestScheduleSlots(t *testing.T) {
	start := time.Unix(1000, 0)
	s := NewSchedule(start, 3) // every 333.33 ms
	for i, want := range []time.Duration{0, 333333333, 666666666, time.Second} {
		if got := s.Next().Sub(start); got != want {
			t.Errorf("slot %d at %v, want %v", i, got, want)
		}
	}
	if s.Claimed() != 4 {
		t.Errorf("claimed %d", s.Claimed())
	}
	for _, tc := range []struct {
		at   time.Duration
		want int64
	}{{-time.Second, 0}, {0, 0}, {1, 1}, {333333333, 1}, {333333334, 2}, {time.Second, 3}, {time.Second + 1, 4}, {10 * time.Second, 30}} {
		if got := s.SlotsBefore(start.Add(tc.at)); got != tc.want {
			t.Errorf("slots before %v = %d, want %d", tc.at, got, tc.want)
		}
	}
}

func TestRunClosedLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeScenario{cost: constant(10 * time.Millisecond)}
		res, err := Run(t.Context(), "fake", f, Options{Concurrency: 2, Warmup: 100 * time.Millisecond, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != "closed-loop" || res.Successes != 200 || res.Errors != 0 || res.Throughput != 200 {
			t.Errorf("result %+v, want 200 successes at 200/s", res)
		}
		if res.Latency.P50 != 10 || res.Latency.Max != 10 {
			t.Errorf("latency %+v, want 10 ms", res.Latency)
		}
		if f.setups != 1 || f.teardowns != 1 {
			t.Errorf("setups %d teardowns %d", f.setups, f.teardowns)
		}
	})
}

// TestRunOpenLoopChargesQueueing: one stall of 300 ms delays the requests
// scheduled behind it; open loop measures them from their scheduled start,
// so the stall shows in p90, where a closed loop would show it once.
func TestRunOpenLoopChargesQueueing(t *testing.T) {
	stall := func(i int64) time.Duration {
		if i == 20 {
			return 300 * time.Millisecond
		}
		return time.Millisecond
	}
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(t.Context(), "fake", &fakeScenario{cost: stall}, Options{Concurrency: 1, Rate: 100, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != "open-loop" || res.Successes != 100 || res.Missed != 0 {
			t.Fatalf("result %+v, want all 100 slots done", res)
		}
		if res.Latency.P50 > 1.01 || res.Latency.P90 < 100 || res.Latency.Max < 300 || res.Latency.Max > 302 {
			t.Errorf("open-loop latency %+v, want p50 1 ms, p90 over 100 ms, max 300 ms", res.Latency)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(t.Context(), "fake", &fakeScenario{cost: stall}, Options{Concurrency: 1, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Latency.P90 > 1.01 || res.Latency.Max < 300 {
			t.Errorf("closed-loop latency %+v, want p90 1 ms and the stall only in the max", res.Latency)
		}
	})
}

// TestRunOpenLoopOverload: a server that takes 50 ms per request with one
// worker cannot take 100/s; the slots it never reached are reported and
// the latency grows with the queue.
func TestRunOpenLoopOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := Run(t.Context(), "fake", &fakeScenario{cost: constant(50 * time.Millisecond)}, Options{Concurrency: 1, Rate: 100, Duration: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if res.Successes != 20 || res.Missed != 80 || res.Throughput != 20 {
			t.Errorf("result %+v, want 20 successes and 80 missed", res)
		}
		// Slot k starts at 50k ms instead of 10k: the last done waited 760 ms.
		if res.Latency.Max < 800 || res.Latency.Max > 810 || res.Latency.P50 < 400 {
			t.Errorf("latency %+v, want a growing queue up to 810 ms", res.Latency)
		}
	})
}

func TestRunErrorsAndProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeScenario{cost: constant(10 * time.Millisecond), fail: func(i int64) error {
			switch i % 4 {
			case 1:
				return opErr("http_500", "status %d", 500)
			case 3:
				return context.DeadlineExceeded
			}
			return nil
		}}
		var progress bytes.Buffer
		res, err := Run(t.Context(), "fake", f, Options{Concurrency: 1, Duration: 2 * time.Second, Progress: &progress, InPlace: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Successes != 100 || res.Errors != 100 || res.ErrorKinds["http_500"] != 50 || res.ErrorKinds["timeout"] != 50 {
			t.Errorf("result %+v", res)
		}
		if res.ErrorExamples["http_500"] != "http_500: status 500" {
			t.Errorf("examples %v", res.ErrorExamples)
		}
		if !strings.Contains(progress.String(), "\r\033[Kfake measuring") || !strings.Contains(progress.String(), "errors") {
			t.Errorf("progress %q", progress.String())
		}
	})
}

func TestRunSetupFailsStillTearsDown(t *testing.T) {
	f := &fakeScenario{cost: constant(0), setupErr: errors.New("no admin token")}
	if _, err := Run(t.Context(), "fake", f, Options{Concurrency: 1, Duration: time.Second}); err == nil || !strings.Contains(err.Error(), "no admin token") {
		t.Fatalf("err = %v", err)
	}
	if f.teardowns != 1 {
		t.Errorf("teardowns %d, want 1", f.teardowns)
	}
	if _, err := Run(t.Context(), "fake", f, Options{Concurrency: 0, Duration: time.Second}); err == nil {
		t.Error("concurrency 0 accepted")
	}
}

func TestProcSelf(t *testing.T) {
	if _, err := procCPU(0); err != nil {
		t.Fatal(err)
	}
	rss, err := procRSS(0)
	if err != nil || rss < 1<<20 {
		t.Errorf("own RSS %d, %v", rss, err)
	}
}

func TestListenerPID(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	pid, err := ListenerPID(l.Addr().(*net.TCPAddr).Port)
	if err != nil || pid != os.Getpid() {
		t.Errorf("ListenerPID = %d, %v; want %d", pid, err, os.Getpid())
	}
	l.Close()
	if pid, err := ListenerPID(l.Addr().(*net.TCPAddr).Port); err == nil {
		t.Errorf("a closed port is served by %d", pid)
	}
}
