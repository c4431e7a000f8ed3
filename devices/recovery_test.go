package devices

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/descope/virtualwebauthn"
)

var recoveryFormat = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

func TestRecoveryCodes(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	ctx := t.Context()

	_, err := f.svc.GenerateRecoveryCodes(ctx, u.ID)
	wantReason(t, err, ReasonNotEnrolled)
	_, err = f.svc.UseRecoveryCode(ctx, u.ID, "0000-0000-0000-0000")
	wantReason(t, err, ReasonNotEnrolled)

	f.installTOTP(t, u.ID, []byte("recovery-test-seed-x"), 6)
	codes, err := f.svc.GenerateRecoveryCodes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryFormat.MatchString(c.Reveal()) || seen[c.Reveal()] {
			t.Fatalf("bad or repeated code %q", c.Reveal())
		}
		seen[c.Reveal()] = true
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	// Stored hashed only.
	for _, fa := range f.factors(t, u.ID) {
		for _, c := range codes {
			plain := strings.ReplaceAll(c.Reveal(), "-", "")
			if strings.Contains(string(fa.Data), plain) {
				t.Fatal("a recovery code is stored in the clear")
			}
		}
	}

	n, err := f.svc.UseRecoveryCode(ctx, u.ID, codes[3].Reveal())
	if err != nil || n != 9 {
		t.Fatalf("first use: %d remaining, %v", n, err)
	}
	_, err = f.svc.UseRecoveryCode(ctx, u.ID, codes[3].Reveal())
	wantReason(t, err, ReasonReplayed)
	_, err = f.svc.UseRecoveryCode(ctx, u.ID, "zzzz-zzzz-zzzz-zzzz")
	wantReason(t, err, ReasonInvalidCode)
	_, err = f.svc.UseRecoveryCode(ctx, u.ID, "not a code")
	wantReason(t, err, ReasonInvalidCode)
	// Typed loosely: upper case, spaces, o for 0 and l for 1.
	loose := strings.ToUpper(strings.ReplaceAll(codes[5].Reveal(), "-", " "))
	loose = strings.NewReplacer("0", "O", "1", "L").Replace(loose)
	if n, err := f.svc.UseRecoveryCode(ctx, u.ID, loose); err != nil || n != 8 {
		t.Fatalf("loosely typed code: %d, %v", n, err)
	}
	sums, _ := f.svc.List(ctx, u.ID)
	for _, s := range sums {
		if s.Kind == "recovery" && (s.Remaining != 8 || s.Strong()) {
			t.Errorf("recovery summary = %+v", s)
		}
	}

	// Regenerating invalidates the old set.
	fresh, err := f.svc.GenerateRecoveryCodes(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.svc.UseRecoveryCode(ctx, u.ID, codes[0].Reveal())
	wantReason(t, err, ReasonInvalidCode)
	if n, err := f.svc.UseRecoveryCode(ctx, u.ID, fresh[0].Reveal()); err != nil || n != 9 {
		t.Fatalf("new set: %d, %v", n, err)
	}
}

// TestRecoveryCodeConcurrentUse races one code: exactly one use wins.
func TestRecoveryCodeConcurrentUse(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	f.installTOTP(t, u.ID, []byte("recovery-race-seed-x"), 6)
	codes, err := f.svc.GenerateRecoveryCodes(t.Context(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 50 {
		wg.Go(func() {
			_, err := f.svc.UseRecoveryCode(t.Context(), u.ID, codes[0].Reveal())
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins++
			} else if Reason(err) != ReasonReplayed {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d uses won, want 1", wins)
	}
}

func TestRemoveLastStrongFactor(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	ctx := t.Context()
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{UserHandle: []byte(u.ID)})
	pk := f.register(t, u, k, "key")
	f.installTOTP(t, u.ID, []byte("remove-test-seed-xyz"), 6)
	if _, err := f.svc.GenerateRecoveryCodes(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if last, err := f.svc.IsLastStrong(ctx, u.ID, pk.ID); err != nil || last {
		t.Fatalf("passkey with TOTP beside it: last=%v %v", last, err)
	}
	if last, _ := f.svc.IsLastStrong(ctx, u.ID, "recovery"); last {
		t.Fatal("recovery codes count as the last strong factor")
	}
	rm, err := f.svc.Remove(ctx, u.ID, pk.ID)
	if err != nil || rm.RecoveryRemoved {
		t.Fatalf("remove passkey: %+v %v", rm, err)
	}
	if last, _ := f.svc.IsLastStrong(ctx, u.ID, "totp"); !last {
		t.Fatal("TOTP alone is not reported as the last strong factor")
	}
	rm, err = f.svc.Remove(ctx, u.ID, "totp")
	if err != nil || !rm.RecoveryRemoved {
		t.Fatalf("remove TOTP: %+v %v", rm, err)
	}
	if fs := f.factors(t, u.ID); len(fs) != 0 {
		t.Fatalf("left over: %+v", fs)
	}
	if _, err := f.svc.Remove(ctx, u.ID, "totp"); err != ErrNotFound {
		t.Fatalf("removing again: %v", err)
	}
	if _, err := f.svc.Rename(ctx, u.ID, "nope", "x"); err != ErrNotFound {
		t.Fatalf("renaming a missing factor: %v", err)
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{"  Key  ": "Key", "": "", "Ä-avain 🔑": "Ä-avain 🔑"} {
		if got, err := CleanName(in); err != nil || got != want {
			t.Errorf("CleanName(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"a\nb", "\x00", strings.Repeat("x", 65), "\xff"} {
		if _, err := CleanName(bad); err == nil {
			t.Errorf("CleanName(%q) accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	err := (&Config{RPID: "10.0.0.1", Origins: []string{"ftp://x", "https://evil.test"}}).Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"store: required", "seeds:", "rp id:", `"ftp://x"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	err = (&Config{RPID: "example.com", Origins: []string{"https://login.example.com", "https://example.com.evil.test"}}).Validate()
	if err == nil || !strings.Contains(err.Error(), "evil.test") || strings.Contains(err.Error(), "login.example.com\"") {
		t.Errorf("origin on another domain: %v", err)
	}
	// No RP ID: passkeys off, TOTP and recovery codes still on.
	f := newFixture(t, true)
	svc, err := New(Config{Store: f.db, Seeds: testAEAD(t)})
	if err != nil || svc.Passkeys() {
		t.Fatalf("without an RP ID: %v, passkeys %v", err, svc.Passkeys())
	}
	if _, _, err := svc.BeginSignIn(t.Context(), false); err != ErrPasskeysOff {
		t.Errorf("sign-in with passkeys off: %v", err)
	}
}
