package authserver

import (
	"context"
	"maps"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/store"
)

// latencyHist counts durations in buckets that grow by 10% from 0.1 ms,
// so a percentile read from it is within 5% of the true value; 170
// buckets reach past 10 minutes (longer durations share the last). It is
// a fixed-size array: recording and merging cost the same under any load.
type latencyHist struct {
	counts [latencyBuckets]uint32
	n      uint32
}

const (
	latencyBuckets = 170
	latencyBaseMs  = 0.1
	latencyGrowth  = 1.1
)

var latencyLogGrowth = math.Log(latencyGrowth)

func (h *latencyHist) add(ms float64) {
	i := 0
	if ms > latencyBaseMs {
		i = min(int(math.Log(ms/latencyBaseMs)/latencyLogGrowth), latencyBuckets-1)
	}
	h.counts[i]++
	h.n++
}

func (h *latencyHist) merge(o *latencyHist) {
	if o == nil {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile returns the q-quantile (0 < q <= 1) in milliseconds: the
// geometric middle of the bucket holding it, rounded to 0.1 ms.
func (h *latencyHist) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := uint32(math.Ceil(q * float64(h.n)))
	var seen uint32
	for i, c := range h.counts {
		seen += c
		if seen >= max(rank, 1) {
			v := latencyBaseMs * math.Pow(latencyGrowth, float64(i)+0.5)
			return math.Round(v*10) / 10
		}
	}
	return 0
}

func (h *latencyHist) summary() adminclient.Latency {
	return adminclient.Latency{Count: int(h.n), P50: h.quantile(0.50), P90: h.quantile(0.90), P99: h.quantile(0.99)}
}

// requestStartKey holds when the middleware first saw the request.
type requestStartKey struct{}

// withRequestStart records the request's arrival for stampLatency.
func withRequestStart(ctx context.Context) context.Context {
	return context.WithValue(ctx, requestStartKey{}, time.Now())
}

// stampLatency adds to a completed sign-in's audit event how long the
// server spent on the request that completed it (latency_ms), which the
// statistics turn into percentiles. The details are copied, never changed
// in place, since callers may reuse their map.
func stampLatency(r *http.Request, e *store.AuditEvent) {
	if e.Kind != "signin.succeeded" || r == nil {
		return
	}
	start, ok := r.Context().Value(requestStartKey{}).(time.Time)
	if !ok {
		return
	}
	d := maps.Clone(e.Details)
	if d == nil {
		d = map[string]string{}
	}
	d["latency_ms"] = strconv.FormatFloat(float64(time.Since(start).Microseconds())/1000, 'f', 1, 64)
	e.Details = d
}
