package storetest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// RunOIDC runs the conformance subtests of store.OIDC, each on a fresh
// store.
func RunOIDC(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"OIDCClients", testOIDCClients},
		{"OIDCAuthRequests", testOIDCAuthRequests},
		{"OIDCCodeRedeemedOnce", testOIDCCodeRedeemedOnce},
		{"OIDCRefreshRotation", testOIDCRefreshRotation},
		{"OIDCRefreshDeletedWithUserAndClient", testOIDCRefreshDeletedWithUserAndClient},
		{"OIDCRefreshRevokedPerUser", testOIDCRefreshRevokedPerUser},
		{"OIDCSigningKeys", testOIDCSigningKeys},
		{"OIDCClientUpdate", testOIDCClientUpdate},
		{"OIDCConsents", testOIDCConsents},
		{"OIDCRefreshRevokedPerClient", testOIDCRefreshRevokedPerClient},
		{"OIDCRefreshRevokedPerSession", testOIDCRefreshRevokedPerSession},
		{"OIDCAssertionsUsedOnce", testOIDCAssertionsUsedOnce},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newRefresh(token, family, userID, clientID string) store.OIDCRefreshToken {
	return store.OIDCRefreshToken{
		TokenHash: hashOf(token), Family: family, UserID: userID, ClientID: clientID,
		Grant: []byte(`{"scopes":["openid"]}`), CreatedAt: t0(), ExpiresAt: t0().Add(time.Hour),
	}
}

func testOIDCClients(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	b := store.OIDCClient{ID: "b", SecretHash: hashOf("s"), RedirectURIs: []string{"https://b.example/cb"}, MinACR: "mfa", CreatedAt: t0(),
		Logo: []byte("\x89PNG\r\n\x1a\n logo bytes \x00\xff")}
	a := store.OIDCClient{ID: "a", Public: true, RedirectURIs: []string{"http://127.0.0.1/cb"}, CreatedAt: t0()}
	for _, c := range []store.OIDCClient{b, a} {
		if err := s.CreateOIDCClient(ctx, c); err != nil {
			t.Fatalf("CreateOIDCClient(%q): %v", c.ID, err)
		}
	}
	if err := s.CreateOIDCClient(ctx, a); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateOIDCClient twice: %v, want ErrExists", err)
	}
	got, err := s.GetOIDCClient(ctx, "b")
	if err != nil || got.MinACR != "mfa" || string(got.SecretHash) != string(b.SecretHash) || !got.CreatedAt.Equal(t0()) || string(got.Logo) != string(b.Logo) {
		t.Errorf("GetOIDCClient = %+v, %v", got, err)
	}
	list, err := s.ListOIDCClients(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Errorf("ListOIDCClients = %+v, %v; want a, b", list, err)
	}
	if err := s.DeleteOIDCClient(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOIDCClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("DeleteOIDCClient twice: %v, want ErrNotFound", err)
	}
	if _, err := s.GetOIDCClient(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOIDCClient after delete: %v, want ErrNotFound", err)
	}
}

func testOIDCAuthRequests(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	r := store.OIDCAuthRequest{ID: "r1", Request: []byte("one"), CreatedAt: t0(), ExpiresAt: t0().Add(10 * time.Minute)}
	if err := s.CreateOIDCAuthRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOIDCAuthRequest(ctx, r); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateOIDCAuthRequest twice: %v, want ErrExists", err)
	}
	up, err := s.UpdateOIDCAuthRequest(ctx, "r1", func(r store.OIDCAuthRequest) (store.OIDCAuthRequest, error) {
		r.Request = []byte("two")
		r.ID = "other"
		return r, nil
	})
	if err != nil || up.ID != "r1" || string(up.Request) != "two" {
		t.Errorf("UpdateOIDCAuthRequest = %+v, %v", up, err)
	}
	if _, err := s.UpdateOIDCAuthRequest(ctx, "nope", func(r store.OIDCAuthRequest) (store.OIDCAuthRequest, error) { return r, nil }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateOIDCAuthRequest(absent): %v, want ErrNotFound", err)
	}
	if _, err := s.GetOIDCAuthRequestByCode(ctx, hashOf("code")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("by code before a code: %v, want ErrNotFound", err)
	}
	if err := s.SetOIDCAuthCode(ctx, "r1", hashOf("code")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOIDCAuthCode(ctx, "r1", hashOf("code2")); !errors.Is(err, store.ErrExists) {
		t.Errorf("second code: %v, want ErrExists", err)
	}
	got, err := s.GetOIDCAuthRequestByCode(ctx, hashOf("code"))
	if err != nil || got.ID != "r1" || string(got.Request) != "two" {
		t.Errorf("GetOIDCAuthRequestByCode = %+v, %v", got, err)
	}
	r2 := store.OIDCAuthRequest{ID: "r2", CreatedAt: t0(), ExpiresAt: t0().Add(time.Minute)}
	if err := s.CreateOIDCAuthRequest(ctx, r2); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpiredOIDCAuthRequests(ctx, t0().Add(5*time.Minute))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredOIDCAuthRequests = %d, %v; want 1", n, err)
	}
	if err := s.DeleteOIDCAuthRequest(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOIDCAuthRequestByCode(ctx, hashOf("code")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("code after delete: %v, want ErrNotFound", err)
	}
}

// testOIDCCodeRedeemedOnce: of 50 concurrent deletions of one request,
// exactly one succeeds.
func testOIDCCodeRedeemedOnce(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	if err := s.CreateOIDCAuthRequest(ctx, store.OIDCAuthRequest{ID: "r", CreatedAt: t0(), ExpiresAt: t0().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 50 {
		wg.Go(func() {
			err := s.DeleteOIDCAuthRequest(ctx, "r")
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("DeleteOIDCAuthRequest: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d deletions succeeded, want 1", wins)
	}
}

func testOIDCRefreshRotation(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	if err := s.CreateOIDCRefreshToken(ctx, newRefresh("t0", "fam", "nobody", "c")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token for a missing user: %v, want ErrNotFound", err)
	}
	if err := s.CreateOIDCRefreshToken(ctx, newRefresh("t0", "fam", "u1", "c")); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateOIDCRefreshToken(ctx, newRefresh("t0", "fam", "u1", "c")); !errors.Is(err, store.ErrExists) {
		t.Errorf("same token twice: %v, want ErrExists", err)
	}
	// Rotate t0 -> t1 -> t2.
	for i := 1; i <= 2; i++ {
		old, next := fmt.Sprintf("t%d", i-1), fmt.Sprintf("t%d", i)
		if err := s.RotateOIDCRefreshToken(ctx, hashOf(old), newRefresh(next, "fam", "u1", "c")); err != nil {
			t.Fatalf("rotate %s: %v", old, err)
		}
	}
	if tok, err := s.GetOIDCRefreshToken(ctx, hashOf("t1")); err != nil || !tok.Spent {
		t.Errorf("t1 = %+v, %v; want spent", tok, err)
	}
	if tok, err := s.GetOIDCRefreshToken(ctx, hashOf("t2")); err != nil || tok.Spent || tok.UserID != "u1" {
		t.Errorf("t2 = %+v, %v; want live", tok, err)
	}
	if err := s.RotateOIDCRefreshToken(ctx, hashOf("t2"), newRefresh("x", "other", "u1", "c")); err == nil {
		t.Error("rotating into another family succeeded")
	}
	// Reusing spent t0 revokes the whole family, live t2 included.
	if err := s.RotateOIDCRefreshToken(ctx, hashOf("t0"), newRefresh("t9", "fam", "u1", "c")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("reuse: %v, want ErrConflict", err)
	}
	for _, tok := range []string{"t0", "t1", "t2", "t9"} {
		if _, err := s.GetOIDCRefreshToken(ctx, hashOf(tok)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after reuse: %v, want ErrNotFound", tok, err)
		}
	}
	if err := s.RotateOIDCRefreshToken(ctx, hashOf("t2"), newRefresh("t3", "fam", "u1", "c")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate revoked: %v, want ErrNotFound", err)
	}
	// Concurrent rotations of one token: exactly one wins.
	if err := s.CreateOIDCRefreshToken(ctx, newRefresh("r0", "f2", "u1", "c")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 20 {
		wg.Go(func() {
			if s.RotateOIDCRefreshToken(ctx, hashOf("r0"), newRefresh(fmt.Sprintf("r0-%d", i), "f2", "u1", "c")) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent rotations succeeded, want 1", wins)
	}
	if n, err := s.DeleteOIDCRefreshFamily(ctx, "f2"); err != nil || n != 0 {
		// The losers' reuse already revoked the family.
		t.Errorf("DeleteOIDCRefreshFamily after reuse = %d, %v; want 0", n, err)
	}
}

func testOIDCRefreshDeletedWithUserAndClient(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	if err := s.CreateOIDCClient(ctx, store.OIDCClient{ID: "c2", CreatedAt: t0()}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []store.OIDCRefreshToken{
		newRefresh("a", "fa", "u1", "c1"), newRefresh("b", "fb", "u2", "c1"), newRefresh("c", "fc", "u2", "c2"),
	} {
		if err := s.CreateOIDCRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteUser(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOIDCRefreshToken(ctx, hashOf("a")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of deleted user: %v, want ErrNotFound", err)
	}
	if err := s.DeleteOIDCClient(ctx, "c2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetOIDCRefreshToken(ctx, hashOf("c")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token of deleted client: %v, want ErrNotFound", err)
	}
	if _, err := s.GetOIDCRefreshToken(ctx, hashOf("b")); err != nil {
		t.Errorf("unrelated token: %v", err)
	}
}

func testOIDCSigningKeys(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	if ks, err := s.ListOIDCSigningKeys(ctx); err != nil || len(ks) != 0 {
		t.Fatalf("ListOIDCSigningKeys on empty store = %v, %v", ks, err)
	}
	k2 := store.OIDCSigningKey{ID: "k2", Algorithm: "ES256", Sealed: []byte("sealed2"), CreatedAt: t0().Add(time.Hour)}
	k1 := store.OIDCSigningKey{ID: "k1", Algorithm: "ES256", Sealed: []byte("sealed1"), CreatedAt: t0()}
	for _, k := range []store.OIDCSigningKey{k2, k1} {
		if err := s.PutOIDCSigningKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutOIDCSigningKey(ctx, k1); !errors.Is(err, store.ErrExists) {
		t.Errorf("PutOIDCSigningKey twice: %v, want ErrExists", err)
	}
	ks, err := s.ListOIDCSigningKeys(ctx)
	if err != nil || len(ks) != 2 || ks[0].ID != "k1" || ks[1].ID != "k2" || string(ks[0].Sealed) != "sealed1" {
		t.Errorf("ListOIDCSigningKeys = %+v, %v; want k1, k2", ks, err)
	}
}

func testOIDCRefreshRevokedPerUser(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	for _, tok := range []store.OIDCRefreshToken{
		newRefresh("a", "fa", "u1", "c1"), newRefresh("b", "fb", "u1", "c2"), newRefresh("c", "fc", "u2", "c1"),
	} {
		if err := s.CreateOIDCRefreshToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.DeleteUserOIDCRefreshTokens(ctx, "u1"); err != nil || n != 2 {
		t.Fatalf("DeleteUserOIDCRefreshTokens(u1) = %d, %v; want 2", n, err)
	}
	for _, tok := range []string{"a", "b"} {
		if _, err := s.GetOIDCRefreshToken(ctx, hashOf(tok)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s after revocation: %v, want ErrNotFound", tok, err)
		}
	}
	if _, err := s.GetOIDCRefreshToken(ctx, hashOf("c")); err != nil {
		t.Errorf("another user's token was revoked: %v", err)
	}
	if n, err := s.DeleteUserOIDCRefreshTokens(ctx, "u1"); err != nil || n != 0 {
		t.Errorf("second revocation = %d, %v; want 0", n, err)
	}
}
