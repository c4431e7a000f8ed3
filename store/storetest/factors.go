package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// newFactor returns a factor fixture; an empty lookup means no LookupKey.
func newFactor(userID, id, kind string, created time.Time, lookup string) store.Factor {
	f := store.Factor{
		ID:        id,
		UserID:    userID,
		Kind:      kind,
		Name:      "factor " + id,
		Data:      []byte("sealed data of " + userID + "/" + id),
		CreatedAt: created,
	}
	if lookup != "" {
		f.LookupKey = []byte(lookup)
	}
	return f
}

// mustCreateFactor creates f and returns it as the store should hold it.
func mustCreateFactor(t *testing.T, s store.Store, f store.Factor) store.Factor {
	t.Helper()
	if err := s.CreateFactor(t.Context(), f); err != nil {
		t.Fatalf("CreateFactor(%s/%s): %v", f.UserID, f.ID, err)
	}
	f.Version = 1
	return f
}

func mustGetFactor(t *testing.T, s store.Store, userID, id string) store.Factor {
	t.Helper()
	f, err := s.GetFactor(t.Context(), userID, id)
	if err != nil {
		t.Fatalf("GetFactor(%s/%s): %v", userID, id, err)
	}
	return f
}

func normFactor(f store.Factor) store.Factor {
	f.LookupKey = nilIfEmpty(f.LookupKey)
	f.Data = nilIfEmpty(f.Data)
	f.CreatedAt = f.CreatedAt.UTC()
	f.LastUsedAt = f.LastUsedAt.UTC()
	return f
}

func checkFactor(t *testing.T, what string, got, want store.Factor) {
	t.Helper()
	if g, w := normFactor(got), normFactor(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func checkFactors(t *testing.T, what string, got, want []store.Factor) {
	t.Helper()
	norm := func(fs []store.Factor) []store.Factor {
		out := make([]store.Factor, len(fs))
		for i, f := range fs {
			out[i] = normFactor(f)
		}
		return out
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func testFactorCRUD(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u10", "u10@example.com"))

	// Created out of order, two at the same instant: ListFactors sorts by
	// CreatedAt, then ID.
	later := t0().Add(time.Hour)
	b := newFactor("u1", "f-b", store.FactorPasskey, later, "cred-b")
	b.Version = 7 // the store, not the caller, sets Version
	b = mustCreateFactor(t, s, b)
	a := mustCreateFactor(t, s, newFactor("u1", "f-a", store.FactorTOTP, later, ""))
	c := mustCreateFactor(t, s, newFactor("u1", "f-c", store.FactorRecovery, t0(), ""))
	// Factor ids are unique within a user only.
	otherA := mustCreateFactor(t, s, newFactor("u10", "f-a", store.FactorAppDevice, t0(), "cred-z"))

	checkFactor(t, "GetFactor(u1/f-b)", mustGetFactor(t, s, "u1", "f-b"), b)
	checkFactor(t, "GetFactor(u10/f-a)", mustGetFactor(t, s, "u10", "f-a"), otherA)
	got, err := s.GetFactorByLookupKey(ctx, []byte("cred-b"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey(cred-b): %v", err)
	}
	checkFactor(t, "GetFactorByLookupKey(cred-b)", got, b)
	got, err = s.GetFactorByLookupKey(ctx, []byte("cred-z"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey(cred-z): %v", err)
	}
	checkFactor(t, "GetFactorByLookupKey(cred-z)", got, otherA)

	list := func(user string) []store.Factor {
		t.Helper()
		fs, err := s.ListFactors(ctx, user)
		if err != nil {
			t.Fatalf("ListFactors(%s): %v", user, err)
		}
		return fs
	}
	checkFactors(t, "ListFactors(u1)", list("u1"), []store.Factor{c, a, b})
	checkFactors(t, "ListFactors(u10)", list("u10"), []store.Factor{otherA})
	checkFactors(t, "ListFactors(unknown user)", list("u"), nil)

	used := later.Add(time.Minute)
	updated, err := s.UpdateFactor(ctx, "u1", "f-b", func(f store.Factor) (store.Factor, error) {
		f.Name = "YubiKey 5"
		f.LastUsedAt = used
		f.Data = []byte("sign count 1")
		f.Version = 99 // ignored: the store sets Version
		return f, nil
	})
	if err != nil {
		t.Fatalf("UpdateFactor(u1/f-b): %v", err)
	}
	want := b
	want.Name, want.LastUsedAt, want.Data, want.Version = "YubiKey 5", used, []byte("sign count 1"), 2
	requireAllFieldsSet(t, "updated factor", want)
	checkFactor(t, "UpdateFactor result", updated, want)
	checkFactor(t, "GetFactor after update", mustGetFactor(t, s, "u1", "f-b"), want)
	got, err = s.GetFactorByLookupKey(ctx, []byte("cred-b"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey(cred-b) after update: %v", err)
	}
	checkFactor(t, "GetFactorByLookupKey after update", got, want)
	checkFactor(t, "the other user's f-a after update", mustGetFactor(t, s, "u10", "f-a"), otherA)

	if err := s.DeleteFactor(ctx, "u1", "f-b"); err != nil {
		t.Fatalf("DeleteFactor(u1/f-b): %v", err)
	}
	_, err = s.GetFactor(ctx, "u1", "f-b")
	checkErr(t, "GetFactor after delete", err, store.ErrNotFound)
	_, err = s.GetFactorByLookupKey(ctx, []byte("cred-b"))
	checkErr(t, "GetFactorByLookupKey after delete", err, store.ErrNotFound)
	checkErr(t, "DeleteFactor again", s.DeleteFactor(ctx, "u1", "f-b"), store.ErrNotFound)
	checkFactors(t, "ListFactors(u1) after delete", list("u1"), []store.Factor{c, a})

	// Deleting u1's f-a leaves u10's f-a alone.
	if err := s.DeleteFactor(ctx, "u1", "f-a"); err != nil {
		t.Fatalf("DeleteFactor(u1/f-a): %v", err)
	}
	checkFactor(t, "u10's f-a after deleting u1's", mustGetFactor(t, s, "u10", "f-a"), otherA)

	// The deleted factor's id and lookup key are free again.
	mustCreateFactor(t, s, newFactor("u1", "f-b", store.FactorPasskey, later, "cred-b"))
	mustCreateFactor(t, s, newFactor("u10", "f-new", store.FactorPasskey, later, "cred-b-2"))
}

func testFactorSentinels(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()

	// A factor for a user that does not exist is refused and leaves nothing.
	orphan := newFactor("ghost", "f", store.FactorPasskey, t0(), "cred-ghost")
	checkErr(t, "CreateFactor for an unknown user", s.CreateFactor(ctx, orphan), store.ErrNotFound)
	_, err := s.GetFactorByLookupKey(ctx, orphan.LookupKey)
	checkErr(t, "GetFactorByLookupKey of the refused factor", err, store.ErrNotFound)
	mustCreateUser(t, s, newUser("ghost", "ghost@example.com"))
	mustCreateFactor(t, s, orphan)

	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	f1 := mustCreateFactor(t, s, newFactor("u1", "f1", store.FactorPasskey, t0(), "cred-1"))

	// Same id for the same user.
	dup := newFactor("u1", "f1", store.FactorTOTP, t0().Add(time.Hour), "cred-dup")
	checkErr(t, "CreateFactor with a taken id", s.CreateFactor(ctx, dup), store.ErrExists)
	checkFactor(t, "factor after duplicate id", mustGetFactor(t, s, "u1", "f1"), f1)
	_, err = s.GetFactorByLookupKey(ctx, dup.LookupKey)
	checkErr(t, "lookup key of the refused factor", err, store.ErrNotFound)

	// Same lookup key, another user.
	clash := newFactor("u2", "f2", store.FactorPasskey, t0(), "cred-1")
	checkErr(t, "CreateFactor with a taken lookup key", s.CreateFactor(ctx, clash), store.ErrExists)
	_, err = s.GetFactor(ctx, "u2", "f2")
	checkErr(t, "GetFactor of the refused factor", err, store.ErrNotFound)
	got, err := s.GetFactorByLookupKey(ctx, []byte("cred-1"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey(cred-1): %v", err)
	}
	checkFactor(t, "owner of the contested lookup key", got, f1)

	// Factors without a lookup key do not clash, and are not found by the
	// empty key.
	mustCreateFactor(t, s, newFactor("u1", "totp-1", store.FactorTOTP, t0(), ""))
	mustCreateFactor(t, s, newFactor("u2", "totp-2", store.FactorTOTP, t0(), ""))
	_, err = s.GetFactorByLookupKey(ctx, nil)
	checkErr(t, "GetFactorByLookupKey(nil)", err, store.ErrNotFound)
	_, err = s.GetFactorByLookupKey(ctx, []byte{})
	checkErr(t, "GetFactorByLookupKey(empty)", err, store.ErrNotFound)

	fnCalled := false
	for _, c := range []struct {
		name string
		call func() error
	}{
		{"GetFactor of an unknown id", func() error { _, err := s.GetFactor(ctx, "u1", "absent"); return err }},
		{"GetFactor of another user's id", func() error { _, err := s.GetFactor(ctx, "u2", "f1"); return err }},
		{"GetFactor of an unknown user", func() error { _, err := s.GetFactor(ctx, "nobody", "f1"); return err }},
		{"GetFactorByLookupKey", func() error {
			_, err := s.GetFactorByLookupKey(ctx, []byte("absent"))
			return err
		}},
		{"UpdateFactor", func() error {
			_, err := s.UpdateFactor(ctx, "u2", "f1", func(f store.Factor) (store.Factor, error) {
				fnCalled = true
				return f, nil
			})
			return err
		}},
		{"DeleteFactor", func() error { return s.DeleteFactor(ctx, "u2", "f1") }},
	} {
		checkErr(t, c.name, c.call(), store.ErrNotFound)
	}
	if fnCalled {
		t.Error("UpdateFactor called fn for a factor that does not exist")
	}
	checkFactor(t, "u1's f1 after calls for u2", mustGetFactor(t, s, "u1", "f1"), f1)
}

func testUpdateFactorImmutable(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	mustCreateUser(t, s, newUser("u2", "u2@example.com"))
	pk := mustCreateFactor(t, s, newFactor("u1", "pk", store.FactorPasskey, t0(), "cred-pk"))
	totp := mustCreateFactor(t, s, newFactor("u1", "totp", store.FactorTOTP, t0(), ""))

	for _, tc := range []struct {
		name   string
		id     string
		change func(*store.Factor)
	}{
		{"ID", "pk", func(f *store.Factor) { f.ID = "pk2" }},
		{"UserID", "pk", func(f *store.Factor) { f.UserID = "u2" }},
		{"Kind", "pk", func(f *store.Factor) { f.Kind = store.FactorTOTP }},
		{"LookupKey replaced", "pk", func(f *store.Factor) { f.LookupKey = []byte("cred-other") }},
		{"LookupKey changed in place", "pk", func(f *store.Factor) { copy(f.LookupKey, "CRED") }},
		{"LookupKey cleared", "pk", func(f *store.Factor) { f.LookupKey = nil }},
		{"LookupKey added", "totp", func(f *store.Factor) { f.LookupKey = []byte("cred-totp") }},
	} {
		_, err := s.UpdateFactor(ctx, "u1", tc.id, func(f store.Factor) (store.Factor, error) {
			f.Name = "changed along with " + tc.name
			tc.change(&f)
			return f, nil
		})
		if err == nil {
			t.Errorf("UpdateFactor changing %s succeeded, want an error", tc.name)
		}
		for _, sentinel := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict} {
			if errors.Is(err, sentinel) {
				t.Errorf("UpdateFactor changing %s: error %v, want one that is not %v", tc.name, err, sentinel)
			}
		}
	}
	checkFactor(t, "pk after refused updates", mustGetFactor(t, s, "u1", "pk"), pk)
	checkFactor(t, "totp after refused updates", mustGetFactor(t, s, "u1", "totp"), totp)
	got, err := s.GetFactorByLookupKey(ctx, []byte("cred-pk"))
	if err != nil {
		t.Fatalf("GetFactorByLookupKey(cred-pk): %v", err)
	}
	checkFactor(t, "pk by its lookup key", got, pk)
	for _, key := range []string{"cred-other", "CRED-pk", "cred-totp"} {
		_, err := s.GetFactorByLookupKey(ctx, []byte(key))
		checkErr(t, "GetFactorByLookupKey("+key+")", err, store.ErrNotFound)
	}
	_, err = s.GetFactor(ctx, "u1", "pk2")
	checkErr(t, "GetFactor(u1/pk2)", err, store.ErrNotFound)
	if fs, err := s.ListFactors(ctx, "u2"); err != nil || len(fs) != 0 {
		t.Errorf("ListFactors(u2) = %d factors, %v; want none", len(fs), err)
	}

	// Writing the same values back is not a change.
	if _, err := s.UpdateFactor(ctx, "u1", "pk", func(f store.Factor) (store.Factor, error) {
		f.LookupKey = []byte("cred-pk")
		return f, nil
	}); err != nil {
		t.Errorf("UpdateFactor writing back its own lookup key: %v", err)
	}

	errRefused := errors.New("refused by fn")
	_, err = s.UpdateFactor(ctx, "u1", "totp", func(f store.Factor) (store.Factor, error) {
		f.Name = "should not be stored"
		f.Data = append(f.Data[:0], "overwritten"...)
		return f, errRefused
	})
	checkErr(t, "UpdateFactor with failing fn", err, errRefused)
	checkFactor(t, "totp after failing fn", mustGetFactor(t, s, "u1", "totp"), totp)
}

// testUpdateFactorConcurrently has 100 goroutines present the same TOTP
// time step at once. fn refuses a step that is not newer than the last one
// accepted, so exactly one of them may succeed.
func testUpdateFactorConcurrently(t *testing.T, open Opener) {
	s, _ := openStore(t, open)
	ctx := t.Context()
	mustCreateUser(t, s, newUser("u1", "u1@example.com"))
	f := newFactor("u1", "totp", store.FactorTOTP, t0(), "")
	f.Data = []byte("41") // the last accepted time step
	mustCreateFactor(t, s, f)

	errReplay := errors.New("time step already used")
	const n, step = 100, 42
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		winners  []int
		replayed int
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := s.UpdateFactor(ctx, "u1", "totp", func(f store.Factor) (store.Factor, error) {
				last, err := strconv.Atoi(string(f.Data))
				if err != nil {
					return f, fmt.Errorf("stored time step %q: %w", f.Data, err)
				}
				if step <= last {
					return f, errReplay
				}
				f.Data = []byte(strconv.Itoa(step))
				f.Name = fmt.Sprint("won by ", i)
				return f, nil
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, i)
			case errors.Is(err, errReplay):
				replayed++
			default:
				t.Errorf("UpdateFactor: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()

	if len(winners) != 1 || replayed != n-1 {
		t.Fatalf("%d callers %v consumed the time step and %d were refused; want 1 and %d", len(winners), winners, replayed, n-1)
	}
	got := mustGetFactor(t, s, "u1", "totp")
	if string(got.Data) != strconv.Itoa(step) || got.Version != 2 || got.Name != fmt.Sprint("won by ", winners[0]) {
		t.Errorf("factor after the race: Data %q, Version %d, Name %q; want %q, 2, %q",
			got.Data, got.Version, got.Name, strconv.Itoa(step), fmt.Sprint("won by ", winners[0]))
	}
}
