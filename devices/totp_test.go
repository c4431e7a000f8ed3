package devices

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/assent-auth/assent/store"
)

// installTOTP stores an active TOTP factor with a known seed, as an
// enrollment would, so that codes from an independent source can be
// checked against it.
func (f *fixture) installTOTP(t testing.TB, userID string, seed []byte, digits int) {
	t.Helper()
	d := totpData{Seed: f.svc.sealSeed(userID, totpFactorID, seed), Algorithm: "SHA1", Digits: digits, Period: 30, Confirmed: true}
	b, _ := json.Marshal(d)
	err := f.db.CreateFactor(t.Context(), store.Factor{ID: totpFactorID, UserID: userID, Kind: store.FactorTOTP, Data: b, CreatedAt: f.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTOTPRFC6238 checks the test vectors of RFC 6238 appendix B (SHA-1):
// codes computed by the RFC's authors, not by our code path.
func TestTOTPRFC6238(t *testing.T) {
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	f := newFixture(t, true)
	u := f.user(t, "u_rfc")
	f.installTOTP(t, u.ID, []byte("12345678901234567890"), 8)
	for _, v := range vectors {
		f.clock.Set(time.Unix(v.unix, 0))
		if err := f.svc.VerifyTOTP(t.Context(), u.ID, v.code); err != nil {
			t.Errorf("T=%d code %s: %v", v.unix, v.code, err)
		}
		// The same code again is a replay.
		wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, v.code), ReasonReplayed)
	}

	// Six digits are the last six of the same value.
	g := newFixture(t, true)
	g.user(t, u.ID)
	g.installTOTP(t, u.ID, []byte("12345678901234567890"), 6)
	g.clock.Set(time.Unix(1234567890, 0))
	if err := g.svc.VerifyTOTP(t.Context(), u.ID, "005 924"); err != nil {
		t.Errorf("six-digit vector: %v", err)
	}
}

// TestTOTPOathtool enrolls through our code and confirms and signs in with
// codes from Debian's oathtool, an implementation independent of ours.
func TestTOTPOathtool(t *testing.T) {
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Skip("oathtool is not installed (scripts/test-deps.sh installs it)")
	}
	f := newFixture(t, true)
	u := f.user(t, "u_oath")
	e, err := f.svc.BeginTOTP(t.Context(), u.ID, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	oath := func(at time.Time) string {
		out, err := exec.Command("oathtool", "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), e.Key.Reveal()).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	now := f.clock.Now()
	if err := f.svc.ConfirmTOTP(t.Context(), u.ID, oath(now)); err != nil {
		t.Fatalf("confirm with oathtool's code: %v", err)
	}
	wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, oath(now)), ReasonReplayed)
	f.clock.Advance(30 * time.Second)
	if err := f.svc.VerifyTOTP(t.Context(), u.ID, oath(f.clock.Now())); err != nil {
		t.Fatalf("oathtool's next code: %v", err)
	}
	wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, oath(f.clock.Now())), ReasonReplayed)
}

func TestTOTPEnrollment(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	ctx := t.Context()

	wantReason(t, f.svc.VerifyTOTP(ctx, u.ID, "123456"), ReasonNotEnrolled)
	e, err := f.svc.BeginTOTP(ctx, u.ID, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(e.URI.Reveal(), "otpauth://totp/Assent:ada@example.com?") || !strings.Contains(e.URI.Reveal(), "secret="+e.Key.Reveal()) {
		t.Errorf("otpauth URI = %q", e.URI.Reveal())
	}
	if img, err := png.Decode(bytes.NewReader(e.QR)); err != nil || img.Bounds().Dx() < 200 {
		t.Errorf("QR code is not a usable PNG: %v", err)
	}
	// The seed is sealed at rest.
	raw := f.factors(t, u.ID)[0].Data
	seed, _ := b32.DecodeString(e.Key.Reveal())
	if bytes.Contains(raw, seed) || bytes.Contains(raw, []byte(e.Key.Reveal())) {
		t.Fatal("the stored record holds the seed in the clear")
	}
	sums, _ := f.svc.List(ctx, u.ID)
	if sums[0].Active || sums[0].Strong() {
		t.Fatalf("an unconfirmed enrollment counts as a factor: %+v", sums[0])
	}
	// Not usable before confirmation.
	code, _ := totp.GenerateCode(e.Key.Reveal(), f.clock.Now())
	wantReason(t, f.svc.VerifyTOTP(ctx, u.ID, code), ReasonNotEnrolled)

	// A wrong first code writes nothing.
	v0 := f.factors(t, u.ID)[0].Version
	wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)
	wantReason(t, f.svc.ConfirmTOTP(ctx, u.ID, wrong), ReasonInvalidCode)
	wantReason(t, f.svc.ConfirmTOTP(ctx, u.ID, "12a456"), ReasonInvalidCode)
	if v := f.factors(t, u.ID)[0].Version; v != v0 {
		t.Errorf("a wrong code wrote the record (version %d -> %d)", v0, v)
	}
	// The page can be shown again with the same seed.
	again, err := f.svc.PendingTOTP(ctx, u.ID, "ada@example.com")
	if err != nil || again.Key.Reveal() != e.Key.Reveal() {
		t.Fatalf("pending enrollment: %v", err)
	}
	if err := f.svc.ConfirmTOTP(ctx, u.ID, code); err != nil {
		t.Fatal(err)
	}
	// The confirming code cannot sign in.
	wantReason(t, f.svc.VerifyTOTP(ctx, u.ID, code), ReasonReplayed)
	_, err = f.svc.BeginTOTP(ctx, u.ID, "ada@example.com")
	wantReason(t, err, ReasonAlreadyEnrolled)
	_, err = f.svc.PendingTOTP(ctx, u.ID, "ada@example.com")
	wantReason(t, err, ReasonAlreadyEnrolled)
	ov, _ := f.svc.Overview(ctx, u.ID)
	if !ov.TOTP || !ov.HasStrong {
		t.Errorf("overview = %+v", ov)
	}
}

func TestTOTPEnrollmentExpires(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	e, err := f.svc.BeginTOTP(t.Context(), u.ID, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(16 * time.Minute)
	code, _ := totp.GenerateCode(e.Key.Reveal(), f.clock.Now())
	wantReason(t, f.svc.ConfirmTOTP(t.Context(), u.ID, code), ReasonExpired)
	// Starting again replaces the lapsed seed.
	e2, err := f.svc.BeginTOTP(t.Context(), u.ID, "ada@example.com")
	if err != nil || e2.Key.Reveal() == e.Key.Reveal() {
		t.Fatalf("restart: %v", err)
	}
}

func TestTOTPWindow(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	seed := []byte("window-test-seed-20b")
	f.installTOTP(t, u.ID, seed, 6)
	secret := b32.EncodeToString(seed)
	at := func(d time.Duration) string {
		c, _ := totp.GenerateCode(secret, f.clock.Now().Add(d))
		return c
	}
	wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, at(-60*time.Second)), ReasonInvalidCode)
	wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, at(60*time.Second)), ReasonInvalidCode)
	if err := f.svc.VerifyTOTP(t.Context(), u.ID, at(-30*time.Second)); err != nil {
		t.Fatalf("previous step: %v", err)
	}
	if err := f.svc.VerifyTOTP(t.Context(), u.ID, at(30*time.Second)); err != nil {
		t.Fatalf("next step: %v", err)
	}
	// The current step is older than the last accepted one now.
	wantReason(t, f.svc.VerifyTOTP(t.Context(), u.ID, at(0)), ReasonReplayed)
}

// TestTOTPConcurrentReplay races one valid code: exactly one use wins.
func TestTOTPConcurrentReplay(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	seed := []byte("race-test-seed-20byt")
	f.installTOTP(t, u.ID, seed, 6)
	code, _ := totp.GenerateCode(b32.EncodeToString(seed), f.clock.Now())
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, replays := 0, 0
	for range 50 {
		wg.Go(func() {
			err := f.svc.VerifyTOTP(t.Context(), u.ID, code)
			mu.Lock()
			defer mu.Unlock()
			switch Reason(err) {
			case "":
				if err != nil {
					t.Error(err)
				}
				wins++
			case ReasonReplayed:
				replays++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || replays != 49 {
		t.Fatalf("%d wins, %d replays; want 1 and 49", wins, replays)
	}
}

func TestSecretsAreRedacted(t *testing.T) {
	f := newFixture(t, true)
	u := f.user(t, "u_ada")
	e, err := f.svc.BeginTOTP(t.Context(), u.ID, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("enrollment", "key", e.Key, "uri", e.URI, "enrollment", e)
	out := buf.String() + fmt.Sprint(e.Key, e.URI) + fmt.Sprintf("%#v %+v", e.Key, e)
	b, _ := json.Marshal(e)
	out += string(b)
	if strings.Contains(out, e.Key.Reveal()) {
		t.Fatalf("the seed leaked: %s", out)
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
