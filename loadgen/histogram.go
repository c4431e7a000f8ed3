package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: values below 2^subBits ns are
// counted exactly, larger ones in buckets 1/2^(subBits-1) of their value
// wide (under 0.8% relative error), as an HDR histogram with two to three
// significant digits would.
const subBits = 8

// nBuckets covers every non-negative int64.
const nBuckets = (64-subBits)<<(subBits-1) + 1<<subBits

// Histogram records durations. It is not safe for concurrent use; the
// zero value is empty and ready.
type Histogram struct {
	counts   [nBuckets]uint64
	n        uint64
	min, max time.Duration
	sum      float64
}

func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(uint64(v)) - subBits
	return e<<(subBits-1) + int(v>>e)
}

// bucketTop is the largest value that falls in bucket i.
func bucketTop(i int) int64 {
	if i < 1<<subBits {
		return int64(i)
	}
	e := i>>(subBits-1) - 1
	top := int64(i - e<<(subBits-1))
	lo := top << e
	return lo + (int64(1) << e) - 1
}

// Record adds one duration; negative ones count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(int64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Min is the smallest value recorded, exactly.
func (h *Histogram) Min() time.Duration { return h.min }

// Mean is the average of the values recorded.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile returns the value at quantile q (0 < q <= 1): the smallest
// recorded value's bucket such that at least q of all values are at or
// below it, reported as the bucket's top and never above the exact maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketTop(i))
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
