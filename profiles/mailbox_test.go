package profiles

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

// TestMailboxProofDropsUnverifiedLinks: an upstream link made on an
// unverified address does not survive the address owner's proof of the
// mailbox, nor do the sessions made with it; a link made after proving
// the account stays.
func TestMailboxProofDropsUnverifiedLinks(t *testing.T) {
	c := &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s, db := newService(t, c.Now)
	ctx := t.Context()
	ada, err := s.Create(ctx, NewUser{Email: "ada@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, ada.ID, "careless", "https://careless.example", "intruder", true); err != nil {
		t.Fatal(err)
	}
	if err := s.Link(ctx, ada.ID, "acme", "https://id.example", "ada", false); err != nil {
		t.Fatal(err)
	}
	sess := store.Session{IDHash: make([]byte, 32), UserID: ada.ID, CreatedAt: c.Now(), ExpiresAt: c.Now().Add(time.Hour)}
	if err := db.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}

	tok, _, err := s.VerificationLink(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyEmail(ctx, tok); err != nil {
		t.Fatalf("VerifyEmail: %v", err)
	}
	if _, err := s.LinkedUser(ctx, "https://careless.example", "intruder"); err != ErrNotFound {
		t.Errorf("the unverified link survived the verification: %v", err)
	}
	if got, err := s.LinkedUser(ctx, "https://id.example", "ada"); err != nil || got.ID != ada.ID {
		t.Errorf("the proven link is gone: %v", err)
	}
	if _, err := db.GetSession(ctx, sess.IDHash); err == nil {
		t.Error("a session made before the mailbox proof survived it")
	}
	// Nothing more to drop: a second proof changes nothing.
	if n, err := s.MailboxProven(ctx, ada.ID); n != 0 || err != nil {
		t.Errorf("MailboxProven again = %d, %v", n, err)
	}
}
