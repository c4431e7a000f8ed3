package loadgen

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value lies in its bucket, and buckets are ordered and narrow.
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1<<40 + 17, 1<<62 + 5, 1<<63 - 1} {
		i := bucketOf(v)
		if i < prev {
			t.Errorf("bucket of %d is %d, below the previous value's %d", v, i, prev)
		}
		prev = i
		if i >= nBuckets {
			t.Fatalf("bucket of %d is %d, beyond %d buckets", v, i, nBuckets)
		}
		top := bucketTop(i)
		if top < v {
			t.Errorf("bucket %d of %d tops at %d", i, v, top)
		}
		if i > 0 && bucketTop(i-1) >= v {
			t.Errorf("value %d also fits bucket %d (top %d)", v, i-1, bucketTop(i-1))
		}
		if v >= 1<<subBits && float64(top-v) > float64(v)/float64(int64(1)<<(subBits-1)) {
			t.Errorf("bucket of %d is too wide: top %d", v, top)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	// 1..10000 µs, shuffled.
	vals := rand.New(rand.NewPCG(1, 2)).Perm(10000)
	for _, v := range vals {
		h.Record(time.Duration(v+1) * time.Microsecond)
	}
	if h.Count() != 10000 || h.Min() != time.Microsecond || h.Max() != 10*time.Millisecond {
		t.Fatalf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {0.999, 9990 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.Quantile(tc.q)
		if got < tc.want || float64(got-tc.want) > float64(tc.want)*0.008 {
			t.Errorf("p%v = %v, want %v within 0.8%% above", tc.q*100, got, tc.want)
		}
	}
	if m := h.Mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("mean %v, want 5000.5µs", m)
	}
}

func TestHistogramSkewAndMerge(t *testing.T) {
	// 99 fast values and one slow one: p99 is fast, the max is exact.
	var a, b Histogram
	for range 99 {
		a.Record(2 * time.Millisecond)
	}
	b.Record(1234567 * time.Microsecond)
	a.Merge(&b)
	a.Merge(&Histogram{})
	if a.Count() != 100 || a.Max() != 1234567*time.Microsecond || a.Min() != 2*time.Millisecond {
		t.Fatalf("merged: count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	if p := a.Quantile(0.99); p < 2*time.Millisecond || p > 2016*time.Microsecond {
		t.Errorf("p99 = %v, want 2ms", p)
	}
	if p := a.Quantile(0.999); p != a.Max() {
		t.Errorf("p99.9 = %v, want the max %v", p, a.Max())
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("an empty histogram reports values")
	}
	empty.Record(-time.Second)
	if empty.Max() != 0 || empty.Count() != 1 {
		t.Errorf("negative value: max %v count %d", empty.Max(), empty.Count())
	}
}
