package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func consent(userID, purpose string, granted bool, i int) store.ConsentRecord {
	return store.ConsentRecord{
		UserID: userID, Purpose: purpose, Granted: granted, Version: "v1",
		Channel: "account", Time: t0().Add(time.Duration(i) * time.Minute),
	}
}

// testConsents: records are appended, never overwritten, listed per user in
// order, refused for unknown users, and removed with the user.
func testConsents(t *testing.T, open Opener) {
	s, reopen := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	if _, err := s.AppendConsent(ctx, consent("nobody", "marketing", true, 0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("AppendConsent for an unknown user = %v, want ErrNotFound", err)
	}
	want := []store.ConsentRecord{
		consent("u1", "marketing", true, 1),
		consent("u1", "profiling", true, 2),
		consent("u1", "marketing", false, 3),
	}
	var last uint64
	for i := range want {
		seq, err := s.AppendConsent(ctx, want[i])
		if err != nil {
			t.Fatalf("AppendConsent: %v", err)
		}
		if seq <= last {
			t.Errorf("AppendConsent seq = %d after %d, want increasing", seq, last)
		}
		last = seq
		want[i].Seq = seq
		if _, err := s.AppendConsent(ctx, consent("u10", "marketing", true, i)); err != nil {
			t.Fatalf("AppendConsent(u10): %v", err)
		}
	}
	check := func(s store.Store, when string) {
		t.Helper()
		got, err := s.ListConsents(ctx, "u1")
		if err != nil {
			t.Fatalf("%s: ListConsents: %v", when, err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: ListConsents = %d records, want %d", when, len(got), len(want))
		}
		for i := range got {
			if got[i].Seq != want[i].Seq || got[i].Purpose != want[i].Purpose || got[i].Granted != want[i].Granted ||
				got[i].Version != want[i].Version || got[i].Channel != want[i].Channel || !got[i].Time.Equal(want[i].Time) || got[i].UserID != "u1" {
				t.Errorf("%s: record %d = %+v, want %+v", when, i, got[i], want[i])
			}
		}
	}
	check(s, "before reopen")
	if reopen != nil {
		closeQuietly(t, s)
		s = reopen(t)
		check(s, "after reopen")
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListConsents(ctx, "u1"); err != nil || len(got) != 0 {
		t.Errorf("ListConsents after DeleteUser = %d, %v; want none", len(got), err)
	}
	if got, err := s.ListConsents(ctx, "u10"); err != nil || len(got) != 3 {
		t.Errorf("ListConsents(u10) after deleting u1 = %d, %v; want 3", len(got), err)
	}
}

// testConsentsConcurrently: 50 concurrent appends all land, with distinct
// sequence numbers.
func testConsentsConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if _, err := s.AppendConsent(ctx, consent("u1", "marketing", i%2 == 0, i)); err != nil {
				t.Errorf("AppendConsent: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := s.ListConsents(ctx, "u1")
	if err != nil || len(got) != 50 {
		t.Fatalf("ListConsents = %d, %v; want 50", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("records out of order: seq %d after %d", got[i].Seq, got[i-1].Seq)
		}
	}
}

// testEraseUser: erasure removes everything DeleteUser removes, the consent
// records too, and pseudonymises the audit events about the user without
// changing their number; other users' events and records stay.
func testEraseUser(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	for _, id := range []string{"u1", "u10"} {
		mustCreateUser(t, s, newUser(id, id+"@example.com"))
		mustCreateSession(t, s, newSession(id, id, t0().Add(time.Hour)))
		mustCreateFactor(t, s, newFactor(id, "totp", store.FactorTOTP, t0(), ""))
		mustAppendSignIn(t, s, id, signIn(2))
		if _, err := s.AppendConsent(ctx, consent(id, "marketing", true, 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateOIDCRefreshToken(ctx, newRefresh("t-"+id, "fam-"+id, id, "c")); err != nil {
			t.Fatal(err)
		}
		for _, e := range []store.AuditEvent{
			{Kind: "signin.succeeded", Actor: id, Subject: id, IP: "192.0.2.1", UserAgent: "ua", Outcome: "ok", Time: t0()},
			{Kind: "user.locked", Actor: "admin", Subject: id, IP: "192.0.2.2", Outcome: "ok", Time: t0(), Details: map[string]string{"user": id, "via": "admin"}},
		} {
			if _, err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Listings that an export uses.
	if ss, err := s.ListUserSessions(ctx, "u1"); err != nil || len(ss) != 1 || ss[0].UserID != "u1" {
		t.Errorf("ListUserSessions(u1) = %+v, %v; want one", ss, err)
	}
	if ts, err := s.ListUserOIDCRefreshTokens(ctx, "u1"); err != nil || len(ts) != 1 || ts[0].UserID != "u1" {
		t.Errorf("ListUserOIDCRefreshTokens(u1) = %+v, %v; want one", ts, err)
	}
	if ds, err := s.ListKnownDevices(ctx, "u1"); err != nil || len(ds) != 1 || ds[0].ID != signIn(2).DeviceID {
		t.Errorf("ListKnownDevices(u1) = %+v, %v; want %s", ds, err, signIn(2).DeviceID)
	}

	if _, err := s.EraseUser(ctx, "nobody", "p"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("EraseUser(nobody) = %v, want ErrNotFound", err)
	}
	rep, err := s.EraseUser(ctx, "u1", "erased:abc")
	if err != nil {
		t.Fatalf("EraseUser: %v", err)
	}
	if rep.AuditEvents != 2 {
		t.Errorf("EraseUser pseudonymised %d events, want 2", rep.AuditEvents)
	}
	_, err = s.GetUser(ctx, "u1")
	checkErr(t, "GetUser after erasure", err, store.ErrNotFound)
	for name, n := range map[string]func() (int, error){
		"sessions":  func() (int, error) { l, err := s.ListUserSessions(ctx, "u1"); return len(l), err },
		"tokens":    func() (int, error) { l, err := s.ListUserOIDCRefreshTokens(ctx, "u1"); return len(l), err },
		"devices":   func() (int, error) { l, err := s.ListKnownDevices(ctx, "u1"); return len(l), err },
		"consents":  func() (int, error) { l, err := s.ListConsents(ctx, "u1"); return len(l), err },
		"factors":   func() (int, error) { l, err := s.ListFactors(ctx, "u1"); return len(l), err },
		"consents2": func() (int, error) { l, err := s.ListConsents(ctx, "u10"); return 1 - len(l), err },
	} {
		if got, err := n(); err != nil || got != 0 {
			t.Errorf("%s after erasure: %d, %v", name, got, err)
		}
	}
	events, err := s.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 4 {
		t.Fatalf("audit holds %d events after erasure, want 4", len(events))
	}
	for _, e := range events {
		about1 := e.Subject == "erased:abc"
		if e.Actor == "u1" || e.Subject == "u1" || e.Details["user"] == "u1" {
			t.Errorf("event %d still names u1: %+v", e.Seq, e)
		}
		if about1 && (e.IP != "" || e.UserAgent != "") {
			t.Errorf("pseudonymised event %d keeps IP or user agent: %+v", e.Seq, e)
		}
		if !about1 && e.Subject != "u10" {
			t.Errorf("event %d = %+v, want it about u10 untouched", e.Seq, e)
		}
		if e.Subject == "u10" && e.IP == "" {
			t.Errorf("event %d about u10 lost its IP", e.Seq)
		}
	}
}

// testFederatedLinks: a key links one user only, links need their user,
// and they go with the user.
func testFederatedLinks(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	link := func(key, user string) store.FederatedLink {
		return store.FederatedLink{Key: []byte(key), UserID: user, Provider: "acme", CreatedAt: t0(), UnverifiedEmail: key == "k1"}
	}
	if err := s.CreateFederatedLink(ctx, link("k0", "nobody")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("link for an unknown user = %v, want ErrNotFound", err)
	}
	for _, l := range []store.FederatedLink{link("k1", "u1"), link("k2", "u1"), link("k10", "u10")} {
		if err := s.CreateFederatedLink(ctx, l); err != nil {
			t.Fatalf("CreateFederatedLink: %v", err)
		}
	}
	if err := s.CreateFederatedLink(ctx, link("k1", "u10")); !errors.Is(err, store.ErrExists) {
		t.Errorf("linking a taken key = %v, want ErrExists", err)
	}
	got, err := s.GetFederatedLink(ctx, []byte("k1"))
	if err != nil || got.UserID != "u1" || got.Provider != "acme" || !got.CreatedAt.Equal(t0()) || !got.UnverifiedEmail {
		t.Errorf("GetFederatedLink = %+v, %v", got, err)
	}
	if ls, err := s.ListFederatedLinks(ctx, "u1"); err != nil || len(ls) != 2 {
		t.Errorf("ListFederatedLinks(u1) = %+v, %v; want 2", ls, err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetFederatedLink(ctx, []byte("k1"))
	checkErr(t, "GetFederatedLink after DeleteUser", err, store.ErrNotFound)
	if ls, err := s.ListFederatedLinks(ctx, "u1"); err != nil || len(ls) != 0 {
		t.Errorf("ListFederatedLinks(u1) after DeleteUser = %+v, %v", ls, err)
	}
	// The key is free again for someone else.
	if err := s.CreateFederatedLink(ctx, link("k1", "u10")); err != nil {
		t.Errorf("relink after DeleteUser: %v", err)
	}
	if ls, _ := s.ListFederatedLinks(ctx, "u10"); len(ls) != 2 {
		t.Errorf("ListFederatedLinks(u10) = %d, want 2", len(ls))
	}
	// Deleting: only the owner's link, and with keepLast never the last.
	_, err = s.DeleteFederatedLink(ctx, "u1", []byte("k1"), false)
	checkErr(t, "DeleteFederatedLink of another user's link", err, store.ErrNotFound)
	if l, err := s.DeleteFederatedLink(ctx, "u10", []byte("k1"), true); err != nil || l.Provider != "acme" {
		t.Errorf("DeleteFederatedLink(k1) = %+v, %v", l, err)
	}
	_, err = s.DeleteFederatedLink(ctx, "u10", []byte("k10"), true)
	checkErr(t, "DeleteFederatedLink of the last link with keepLast", err, store.ErrConflict)
	if ls, _ := s.ListFederatedLinks(ctx, "u10"); len(ls) != 1 {
		t.Errorf("ListFederatedLinks(u10) after a refused delete = %d, want 1", len(ls))
	}
	if _, err := s.DeleteFederatedLink(ctx, "u10", []byte("k10"), false); err != nil {
		t.Errorf("DeleteFederatedLink(k10) = %v", err)
	}
	_, err = s.GetFederatedLink(ctx, []byte("k10"))
	checkErr(t, "GetFederatedLink after delete", err, store.ErrNotFound)
}
