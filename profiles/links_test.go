package profiles

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestVerificationLink(t *testing.T) {
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, c.Now)
	ctx := t.Context()
	ada, err := s.Create(ctx, NewUser{Email: "ada@example.com", Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	bob, _ := s.Create(ctx, NewUser{Email: "bob@example.com", Password: "correct horse battery"})
	tok, code, err := s.VerificationLink(ctx, ada.ID)
	if err != nil || len(code) != 6 {
		t.Fatalf("VerificationLink = %q, %q, %v", tok, code, err)
	}
	bobTok, _, _ := s.VerificationLink(ctx, bob.ID)

	for name, bad := range map[string]string{
		"empty":          "",
		"garbage":        "not a link",
		"flipped mac":    tamper(tok),
		"other's mac":    strings.SplitN(tok, ".", 2)[0] + "." + strings.SplitN(bobTok, ".", 2)[1],
		"too long":       strings.Repeat("A", 600) + "." + "B",
		"reset purposed": mustReset(t, s, ada.ID),
	} {
		if _, err := s.VerifyEmail(ctx, bad); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s: err = %v, want ErrLinkInvalid", name, err)
		}
	}
	if _, err := s.VerifyEmailCode(ctx, bob.ID, code); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("ada's code for bob: err = %v", err)
	}
	got, err := s.VerifyEmail(ctx, tok)
	if err != nil || !got.EmailVerified || got.ID != ada.ID {
		t.Fatalf("VerifyEmail = %+v, %v", got, err)
	}
	if _, err := s.VerifyEmail(ctx, tok); !errors.Is(err, ErrAlreadyVerified) {
		t.Errorf("reused link: err = %v", err)
	}

	// Expiry: a link lives an hour; a code its window and the next.
	_, bobCode, _ := s.VerificationLink(ctx, bob.ID)
	c.Advance(VerifyLinkTTL + time.Second)
	if _, err := s.VerifyEmail(ctx, bobTok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired link: err = %v", err)
	}
	if _, err := s.VerifyEmailCode(ctx, bob.ID, bobCode); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired code: err = %v", err)
	}
	_, bobCode, _ = s.VerificationLink(ctx, bob.ID)
	if got, err := s.VerifyEmailCode(ctx, bob.ID, bobCode); err != nil || !got.EmailVerified {
		t.Errorf("fresh code: %v", err)
	}
}

func mustReset(t *testing.T, s *Service, id string) string {
	t.Helper()
	tok, err := s.ResetLink(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestResetLink(t *testing.T) {
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, c.Now)
	ctx := t.Context()
	ada, _ := s.Create(ctx, NewUser{Email: "ada@example.com", Password: "correct horse battery"})
	old := mustReset(t, s, ada.ID)
	tok := mustReset(t, s, ada.ID)
	if _, err := s.CheckResetLink(ctx, tok); err != nil {
		t.Fatalf("CheckResetLink: %v", err)
	}
	var ve *ValidationError
	if _, err := s.ResetPassword(ctx, tok, "short"); !errors.As(err, &ve) {
		t.Errorf("weak password: err = %v", err)
	}

	// Ten concurrent resets with one link: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := s.ResetPassword(ctx, tok, "a brand new passphrase"); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrLinkInvalid) {
				t.Errorf("ResetPassword: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d resets succeeded with one link, want 1", wins.Load())
	}
	if _, _, err := s.Authenticate(ctx, "ada@example.com", "a brand new passphrase"); err != nil {
		t.Errorf("sign-in with the new password: %v", err)
	}
	for name, bad := range map[string]string{"used": tok, "older": old} {
		if _, err := s.CheckResetLink(ctx, bad); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("%s link: err = %v", name, err)
		}
	}
	// A password change voids a link; so does expiry.
	tok = mustReset(t, s, ada.ID)
	if err := s.SetPassword(ctx, ada.ID, "yet another passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(ctx, tok, "sneaky new passphrase"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("link after a password change: err = %v", err)
	}
	tok = mustReset(t, s, ada.ID)
	c.Advance(ResetLinkTTL)
	if _, err := s.CheckResetLink(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired link: err = %v", err)
	}
	// A locked account cannot be reset.
	tok = mustReset(t, s, ada.ID)
	if _, err := s.Lock(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPassword(ctx, tok, "locked out passphrase"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("locked account: err = %v", err)
	}
}

func FuzzResetLink(f *testing.F) {
	f.Add("")
	f.Add("AQAAAABn.AAAA")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		// Never panics, never accepts what was not issued.
		if _, _, _, _, err := parseLink(purposeReset, tok); err == nil && len(tok) > maxLinkLength {
			t.Fatalf("accepted a %d-byte link", len(tok))
		}
	})
}

func TestEmailChangeLinks(t *testing.T) {
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, _ := newService(t, c.Now)
	ctx := t.Context()
	ada, _ := s.Create(ctx, NewUser{Email: "ada@example.com", Password: "correct horse battery"})
	if _, err := s.Create(ctx, NewUser{Email: "bob@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EmailChangeLink(ctx, ada.ID, "bob@example.com"); !errors.Is(err, ErrEmailTaken) {
		t.Errorf("taken address: %v", err)
	}
	tok, err := s.EmailChangeLink(ctx, ada.ID, "ada@new.example")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(tok, "ada") {
		t.Error("link shows the address")
	}
	// An undo link cannot stand in for a confirmation, nor the reverse.
	if _, err := s.UndoEmailChange(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("confirmation used as undo: %v", err)
	}
	if _, _, _, err := s.ConfirmEmailChange(ctx, tok[:len(tok)-2]+"AA"); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("forged link: %v", err)
	}
	ident, old, undo, err := s.ConfirmEmailChange(ctx, tok)
	if err != nil || ident.Email != "ada@new.example" || old != "ada@example.com" {
		t.Fatalf("ConfirmEmailChange = %+v %q %v", ident, old, err)
	}
	if _, _, _, err := s.ConfirmEmailChange(ctx, tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("reused confirmation: %v", err)
	}
	if _, _, _, err := s.ConfirmEmailChange(ctx, undo); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("undo used as confirmation: %v", err)
	}
	c.Advance(EmailUndoTTL)
	if _, err := s.UndoEmailChange(ctx, undo); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired undo: %v", err)
	}
}

func TestReportNotMe(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	s, db := newService(t, func() time.Time { return now })
	u, err := s.Create(t.Context(), NewUser{Email: "rep@example.com", Password: "a good passphrase"})
	if err != nil {
		t.Fatal(err)
	}
	db.CreateSession(t.Context(), store.Session{IDHash: []byte("h1"), UserID: u.ID, ExpiresAt: now.Add(time.Hour)})
	if err := db.CreateOIDCRefreshToken(t.Context(), store.OIDCRefreshToken{TokenHash: []byte("rt"), Family: "f", UserID: u.ID,
		ClientID: "shop", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok := s.ReportLink(u.ID)

	// A forged or altered link does nothing.
	for _, bad := range []string{"", "x.y", tamper(tok), strings.Replace(tok, ".", "x.", 1)} {
		if _, err := s.ReportNotMe(t.Context(), bad); !errors.Is(err, ErrLinkInvalid) {
			t.Errorf("ReportNotMe(%q) = %v", bad, err)
		}
	}
	// A reset link is not a report link.
	reset, _ := s.ResetLink(t.Context(), u.ID)
	if _, err := s.ReportNotMe(t.Context(), reset); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("a reset link worked as a report link: %v", err)
	}

	got, err := s.ReportNotMe(t.Context(), tok)
	if err != nil || !got.TemporarilyLocked(now) {
		t.Fatalf("report: %+v %v", got, err)
	}
	if _, _, err := s.Authenticate(t.Context(), "rep@example.com", "a good passphrase"); err == nil {
		t.Error("the right password still signs in after a report")
	}
	if _, err := db.GetSession(t.Context(), []byte("h1")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after report: %v", err)
	}
	if _, err := db.GetOIDCRefreshToken(t.Context(), []byte("rt")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refresh token after report: %v", err)
	}
	if at, _ := db.LastReport(t.Context(), u.ID); !at.Equal(now) {
		t.Errorf("last report = %v", at)
	}
	// A password reset is the way back in.
	reset, _ = s.ResetLink(t.Context(), u.ID)
	if _, err := s.ResetPassword(t.Context(), reset, "a new good passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(t.Context(), "rep@example.com", "a new good passphrase"); err != nil {
		t.Errorf("sign-in after reset: %v", err)
	}
	// The link expires after a week.
	now = now.Add(ReportLinkTTL + time.Second)
	if _, err := s.ReportNotMe(t.Context(), tok); !errors.Is(err, ErrLinkInvalid) {
		t.Errorf("expired link: %v", err)
	}
}

// tamper changes one base64url character of a token's MAC, 10 from its
// end, where all six bits count: replacing the last characters may change
// only padding bits, or nothing when they were the same.
func tamper(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
