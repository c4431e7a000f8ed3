package storetest

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func newEvent(i int) store.AuditEvent {
	return store.AuditEvent{
		Time:      t0().Add(time.Duration(i) * time.Second),
		Kind:      "signin.failed",
		Actor:     "anonymous",
		Subject:   "u" + strconv.Itoa(i),
		IP:        "198.51.100.1",
		UserAgent: "conformance/1.0",
		Outcome:   "failed",
		Details:   map[string]string{"n": strconv.Itoa(i), "reason": "bad_password"},
	}
}

func checkEvent(t *testing.T, what string, got, want store.AuditEvent) {
	t.Helper()
	if g, w := normEvent(got), normEvent(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

// listAllAudit pages through the whole log, pageSize events at a time.
func listAllAudit(t *testing.T, s store.Store, pageSize int) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	var after uint64
	for {
		page, err := s.ListAudit(t.Context(), after, pageSize)
		if err != nil {
			t.Fatalf("ListAudit(%d, %d): %v", after, pageSize, err)
		}
		if len(page) > pageSize {
			t.Fatalf("ListAudit(%d, %d) returned %d events", after, pageSize, len(page))
		}
		if len(page) == 0 {
			return all
		}
		for _, e := range page {
			if e.Seq <= after {
				t.Fatalf("ListAudit(%d, %d) returned seq %d, out of order or not after %d", after, pageSize, e.Seq, after)
			}
			after = e.Seq
		}
		all = append(all, page...)
	}
}

func testAuditConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	const n = 200
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		bySeq = map[uint64]int{} // seq -> which append got it
	)
	for i := range n {
		wg.Go(func() {
			<-start
			seq, err := s.AppendAudit(ctx, newEvent(i))
			if err != nil {
				t.Errorf("AppendAudit(%d): %v", i, err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := bySeq[seq]; dup {
				t.Errorf("appends %d and %d both got seq %d", prev, i, seq)
			}
			bySeq[seq] = i
		})
	}
	close(start)
	wg.Wait()

	if len(bySeq) != n {
		t.Fatalf("%d distinct seqs from %d appends", len(bySeq), n)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if _, ok := bySeq[seq]; !ok {
			t.Fatalf("seq %d not handed out; seqs must be 1..%d", seq, n)
		}
	}

	all := listAllAudit(t, s, 30)
	if len(all) != n {
		t.Fatalf("ListAudit pages hold %d events, want %d", len(all), n)
	}
	for i, e := range all {
		want := newEvent(bySeq[uint64(i+1)])
		want.Seq = uint64(i + 1)
		checkEvent(t, "event "+strconv.Itoa(i+1), e, want)
	}
}

func testAuditPaging(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	events, err := s.ListAudit(ctx, 0, 10)
	if err != nil || len(events) != 0 {
		t.Errorf("ListAudit on an empty log = %d events, %v; want 0, nil", len(events), err)
	}
	const n = 25
	for i := 1; i <= n; i++ {
		seq, err := s.AppendAudit(ctx, newEvent(i))
		if err != nil {
			t.Fatalf("AppendAudit(%d): %v", i, err)
		}
		if seq != uint64(i) {
			t.Fatalf("AppendAudit(%d) = seq %d, want %d", i, seq, i)
		}
	}
	pages := []struct {
		after uint64
		limit int
		want  []uint64
	}{
		{0, 3, []uint64{1, 2, 3}},
		{3, 3, []uint64{4, 5, 6}},
		{22, 10, []uint64{23, 24, 25}},
		{25, 10, nil},
		{math.MaxUint64, 10, nil},
		{20, 0, []uint64{21, 22, 23, 24, 25}}, // limit <= 0 means the default page
	}
	for _, p := range pages {
		events, err := s.ListAudit(ctx, p.after, p.limit)
		if err != nil {
			t.Fatalf("ListAudit(%d, %d): %v", p.after, p.limit, err)
		}
		var seqs []uint64
		for _, e := range events {
			seqs = append(seqs, e.Seq)
			want := newEvent(int(e.Seq))
			want.Seq = e.Seq
			checkEvent(t, "ListAudit entry", e, want)
		}
		if !slices.Equal(seqs, p.want) {
			t.Errorf("ListAudit(%d, %d) seqs = %v, want %v", p.after, p.limit, seqs, p.want)
		}
	}
}

func testCountersConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	if v, err := s.Counter(ctx, "signin.attempts"); err != nil || v != 0 {
		t.Errorf("Counter of a new counter = %d, %v; want 0, nil", v, err)
	}
	const n = 100
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		seen  []int64
	)
	for range n {
		wg.Go(func() {
			<-start
			v, err := s.AddCounter(ctx, "signin.attempts", 1)
			if err != nil {
				t.Errorf("AddCounter: %v", err)
				return
			}
			mu.Lock()
			seen = append(seen, v)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()

	if v, err := s.Counter(ctx, "signin.attempts"); err != nil || v != n {
		t.Errorf("Counter after %d concurrent increments = %d, %v; want %d", n, v, err, n)
	}
	// Each call returned the value it stored, so the results are 1..n.
	slices.Sort(seen)
	for i, v := range seen {
		if v != int64(i+1) {
			t.Fatalf("returned values, sorted, are %v; want 1..%d", seen, n)
		}
	}
	if v, err := s.AddCounter(ctx, "signin.attempts", -30); err != nil || v != n-30 {
		t.Errorf("AddCounter(-30) = %d, %v; want %d", v, err, n-30)
	}
	if v, err := s.Counter(ctx, "signin.failures"); err != nil || v != 0 {
		t.Errorf("Counter of an untouched counter = %d, %v; want 0", v, err)
	}
}
