package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// signIn returns the i-th sign-in fixture, at t0 plus i minutes. Its fields
// vary with i so that a backend that mixes up records or fields shows it.
func signIn(i int) store.SignInRecord {
	r := store.SignInRecord{
		Time:     t0().Add(time.Duration(i) * time.Minute),
		IP:       fmt.Sprintf("198.51.100.%d", i%250),
		DeviceID: fmt.Sprintf("device-%d", i),
		Browser:  "Firefox",
		OS:       "Linux",
		Strong:   i%2 == 0,
	}
	if i%3 != 0 { // every third has no known location
		r.Country, r.City, r.Precision = "DE", fmt.Sprintf("City %d", i), "city"
		r.Lat, r.Lon, r.RadiusKm = 52.5+float64(i)/1000, -13.4-float64(i)/1000, float64(10+i%7)
		r.Mobile, r.Anonymous = i%2 == 0, i%4 == 2
	}
	return r
}

// payment returns the i-th payment fixture, at t0 plus i hours, to payee-i.
func payment(i int) store.PaymentRecord {
	return store.PaymentRecord{
		Time:     t0().Add(time.Duration(i) * time.Hour),
		Amount:   int64(100*i + 1),
		Currency: []string{"EUR", "GBP", "USD"}[(i%3+3)%3],
		Payee:    fmt.Sprintf("payee-%d", i),
		Strong:   i%4 == 0,
	}
}

func signIns(idx ...int) []store.SignInRecord {
	out := make([]store.SignInRecord, 0, len(idx))
	for _, i := range idx {
		out = append(out, signIn(i))
	}
	return out
}

func payments(idx ...int) []store.PaymentRecord {
	out := make([]store.PaymentRecord, 0, len(idx))
	for _, i := range idx {
		out = append(out, payment(i))
	}
	return out
}

// span returns from, from-1, ..., to (from >= to): newest first.
func span(from, to int) []int {
	var out []int
	for i := from; i >= to; i-- {
		out = append(out, i)
	}
	return out
}

func checkSignIns(t *testing.T, what string, got, want []store.SignInRecord) {
	t.Helper()
	norm := func(rs []store.SignInRecord) []store.SignInRecord {
		out := make([]store.SignInRecord, len(rs))
		for i, r := range rs {
			r.Time = r.Time.UTC()
			out[i] = r
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %d %+v\nwant %d %+v", what, len(g), g, len(w), w)
	}
}

func checkPayments(t *testing.T, what string, got, want []store.PaymentRecord) {
	t.Helper()
	norm := func(rs []store.PaymentRecord) []store.PaymentRecord {
		out := make([]store.PaymentRecord, len(rs))
		for i, r := range rs {
			r.Time = r.Time.UTC()
			out[i] = r
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %d %+v\nwant %d %+v", what, len(g), g, len(w), w)
	}
}

func checkTime(t *testing.T, what string, got time.Time, err error, want time.Time) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", what, err)
		return
	}
	if !got.Equal(want) || got.IsZero() != want.IsZero() {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func mustAppendSignIn(t *testing.T, s store.Store, userID string, r store.SignInRecord) {
	t.Helper()
	if err := s.AppendSignIn(t.Context(), userID, r); err != nil {
		t.Fatalf("AppendSignIn(%s, %v): %v", userID, r.Time, err)
	}
}

func mustAppendPayment(t *testing.T, s store.Store, userID string, r store.PaymentRecord) {
	t.Helper()
	if err := s.AppendPayment(t.Context(), userID, r); err != nil {
		t.Fatalf("AppendPayment(%s, %v): %v", userID, r.Time, err)
	}
}

func mustListSignIns(t *testing.T, s store.Store, userID string, limit int) []store.SignInRecord {
	t.Helper()
	rs, err := s.ListSignIns(t.Context(), userID, limit)
	if err != nil {
		t.Fatalf("ListSignIns(%s, %d): %v", userID, limit, err)
	}
	return rs
}

func mustListPayments(t *testing.T, s store.Store, userID string, since time.Time, limit int) []store.PaymentRecord {
	t.Helper()
	rs, err := s.ListPayments(t.Context(), userID, since, limit)
	if err != nil {
		t.Fatalf("ListPayments(%s, %v, %d): %v", userID, since, limit, err)
	}
	return rs
}

// appendConcurrently runs append(i) for every i in idx, all at once.
func appendConcurrently(t *testing.T, idx []int, append func(i int) error) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for _, i := range idx {
		wg.Go(func() {
			<-start
			if err := append(i); err != nil {
				t.Errorf("append %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}

func testHistorySignIns(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com")) // "u1" is a prefix of "u10"

	checkSignIns(t, "ListSignIns of a user without history", mustListSignIns(t, s, "u1", 10), nil)
	requireAllFieldsSet(t, "sign-in fixture 2", signIn(2))
	requireAllFieldsSet(t, "payment fixture 4", payment(4))

	// Out of order: the store orders by Time, not by arrival.
	for _, i := range []int{3, 1, 5, 2, 4} {
		mustAppendSignIn(t, s, "u1", signIn(i))
	}
	mustAppendSignIn(t, s, "u10", signIn(6))
	mustAppendSignIn(t, s, "u10", signIn(0))

	checkSignIns(t, "ListSignIns(u1, 100)", mustListSignIns(t, s, "u1", 100), signIns(5, 4, 3, 2, 1))
	checkSignIns(t, "ListSignIns(u1, 3)", mustListSignIns(t, s, "u1", 3), signIns(5, 4, 3))
	checkSignIns(t, "ListSignIns(u1, 1)", mustListSignIns(t, s, "u1", 1), signIns(5))
	checkSignIns(t, "ListSignIns(u10, 100)", mustListSignIns(t, s, "u10", 100), signIns(6, 0))
	checkSignIns(t, "ListSignIns(unknown user)", mustListSignIns(t, s, "u", 100), nil)

	// Two sign-ins in the same instant are both kept.
	twin := signIn(5)
	twin.IP, twin.DeviceID = "203.0.113.5", "twin"
	mustAppendSignIn(t, s, "u1", twin)
	got := mustListSignIns(t, s, "u1", 100)
	if len(got) != 6 {
		t.Fatalf("after a second sign-in at the same time ListSignIns(u1) has %d records, want 6", len(got))
	}
	newest := got[:2]
	if newest[0].IP != twin.IP {
		newest = []store.SignInRecord{newest[1], newest[0]}
	}
	checkSignIns(t, "the two sign-ins at the same time, in either order", newest, []store.SignInRecord{twin, signIn(5)})
	checkSignIns(t, "the older sign-ins", got[2:], signIns(4, 3, 2, 1))
}

func testHistoryPayments(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	checkPayments(t, "ListPayments of a user without history",
		mustListPayments(t, s, "u1", time.Time{}, 10), nil)

	for _, i := range []int{4, 9, 1, 7, 10, 3, 2, 8, 6, 5} {
		mustAppendPayment(t, s, "u1", payment(i))
	}
	mustAppendPayment(t, s, "u10", payment(11))

	at := func(i int) time.Time { return payment(i).Time }
	for _, tc := range []struct {
		user  string
		since time.Time
		limit int
		want  []int
	}{
		{"u1", time.Time{}, 100, span(10, 1)},
		{"u1", at(4), 100, span(10, 4)}, // at or after since
		{"u1", at(4).Add(time.Nanosecond), 100, span(10, 5)},
		{"u1", at(4).Add(-time.Nanosecond), 100, span(10, 4)},
		{"u1", at(4), 3, span(10, 8)},
		{"u1", at(10), 100, []int{10}},
		{"u1", at(10).Add(time.Nanosecond), 100, nil},
		{"u1", at(1).Add(-24 * time.Hour), 5, span(10, 6)},
		{"u10", time.Time{}, 100, []int{11}},
		{"u", time.Time{}, 100, nil},
	} {
		what := fmt.Sprintf("ListPayments(%s, %v, %d)", tc.user, tc.since, tc.limit)
		checkPayments(t, what, mustListPayments(t, s, tc.user, tc.since, tc.limit), payments(tc.want...))
	}

	// Payees: each payment above went to its own payee.
	ctx := t.Context()
	for _, i := range []int{1, 5, 10} {
		got, err := s.PayeeFirstSeen(ctx, "u1", payment(i).Payee)
		checkTime(t, "PayeeFirstSeen(u1, "+payment(i).Payee+")", got, err, at(i))
	}
	got, err := s.PayeeFirstSeen(ctx, "u10", payment(1).Payee)
	checkTime(t, "PayeeFirstSeen(u10, payee of u1)", got, err, time.Time{})
	got, err = s.PayeeFirstSeen(ctx, "u1", "never paid")
	checkTime(t, "PayeeFirstSeen(u1, never paid)", got, err, time.Time{})

	// Paying a known payee again does not move its first time.
	again := payment(20)
	again.Payee = payment(3).Payee
	mustAppendPayment(t, s, "u1", again)
	got, err = s.PayeeFirstSeen(ctx, "u1", again.Payee)
	checkTime(t, "PayeeFirstSeen after a later payment", got, err, at(3))
	checkPayments(t, "ListPayments after the later payment",
		mustListPayments(t, s, "u1", at(9), 100), []store.PaymentRecord{again, payment(10), payment(9)})
}

func testHistoryDevicesAndReports(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	at := func(m int) time.Time { return t0().Add(time.Duration(m) * time.Minute) }
	rec := func(m int, device string, strong bool) store.SignInRecord {
		return store.SignInRecord{Time: at(m), IP: "192.0.2.1", DeviceID: device, Strong: strong}
	}
	firstSeen := func(what, user, device string, want time.Time) {
		t.Helper()
		got, err := s.DeviceFirstSeen(ctx, user, device)
		checkTime(t, what, got, err, want)
	}

	firstSeen("DeviceFirstSeen before any sign-in", "u1", "d1", time.Time{})
	mustAppendSignIn(t, s, "u1", rec(1, "d1", false))
	firstSeen("DeviceFirstSeen after a weak sign-in", "u1", "d1", time.Time{})
	mustAppendSignIn(t, s, "u1", rec(2, "d1", true))
	firstSeen("DeviceFirstSeen after a strong sign-in", "u1", "d1", at(2))
	mustAppendSignIn(t, s, "u1", rec(3, "d1", true))
	firstSeen("DeviceFirstSeen after a later strong sign-in", "u1", "d1", at(2))
	firstSeen("DeviceFirstSeen of another device", "u1", "d2", time.Time{})
	firstSeen("DeviceFirstSeen for another user", "u10", "d1", time.Time{})
	mustAppendSignIn(t, s, "u1", rec(4, "", true))
	firstSeen("DeviceFirstSeen of the empty device id", "u1", "", time.Time{})
	checkSignIns(t, "sign-ins", mustListSignIns(t, s, "u1", 10), []store.SignInRecord{
		rec(4, "", true), rec(3, "d1", true), rec(2, "d1", true), rec(1, "d1", false),
	})

	report := func(what, user string, want time.Time) {
		t.Helper()
		got, err := s.LastReport(ctx, user)
		checkTime(t, what, got, err, want)
	}
	report("LastReport before any report", "u1", time.Time{})
	if err := s.SetLastReport(ctx, "u1", at(10)); err != nil {
		t.Fatalf("SetLastReport: %v", err)
	}
	report("LastReport", "u1", at(10))
	if err := s.SetLastReport(ctx, "u1", at(20)); err != nil {
		t.Fatalf("SetLastReport: %v", err)
	}
	report("LastReport after a second report", "u1", at(20))
	report("LastReport of another user", "u10", time.Time{})
}

// testHistoryConcurrently appends from many goroutines at once (backends
// may batch them into shared commits) and checks that none is lost or
// doubled.
func testHistoryConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	const n = 60
	idx := span(n, 1)
	appendConcurrently(t, idx, func(i int) error {
		if err := s.AppendSignIn(t.Context(), "u1", signIn(i)); err != nil {
			return err
		}
		return s.AppendPayment(t.Context(), "u1", payment(i))
	})
	checkSignIns(t, "sign-ins appended concurrently", mustListSignIns(t, s, "u1", 1000), signIns(idx...))
	checkPayments(t, "payments appended concurrently",
		mustListPayments(t, s, "u1", time.Time{}, 1000), payments(idx...))
}

// testHistoryTrim appends more than the store must keep and checks that it
// keeps at least the newest MaxSignIns and MaxPayments, newest first, and
// only trims the user who went over.
func testHistoryTrim(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	// Bystanders on either side of u1 in id order, one of them with u1 as
	// a prefix of its id, whose records are older than all of u1's: a trim
	// that dropped the oldest records of the store, or the first in key
	// order, rather than the user's oldest would take some of them.
	bystanders := []string{"u0", "u10"}
	for _, id := range append([]string{"u1"}, bystanders...) {
		mustCreateUser(t, s, newUser(id, id+"@example.com"))
	}
	for _, id := range bystanders {
		for _, i := range []int{-3, -2, -1} {
			mustAppendSignIn(t, s, id, signIn(i))
			mustAppendPayment(t, s, id, payment(i))
		}
	}

	const extra = 25
	rnd := rand.New(rand.NewPCG(1, 2))
	order := span(store.MaxSignIns+extra, 1)
	rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	appendConcurrently(t, order, func(i int) error { return s.AppendSignIn(t.Context(), "u1", signIn(i)) })

	order = span(store.MaxPayments+extra, 1)
	rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	appendConcurrently(t, order, func(i int) error { return s.AppendPayment(t.Context(), "u1", payment(i)) })

	gotSignIns := mustListSignIns(t, s, "u1", 1000)
	if len(gotSignIns) < store.MaxSignIns || len(gotSignIns) > store.MaxSignIns+extra {
		t.Fatalf("ListSignIns after %d appends has %d records, want %d to %d",
			store.MaxSignIns+extra, len(gotSignIns), store.MaxSignIns, store.MaxSignIns+extra)
	}
	// Whatever it keeps beyond the newest MaxSignIns are the next older.
	checkSignIns(t, "kept sign-ins", gotSignIns,
		signIns(span(store.MaxSignIns+extra, store.MaxSignIns+extra-len(gotSignIns)+1)...))
	checkSignIns(t, "ListSignIns(u1, MaxSignIns)", mustListSignIns(t, s, "u1", store.MaxSignIns),
		signIns(span(store.MaxSignIns+extra, extra+1)...))

	gotPayments := mustListPayments(t, s, "u1", time.Time{}, 1000)
	if len(gotPayments) < store.MaxPayments || len(gotPayments) > store.MaxPayments+extra {
		t.Fatalf("ListPayments after %d appends has %d records, want %d to %d",
			store.MaxPayments+extra, len(gotPayments), store.MaxPayments, store.MaxPayments+extra)
	}
	checkPayments(t, "kept payments", gotPayments,
		payments(span(store.MaxPayments+extra, store.MaxPayments+extra-len(gotPayments)+1)...))
	checkPayments(t, "ListPayments since the MaxPayments-th newest",
		mustListPayments(t, s, "u1", payment(extra+1).Time, 1000),
		payments(span(store.MaxPayments+extra, extra+1)...))

	for _, id := range bystanders {
		checkSignIns(t, id+"'s sign-ins", mustListSignIns(t, s, id, 1000), signIns(-1, -2, -3))
		checkPayments(t, id+"'s payments", mustListPayments(t, s, id, time.Time{}, 1000), payments(-1, -2, -3))
	}

	// Trimming forgets records, not what they taught: the first payee and
	// device stay known.
	got, err := s.PayeeFirstSeen(t.Context(), "u1", payment(1).Payee)
	checkTime(t, "PayeeFirstSeen of a trimmed payment's payee", got, err, payment(1).Time)
	got, err = s.DeviceFirstSeen(t.Context(), "u1", signIn(2).DeviceID)
	checkTime(t, "DeviceFirstSeen of a trimmed sign-in's device", got, err, signIn(2).Time)
}

// testDeleteUserEverything checks that DeleteUser leaves nothing of the user
// behind, not even for a new user with the same id, and touches no one else.
func testDeleteUserEverything(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	fill := func(id string) (store.Session, []store.Factor) {
		mustCreateUser(t, s, newUser(id, id+"@example.com"))
		sess := newSession(id, id, t0().Add(time.Hour))
		mustCreateSession(t, s, sess)
		factors := []store.Factor{
			mustCreateFactor(t, s, newFactor(id, "passkey", store.FactorPasskey, t0(), "cred of "+id)),
			mustCreateFactor(t, s, newFactor(id, "totp", store.FactorTOTP, t0(), "")),
		}
		for i := 1; i <= 3; i++ {
			mustAppendSignIn(t, s, id, signIn(2*i)) // strong, with a device
			mustAppendPayment(t, s, id, payment(i))
		}
		if err := s.SetLastReport(ctx, id, t0()); err != nil {
			t.Fatalf("SetLastReport(%s): %v", id, err)
		}
		return sess, factors
	}
	fill("u1")
	sess10, factors10 := fill("u10")

	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser(u1): %v", err)
	}
	gone := func(when string) {
		t.Helper()
		_, err := s.GetSession(ctx, sessionID("u1"))
		checkErr(t, when+": GetSession", err, store.ErrNotFound)
		for _, id := range []string{"passkey", "totp"} {
			_, err := s.GetFactor(ctx, "u1", id)
			checkErr(t, when+": GetFactor("+id+")", err, store.ErrNotFound)
		}
		_, err = s.GetFactorByLookupKey(ctx, []byte("cred of u1"))
		checkErr(t, when+": GetFactorByLookupKey", err, store.ErrNotFound)
		if fs, err := s.ListFactors(ctx, "u1"); err != nil || len(fs) != 0 {
			t.Errorf("%s: ListFactors = %d factors, %v; want none", when, len(fs), err)
		}
		checkSignIns(t, when+": ListSignIns", mustListSignIns(t, s, "u1", 100), nil)
		checkPayments(t, when+": ListPayments", mustListPayments(t, s, "u1", time.Time{}, 100), nil)
		got, err := s.DeviceFirstSeen(ctx, "u1", signIn(2).DeviceID)
		checkTime(t, when+": DeviceFirstSeen", got, err, time.Time{})
		got, err = s.PayeeFirstSeen(ctx, "u1", payment(1).Payee)
		checkTime(t, when+": PayeeFirstSeen", got, err, time.Time{})
		got, err = s.LastReport(ctx, "u1")
		checkTime(t, when+": LastReport", got, err, time.Time{})
	}
	gone("after DeleteUser")
	// A new user with the same id inherits nothing, and the old lookup key
	// is free again.
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	gone("after creating the id again")
	mustCreateFactor(t, s, newFactor("u1", "passkey", store.FactorPasskey, t0(), "cred of u1"))

	got, err := s.GetSession(ctx, sess10.IDHash)
	if err != nil {
		t.Fatalf("GetSession(u10): %v", err)
	}
	checkSession(t, "u10's session", got, sess10)
	gotFactors, err := s.ListFactors(ctx, "u10")
	if err != nil {
		t.Fatalf("ListFactors(u10): %v", err)
	}
	checkFactors(t, "u10's factors", gotFactors, []store.Factor{factors10[0], factors10[1]})
	checkSignIns(t, "u10's sign-ins", mustListSignIns(t, s, "u10", 100), signIns(6, 4, 2))
	checkPayments(t, "u10's payments", mustListPayments(t, s, "u10", time.Time{}, 100), payments(3, 2, 1))
	seen, err := s.DeviceFirstSeen(ctx, "u10", signIn(2).DeviceID)
	checkTime(t, "u10's DeviceFirstSeen", seen, err, signIn(2).Time)
	seen, err = s.PayeeFirstSeen(ctx, "u10", payment(1).Payee)
	checkTime(t, "u10's PayeeFirstSeen", seen, err, payment(1).Time)
	seen, err = s.LastReport(ctx, "u10")
	checkTime(t, "u10's LastReport", seen, err, t0())
}

// testCreateRacingDeleteUser creates sessions and factors for a user while
// the user is deleted: whatever the interleaving, nothing of the user may
// remain, because each create checks the user in its own transaction.
func testCreateRacingDeleteUser(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("doomed", "doomed@example.com"))
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		created int
	)
	result := func(what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			created++
		case !errors.Is(err, store.ErrNotFound):
			t.Errorf("%s: %v", what, err)
		}
	}
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.CreateSession(ctx, newSession(fmt.Sprint("doomed-", i), "doomed", t0().Add(time.Hour)))
			result("CreateSession", err)
		})
		wg.Go(func() {
			<-start
			err := s.CreateFactor(ctx, newFactor("doomed", fmt.Sprint("f-", i), store.FactorPasskey, t0(), fmt.Sprint("cred-", i)))
			result("CreateFactor", err)
		})
		if i == n/2 {
			wg.Go(func() {
				<-start
				if err := s.DeleteUser(ctx, "doomed"); err != nil {
					t.Errorf("DeleteUser: %v", err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	t.Logf("%d of %d creates ran before the delete", created, 2*n)

	for i := range n {
		_, err := s.GetSession(ctx, sessionID(fmt.Sprint("doomed-", i)))
		checkErr(t, "GetSession after the race", err, store.ErrNotFound)
		_, err = s.GetFactorByLookupKey(ctx, []byte(fmt.Sprint("cred-", i)))
		checkErr(t, "GetFactorByLookupKey after the race", err, store.ErrNotFound)
	}
	if fs, err := s.ListFactors(ctx, "doomed"); err != nil || len(fs) != 0 {
		t.Errorf("ListFactors after the race = %d factors, %v; want none", len(fs), err)
	}
	if got, err := s.DeleteUserSessions(ctx, "doomed"); err != nil || got != 0 {
		t.Errorf("DeleteUserSessions after the race = %d, %v; want 0", got, err)
	}
	// Once the user is gone every create fails.
	checkErr(t, "CreateSession after the race",
		s.CreateSession(ctx, newSession("late", "doomed", t0().Add(time.Hour))), store.ErrNotFound)
	checkErr(t, "CreateFactor after the race",
		s.CreateFactor(ctx, newFactor("doomed", "late", store.FactorTOTP, t0(), "")), store.ErrNotFound)
	if ids := userIDsOf(t, s); !slices.Equal(ids, nil) {
		t.Errorf("users after the race = %q, want none", ids)
	}
}

func userIDsOf(t *testing.T, s store.Store) []string {
	t.Helper()
	users, err := s.ListUsers(t.Context(), "", 1000)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	if len(users) == 0 {
		return nil
	}
	return userIDs(users)
}
