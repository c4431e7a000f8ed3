package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

var histT0 = time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)

func mustCreateUser(t testing.TB, db *DB, id string) {
	t.Helper()
	if err := db.CreateUser(t.Context(), store.User{ID: id}); err != nil {
		t.Fatalf("CreateUser(%s): %v", id, err)
	}
}

// assertNoTrace fails if any bucket still holds a key or value that belongs
// to the user: the user id itself, or anything beginning with it and 0x00.
// It looks at every bucket in the file, so a bucket added later without
// being cleaned by DeleteUser is caught too.
func assertNoTrace(t *testing.T, db *DB, userID string) {
	t.Helper()
	id := []byte(userID)
	prefix := append(bytes.Clone(id), 0)
	mine := func(b []byte) bool { return bytes.Equal(b, id) || bytes.HasPrefix(b, prefix) }
	if err := db.db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if mine(k) || mine(v) {
					t.Errorf("bucket %s still holds %q -> %q of deleted user %q", name, k, v, userID)
				}
				return nil
			})
		})
	}); err != nil {
		t.Fatal(err)
	}
}

// countKeys returns how many keys of the user's range bucket holds, and the
// sign-in and payment counts in the user's summary.
func countKeys(t *testing.T, db *DB, bucket []byte, userID string) (keys int, h historyUser) {
	t.Helper()
	if err := db.db.View(func(tx *bbolt.Tx) error {
		prefix := userKey(userID, "")
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys++
		}
		var err error
		h, err = getHistoryUser(tx, userID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return keys, h
}

// fillUser gives the user one of everything that is kept under a user.
func fillUser(t *testing.T, db *DB, id string) {
	t.Helper()
	ctx := t.Context()
	mustCreateUser(t, db, id)
	if _, err := db.UpdateUser(ctx, id, func(u store.User) (store.User, error) {
		u.EmailIndex = []byte("email of " + id)
		return u, nil
	}); err != nil {
		t.Fatalf("UpdateUser(%s): %v", id, err)
	}
	steps := []error{
		db.CreateSession(ctx, store.Session{IDHash: []byte("session of " + id), UserID: id}),
		db.CreateFactor(ctx, store.Factor{ID: "pk", UserID: id, Kind: store.FactorPasskey, LookupKey: []byte("cred of " + id)}),
		db.CreateFactor(ctx, store.Factor{ID: "totp", UserID: id, Kind: store.FactorTOTP}),
		db.AppendSignIn(ctx, id, store.SignInRecord{Time: histT0, DeviceID: "device", Strong: true}),
		db.AppendPayment(ctx, id, store.PaymentRecord{Time: histT0, Amount: 1, Currency: "EUR", Payee: "payee"}),
		db.SetLastReport(ctx, id, histT0),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("filling user %s, step %d: %v", id, i, err)
		}
	}
}

func TestDeleteUserLeavesNoTrace(t *testing.T) {
	db, _ := openTemp(t)
	fillUser(t, db, "u1")
	fillUser(t, db, "u10")
	if err := db.DeleteUser(t.Context(), "u1"); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	assertNoTrace(t, db, "u1")
	// The check itself finds what is left: u10 is everywhere still.
	if err := db.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			switch string(name) {
			case string(bucketAudit), string(bucketCounters), string(bucketMeta), string(bucketSessions), string(bucketOutbox):
				continue // not keyed by user
			}
			found := false
			_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
				found = found || bytes.HasPrefix(k, []byte("u10")) || bytes.HasPrefix(v, []byte("u10"))
				return nil
			})
			if !found {
				t.Errorf("bucket %s holds nothing of u10", name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestHistoryUnknownUser(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u10")
	for name, err := range map[string]error{
		"AppendSignIn":  db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: histT0, DeviceID: "d", Strong: true}),
		"AppendPayment": db.AppendPayment(ctx, "u1", store.PaymentRecord{Time: histT0, Payee: "p"}),
		"SetLastReport": db.SetLastReport(ctx, "u1", histT0),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s for an unknown user: error %v, want ErrNotFound", name, err)
		}
	}
	assertNoTrace(t, db, "u1")
}

func TestHistoryInvalidUserID(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	for _, id := range []string{"", "a\x00"} {
		for name, call := range map[string]func() error{
			"ListSignIns":     func() error { _, err := db.ListSignIns(ctx, id, 1); return err },
			"ListPayments":    func() error { _, err := db.ListPayments(ctx, id, time.Time{}, 1); return err },
			"DeviceFirstSeen": func() error { _, err := db.DeviceFirstSeen(ctx, id, "d"); return err },
			"PayeeFirstSeen":  func() error { _, err := db.PayeeFirstSeen(ctx, id, "p"); return err },
			"LastReport":      func() error { _, err := db.LastReport(ctx, id); return err },
			"GetFactor":       func() error { _, err := db.GetFactor(ctx, id, "f"); return err },
			"ListFactors":     func() error { _, err := db.ListFactors(ctx, id); return err },
			"DeleteFactor":    func() error { return db.DeleteFactor(ctx, id, "f") },
			"UpdateFactor": func() error {
				_, err := db.UpdateFactor(ctx, id, "f", func(f store.Factor) (store.Factor, error) { return f, nil })
				return err
			},
		} {
			if err := call(); err == nil {
				t.Errorf("%s(%q): no error", name, id)
			}
		}
	}
}

// TestHistoryTrimExact checks what the conformance suite cannot: that the
// store does drop what it need not keep, and that its counts match.
func TestHistoryTrimExact(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u1")
	const extra = 40
	var wg sync.WaitGroup
	for i := range store.MaxPayments + extra {
		wg.Go(func() {
			at := histT0.Add(time.Duration(i) * time.Second)
			if i < store.MaxSignIns+extra {
				if err := db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: at}); err != nil {
					t.Error(err)
				}
			}
			if err := db.AppendPayment(ctx, "u1", store.PaymentRecord{Time: at}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, h := countKeys(t, db, bucketSignIns, "u1")
	if keys != store.MaxSignIns || h.signIns != store.MaxSignIns {
		t.Errorf("after %d sign-ins: %d stored, summary says %d; want %d", store.MaxSignIns+extra, keys, h.signIns, store.MaxSignIns)
	}
	keys, h = countKeys(t, db, bucketPayments, "u1")
	if keys != store.MaxPayments || h.payments != store.MaxPayments {
		t.Errorf("after %d payments: %d stored, summary says %d; want %d", store.MaxPayments+extra, keys, h.payments, store.MaxPayments)
	}
}

// TestHistoryTrimStep checks that one append removes at most trimStep old
// records however far over the limit a user is, for example after a
// release lowers the limit.
func TestHistoryTrimStep(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u1")
	const over = 3 * trimStep
	if err := db.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketSignIns)
		for i := range store.MaxSignIns + over {
			seq, _ := b.NextSequence()
			at := histT0.Add(time.Duration(i) * time.Second)
			if err := b.Put(historyKey("u1", at, seq), encodeSignIn(store.SignInRecord{Time: at})); err != nil {
				return err
			}
		}
		return putHistoryUser(tx, "u1", historyUser{signIns: store.MaxSignIns + over})
	}); err != nil {
		t.Fatal(err)
	}
	for step := 1; step <= 4; step++ {
		if err := db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: histT0.Add(time.Hour + time.Duration(step))}); err != nil {
			t.Fatal(err)
		}
		want := max(store.MaxSignIns+over+step-step*trimStep, store.MaxSignIns)
		keys, h := countKeys(t, db, bucketSignIns, "u1")
		if keys != want || h.signIns != uint64(want) {
			t.Errorf("after append %d: %d stored, summary says %d; want %d", step, keys, h.signIns, want)
		}
	}
	// What went were the oldest.
	got, err := db.ListSignIns(ctx, "u1", 1000)
	if err != nil {
		t.Fatal(err)
	}
	oldest := got[len(got)-1].Time
	if want := histT0.Add(time.Duration(4*trimStep-4) * time.Second); !oldest.Equal(want) {
		t.Errorf("oldest kept sign-in at %v, want %v", oldest, want)
	}
}

// TestHistoryMonotone checks the merges that make appends order-free:
// first-seen times keep the earliest, the last report the latest.
func TestHistoryMonotone(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u1")
	at := func(m int) time.Time { return histT0.Add(time.Duration(m) * time.Minute) }
	// The first is neither the earliest nor the latest, and the last is the
	// earliest.
	for _, m := range []int{5, 9, 2} {
		if err := db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: at(m), DeviceID: "d", Strong: true}); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendPayment(ctx, "u1", store.PaymentRecord{Time: at(m), Payee: "p"}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetLastReport(ctx, "u1", at(m)); err != nil {
			t.Fatal(err)
		}
	}
	// A weak sign-in earlier still does not count.
	if err := db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: at(1), DeviceID: "d"}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.DeviceFirstSeen(ctx, "u1", "d"); err != nil || !got.Equal(at(2)) {
		t.Errorf("DeviceFirstSeen = %v, %v; want %v", got, err, at(2))
	}
	if got, err := db.PayeeFirstSeen(ctx, "u1", "p"); err != nil || !got.Equal(at(2)) {
		t.Errorf("PayeeFirstSeen = %v, %v; want %v", got, err, at(2))
	}
	if got, err := db.LastReport(ctx, "u1"); err != nil || !got.Equal(at(9)) {
		t.Errorf("LastReport = %v, %v; want %v", got, err, at(9))
	}
	// An empty payee is not remembered.
	if err := db.AppendPayment(ctx, "u1", store.PaymentRecord{Time: at(0)}); err != nil {
		t.Fatal(err)
	}
	keys, _ := countKeys(t, db, bucketPayees, "u1")
	if keys != 1 {
		t.Errorf("%d payees stored, want 1", keys)
	}
}

// TestHistoryExtremeTimes stores records far outside the range that Unix
// nanoseconds hold, where the key clamps the time, and checks that order
// and the since bound still come out right.
func TestHistoryExtremeTimes(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u1")
	times := []time.Time{
		{}, // the zero time, year 1
		time.Date(1500, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(0, 0).UTC(),
		histT0,
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for _, i := range []int{3, 7, 0, 5, 2, 4, 6, 1} { // any order
		if err := db.AppendPayment(ctx, "u1", store.PaymentRecord{Time: times[i], Amount: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	amounts := func(since time.Time) []int64 {
		t.Helper()
		ps, err := db.ListPayments(ctx, "u1", since, 100)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, p := range ps {
			out = append(out, p.Amount)
		}
		return out
	}
	// Records whose keys clamp to the same value (0, 1 and 2 before 1678;
	// 6 and 7 after 2262) come back in an order the key cannot tell, so
	// each group is compared as a set.
	for _, tc := range []struct {
		since time.Time
		want  [][]int64
	}{
		{time.Time{}, [][]int64{{6, 7}, {5}, {4}, {3}, {0, 1, 2}}},
		{time.Date(1550, 1, 1, 0, 0, 0, 0, time.UTC), [][]int64{{6, 7}, {5}, {4}, {3}, {2}}},
		{time.Unix(0, 0), [][]int64{{6, 7}, {5}, {4}}},
		{time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), [][]int64{{7}}},
	} {
		got := amounts(tc.since)
		rest := got
		for _, group := range tc.want {
			if len(rest) < len(group) {
				rest = nil
				break
			}
			part := slices.Sorted(slices.Values(rest[:len(group)]))
			if !slices.Equal(part, group) {
				break
			}
			rest = rest[len(group):]
		}
		if len(rest) != 0 || len(got) != len(slices.Concat(tc.want...)) {
			t.Errorf("ListPayments(since %v) amounts = %v, want groups %v", tc.since, got, tc.want)
		}
	}
	for i, tm := range times {
		if tm.IsZero() {
			continue
		}
		if timeKey(times[i-1]) > timeKey(tm) {
			t.Errorf("timeKey(%v) > timeKey(%v)", times[i-1], tm)
		}
	}
	if timeKey(time.Unix(0, -1)) >= timeKey(time.Unix(0, 0)) || timeKey(time.Unix(0, 0)) >= timeKey(time.Unix(0, 1)) {
		t.Error("timeKey does not order times around 1970")
	}
	if timeKey(time.Unix(0, math.MaxInt64)) != math.MaxUint64 || timeKey(time.Unix(0, math.MinInt64)) != 0 {
		t.Error("timeKey does not span the key range")
	}
}

// TestHistoryBatchRetry makes shared batches fail so that bbolt re-runs the
// appends in them, and checks that a re-run neither repeats nor loses a
// record, and keeps the counts right.
func TestHistoryBatchRetry(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	mustCreateUser(t, db, "u1")
	errBoom := errors.New("boom")
	const n, failing = 100, 10
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		failRuns atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r := store.SignInRecord{Time: histT0.Add(time.Duration(i) * time.Second), DeviceID: fmt.Sprint(i), Strong: true}
			if err := db.AppendSignIn(ctx, "u1", r); err != nil {
				t.Errorf("AppendSignIn: %v", err)
			}
		})
	}
	for range failing {
		wg.Go(func() {
			<-start
			err := db.batch(ctx, func(*bbolt.Tx) error {
				failRuns.Add(1)
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("failing batch call: error %v, want %v", err, errBoom)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := failRuns.Load(); got < 2*failing {
		t.Errorf("failing calls ran %d times, want at least %d: no batch was retried", got, 2*failing)
	}
	keys, h := countKeys(t, db, bucketSignIns, "u1")
	if keys != n || h.signIns != n {
		t.Errorf("%d sign-ins stored, summary says %d; want %d", keys, h.signIns, n)
	}
	got, err := db.ListSignIns(ctx, "u1", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if want := fmt.Sprint(n - 1 - i); r.DeviceID != want {
			t.Fatalf("sign-in %d is from append %s, want %s", i, r.DeviceID, want)
		}
	}
}
