package profiles

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

var cheap = Argon2Params{Memory: 512, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newService(t *testing.T, now func() time.Time) (*Service, store.Store) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "a.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	k, err := NewKeyring(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Store: db, Keys: k, Hasher: NewHasher(cheap), Now: now}), db
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ada@example.com", "ada@example.com"},
		{"  Ada.Lovelace@EXAMPLE.com\t", "ada.lovelace@example.com"},
		{"JOSE\u0301@example.com", "josé@example.com"}, // NFC joins the accent
		{"a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"},
		{"ÅSA@ESIMERKKI.FI", "åsa@esimerkki.fi"},
	} {
		got, err := NormalizeEmail(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", " ", "ada", "@example.com", "ada@", "ada@@example.com", "a@b@example.com", "ada@localhost",
		"ada@.example.com", "ada@example..com", "ada@example.com.", "Ada <ada@example.com>", "ada @example.com",
		"<b>@example.com", "ada@exa\x00mple.com", "\xff@example.com", strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("b", 250) + ".com", `"quoted"@example.com`, "ada@(comment)example.com",
	} {
		_, err := NormalizeEmail(in)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "email" {
			t.Errorf("NormalizeEmail(%q) = %v, want a ValidationError on email", in, err)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"ada@example.com", " A@B.C ", "e\u0301@x.io", "a@b", "<x>@y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		// Normalising is idempotent and yields a lower-case single-@ address.
		n2, err := NormalizeEmail(n)
		if err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, n, n2, err)
		}
		if strings.Count(n, "@") != 1 || n != strings.ToLower(n) {
			t.Fatalf("bad normal form %q", n)
		}
	})
}

func TestConcurrentSignUpsOneWins(t *testing.T) {
	s, _ := newService(t, nil)
	variants := []string{"Race@Example.com", "race@example.com", " RACE@EXAMPLE.COM", "race@Example.Com "}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, taken := 0, 0
	for i := range 100 {
		wg.Go(func() {
			_, err := s.Create(t.Context(), NewUser{Email: variants[i%len(variants)]})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrEmailTaken):
				taken++
			default:
				t.Errorf("create: %v", err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || taken != 99 {
		t.Errorf("wins %d, taken %d; want 1 and 99", wins, taken)
	}
}

func TestSealedPersonalData(t *testing.T) {
	s, db := newService(t, nil)
	id, err := s.Create(t.Context(), NewUser{Email: "pat@example.com", Name: "Pat Secret"})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := db.GetUser(t.Context(), id.ID)
	if bytes.Contains(u.Sealed, []byte("pat@example.com")) || bytes.Contains(u.Sealed, []byte("Pat Secret")) {
		t.Fatal("sealed data holds plaintext")
	}
	// Another master key cannot open it.
	other, _ := NewKeyring(bytes.Repeat([]byte{2}, 32))
	s2 := New(Config{Store: db, Keys: other, Hasher: NewHasher(cheap)})
	if _, err := s2.Get(t.Context(), id.ID); err == nil {
		t.Error("a different master key opened the data")
	}
	// A wrapped key moved to another user does not open that user's data.
	id2, _ := s.Create(t.Context(), NewUser{Email: "quinn@example.com"})
	u2, _ := db.GetUser(t.Context(), id2.ID)
	db.UpdateUser(t.Context(), id2.ID, func(x store.User) (store.User, error) {
		x.WrappedKey, x.Sealed = u.WrappedKey, u.Sealed
		return x, nil
	})
	if _, err := s.Get(t.Context(), id2.ID); err == nil {
		t.Error("data sealed for one user opened as another")
	}
	_ = u2
	// Tampering is detected.
	db.UpdateUser(t.Context(), id.ID, func(x store.User) (store.User, error) {
		x.Sealed = append([]byte(nil), x.Sealed...)
		x.Sealed[len(x.Sealed)-1] ^= 1
		return x, nil
	})
	if _, err := s.Get(t.Context(), id.ID); err == nil {
		t.Error("tampered data opened")
	}
}

func TestUpdateEmailKeepsIndex(t *testing.T) {
	s, _ := newService(t, nil)
	a, _ := s.Create(t.Context(), NewUser{Email: "old@example.com"})
	s.Create(t.Context(), NewUser{Email: "other@example.com"})
	newEmail := "New@Example.com"
	if _, err := s.Update(t.Context(), a.ID, Changes{Email: &newEmail}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetByEmail(t.Context(), "new@example.com"); err != nil || got.ID != a.ID {
		t.Errorf("by new e-mail: %v, %v", got.ID, err)
	}
	if _, err := s.GetByEmail(t.Context(), "old@example.com"); !errors.Is(err, ErrNotFound) {
		t.Errorf("old e-mail still found: %v", err)
	}
	taken := "other@example.com"
	if _, err := s.Update(t.Context(), a.ID, Changes{Email: &taken}); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("update to a taken e-mail: %v", err)
	}
	if got, _ := s.Get(t.Context(), a.ID); got.Email != "new@example.com" {
		t.Errorf("e-mail after failed update = %q", got.Email)
	}
}

func TestAuthenticate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, _ := newService(t, clock)
	if _, err := s.Create(t.Context(), NewUser{Email: "rae@example.com", Password: "raes good passphrase"}); err != nil {
		t.Fatal(err)
	}
	s.Create(t.Context(), NewUser{Email: "nopw@example.com"})
	reason := func(err error) string {
		var ae *AuthError
		if !errors.As(err, &ae) || !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("error %v is not an AuthError", err)
		}
		return ae.Reason
	}
	_, _, err := s.Authenticate(t.Context(), "ghost@example.com", "x")
	if r := reason(err); r != ReasonUnknownUser {
		t.Errorf("unknown: %s", r)
	}
	_, _, err = s.Authenticate(t.Context(), "not an email", "x")
	if r := reason(err); r != ReasonUnknownUser {
		t.Errorf("invalid e-mail: %s", r)
	}
	_, _, err = s.Authenticate(t.Context(), "nopw@example.com", "anything at all")
	if r := reason(err); r != ReasonNoPassword {
		t.Errorf("no password: %s", r)
	}
	ident, _, err := s.Authenticate(t.Context(), " RAE@example.com", "raes good passphrase")
	if err != nil || ident.Email != "rae@example.com" || !ident.LastSignIn.Equal(now) {
		t.Fatalf("good sign-in: %+v %v", ident, err)
	}
}
