package bolt

import (
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// Bucket names. Keys and values are described next to each name.
var (
	// users: user id -> JSON store.User.
	bucketUsers = []byte("users")
	// users_by_email: EmailIndex -> user id.
	bucketUsersByEmail = []byte("users_by_email")
	// sessions: IDHash -> JSON store.Session.
	bucketSessions = []byte("sessions")
	// sessions_by_user: user id, 0x00, IDHash -> empty. A user's sessions
	// are the keys with prefix user id, 0x00.
	bucketSessionsByUser = []byte("sessions_by_user")
	// audit: big-endian uint64 Seq -> JSON store.AuditEvent. Seq comes from
	// the bucket's own sequence.
	bucketAudit = []byte("audit")
	// counters: name -> big-endian int64.
	bucketCounters = []byte("counters")
	// meta: schema_version -> decimal version number.
	bucketMeta = []byte("meta")

	// Since version 2. Every key of these buckets begins with the user id
	// and 0x00, or is the user id, so DeleteUser finds them by prefix.

	// signins: user id, 0x00, history key -> binary store.SignInRecord (see
	// historyKey and history_codec.go). A reverse cursor gives a user's
	// newest first.
	bucketSignIns = []byte("signins")
	// payments: user id, 0x00, history key -> binary store.PaymentRecord.
	bucketPayments = []byte("payments")
	// devices: user id, 0x00, device id -> time the device was first seen
	// with strong authentication.
	bucketDevices = []byte("devices")
	// payees: user id, 0x00, payee -> time of the first payment to it.
	bucketPayees = []byte("payees")
	// history_users: user id -> binary summary: how many sign-ins and
	// payments are stored (to trim without counting) and the last report.
	bucketHistoryUsers = []byte("history_users")
	// factors: user id, 0x00, factor id -> JSON store.Factor.
	bucketFactors = []byte("factors")
	// factor_lookup: LookupKey -> user id, 0x00, factor id.
	bucketFactorLookup = []byte("factor_lookup")
)

// keySchemaVersion holds the version of the last migration applied.
var keySchemaVersion = []byte("schema_version")

// A migration moves a data file from version-1 to version. It runs inside
// the single transaction that applies every pending migration, so a failed
// upgrade leaves the file as it was.
type migration struct {
	version int
	apply   func(*bbolt.Tx) error
}

// migrations lists every schema change in order. Append only: never edit or
// reorder an entry that has been released.
var migrations = []migration{
	{version: 1, apply: createBuckets},
	{version: 2, apply: createHistoryAndFactorBuckets},
	{version: 3, apply: createOutboxBucket},
	{version: 4, apply: createOIDCBuckets},
	{version: 5, apply: createPushBucket},
	{version: 6, apply: createConsentsBucket},
	{version: 7, apply: createOIDCGrantBuckets},
	{version: 8, apply: createCIBABuckets},
	{version: 9, apply: createLinkBuckets},
	{version: 10, apply: createWebhookBucket},
	{version: 11, apply: createPushFatigueBucket},
}

// schemaVersion is the version this build writes.
func schemaVersion() int { return migrations[len(migrations)-1].version }

// createBuckets is migration 1: users, sessions, the audit log and
// counters.
func createBuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx,
		bucketUsers, bucketUsersByEmail, bucketSessions, bucketSessionsByUser,
		bucketAudit, bucketCounters, bucketMeta,
	)
}

// createHistoryAndFactorBuckets is migration 2: the risk engine's history
// and users' strong authenticators. Nothing existing changes.
func createHistoryAndFactorBuckets(tx *bbolt.Tx) error {
	return createBucketsNamed(tx,
		bucketSignIns, bucketPayments, bucketDevices, bucketPayees, bucketHistoryUsers,
		bucketFactors, bucketFactorLookup,
	)
}

func createBucketsNamed(tx *bbolt.Tx, names ...[]byte) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrate brings db up to schemaVersion, or refuses a file from a newer
// release. A file that is already current costs one read transaction.
func migrate(db *bbolt.DB) error { return migrateWith(db, migrations) }

// migrateWith applies ms, a prefix of migrations, as migrate does. Tests use
// it to write files as an older release did.
func migrateWith(db *bbolt.DB, ms []migration) error {
	latest := ms[len(ms)-1].version
	var current int
	err := db.View(func(tx *bbolt.Tx) error {
		var err error
		current, err = readSchemaVersion(tx)
		return err
	})
	if err != nil {
		return err
	}
	if current > latest {
		return tooNew(current, latest)
	}
	if current == latest {
		return nil
	}
	return db.Update(func(tx *bbolt.Tx) error {
		// The file lock keeps other processes out, but read again so the
		// decision and the writes share one transaction.
		current, err := readSchemaVersion(tx)
		if err != nil {
			return err
		}
		if current > latest {
			return tooNew(current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if err := m.apply(tx); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", m.version, err)
			}
			meta, err := tx.CreateBucketIfNotExists(bucketMeta)
			if err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", m.version, err)
			}
			if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(m.version))); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", m.version, err)
			}
		}
		return nil
	})
}

func tooNew(v, latest int) error {
	return fmt.Errorf("%w: file has schema version %d, this build knows up to %d; run a newer assentd", ErrSchemaTooNew, v, latest)
}

// readSchemaVersion returns the file's schema version; 0 for a new file.
func readSchemaVersion(tx *bbolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchemaVersion)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("read schema version: malformed value %q", v)
	}
	return n, nil
}
