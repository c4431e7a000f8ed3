package devices

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testRPID   = "login.example.com"
	testOrigin = "https://login.example.com"
)

// testRP is the relying party as the software authenticator sees it.
var testRP = virtualwebauthn.RelyingParty{ID: testRPID, Name: "Assent", Origin: testOrigin}

type fixture struct {
	svc   *Service
	db    *bolt.DB
	clock *clock
}

func testAEAD(t testing.TB) cipher.AEAD {
	b, err := aes.NewCipher(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// newFixture opens a real bbolt store in a temporary directory and a
// Service over it, on a settable clock.
func newFixture(t testing.TB, noSync bool) *fixture {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "assent.db"), bolt.Options{NoSync: noSync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc, err := New(Config{Store: db, Seeds: testAEAD(t), RPID: testRPID, RPName: "Assent", Origins: []string{testOrigin}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: svc, db: db, clock: c}
}

// user creates a user record to hang factors on.
func (f *fixture) user(t testing.TB, id string) PasskeyUser {
	t.Helper()
	err := f.db.CreateUser(t.Context(), store.User{ID: id, EmailIndex: []byte("idx-" + id), WrappedKey: []byte("k"), Sealed: []byte("s"),
		CreatedAt: f.clock.Now(), UpdatedAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return PasskeyUser{ID: id, Name: id + "@example.com", DisplayName: "User " + id}
}

// factors returns every factor the store holds for userID.
func (f *fixture) factors(t testing.TB, userID string) []store.Factor {
	t.Helper()
	fs, err := f.db.ListFactors(t.Context(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

func wantReason(t testing.TB, err error, reason string) {
	t.Helper()
	if got := Reason(err); got != reason {
		t.Fatalf("err = %v (reason %q), want reason %q", err, got, reason)
	}
}

// finish hands an assertion to the Finish method for the ceremony's
// purpose, as the HTTP layer does.
func (f *fixture) finish(t testing.TB, c Ceremony, resp []byte) (Assertion, error) {
	if c.Purpose == PurposeSecondFactor {
		return f.svc.FinishSecondFactor(t.Context(), c, c.UserID, resp)
	}
	return f.svc.FinishSignIn(t.Context(), c, resp)
}
