package loadgen

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints a result for a person.
func WriteText(w io.Writer, r *Result) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "%s: skipped: %s\n", r.Scenario, r.Skipped)
		return
	}
	mode := fmt.Sprintf("closed loop, %d workers", r.Concurrency)
	if r.Mode == "open-loop" {
		mode = fmt.Sprintf("open loop at %g/s, up to %d in flight", r.TargetRate, r.Concurrency)
	}
	fmt.Fprintf(w, "%s: %s, %gs measured after %gs warm-up\n", r.Scenario, mode, r.DurationS, r.WarmupS)
	fmt.Fprintf(w, "  throughput  %.1f/s  (%d ok, %d errors", r.Throughput, r.Successes, r.Errors)
	if r.Missed > 0 {
		fmt.Fprintf(w, ", %d scheduled but never started: the rate is beyond capacity", r.Missed)
	}
	fmt.Fprintln(w, ")")
	l := r.Latency
	fmt.Fprintf(w, "  latency     p50 %s  p90 %s  p99 %s  max %s  (mean %s)\n", ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), ms(l.Mean))
	if r.Errors > 0 {
		for _, k := range sortedKinds(r.ErrorKinds) {
			fmt.Fprintf(w, "  error       %-28s %d  (%s)\n", k, r.ErrorKinds[k], r.ErrorExamples[k])
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "  server      pid %d: CPU %.2f cores (%s ms per success), RSS %.0f MiB (max %.0f MiB)\n",
			s.PID, s.CPUCores, cpuMS(perOp(s.CPUSeconds, r.Successes)), s.RSSMiB, s.RSSMaxMiB)
	}
	if g := r.Generator; g != nil {
		fmt.Fprintf(w, "  generator   CPU %.2f cores (%s ms per success)\n", g.CPUCores, cpuMS(perOp(g.CPUSeconds, r.Successes)))
	}
	if p := r.Push; p != nil {
		fmt.Fprintf(w, "  devices     %d connected (%d taking approvals), %s\n", p.Devices, p.Active, pushMemory(p))
	}
}

// pushMemory describes what the idle devices cost the server.
func pushMemory(p *PushStats) string {
	if p.RSSPerDeviceKiB == 0 && p.RSSAfterMiB == 0 {
		return "server memory not sampled"
	}
	return fmt.Sprintf("server RSS %.0f -> %.0f MiB: %.1f KiB per idle device", p.RSSBeforeMiB, p.RSSAfterMiB, p.RSSPerDeviceKiB)
}

func perOp(cpuS float64, n int64) float64 {
	if n == 0 {
		return 0
	}
	return cpuS * 1000 / float64(n)
}

// cpuMS prints milliseconds of CPU with three significant digits below
// 10 ms, so that sub-millisecond operations compare (0.283 against 0.301).
func cpuMS(v float64) string {
	switch {
	case v < 1:
		return fmt.Sprintf("%.3f", v)
	case v < 10:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func ms(v float64) string { return fmtDur(msDuration(v)) }

// WriteMarkdownHeader and WriteMarkdownRow print results as a Markdown
// table.
func WriteMarkdownHeader(w io.Writer) {
	fmt.Fprintln(w, "| scenario | mode | workers | ok/s | p50 | p90 | p99 | max | errors | server CPU (cores) | server CPU per op | server RSS max | generator CPU (cores) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
}

// WriteMarkdownRow prints one result as a table row.
func WriteMarkdownRow(w io.Writer, r *Result) {
	if r.Skipped != "" {
		fmt.Fprintf(w, "| %s | skipped: %s |  |  |  |  |  |  |  |  |  |  |  |\n", r.Scenario, strings.ReplaceAll(r.Skipped, "|", "/"))
		return
	}
	mode := "closed"
	if r.Mode == "open-loop" {
		mode = fmt.Sprintf("open %g/s", r.TargetRate)
	}
	errs := fmt.Sprint(r.Errors)
	if r.Errors > 0 {
		var parts []string
		for _, k := range sortedKinds(r.ErrorKinds) {
			parts = append(parts, fmt.Sprintf("%s %d", k, r.ErrorKinds[k]))
		}
		errs = strings.Join(parts, ", ")
	}
	if r.Missed > 0 {
		errs += fmt.Sprintf(" (%d missed)", r.Missed)
	}
	cpu, cpuOp, rss, gen := "n/a", "n/a", "n/a", "n/a"
	if s := r.Server; s != nil {
		cpu = fmt.Sprintf("%.2f", s.CPUCores)
		cpuOp = fmt.Sprintf("%.2f ms", perOp(s.CPUSeconds, r.Successes))
		rss = fmt.Sprintf("%.0f MiB", s.RSSMaxMiB)
	}
	if g := r.Generator; g != nil {
		gen = fmt.Sprintf("%.2f", g.CPUCores)
	}
	l := r.Latency
	name := r.Scenario
	if p := r.Push; p != nil {
		name = fmt.Sprintf("%s (%d devices connected; %s)", name, p.Devices, pushMemory(p))
	}
	fmt.Fprintf(w, "| %s | %s | %d | %.1f | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, mode, r.Concurrency,
		r.Throughput, ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max), errs, cpu, cpuOp, rss, gen)
}
