package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func testOIDCClientUpdate(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	c := store.OIDCClient{ID: "c", SecretHash: hashOf("old"), RedirectURIs: []string{"https://c.example/cb"}, CreatedAt: t0()}
	if err := s.CreateOIDCClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.UpdateOIDCClient(ctx, "c", func(c store.OIDCClient) (store.OIDCClient, error) {
		c.ID, c.SecretHash = "renamed", hashOf("new")
		return c, nil
	})
	if err != nil || got.ID != "c" || string(got.SecretHash) != string(hashOf("new")) {
		t.Errorf("UpdateOIDCClient = %+v, %v", got, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateOIDCClient(ctx, "c", func(c store.OIDCClient) (store.OIDCClient, error) {
		c.SecretHash = nil
		return c, boom
	}); !errors.Is(err, boom) {
		t.Errorf("UpdateOIDCClient with failing fn: %v", err)
	}
	if got, _ := s.GetOIDCClient(ctx, "c"); string(got.SecretHash) != string(hashOf("new")) {
		t.Error("a failed update wrote")
	}
	if _, err := s.UpdateOIDCClient(ctx, "none", func(c store.OIDCClient) (store.OIDCClient, error) { return c, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateOIDCClient of a missing client: %v", err)
	}
}

func testOIDCConsents(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))
	if err := s.PutOIDCConsent(ctx, store.OIDCConsent{UserID: "ghost", ClientID: "a", Scopes: []string{"openid"}, GrantedAt: t0()}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PutOIDCConsent for a missing user: %v", err)
	}
	for _, c := range []store.OIDCConsent{
		{UserID: "u1", ClientID: "b", Scopes: []string{"openid"}, GrantedAt: t0()},
		{UserID: "u1", ClientID: "a", Scopes: []string{"openid"}, GrantedAt: t0()},
		{UserID: "u10", ClientID: "a", Scopes: []string{"openid"}, GrantedAt: t0()},
		{UserID: "u1", ClientID: "b", Scopes: []string{"email", "openid"}, GrantedAt: t0().Add(time.Hour)},
	} {
		if err := s.PutOIDCConsent(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetOIDCConsent(ctx, "u1", "b")
	if err != nil || !slices.Equal(got.Scopes, []string{"email", "openid"}) || !got.GrantedAt.Equal(t0().Add(time.Hour)) {
		t.Errorf("GetOIDCConsent = %+v, %v (want the replacement)", got, err)
	}
	list, err := s.ListOIDCConsents(ctx, "u1")
	if err != nil || len(list) != 2 || list[0].ClientID != "a" || list[1].ClientID != "b" {
		t.Errorf("ListOIDCConsents(u1) = %+v, %v; want a, b (not u10's)", list, err)
	}
	if err := s.DeleteOIDCConsent(ctx, "u1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOIDCConsent(ctx, "u1", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteOIDCConsent twice: %v", err)
	}
	if _, err := s.GetOIDCConsent(ctx, "u1", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOIDCConsent after delete: %v", err)
	}
	// Deleting a client deletes the consents to it.
	if err := s.CreateOIDCClient(ctx, store.OIDCClient{ID: "b", RedirectURIs: []string{"https://b.example/cb"}, CreatedAt: t0()}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOIDCClient(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOIDCConsent(ctx, "u1", "b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("consent to a deleted client: %v", err)
	}
	if err := s.PutOIDCConsent(ctx, store.OIDCConsent{UserID: "u1", ClientID: "b", Scopes: []string{"openid"}, GrantedAt: t0()}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListOIDCConsents(ctx, "u1"); err != nil || len(list) != 0 {
		t.Errorf("consents after DeleteUser = %+v, %v", list, err)
	}
	if _, err := s.GetOIDCConsent(ctx, "u10", "a"); err != nil {
		t.Errorf("another user's consent went with DeleteUser: %v", err)
	}
}

func testOIDCRefreshRevokedPerClient(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	for _, r := range []store.OIDCRefreshToken{
		newRefresh("t1", "f1", "u1", "web"), newRefresh("t2", "f2", "u1", "web"),
		newRefresh("t3", "f3", "u1", "app"), newRefresh("t4", "f4", "u2", "web"),
	} {
		if err := s.CreateOIDCRefreshToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteUserClientOIDCRefreshTokens(ctx, "u1", "web")
	if err != nil || n != 2 {
		t.Errorf("DeleteUserClientOIDCRefreshTokens = %d, %v; want 2", n, err)
	}
	for tok, want := range map[string]bool{"t1": false, "t2": false, "t3": true, "t4": true} {
		_, err := s.GetOIDCRefreshToken(ctx, hashOf(tok))
		if (err == nil) != want {
			t.Errorf("token %s present = %v, want %v", tok, err == nil, want)
		}
	}
}

func testOIDCRefreshRevokedPerSession(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	withSession := func(r store.OIDCRefreshToken, sess string) store.OIDCRefreshToken {
		if sess != "" {
			r.Session = hashOf(sess)
		}
		return r
	}
	for _, r := range []store.OIDCRefreshToken{
		withSession(newRefresh("t1", "f1", "u1", "web"), "s1"), withSession(newRefresh("t2", "f2", "u1", "app"), "s1"),
		withSession(newRefresh("t3", "f3", "u1", "web"), "s2"), withSession(newRefresh("t4", "f4", "u1", "web"), ""),
		withSession(newRefresh("t5", "f5", "u2", "web"), "s1"),
	} {
		if err := s.CreateOIDCRefreshToken(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteSessionOIDCRefreshTokens(ctx, "u1", nil); err != nil || n != 0 {
		t.Errorf("DeleteSessionOIDCRefreshTokens(nil) = %d, %v; want 0", n, err)
	}
	n, err := s.DeleteSessionOIDCRefreshTokens(ctx, "u1", hashOf("s1"))
	if err != nil || n != 2 {
		t.Errorf("DeleteSessionOIDCRefreshTokens = %d, %v; want 2", n, err)
	}
	for tok, want := range map[string]bool{"t1": false, "t2": false, "t3": true, "t4": true, "t5": true} {
		got, err := s.GetOIDCRefreshToken(ctx, hashOf(tok))
		if (err == nil) != want {
			t.Errorf("token %s present = %v, want %v", tok, err == nil, want)
		}
		if tok == "t3" && string(got.Session) != string(hashOf("s2")) {
			t.Errorf("t3 session = %x", got.Session)
		}
	}
}

func testOIDCAssertionsUsedOnce(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	now := t0()
	id := hashOf("client\x00jti")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			err := s.UseOIDCAssertion(ctx, id, now.Add(time.Minute), now)
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, store.ErrExists) {
				t.Errorf("UseOIDCAssertion: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d concurrent uses succeeded, want 1", wins.Load())
	}
	// Once expired it may be recorded again (its exp check refuses it
	// anyway); the sweep forgets expired ids only.
	if err := s.UseOIDCAssertion(ctx, hashOf("other"), now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	later := now.Add(2 * time.Minute)
	n, err := s.DeleteExpiredOIDCAssertions(ctx, later)
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredOIDCAssertions = %d, %v; want 1", n, err)
	}
	if err := s.UseOIDCAssertion(ctx, hashOf("other"), now.Add(time.Hour), later); !errors.Is(err, store.ErrExists) {
		t.Errorf("a live id was forgotten: %v", err)
	}
	if err := s.UseOIDCAssertion(ctx, id, later.Add(time.Minute), later); err != nil {
		t.Errorf("an expired id cannot be reused after the sweep: %v", err)
	}
}
