package risk

import (
	"slices"
	"testing"
	"time"
)

// The benchmarks assess against a realistic in-memory history: 50 past
// sign-ins and 200 payments (see seedAlice). Besides ns/op they report the
// median and 99th-percentile latency of single assessments.

func benchAssess(b *testing.B, ev Event) {
	e, _ := newTestEngine(b, DefaultPolicy())
	ctx := b.Context()
	if _, err := e.Assess(ctx, ev); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<20)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := e.Assess(ctx, ev); err != nil {
			b.Fatal(err)
		}
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkAssessLogin(b *testing.B) {
	b.Run("usual", func(b *testing.B) { benchAssess(b, loginEvent()) })
	b.Run("risky", func(b *testing.B) {
		ev := loginEvent()
		ev.IP, ev.DeviceID = "8.8.8.8", ""
		ev.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0"
		benchAssess(b, ev)
	})
}

func BenchmarkAssessPayment(b *testing.B) {
	b.Run("usual", func(b *testing.B) { benchAssess(b, paymentEvent(2500, "payee-c")) })
	b.Run("risky", func(b *testing.B) {
		ev := paymentEvent(250000, "mule")
		ev.DeviceID = ""
		benchAssess(b, ev)
	})
}

// TestAssessAllocations guards the allocation budget: fewer than 20 per
// assessment, even when many reasons fire.
func TestAssessAllocations(t *testing.T) {
	if testing.CoverMode() != "" || raceEnabled {
		t.Skip("coverage and the race detector change allocations")
	}
	e, _ := newTestEngine(t, DefaultPolicy())
	risky := paymentEvent(250000, "mule")
	risky.DeviceID, risky.IP = "", "8.8.8.8"
	for name, ev := range map[string]Event{"login": loginEvent(), "payment": paymentEvent(2500, "payee-c"), "risky payment": risky} {
		e.Assess(t.Context(), ev)
		n := testing.AllocsPerRun(200, func() { e.Assess(t.Context(), ev) })
		t.Logf("%s: %v allocations", name, n)
		if n >= 20 {
			t.Errorf("%s: %v allocations per assessment, want < 20", name, n)
		}
	}
}
