package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func mustCreateSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.UserID, err)
	}
}

func testSessions(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	for _, id := range []string{"a", "ab", "c"} {
		mustCreateUser(t, s, newUser(id, id+"@example.com"))
	}
	exp := t0().Add(24 * time.Hour)
	a1 := newSession("a1", "a", exp)
	a2 := newSession("a2", "a", exp)
	a3 := newSession("a3", "a", exp)
	b1 := newSession("b1", "ab", exp) // "a" is a prefix of "ab"
	for _, sess := range []store.Session{a1, a2, a3, b1} {
		mustCreateSession(t, s, sess)
	}

	got, err := s.GetSession(ctx, a1.IDHash)
	if err != nil {
		t.Fatalf("GetSession(a1): %v", err)
	}
	checkSession(t, "GetSession(a1)", got, a1)

	// TouchSession moves LastSeen forward, never back.
	seen := t0().Add(time.Hour)
	if err := s.TouchSession(ctx, a2.IDHash, seen); err != nil {
		t.Fatalf("TouchSession(a2): %v", err)
	}
	if err := s.TouchSession(ctx, a2.IDHash, t0().Add(30*time.Minute)); err != nil {
		t.Fatalf("TouchSession(a2) back in time: %v", err)
	}
	if got, err := s.GetSession(ctx, a2.IDHash); err != nil || !got.LastSeen.Equal(seen) {
		t.Errorf("after TouchSession: LastSeen %v, %v; want %v", got.LastSeen, err, seen)
	} else {
		a2.LastSeen = seen
		checkSession(t, "GetSession(a2) after TouchSession", got, a2)
	}
	checkErr(t, "TouchSession(unknown)", s.TouchSession(ctx, sessionID("nobody"), seen), store.ErrNotFound)

	if err := s.DeleteSession(ctx, a1.IDHash); err != nil {
		t.Fatalf("DeleteSession(a1): %v", err)
	}
	_, err = s.GetSession(ctx, a1.IDHash)
	checkErr(t, "GetSession(a1) after delete", err, store.ErrNotFound)
	checkErr(t, "DeleteSession(a1) again", s.DeleteSession(ctx, a1.IDHash), store.ErrNotFound)

	// a1's id hash, reused by another user, is no longer one of a's
	// sessions: removing a's sessions leaves it alone and counts a2 and a3.
	reused := newSession("a1", "c", exp)
	mustCreateSession(t, s, reused)
	n, err := s.DeleteUserSessions(ctx, "a")
	if err != nil || n != 2 {
		t.Errorf("DeleteUserSessions(a) = %d, %v; want 2, nil", n, err)
	}
	got, err = s.GetSession(ctx, reused.IDHash)
	if err != nil {
		t.Fatalf("GetSession(reused id hash) after DeleteUserSessions(a): %v", err)
	}
	checkSession(t, "GetSession(reused id hash)", got, reused)
	for _, sess := range []store.Session{a2, a3} {
		_, err := s.GetSession(ctx, sess.IDHash)
		checkErr(t, "GetSession after DeleteUserSessions", err, store.ErrNotFound)
	}
	n, err = s.DeleteUserSessions(ctx, "a")
	if err != nil || n != 0 {
		t.Errorf("DeleteUserSessions(a) again = %d, %v; want 0, nil", n, err)
	}
	got, err = s.GetSession(ctx, b1.IDHash)
	if err != nil {
		t.Fatalf("GetSession(b1) after deleting a's sessions: %v", err)
	}
	checkSession(t, "GetSession(b1)", got, b1)
}

func testDeleteExpiredSessions(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		mustCreateUser(t, s, newUser(id, id+"@example.com"))
	}
	now := t0().Add(72 * time.Hour)
	expired := []store.Session{
		newSession("long gone", "a", now.Add(-time.Hour)),
		newSession("just gone", "a", now.Add(-time.Second)),
		newSession("other user", "b", now.Add(-time.Minute)),
	}
	live := []store.Session{
		newSession("at the boundary", "a", now), // not before now
		newSession("live", "a", now.Add(time.Second)),
	}
	for _, sess := range append(expired, live...) {
		mustCreateSession(t, s, sess)
	}

	// Expired sessions are returned as they are until removed.
	got, err := s.GetSession(ctx, expired[0].IDHash)
	if err != nil {
		t.Fatalf("GetSession(expired): %v", err)
	}
	checkSession(t, "GetSession(expired)", got, expired[0])

	n, err := s.DeleteExpiredSessions(ctx, now)
	if err != nil || n != len(expired) {
		t.Errorf("DeleteExpiredSessions = %d, %v; want %d, nil", n, err, len(expired))
	}
	for _, sess := range expired {
		_, err := s.GetSession(ctx, sess.IDHash)
		checkErr(t, "GetSession(expired) after sweep", err, store.ErrNotFound)
	}
	for _, sess := range live {
		got, err := s.GetSession(ctx, sess.IDHash)
		if err != nil {
			t.Errorf("GetSession(live) after sweep: %v", err)
			continue
		}
		checkSession(t, "live session after sweep", got, sess)
	}
	n, err = s.DeleteExpiredSessions(ctx, now)
	if err != nil || n != 0 {
		t.Errorf("DeleteExpiredSessions again = %d, %v; want 0, nil", n, err)
	}
	// The sweep kept the per-user set in step: an expired session's id hash,
	// reused by another user, is not removed with a's sessions.
	reused := newSession("long gone", "c", now.Add(time.Hour))
	mustCreateSession(t, s, reused)
	n, err = s.DeleteUserSessions(ctx, "a")
	if err != nil || n != len(live) {
		t.Errorf("DeleteUserSessions(a) after sweep = %d, %v; want %d, nil", n, err, len(live))
	}
	got, err = s.GetSession(ctx, reused.IDHash)
	if err != nil {
		t.Fatalf("GetSession(reused id hash): %v", err)
	}
	checkSession(t, "GetSession(reused id hash)", got, reused)
}
