package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func mustCreateUser(t *testing.T, s store.Store, u store.User) store.User {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.ID, err)
	}
	u.Version = 1
	return u
}

func mustGetUser(t *testing.T, s store.Store, id string) store.User {
	t.Helper()
	u, err := s.GetUser(t.Context(), id)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", id, err)
	}
	return u
}

func testUserCRUD(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()

	// Insert out of order so that ListUsers has to sort.
	want := map[string]store.User{}
	for _, id := range []string{"u3", "u1", "u2"} {
		u := newUser(id, id+"@example.com")
		u.Version = 7 // the store, not the caller, sets Version
		want[id] = mustCreateUser(t, s, u)
	}

	checkUser(t, "GetUser(u1)", mustGetUser(t, s, "u1"), want["u1"])
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("u2@example.com"))
	if err != nil {
		t.Fatalf("GetUserByEmailIndex(u2): %v", err)
	}
	checkUser(t, "GetUserByEmailIndex(u2)", got, want["u2"])

	pages := []struct {
		after string
		limit int
		want  []string
	}{
		{"", 2, []string{"u1", "u2"}},
		{"u2", 2, []string{"u3"}},
		{"u3", 2, nil},
		{"u1a", 10, []string{"u2", "u3"}},
		{"", 0, []string{"u1", "u2", "u3"}}, // limit <= 0 means the default page
	}
	for _, p := range pages {
		users, err := s.ListUsers(ctx, p.after, p.limit)
		if err != nil {
			t.Fatalf("ListUsers(%q, %d): %v", p.after, p.limit, err)
		}
		if ids := userIDs(users); !slices.Equal(ids, p.want) && !(len(ids) == 0 && len(p.want) == 0) {
			t.Errorf("ListUsers(%q, %d) = %q, want %q", p.after, p.limit, ids, p.want)
		}
		for _, u := range users {
			checkUser(t, "ListUsers entry", u, want[u.ID])
		}
	}

	t1 := t0().Add(time.Hour)
	updated, err := s.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
		u.EmailVerified = true
		u.LastSignIn = t1
		u.UpdatedAt = t1
		u.Version = 99 // ignored: the store sets Version
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser(u1): %v", err)
	}
	w := want["u1"]
	w.EmailVerified, w.LastSignIn, w.UpdatedAt, w.Version = true, t1, t1, 2
	checkUser(t, "UpdateUser(u1) result", updated, w)
	checkUser(t, "GetUser(u1) after update", mustGetUser(t, s, "u1"), w)

	// Moving to a free e-mail index moves the index entry.
	moved, err := s.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
		u.EmailIndex = emailIndex("new@example.com")
		return u, nil
	})
	if err != nil {
		t.Fatalf("UpdateUser(u1) to a new e-mail: %v", err)
	}
	if moved.Version != 3 {
		t.Errorf("Version after second update = %d, want 3", moved.Version)
	}
	got, err = s.GetUserByEmailIndex(ctx, emailIndex("new@example.com"))
	if err != nil || got.ID != "u1" {
		t.Errorf("GetUserByEmailIndex(new) = %q, %v; want u1", got.ID, err)
	}
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("u1@example.com"))
	checkErr(t, "GetUserByEmailIndex(old e-mail) after move", err, store.ErrNotFound)

	// So does overwriting the index in place, in the slice fn was handed.
	if _, err := s.UpdateUser(ctx, "u1", func(u store.User) (store.User, error) {
		copy(u.EmailIndex, emailIndex("newer@example.com"))
		return u, nil
	}); err != nil {
		t.Fatalf("UpdateUser(u1) changing the e-mail index in place: %v", err)
	}
	got, err = s.GetUserByEmailIndex(ctx, emailIndex("newer@example.com"))
	if err != nil || got.ID != "u1" {
		t.Errorf("GetUserByEmailIndex(newer) = %q, %v; want u1", got.ID, err)
	}
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("new@example.com"))
	checkErr(t, "GetUserByEmailIndex(new) after in-place change", err, store.ErrNotFound)

	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser(u1): %v", err)
	}
	_, err = s.GetUser(ctx, "u1")
	checkErr(t, "GetUser(u1) after delete", err, store.ErrNotFound)
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("newer@example.com"))
	checkErr(t, "GetUserByEmailIndex(u1) after delete", err, store.ErrNotFound)
	checkUser(t, "GetUser(u2) after deleting u1", mustGetUser(t, s, "u2"), want["u2"])
	users, err := s.ListUsers(ctx, "", 10)
	if err != nil {
		t.Fatalf("ListUsers after delete: %v", err)
	}
	if ids := userIDs(users); !slices.Equal(ids, []string{"u2", "u3"}) {
		t.Errorf("ListUsers after delete = %q, want [u2 u3]", ids)
	}
	// The deleted user's id and e-mail index are free again.
	mustCreateUser(t, s, newUser("u1", "newer@example.com"))
}

func testNotFound(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("present", "present@example.com"))
	if err := s.CreateSession(ctx, newSession("present", "present", t0().Add(time.Hour))); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}

	fnCalled := false
	calls := []struct {
		name string
		call func() error
	}{
		{"GetUser", func() error { _, err := s.GetUser(ctx, "absent"); return err }},
		{"GetUserByEmailIndex", func() error {
			_, err := s.GetUserByEmailIndex(ctx, emailIndex("absent@example.com"))
			return err
		}},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, "absent", func(u store.User) (store.User, error) {
				fnCalled = true
				return u, nil
			})
			return err
		}},
		{"CompareAndSwapUser", func() error {
			u := newUser("absent", "absent@example.com")
			u.Version = 1
			_, err := s.CompareAndSwapUser(ctx, u)
			return err
		}},
		{"DeleteUser", func() error { return s.DeleteUser(ctx, "absent") }},
		{"CreateSession", func() error {
			return s.CreateSession(ctx, newSession("absent", "absent", t0().Add(time.Hour)))
		}},
		{"GetSession", func() error { _, err := s.GetSession(ctx, sessionID("absent")); return err }},
		{"DeleteSession", func() error { return s.DeleteSession(ctx, sessionID("absent")) }},
	}
	for _, c := range calls {
		checkErr(t, c.name, c.call(), store.ErrNotFound)
	}
	if fnCalled {
		t.Error("UpdateUser called fn for a user that does not exist")
	}
	// The refused session was not written, not even in part.
	if n, err := s.DeleteUserSessions(ctx, "absent"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(absent) = %d, %v; want 0, nil", n, err)
	}
	// None of the failed calls created anything.
	users, err := s.ListUsers(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := userIDs(users); !slices.Equal(ids, []string{"present"}) {
		t.Errorf("users after failed calls = %q, want [present]", ids)
	}
}

func testExists(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser("alice", "alice@example.com"))

	// Same id, different e-mail.
	dupID := newUser("alice", "other@example.com")
	dupID.Locked = true
	checkErr(t, "CreateUser with a taken id", s.CreateUser(ctx, dupID), store.ErrExists)
	checkUser(t, "user after duplicate id", mustGetUser(t, s, "alice"), orig)
	_, err := s.GetUserByEmailIndex(ctx, emailIndex("other@example.com"))
	checkErr(t, "e-mail index of the refused user", err, store.ErrNotFound)

	// Different id, same e-mail.
	checkErr(t, "CreateUser with a taken e-mail index",
		s.CreateUser(ctx, newUser("mallory", "alice@example.com")), store.ErrExists)
	_, err = s.GetUser(ctx, "mallory")
	checkErr(t, "GetUser of the refused user", err, store.ErrNotFound)
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("alice@example.com"))
	if err != nil || got.ID != "alice" {
		t.Errorf("GetUserByEmailIndex(alice) = %q, %v; want alice", got.ID, err)
	}

	// Same session id hash, another user.
	mustCreateUser(t, s, newUser("bob", "bob@example.com"))
	sess := newSession("one", "alice", t0().Add(time.Hour))
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	dup := newSession("one", "bob", t0().Add(48*time.Hour))
	checkErr(t, "CreateSession with a taken id hash", s.CreateSession(ctx, dup), store.ErrExists)
	gotSess, err := s.GetSession(ctx, sess.IDHash)
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	checkSession(t, "session after duplicate", gotSess, sess)
	n, err := s.DeleteUserSessions(ctx, "bob")
	if err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(bob) = %d, %v; want 0, nil", n, err)
	}
}

func testCreateUserSameEmailConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	const n = 100
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		winners []string
		losers  int
	)
	for i := range n {
		id := fmt.Sprintf("racer-%03d", i)
		wg.Go(func() {
			<-start
			err := s.CreateUser(ctx, newUser(id, "contested@example.com"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, id)
			case errors.Is(err, store.ErrExists):
				losers++
			default:
				t.Errorf("CreateUser(%s): %v", id, err)
			}
		})
	}
	close(start)
	wg.Wait()

	if len(winners) != 1 || losers != n-1 {
		t.Fatalf("%d winners %q and %d ErrExists, want 1 and %d", len(winners), winners, losers, n-1)
	}
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("contested@example.com"))
	if err != nil || got.ID != winners[0] {
		t.Errorf("GetUserByEmailIndex = %q, %v; want the winner %q", got.ID, err, winners[0])
	}
	users, err := s.ListUsers(ctx, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if ids := userIDs(users); !slices.Equal(ids, winners) {
		t.Errorf("stored users = %q, want only %q", ids, winners)
	}
}

func testUpdateUserConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("busy", "busy@example.com"))
	const n = 100
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		mu    sync.Mutex
		seen  []int
	)
	for range n {
		wg.Go(func() {
			<-start
			u, err := s.UpdateUser(ctx, "busy", func(u store.User) (store.User, error) {
				u.FailedSignIns++
				return u, nil
			})
			if err != nil {
				t.Errorf("UpdateUser: %v", err)
				return
			}
			mu.Lock()
			seen = append(seen, u.FailedSignIns)
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()

	u := mustGetUser(t, s, "busy")
	if u.FailedSignIns != n || u.Version != n+1 {
		t.Errorf("after %d concurrent increments FailedSignIns = %d, Version = %d; want %d, %d",
			n, u.FailedSignIns, u.Version, n, n+1)
	}
	// Each call returned the result it stored, so the results are 1..n.
	slices.Sort(seen)
	for i, v := range seen {
		if v != i+1 {
			t.Fatalf("returned FailedSignIns values, sorted, are %v; want 1..%d", seen, n)
		}
	}
}

func testUpdateUserEmailIndexTaken(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	a := mustCreateUser(t, s, newUser("a", "a@example.com"))
	b := mustCreateUser(t, s, newUser("b", "b@example.com"))

	_, err := s.UpdateUser(ctx, "a", func(u store.User) (store.User, error) {
		u.EmailIndex = emailIndex("b@example.com")
		u.Locked = true
		return u, nil
	})
	checkErr(t, "UpdateUser to a taken e-mail index", err, store.ErrExists)
	checkUser(t, "a after refused update", mustGetUser(t, s, "a"), a)
	checkUser(t, "b after refused update", mustGetUser(t, s, "b"), b)
	for email, id := range map[string]string{"a@example.com": "a", "b@example.com": "b"} {
		got, err := s.GetUserByEmailIndex(ctx, emailIndex(email))
		if err != nil || got.ID != id {
			t.Errorf("GetUserByEmailIndex(%s) = %q, %v; want %q", email, got.ID, err, id)
		}
	}

	// Writing back one's own e-mail index is not a clash.
	if _, err := s.UpdateUser(ctx, "a", func(u store.User) (store.User, error) {
		u.EmailIndex = emailIndex("a@example.com")
		return u, nil
	}); err != nil {
		t.Errorf("UpdateUser keeping its own e-mail index: %v", err)
	}
}

func testUpdateUserFnError(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser("a", "a@example.com"))
	errRefused := errors.New("refused by fn")

	_, err := s.UpdateUser(ctx, "a", func(u store.User) (store.User, error) {
		u.Locked = true
		u.EmailIndex = emailIndex("elsewhere@example.com")
		return u, errRefused
	})
	checkErr(t, "UpdateUser with failing fn", err, errRefused)
	checkUser(t, "user after failing fn", mustGetUser(t, s, "a"), orig)
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("elsewhere@example.com"))
	checkErr(t, "e-mail index from failing fn", err, store.ErrNotFound)
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("a@example.com"))
	if err != nil || got.ID != "a" {
		t.Errorf("GetUserByEmailIndex(a) = %q, %v; want a", got.ID, err)
	}
}

func testUpdateUserIDChange(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	orig := mustCreateUser(t, s, newUser("a", "a@example.com"))

	_, err := s.UpdateUser(ctx, "a", func(u store.User) (store.User, error) {
		u.ID = "b"
		return u, nil
	})
	if err == nil {
		t.Error("UpdateUser changing the id succeeded, want an error")
	}
	checkUser(t, "user after refused id change", mustGetUser(t, s, "a"), orig)
	_, err = s.GetUser(ctx, "b")
	checkErr(t, "GetUser(new id)", err, store.ErrNotFound)
}

func testCompareAndSwapUser(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("a", "a@example.com"))
	mustCreateUser(t, s, newUser("b", "b@example.com"))

	stale := mustGetUser(t, s, "a")
	fresh := stale
	fresh.EmailVerified = true
	got, err := s.CompareAndSwapUser(ctx, fresh)
	if err != nil {
		t.Fatalf("CompareAndSwapUser: %v", err)
	}
	fresh.Version = stale.Version + 1
	checkUser(t, "CompareAndSwapUser result", got, fresh)
	checkUser(t, "GetUser after swap", mustGetUser(t, s, "a"), fresh)

	stale.Locked = true
	_, err = s.CompareAndSwapUser(ctx, stale)
	checkErr(t, "CompareAndSwapUser with a stale version", err, store.ErrConflict)
	checkUser(t, "GetUser after conflict", mustGetUser(t, s, "a"), fresh)

	// A swap keeps the e-mail index right, as UpdateUser does.
	taken := fresh
	taken.EmailIndex = emailIndex("b@example.com")
	_, err = s.CompareAndSwapUser(ctx, taken)
	checkErr(t, "CompareAndSwapUser to a taken e-mail index", err, store.ErrExists)
	checkUser(t, "GetUser after refused swap", mustGetUser(t, s, "a"), fresh)

	moved := fresh
	moved.EmailIndex = emailIndex("a2@example.com")
	if _, err := s.CompareAndSwapUser(ctx, moved); err != nil {
		t.Fatalf("CompareAndSwapUser to a free e-mail index: %v", err)
	}
	byEmail, err := s.GetUserByEmailIndex(ctx, emailIndex("a2@example.com"))
	if err != nil || byEmail.ID != "a" {
		t.Errorf("GetUserByEmailIndex(a2) = %q, %v; want a", byEmail.ID, err)
	}
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("a@example.com"))
	checkErr(t, "GetUserByEmailIndex(old e-mail) after swap", err, store.ErrNotFound)
}

func testCompareAndSwapUserConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("busy", "busy@example.com"))
	const n = 50
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			for {
				u, err := s.GetUser(ctx, "busy")
				if err != nil {
					t.Errorf("GetUser: %v", err)
					return
				}
				u.FailedSignIns++
				_, err = s.CompareAndSwapUser(ctx, u)
				if errors.Is(err, store.ErrConflict) {
					continue
				}
				if err != nil {
					t.Errorf("CompareAndSwapUser: %v", err)
				}
				return
			}
		})
	}
	close(start)
	wg.Wait()

	u := mustGetUser(t, s, "busy")
	if u.FailedSignIns != n || u.Version != n+1 {
		t.Errorf("after %d swapping writers FailedSignIns = %d, Version = %d; want %d, %d",
			n, u.FailedSignIns, u.Version, n, n+1)
	}
}

func testDeleteUser(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	// "u1" is a prefix of "u10": deleting u1 must not touch u10.
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	u10 := mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	exp := t0().Add(time.Hour)
	sessions := []store.Session{
		newSession("u1-a", "u1", exp),
		newSession("u1-b", "u1", exp),
		newSession("u10-a", "u10", exp),
	}
	for _, sess := range sessions {
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}

	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser(u1): %v", err)
	}
	_, err := s.GetUser(ctx, "u1")
	checkErr(t, "GetUser(u1)", err, store.ErrNotFound)
	_, err = s.GetUserByEmailIndex(ctx, emailIndex("u1@example.com"))
	checkErr(t, "GetUserByEmailIndex(u1)", err, store.ErrNotFound)
	for _, sess := range sessions[:2] {
		_, err := s.GetSession(ctx, sess.IDHash)
		checkErr(t, "GetSession of the deleted user", err, store.ErrNotFound)
	}
	if n, err := s.DeleteUserSessions(ctx, "u1"); err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(u1) after DeleteUser = %d, %v; want 0, nil", n, err)
	}

	checkUser(t, "GetUser(u10)", mustGetUser(t, s, "u10"), u10)
	got, err := s.GetUserByEmailIndex(ctx, emailIndex("u10@example.com"))
	if err != nil || got.ID != "u10" {
		t.Errorf("GetUserByEmailIndex(u10) = %q, %v; want u10", got.ID, err)
	}
	gotSess, err := s.GetSession(ctx, sessions[2].IDHash)
	if err != nil {
		t.Fatalf("GetSession(u10-a): %v", err)
	}
	checkSession(t, "other user's session", gotSess, sessions[2])

	checkErr(t, "DeleteUser(u1) again", s.DeleteUser(ctx, "u1"), store.ErrNotFound)
}
