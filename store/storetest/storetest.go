package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// Opener opens a fresh, empty store for one subtest.
//
// It returns the store and reopen, which opens the same underlying data again
// as a new store, the way a restarted server would. The suite calls reopen
// only after it has closed s and every store an earlier reopen returned, so a
// backend that locks its data can open it again. reopen may be nil for a
// backend whose data does not outlive Close, such as an in-memory fake; the
// suite then skips the subtests that need it.
//
// The suite closes every store it is handed (a Close that reports
// store.ErrClosed is fine). Opener cleans up anything else it made, for
// example by putting files under t.TempDir.
type Opener func(t *testing.T) (s store.Store, reopen func(t *testing.T) store.Store)

// Run runs the conformance suite against the backend that open creates, one
// subtest per part of the contract, each on a fresh store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"UserCRUD", testUserCRUD},
		{"NotFound", testNotFound},
		{"Exists", testExists},
		{"CreateUserSameEmailConcurrently", testCreateUserSameEmailConcurrently},
		{"UpdateUserConcurrently", testUpdateUserConcurrently},
		{"UpdateUserEmailIndexTaken", testUpdateUserEmailIndexTaken},
		{"UpdateUserFnError", testUpdateUserFnError},
		{"UpdateUserIDChange", testUpdateUserIDChange},
		{"CompareAndSwapUser", testCompareAndSwapUser},
		{"CompareAndSwapUserConcurrently", testCompareAndSwapUserConcurrently},
		{"DeleteUser", testDeleteUser},
		{"Sessions", testSessions},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"CreateRacingDeleteUser", testCreateRacingDeleteUser},
		{"DeleteUserEverything", testDeleteUserEverything},
		{"HistorySignIns", testHistorySignIns},
		{"HistoryPayments", testHistoryPayments},
		{"HistoryDevicesAndReports", testHistoryDevicesAndReports},
		{"HistoryConcurrently", testHistoryConcurrently},
		{"HistoryTrim", testHistoryTrim},
		{"FactorCRUD", testFactorCRUD},
		{"FactorSentinels", testFactorSentinels},
		{"UpdateFactorImmutable", testUpdateFactorImmutable},
		{"UpdateFactorConcurrently", testUpdateFactorConcurrently},
		{"PushRequests", testPushRequests},
		{"PushDecideConcurrently", testPushDecideConcurrently},
		{"PushLocks", testPushLocks},
		{"PushFatigueConcurrently", testPushFatigueConcurrently},
		{"PendingPushRequests", testPendingPushRequests},
		{"OutboxLifecycle", testOutboxLifecycle},
		{"OutboxClaimConcurrently", testOutboxClaimConcurrently},
		{"OutboxReopen", testOutboxReopen},
		{"AuditConcurrently", testAuditConcurrently},
		{"AuditPaging", testAuditPaging},
		{"CountersConcurrently", testCountersConcurrently},
		{"Reopen", testReopen},
		{"Closed", testClosed},
		{"CancelledContext", testCancelledContext},
		{"Consents", testConsents},
		{"ConsentsConcurrently", testConsentsConcurrently},
		{"EraseUser", testEraseUser},
		{"FederatedLinks", testFederatedLinks},
		{"Webhooks", testWebhooks},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open) })
	}
}

// openStore opens a fresh store and arranges for it, and every store its
// reopen returns, to be closed when the test ends.
func openStore(t *testing.T, open Opener) (store.Store, func(*testing.T) store.Store) {
	t.Helper()
	s, reopen := open(t)
	if s == nil {
		t.Fatal("Opener returned a nil store")
	}
	t.Cleanup(func() { closeQuietly(t, s) })
	if reopen == nil {
		return s, nil
	}
	return s, func(t *testing.T) store.Store {
		t.Helper()
		s := reopen(t)
		if s == nil {
			t.Fatal("reopen returned a nil store")
		}
		t.Cleanup(func() { closeQuietly(t, s) })
		return s
	}
}

func closeQuietly(t *testing.T, s store.Store) {
	if err := s.Close(); err != nil && !errors.Is(err, store.ErrClosed) {
		t.Errorf("Close: %v", err)
	}
}

// t0 is the fixed time the fixtures are built around. Times are whole
// seconds in UTC so that backends with microsecond precision compare equal.
func t0() time.Time { return time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC) }

// emailIndex stands in for the keyed hash the profiles package computes.
func emailIndex(email string) []byte {
	h := sha256.Sum256([]byte(email))
	return h[:]
}

// sessionID stands in for the SHA-256 of a random session id.
func sessionID(name string) []byte {
	h := sha256.Sum256([]byte("session:" + name))
	return h[:]
}

func newUser(id, email string) store.User {
	return store.User{
		ID:           id,
		EmailIndex:   emailIndex(email),
		WrappedKey:   []byte("wrapped key of " + id),
		Sealed:       []byte("sealed profile of " + id),
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		CreatedAt:    t0(),
		UpdatedAt:    t0(),
	}
}

func newSession(name, userID string, expires time.Time) store.Session {
	return store.Session{
		IDHash:    sessionID(name),
		UserID:    userID,
		AuthTime:  t0(),
		AMR:       []string{"pwd", "otp"},
		IP:        "192.0.2.7",
		UserAgent: "conformance/1.0",
		CreatedAt: t0(),
		ExpiresAt: expires,
		LastSeen:  t0().Add(time.Minute),
	}
}

// normUser makes equal users compare equal with reflect.DeepEqual whatever
// time zone or empty-slice form a backend hands back.
func normUser(u store.User) store.User {
	u.EmailIndex = nilIfEmpty(u.EmailIndex)
	u.WrappedKey = nilIfEmpty(u.WrappedKey)
	u.Sealed = nilIfEmpty(u.Sealed)
	u.LockedUntil = u.LockedUntil.UTC()
	u.LastSignIn = u.LastSignIn.UTC()
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u
}

func normSession(s store.Session) store.Session {
	s.IDHash = nilIfEmpty(s.IDHash)
	if len(s.AMR) == 0 {
		s.AMR = nil
	}
	s.AuthTime = s.AuthTime.UTC()
	s.CreatedAt = s.CreatedAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.LastSeen = s.LastSeen.UTC()
	return s
}

func normEvent(e store.AuditEvent) store.AuditEvent {
	e.Time = e.Time.UTC()
	if len(e.Details) == 0 {
		e.Details = nil
	}
	return e
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	if g, w := normUser(got), normUser(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if g, w := normSession(got), normSession(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// requireAllFieldsSet stops the test if a fixture leaves a field of its
// struct at the zero value: a field added to a store type later must get a
// value in the fixtures, or the suite would not notice a backend that drops
// it.
func requireAllFieldsSet(t *testing.T, what string, v any) {
	t.Helper()
	rv := reflect.ValueOf(v)
	for i := range rv.NumField() {
		if rv.Field(i).IsZero() {
			t.Fatalf("%s leaves %s unset: give it a value so the suite checks that backends keep it",
				what, rv.Type().Field(i).Name)
		}
	}
}

func userIDs(users []store.User) []string {
	ids := make([]string, 0, len(users))
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	return ids
}
