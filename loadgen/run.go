package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is one kind of operation to load the server with.
type Scenario interface {
	// Setup creates what the workers need (users, clients, tokens) for
	// the given number of workers.
	Setup(ctx context.Context, workers int) error
	// Do runs one operation as worker w (0 <= w < workers). Calls for
	// different workers run concurrently; one worker's calls never overlap.
	Do(ctx context.Context, w int) error
	// Teardown removes whatever Setup created, even after a failed or
	// partial Setup.
	Teardown(ctx context.Context) error
}

// Options shape a run.
type Options struct {
	// Concurrency is the number of workers: operations in flight at most.
	Concurrency int
	// Rate is the open-loop target in operations per second; zero runs
	// closed-loop (each worker starts its next operation when the last one
	// ends).
	Rate float64
	// Warmup runs before the measured Duration; its operations are not
	// counted.
	Warmup, Duration time.Duration
	// Timeout bounds one operation (default 30 s).
	Timeout time.Duration
	// PID is the server's process to sample CPU and memory from; zero
	// samples nothing.
	PID int
	// Progress, if not nil, gets a progress line every ProgressEvery
	// (default 1 s): rewritten in place when InPlace is set (a terminal),
	// else a new line after the first interval and every 5 s after.
	Progress      io.Writer
	ProgressEvery time.Duration
	InPlace       bool
}

// Result is what a run measured.
type Result struct {
	Scenario string `json:"scenario"`
	// Skipped says why the scenario did not run (the server does not
	// offer it); nothing else is set then.
	Skipped     string  `json:"skipped,omitempty"`
	Mode        string  `json:"mode"` // "closed-loop" or "open-loop"
	Concurrency int     `json:"concurrency"`
	TargetRate  float64 `json:"target_rate,omitempty"`
	WarmupS     float64 `json:"warmup_s"`
	DurationS   float64 `json:"duration_s"`
	Successes   int64   `json:"successes"`
	Errors      int64   `json:"errors"`
	// ErrorKinds counts failed operations by kind; ErrorExamples holds one
	// message of each kind.
	ErrorKinds    map[string]int64  `json:"error_kinds"`
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// Missed counts open-loop slots of the measured window that never
	// started because every worker was busy until the end: the offered
	// rate was beyond what the server (or the workers) could take.
	Missed int64 `json:"missed,omitempty"`
	// Throughput is successful operations per second of the window.
	Throughput float64 `json:"throughput"`
	// Latency of successful operations, from their scheduled start.
	Latency   Latency    `json:"latency_ms"`
	Server    *ProcStats `json:"server,omitempty"`
	Generator *ProcStats `json:"generator,omitempty"`
	// Push is what the push scenario measured of its connected devices.
	Push *PushStats `json:"push,omitempty"`
}

// Latency summarizes a histogram in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

func latencyOf(h *Histogram) Latency {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Latency{P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max()), Mean: ms(h.Mean())}
}

// OpError is a failed operation of a known kind, such as "http_500",
// "oauth_invalid_grant" or "no_csrf_token".
type OpError struct {
	Kind   string
	Detail string
}

func (e *OpError) Error() string {
	if e.Detail == "" {
		return e.Kind
	}
	return e.Kind + ": " + e.Detail
}

func opErr(kind, format string, args ...any) error {
	return &OpError{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// ErrorKind names the kind of a failed operation.
func ErrorKind(err error) string {
	var oe *OpError
	var ne net.Error
	switch {
	case errors.As(err, &oe):
		return oe.Kind
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "connection"
	}
	return "other"
}

// Run sets sc up, loads the server with it for the warm-up and the
// duration, tears it down and reports. A cancelled ctx stops the run; the
// teardown still happens.
func Run(ctx context.Context, name string, sc Scenario, o Options) (res *Result, err error) {
	if o.Concurrency < 1 {
		return nil, errors.New("concurrency must be at least 1")
	}
	if o.Duration <= 0 {
		return nil, errors.New("duration must be positive")
	}
	if o.Rate < 0 || o.Warmup < 0 {
		return nil, errors.New("rate and warm-up must not be negative")
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = time.Second
	}
	defer func() {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if terr := sc.Teardown(tctx); terr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", terr)
		}
	}()
	if err := sc.Setup(ctx, o.Concurrency); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	r := &runner{name: name, sc: sc, o: o, kinds: map[string]int64{}, examples: map[string]string{}}
	res, err = r.run(ctx)
	if p, ok := sc.(interface{ pushStats() *PushStats }); ok && res != nil {
		res.Push = p.pushStats()
	}
	return res, err
}

type runner struct {
	name string
	sc   Scenario
	o    Options

	start, measureFrom, end time.Time
	sched                   *Schedule

	mu       sync.Mutex
	hist     Histogram
	kinds    map[string]int64
	examples map[string]string

	ok, failed atomic.Int64 // measured
}

func (r *runner) run(ctx context.Context) (*Result, error) {
	r.start = time.Now()
	r.measureFrom = r.start.Add(r.o.Warmup)
	r.end = r.measureFrom.Add(r.o.Duration)
	if r.o.Rate > 0 {
		r.sched = NewSchedule(r.start, r.o.Rate)
	}

	sampler := newSampler(r.o.PID)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		r.watch(stopWatch, sampler)
	}()

	var wg sync.WaitGroup
	for w := range r.o.Concurrency {
		wg.Go(func() { r.worker(ctx, w) })
	}
	wg.Wait()
	stopped := time.Now()
	close(stopWatch)
	<-watchDone
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.o.Progress != nil && r.o.InPlace {
		fmt.Fprintln(r.o.Progress)
	}

	res := &Result{
		Scenario: r.name, Mode: "closed-loop", Concurrency: r.o.Concurrency,
		WarmupS: r.o.Warmup.Seconds(), DurationS: r.o.Duration.Seconds(),
		Successes: r.ok.Load(), Errors: r.failed.Load(),
		ErrorKinds: r.kinds, ErrorExamples: r.examples,
		Latency: latencyOf(&r.hist),
	}
	if len(res.ErrorExamples) == 0 {
		res.ErrorExamples = nil
	}
	res.Throughput = float64(res.Successes) / r.o.Duration.Seconds()
	if r.sched != nil {
		res.Mode, res.TargetRate = "open-loop", r.o.Rate
		slots := r.sched.SlotsBefore(r.end) - r.sched.SlotsBefore(r.measureFrom)
		res.Missed = max(0, slots-res.Successes-res.Errors)
	}
	res.Server, res.Generator = sampler.result(stopped)
	return res, nil
}

func (r *runner) worker(ctx context.Context, w int) {
	timer := time.NewTimer(0)
	<-timer.C
	defer timer.Stop()
	for ctx.Err() == nil {
		var intended time.Time
		if r.sched != nil {
			intended = r.sched.Next()
			if !intended.Before(r.end) {
				return
			}
			if d := time.Until(intended); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
			} else if !time.Now().Before(r.end) {
				return // behind schedule at the end: the slot is missed
			}
		} else {
			intended = time.Now()
			if !intended.Before(r.end) {
				return
			}
		}
		octx, cancel := context.WithTimeout(ctx, r.o.Timeout)
		err := r.sc.Do(octx, w)
		cancel()
		lat := time.Since(intended)
		if ctx.Err() != nil {
			return
		}
		if intended.Before(r.measureFrom) {
			continue // warm-up
		}
		r.mu.Lock()
		if err == nil {
			r.hist.Record(lat)
			r.ok.Add(1)
		} else {
			k := ErrorKind(err)
			r.kinds[k]++
			if _, ok := r.examples[k]; !ok {
				r.examples[k] = truncate(err.Error(), 300)
			}
			r.failed.Add(1)
		}
		r.mu.Unlock()
	}
}

// watch samples the processes and prints progress until stop closes.
func (r *runner) watch(stop <-chan struct{}, s *sampler) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	lastPrint := time.Now()
	var lastLine time.Time // the first line comes at once
	var lastOK int64
	measuring := false
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if !measuring && !now.Before(r.measureFrom) {
				measuring = true
				s.begin(now)
			}
			if measuring {
				s.sampleRSS()
			}
			if r.o.Progress == nil || now.Sub(lastPrint) < r.o.ProgressEvery {
				continue
			}
			ok := r.ok.Load()
			rate := float64(ok-lastOK) / now.Sub(lastPrint).Seconds()
			lastOK, lastPrint = ok, now
			if !r.o.InPlace && now.Sub(lastLine) < 5*time.Second {
				continue
			}
			lastLine = now
			r.mu.Lock()
			p99 := r.hist.Quantile(0.99)
			r.mu.Unlock()
			phase := "warm-up"
			elapsed := now.Sub(r.start)
			total := r.end.Sub(r.start)
			if measuring {
				phase = "measuring"
			}
			line := fmt.Sprintf("%s %s %4.0fs/%.0fs  ok %d  errors %d  %.1f/s  p99 %s",
				r.name, phase, elapsed.Seconds(), total.Seconds(), ok, r.failed.Load(), rate, fmtDur(p99))
			if r.o.InPlace {
				fmt.Fprintf(r.o.Progress, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(r.o.Progress, line)
			}
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func msDuration(v float64) time.Duration { return time.Duration(v * 1e6) }

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	ms := float64(d) / 1e6
	switch {
	case ms == 0:
		return "0"
	case ms < 1:
		return fmt.Sprintf("%.0fµs", ms*1000)
	case ms < 10:
		return fmt.Sprintf("%.2fms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1fms", ms)
	case ms < 10000:
		return fmt.Sprintf("%.0fms", ms)
	}
	return fmt.Sprintf("%.1fs", ms/1000)
}

// sortedKinds lists error kinds, most frequent first.
func sortedKinds(m map[string]int64) []string {
	ks := slices.Collect(maps.Keys(m))
	slices.SortFunc(ks, func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), strings.Compare(a, b))
	})
	return ks
}
