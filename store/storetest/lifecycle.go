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
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = reopen(t)
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
	}
}

// seed creates user u1 with session s1; the counter c and the audit log
// stay empty.
func seed(t *testing.T, s store.Store) (store.User, store.Session) {
	t.Helper()
	u := mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	sess := newSession("s1", "u1", t0().Add(time.Hour))
	mustCreateSession(t, s, sess)
	return u, sess
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
	u, sess := seed(t, s)
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
}
