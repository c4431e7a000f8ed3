package storetest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func testReopen(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	if reopen == nil {
		t.Skip("backend cannot reopen its data")
	}
	ctx := t.Context()
	u1 := mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	u2 := mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	u2, err := s.UpdateUser(ctx, "u2", func(u store.User) (store.User, error) {
		u.FailedSignIns = 3
		u.LockedUntil = t0().Add(15 * time.Minute)
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	sess := newSession("s1", "u1", t0().Add(time.Hour))
	mustCreateSession(t, s, sess)
	for i := 1; i <= 3; i++ {
		if _, err := s.AppendAudit(ctx, newEvent(i)); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	if _, err := s.AddCounter(ctx, "c", 5); err != nil {
		t.Fatalf("AddCounter: %v", err)
	}
	for _, i := range []int{1, 2, 3} {
		mustAppendSignIn(t, s, "u1", signIn(2*i))
		mustAppendPayment(t, s, "u1", payment(i))
	}
	if err := s.SetLastReport(ctx, "u1", t0()); err != nil {
		t.Fatalf("SetLastReport: %v", err)
	}
	f1 := mustCreateFactor(t, s, newFactor("u1", "f1", store.FactorPasskey, t0(), "cred-1"))
	f2 := mustCreateFactor(t, s, newFactor("u1", "f2", store.FactorTOTP, t0().Add(time.Minute), ""))
	f1, err = s.UpdateFactor(ctx, "u1", "f1", func(f store.Factor) (store.Factor, error) {
		f.LastUsedAt = t0().Add(time.Hour)
		return f, nil
	})
	if err != nil {
		t.Fatalf("UpdateFactor: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = reopen(t)
	checkSignIns(t, "sign-ins after reopen", mustListSignIns(t, s, "u1", 10), signIns(6, 4, 2))
	checkPayments(t, "payments after reopen", mustListPayments(t, s, "u1", time.Time{}, 10), payments(3, 2, 1))
	seen, err := s.DeviceFirstSeen(ctx, "u1", signIn(4).DeviceID)
	checkTime(t, "DeviceFirstSeen after reopen", seen, err, signIn(4).Time)
	seen, err = s.PayeeFirstSeen(ctx, "u1", payment(2).Payee)
	checkTime(t, "PayeeFirstSeen after reopen", seen, err, payment(2).Time)
	seen, err = s.LastReport(ctx, "u1")
	checkTime(t, "LastReport after reopen", seen, err, t0())
	factors, err := s.ListFactors(ctx, "u1")
	if err != nil {
		t.Fatalf("ListFactors after reopen: %v", err)
	}
	checkFactors(t, "factors after reopen", factors, []store.Factor{f1, f2})
	byKey, err := s.GetFactorByLookupKey(ctx, []byte("cred-1"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey after reopen: %v", err)
	}
	checkFactor(t, "factor by lookup key after reopen", byKey, f1)
	checkErr(t, "CreateFactor with a taken lookup key after reopen",
		s.CreateFactor(ctx, newFactor("u2", "f3", store.FactorPasskey, t0(), "cred-1")), store.ErrExists)
	// Appends carry on after reopen, in order with what came before.
	mustAppendSignIn(t, s, "u1", signIn(5))
	checkSignIns(t, "sign-ins after an append after reopen", mustListSignIns(t, s, "u1", 10), signIns(6, 5, 4, 2))

	checkUser(t, "u1 after reopen", mustGetUser(t, s, "u1"), u1)
	checkUser(t, "u2 after reopen", mustGetUser(t, s, "u2"), u2)
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("u1@example.com"))
	if err != nil || got.ID != "u1" {
		t.Errorf("GetUserByEmailIndex(u1) after reopen = %q, %v; want u1", got.ID, err)
	}
	checkErr(t, "CreateUser with u2's e-mail after reopen",
		s.CreateUser(ctx, newUser("u3", "u2@example.com")), store.ErrExists)
	gotSess, err := s.GetSession(ctx, sess.IDHash)
	if err != nil {
		t.Fatalf("GetSession after reopen: %v", err)
	}
	checkSession(t, "session after reopen", gotSess, sess)
	if v, err := s.Counter(ctx, "c"); err != nil || v != 5 {
		t.Errorf("Counter after reopen = %d, %v; want 5", v, err)
	}
	// The audit sequence carries on where it stopped.
	seq, err := s.AppendAudit(ctx, newEvent(4))
	if err != nil || seq != 4 {
		t.Errorf("AppendAudit after reopen = seq %d, %v; want 4", seq, err)
	}
	if v, err := s.AddCounter(ctx, "c", 1); err != nil || v != 6 {
		t.Errorf("AddCounter after reopen = %d, %v; want 6", v, err)
	}
	u2, err = s.UpdateUser(ctx, "u2", func(u store.User) (store.User, error) {
		u.FailedSignIns = 0
		return u, nil
	})
	if err != nil || u2.Version != 3 {
		t.Errorf("UpdateUser after reopen = version %d, %v; want 3", u2.Version, err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// What was written after the first reopen survives a second one.
	s = reopen(t)
	checkUser(t, "u2 after second reopen", mustGetUser(t, s, "u2"), u2)
	var seqs []uint64
	for _, e := range listAllAudit(t, s, 2) {
		seqs = append(seqs, e.Seq)
		want := newEvent(int(e.Seq))
		want.Seq = e.Seq
		checkEvent(t, "event after second reopen", e, want)
	}
	if !slices.Equal(seqs, []uint64{1, 2, 3, 4}) {
		t.Errorf("audit seqs after second reopen = %v, want [1 2 3 4]", seqs)
	}
	if v, err := s.Counter(ctx, "c"); err != nil || v != 6 {
		t.Errorf("Counter after second reopen = %d, %v; want 6", v, err)
	}
}

// calls returns one call of every Store method except Close, on the fixtures
// that seed creates, so that each would change the store if it ran.
func calls(s store.Store) []struct {
	name string
	call func(ctx context.Context) error
} {
	return []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"CreateUser", func(ctx context.Context) error {
			return s.CreateUser(ctx, newUser("new", "new@example.com"))
		}},
		{"GetUser", func(ctx context.Context) error {
			_, err := s.GetUser(ctx, "u1")
			return err
		}},
		{"GetUserByEmailIndex", func(ctx context.Context) error {
			_, err := s.GetUserByEmailIndex(ctx, emailIndex("u1@example.com"))
			return err
		}},
		{"ListUsers", func(ctx context.Context) error {
			_, err := s.ListUsers(ctx, "", 10)
			return err
		}},
		{"UpdateUser", func(ctx context.Context) error {
			_, err := s.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
				u.Locked = true
				return u, nil
			})
			return err
		}},
		{"CompareAndSwapUser", func(ctx context.Context) error {
			u := newUser("u1", "u1@example.com")
			u.Version = 1
			u.Locked = true
			_, err := s.CompareAndSwapUser(ctx, u)
			return err
		}},
		{"DeleteUser", func(ctx context.Context) error { return s.DeleteUser(ctx, "u1") }},
		{"CreateSession", func(ctx context.Context) error {
			return s.CreateSession(ctx, newSession("new", "u1", t0().Add(time.Hour)))
		}},
		{"GetSession", func(ctx context.Context) error {
			_, err := s.GetSession(ctx, sessionID("s1"))
			return err
		}},
		{"DeleteSession", func(ctx context.Context) error { return s.DeleteSession(ctx, sessionID("s1")) }},
		{"DeleteUserSessions", func(ctx context.Context) error {
			_, err := s.DeleteUserSessions(ctx, "u1")
			return err
		}},
		{"DeleteExpiredSessions", func(ctx context.Context) error {
			_, err := s.DeleteExpiredSessions(ctx, t0().Add(1000*time.Hour))
			return err
		}},
		{"AppendAudit", func(ctx context.Context) error {
			_, err := s.AppendAudit(ctx, newEvent(1))
			return err
		}},
		{"ListAudit", func(ctx context.Context) error {
			_, err := s.ListAudit(ctx, 0, 10)
			return err
		}},
		{"AddCounter", func(ctx context.Context) error {
			_, err := s.AddCounter(ctx, "c", 1)
			return err
		}},
		{"Counter", func(ctx context.Context) error {
			_, err := s.Counter(ctx, "c")
			return err
		}},
		{"AppendSignIn", func(ctx context.Context) error { return s.AppendSignIn(ctx, "u1", signIn(2)) }},
		{"ListSignIns", func(ctx context.Context) error {
			_, err := s.ListSignIns(ctx, "u1", 10)
			return err
		}},
		{"AppendPayment", func(ctx context.Context) error { return s.AppendPayment(ctx, "u1", payment(1)) }},
		{"ListPayments", func(ctx context.Context) error {
			_, err := s.ListPayments(ctx, "u1", time.Time{}, 10)
			return err
		}},
		{"DeviceFirstSeen", func(ctx context.Context) error {
			_, err := s.DeviceFirstSeen(ctx, "u1", signIn(2).DeviceID)
			return err
		}},
		{"PayeeFirstSeen", func(ctx context.Context) error {
			_, err := s.PayeeFirstSeen(ctx, "u1", payment(1).Payee)
			return err
		}},
		{"SetLastReport", func(ctx context.Context) error { return s.SetLastReport(ctx, "u1", t0()) }},
		{"LastReport", func(ctx context.Context) error {
			_, err := s.LastReport(ctx, "u1")
			return err
		}},
		{"CreateFactor", func(ctx context.Context) error {
			return s.CreateFactor(ctx, newFactor("u1", "new", store.FactorTOTP, t0(), "cred-new"))
		}},
		{"GetFactor", func(ctx context.Context) error {
			_, err := s.GetFactor(ctx, "u1", "f1")
			return err
		}},
		{"GetFactorByLookupKey", func(ctx context.Context) error {
			_, err := s.GetFactorByLookupKey(ctx, []byte("cred-1"))
			return err
		}},
		{"ListFactors", func(ctx context.Context) error {
			_, err := s.ListFactors(ctx, "u1")
			return err
		}},
		{"UpdateFactor", func(ctx context.Context) error {
			_, err := s.UpdateFactor(ctx, "u1", "f1", func(f store.Factor) (store.Factor, error) {
				f.Name = "renamed"
				return f, nil
			})
			return err
		}},
		{"DeleteFactor", func(ctx context.Context) error { return s.DeleteFactor(ctx, "u1", "f1") }},
	}
}

// seed creates user u1 with session s1 and factor f1; the counter c, the
// audit log and u1's history stay empty.
func seed(t *testing.T, s store.Store) (store.User, store.Session, store.Factor) {
	t.Helper()
	u := mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	sess := newSession("s1", "u1", t0().Add(time.Hour))
	mustCreateSession(t, s, sess)
	f := mustCreateFactor(t, s, newFactor("u1", "f1", store.FactorPasskey, t0(), "cred-1"))
	return u, sess, f
}

func testClosed(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	seed(t, s)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, c := range calls(s) {
		checkErr(t, c.name+" after Close", c.call(t.Context()), store.ErrClosed)
	}
	checkErr(t, "Close after Close", s.Close(), store.ErrClosed)
}

func testCancelledContext(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	u, sess, f := seed(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, c := range calls(s) {
		if err := c.call(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error %v, want context.Canceled", c.name, err)
		}
	}

	// Nothing was written.
	live := t.Context()
	checkUser(t, "u1", mustGetUser(t, s, "u1"), u)
	got, err := s.GetUserByEmailIndex(live, emailIndex("u1@example.com"))
	if err != nil || got.ID != "u1" {
		t.Errorf("GetUserByEmailIndex(u1) = %q, %v; want u1", got.ID, err)
	}
	_, err = s.GetUser(live, "new")
	checkErr(t, "GetUser(new)", err, store.ErrNotFound)
	gotSess, err := s.GetSession(live, sess.IDHash)
	if err != nil {
		t.Fatalf("GetSession(s1): %v", err)
	}
	checkSession(t, "s1", gotSess, sess)
	_, err = s.GetSession(live, sessionID("new"))
	checkErr(t, "GetSession(new)", err, store.ErrNotFound)
	if events, err := s.ListAudit(live, 0, 10); err != nil || len(events) != 0 {
		t.Errorf("ListAudit = %d events, %v; want none", len(events), err)
	}
	if v, err := s.Counter(live, "c"); err != nil || v != 0 {
		t.Errorf("Counter(c) = %d, %v; want 0", v, err)
	}
	checkSignIns(t, "ListSignIns(u1)", mustListSignIns(t, s, "u1", 10), nil)
	checkPayments(t, "ListPayments(u1)", mustListPayments(t, s, "u1", time.Time{}, 10), nil)
	seen, err := s.DeviceFirstSeen(live, "u1", signIn(2).DeviceID)
	checkTime(t, "DeviceFirstSeen(u1)", seen, err, time.Time{})
	seen, err = s.PayeeFirstSeen(live, "u1", payment(1).Payee)
	checkTime(t, "PayeeFirstSeen(u1)", seen, err, time.Time{})
	seen, err = s.LastReport(live, "u1")
	checkTime(t, "LastReport(u1)", seen, err, time.Time{})
	checkFactor(t, "f1", mustGetFactor(t, s, "u1", "f1"), f)
	_, err = s.GetFactor(live, "u1", "new")
	checkErr(t, "GetFactor(new)", err, store.ErrNotFound)
	_, err = s.GetFactorByLookupKey(live, []byte("cred-new"))
	checkErr(t, "GetFactorByLookupKey(cred-new)", err, store.ErrNotFound)
}
