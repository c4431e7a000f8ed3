package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/assent-auth/assent/internal/secretfile"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// benchSeedCmd runs `assent bench seed`: it fills a stopped server's data
// file with sessions, so that a load run can measure the server holding
// them (the sessions of 100,000 signed-in browsers take minutes of
// argon2id to create through sign-ins). It refuses a data file that a
// running server holds.
func benchSeedCmd(ctx context.Context, args []string, e env) error {
	fs := flag.NewFlagSet("bench seed", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "./data", "data directory of a stopped assentd (a benchmark's, never production's)")
	sessions := fs.Int("sessions", 100_000, "sessions to add")
	users := fs.Int("users", 10_000, "users to spread them over (created with an e-mail and no password, sealed under the data directory's master.key)")
	if _, err := parse(fs, args, 0, "takes no arguments"); err != nil {
		return err
	}
	if *sessions < 0 || *users < 1 {
		return fmt.Errorf("%w: --users must be at least 1 and --sessions not negative", errUsage)
	}
	// Seeding runs without an fsync per write, so it takes seconds, not
	// minutes; closing the file hands the writes to the operating system,
	// which is what the server opening it next reads from.
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	db, err := bolt.Open(filepath.Join(*data, "assent.db"), bolt.Options{NoSync: true})
	if errors.Is(err, bolt.ErrLocked) {
		return fmt.Errorf("%s is in use: stop the server first (seeding works on a stopped server's data)", *data)
	}
	if err != nil {
		return err
	}
	defer db.Close()
	// The users are made as the server makes them, their personal data
	// sealed under the data directory's master key (created here if the
	// server has not run yet), so that the server can read them.
	master, _, err := secretfile.LoadOrCreate(filepath.Join(*data, "master.key"), profiles.MasterKeySize)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	keys, err := profiles.NewKeyring(master)
	if err != nil {
		return err
	}
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(profiles.DefaultArgon2Params)})
	run := fmt.Sprintf("%x", time.Now().UnixNano()%0xffffff)
	now := time.Now().UTC()
	ids := make([]string, *users)
	for i := range ids {
		u, err := ps.Create(ctx, profiles.NewUser{Email: fmt.Sprintf("seed-%s-%d@example.com", run, i), Name: "Seeded " + run, EmailVerified: true})
		if err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		ids[i] = u.ID
	}
	start := time.Now()
	for i := range *sessions {
		var id [32]byte
		rand.Read(id[:])
		h := sha256.Sum256(id[:])
		s := store.Session{IDHash: h[:], UserID: ids[i%len(ids)], AuthTime: now, AMR: []string{"pwd", "otp"},
			IP: fmt.Sprintf("198.51.100.%d", i%250+1), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
			CreatedAt: now, ExpiresAt: now.Add(12 * time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			return err
		}
		if (i+1)%20_000 == 0 {
			fmt.Fprintf(e.stderr, "seeded %d of %d sessions (%.0f/s)\n", i+1, *sessions, float64(i+1)/time.Since(start).Seconds())
		}
	}
	if err := db.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "seeded %d users and %d sessions in %s\n", *users, *sessions, *data)
	return nil
}
