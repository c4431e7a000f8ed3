package bolt

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (store.Store, func(*testing.T) store.Store) {
		path := filepath.Join(t.TempDir(), "assent.db")
		open := func(t *testing.T) store.Store {
			t.Helper()
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return db
		}
		return open(t), open
	})
}

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "assent.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func TestOpenLocked(t *testing.T) {
	_, path := openTemp(t)

	const timeout = 200 * time.Millisecond
	start := time.Now()
	second, err := Open(path, Options{Timeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		second.Close()
		t.Fatal("second Open of a file in use succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: error %v, want ErrLocked", err)
	}
	for _, want := range []string{path, "in use by another process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if elapsed > timeout+time.Second {
		t.Errorf("second Open took %v with a timeout of %v", elapsed, timeout)
	}
}

func TestOpenReleasesLockOnClose(t *testing.T) {
	db, path := openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again, err := Open(path, Options{Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestFileMode(t *testing.T) {
	_, path := openTemp(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("data file mode = %#o, want 0600", mode)
	}
}

func TestSchemaVersionWritten(t *testing.T) {
	db, path := openTemp(t)
	db.Close()
	if got := readVersion(t, path); got != strconv.Itoa(schemaVersion()) {
		t.Errorf("stored schema version = %q, want %d", got, schemaVersion())
	}
}

func TestMigrationsOrdered(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 {
			t.Errorf("migrations[%d] has version %d, want %d", i, m.version, i+1)
		}
		if m.apply == nil {
			t.Errorf("migration %d has no apply func", m.version)
		}
	}
}

func TestMigrateFromEmptyFile(t *testing.T) {
	// A bbolt file with nothing in it, as an older release could have left
	// before its first migration.
	path := filepath.Join(t.TempDir(), "assent.db")
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := db.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after migration", name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if got := readVersion(t, path); got != strconv.Itoa(schemaVersion()) {
		t.Errorf("stored schema version = %q, want %d", got, schemaVersion())
	}
}

// allBuckets names every bucket the current schema has.
var allBuckets = [][]byte{
	bucketUsers, bucketUsersByEmail, bucketSessions, bucketSessionsByUser,
	bucketAudit, bucketCounters, bucketMeta,
	bucketSignIns, bucketPayments, bucketDevices, bucketPayees, bucketHistoryUsers,
	bucketFactors, bucketFactorLookup,
	bucketOutbox,
}

// TestMigrateFromVersion1 writes a file as a release with only migration 1
// did, fills it through that release's methods, and checks that Open
// upgrades it to the current schema keeping everything.
func TestMigrateFromVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assent.db")
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateWith(raw, migrations[:1]); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	if err := raw.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketSignIns) != nil || tx.Bucket(bucketFactors) != nil {
			t.Error("a version 1 file already has buckets of version 2")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	v1 := &DB{db: raw, group: startCommitter(raw, lazyWait)}
	ctx := t.Context()
	at := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	user := store.User{ID: "u1", EmailIndex: []byte("idx"), Sealed: []byte("sealed"), CreatedAt: at, UpdatedAt: at}
	sess := store.Session{IDHash: []byte("hash"), UserID: "u1", AuthTime: at, AMR: []string{"pwd"}, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	if err := v1.CreateUser(ctx, user); err != nil {
		t.Fatalf("CreateUser in version 1: %v", err)
	}
	if err := v1.CreateSession(ctx, sess); err != nil {
		t.Fatalf("CreateSession in version 1: %v", err)
	}
	if _, err := v1.AppendAudit(ctx, store.AuditEvent{Time: at, Kind: "user.created", Outcome: "ok"}); err != nil {
		t.Fatalf("AppendAudit in version 1: %v", err)
	}
	if _, err := v1.AddCounter(ctx, "c", 3); err != nil {
		t.Fatalf("AddCounter in version 1: %v", err)
	}
	if err := v1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readVersion(t, path); got != "1" {
		t.Fatalf("schema version of the old file = %q, want 1", got)
	}

	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open of a version 1 file: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.db.View(func(tx *bbolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after upgrade", name)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	user.Version = 1
	if got, err := db.GetUserByEmailIndex(ctx, []byte("idx")); err != nil || !reflect.DeepEqual(got, user) {
		t.Errorf("user after upgrade = %+v, %v; want %+v", got, err, user)
	}
	if got, err := db.GetSession(ctx, sess.IDHash); err != nil || !reflect.DeepEqual(got, sess) {
		t.Errorf("session after upgrade = %+v, %v; want %+v", got, err, sess)
	}
	if events, err := db.ListAudit(ctx, 0, 10); err != nil || len(events) != 1 || events[0].Kind != "user.created" {
		t.Errorf("audit log after upgrade = %+v, %v; want the one event", events, err)
	}
	if seq, err := db.AppendAudit(ctx, store.AuditEvent{Kind: "k"}); err != nil || seq != 2 {
		t.Errorf("AppendAudit after upgrade = seq %d, %v; want 2", seq, err)
	}
	if v, err := db.Counter(ctx, "c"); err != nil || v != 3 {
		t.Errorf("Counter after upgrade = %d, %v; want 3", v, err)
	}
	// The old user takes part in what version 2 added, and its erasure
	// covers it.
	if err := db.AppendSignIn(ctx, "u1", store.SignInRecord{Time: at, DeviceID: "d", Strong: true}); err != nil {
		t.Errorf("AppendSignIn after upgrade: %v", err)
	}
	if err := db.CreateFactor(ctx, store.Factor{ID: "f", UserID: "u1", Kind: store.FactorPasskey, LookupKey: []byte("k")}); err != nil {
		t.Errorf("CreateFactor after upgrade: %v", err)
	}
	if err := db.DeleteUser(ctx, "u1"); err != nil {
		t.Fatalf("DeleteUser after upgrade: %v", err)
	}
	assertNoTrace(t, db, "u1")
	db.Close()
	if got := readVersion(t, path); got != strconv.Itoa(schemaVersion()) {
		t.Errorf("schema version after upgrade = %q, want %d", got, schemaVersion())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	db, path := openTemp(t)
	db.Close()
	future := strconv.Itoa(schemaVersion() + 1)
	writeVersion(t, path, future)

	db, err := Open(path, Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatal("Open of a file from a newer release succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open: error %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, "schema version " + future} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	// The refused file was not touched, and its lock was released.
	if got := readVersion(t, path); got != future {
		t.Errorf("schema version after refused Open = %q, want %q", got, future)
	}
}

func TestOpenRefusesMalformedSchemaVersion(t *testing.T) {
	db, path := openTemp(t)
	db.Close()
	writeVersion(t, path, "one")
	db, err := Open(path, Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatal("Open of a file with a malformed schema version succeeded")
	}
	if !strings.Contains(err.Error(), "schema version") {
		t.Errorf("error %q does not mention the schema version", err)
	}
}

func TestOpenNotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assent.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{Timeout: 200 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestClampLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{-1, defaultListLimit},
		{0, defaultListLimit},
		{1, 1},
		{maxListLimit, maxListLimit},
		{maxListLimit + 1, maxListLimit},
	} {
		if got := clampLimit(tc.in); got != tc.want {
			t.Errorf("clampLimit(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestInvalidKeys(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"CreateUser empty id", db.CreateUser(ctx, store.User{})},
		{"CreateUser NUL in id", db.CreateUser(ctx, store.User{ID: "a\x00b"})},
		{"CreateSession empty id hash", db.CreateSession(ctx, store.Session{UserID: "a"})},
		{"CreateSession NUL in user id", db.CreateSession(ctx, store.Session{IDHash: []byte{1}, UserID: "a\x00"})},
		{"AppendSignIn empty user id", db.AppendSignIn(ctx, "", store.SignInRecord{})},
		{"AppendPayment NUL in user id", db.AppendPayment(ctx, "a\x00", store.PaymentRecord{})},
		{"SetLastReport empty user id", db.SetLastReport(ctx, "", time.Time{})},
		{"CreateFactor empty user id", db.CreateFactor(ctx, store.Factor{ID: "f"})},
		{"CreateFactor empty factor id", db.CreateFactor(ctx, store.Factor{UserID: "a"})},
		{"CreateFactor NUL in user id", db.CreateFactor(ctx, store.Factor{ID: "f", UserID: "a\x00"})},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	users, err := db.ListUsers(ctx, "", 10)
	if err != nil || len(users) != 0 {
		t.Errorf("ListUsers after refused creates = %d users, %v; want none", len(users), err)
	}
}

func TestUserWithoutEmailIndex(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := db.CreateUser(ctx, store.User{ID: id}); err != nil {
			t.Fatalf("CreateUser(%s) without e-mail index: %v", id, err)
		}
	}
	if _, err := db.GetUserByEmailIndex(ctx, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUserByEmailIndex(nil): error %v, want ErrNotFound", err)
	}
	if err := db.DeleteUser(ctx, "a"); err != nil {
		t.Errorf("DeleteUser of a user without e-mail index: %v", err)
	}
}

func readVersion(t *testing.T, path string) string {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var v string
	if err := raw.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			v = string(b.Get(keySchemaVersion))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func writeVersion(t *testing.T, path, v string) {
	t.Helper()
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(v))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestBatchRetry makes shared commits fail so that the committer re-runs the other
// calls in them, and checks that the re-runs neither repeat nor lose work.
func TestBatchRetry(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	errBoom := errors.New("boom")
	const n, failing = 100, 10
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		bySeq    = map[uint64]int{}
		counts   []int64
		failRuns atomic.Int64
	)
	for i := range n {
		wg.Go(func() {
			<-start
			seq, err := db.AppendAudit(ctx, store.AuditEvent{Kind: "test", Details: map[string]string{"i": strconv.Itoa(i)}})
			if err != nil {
				t.Errorf("AppendAudit: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := bySeq[seq]; dup {
				t.Errorf("appends %d and %d both got seq %d", prev, i, seq)
			}
			bySeq[seq] = i
		})
		wg.Go(func() {
			<-start
			v, err := db.AddCounter(ctx, "c", 1)
			if err != nil {
				t.Errorf("AddCounter: %v", err)
				return
			}
			mu.Lock()
			counts = append(counts, v)
			mu.Unlock()
		})
	}
	for range failing {
		wg.Go(func() {
			<-start
			err := db.batch(ctx, func(*bbolt.Tx) error {
				failRuns.Add(1)
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("failing batch call: error %v, want %v", err, errBoom)
			}
		})
	}
	close(start)
	wg.Wait()

	// Each failing call runs once in a batch and once more on its own.
	if got := failRuns.Load(); got < 2*failing {
		t.Errorf("failing calls ran %d times, want at least %d: no batch was retried", got, 2*failing)
	}
	// Seqs come from the committed transaction, so there are no gaps.
	for seq := uint64(1); seq <= n; seq++ {
		if _, ok := bySeq[seq]; !ok {
			t.Fatalf("seq %d not handed out; want exactly 1..%d", seq, n)
		}
	}
	events, err := db.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Fatalf("%d events stored, want %d", len(events), n)
	}
	for _, e := range events {
		if want := strconv.Itoa(bySeq[e.Seq]); e.Details["i"] != want {
			t.Errorf("event at seq %d came from append %s, but append %s was told it got that seq", e.Seq, e.Details["i"], want)
		}
	}
	if v, err := db.Counter(ctx, "c"); err != nil || v != n {
		t.Errorf("Counter = %d, %v; want %d", v, err, n)
	}
	slices.Sort(counts)
	for i, v := range counts {
		if v != int64(i+1) {
			t.Fatalf("AddCounter results, sorted, are %v; want 1..%d", counts, n)
		}
	}
}
