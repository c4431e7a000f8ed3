package authserver

import (
	"net/http"
	"strings"
	"testing"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// TestPromptAfterPayment: a rule with after_payment asks nothing of a user
// who has never paid, and asks at the first sign-in after a payment.
func TestPromptAfterPayment(t *testing.T) {
	t.Parallel()
	schema := testProfileSchema(t)
	schema.Prompts = []profiles.PromptRule{{Attributes: []string{"phone"}, OnSignIn: 1, AfterPayment: true}}
	if err := schema.Validate(); err != nil {
		t.Fatal(err)
	}
	e := newProfilesEnv(t, schema)
	b := e.browser()
	b.signUp("ada@example.com", password)
	b.signOut()
	if r := b.signIn("ada@example.com", password); r.status != http.StatusSeeOther || strings.HasPrefix(r.header.Get("Location"), "/account/ask") {
		t.Fatalf("sign-in before any payment: %d %q", r.status, r.header.Get("Location"))
	}
	b.signOut()

	ident, err := e.profiles.GetByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// An approved payment, as CIBA and checkout record it.
	if err := e.db.AppendPayment(t.Context(), ident.ID, store.PaymentRecord{Time: e.clock.Now(), Amount: 8990, Currency: "EUR", Payee: "Acme Shop", Strong: true}); err != nil {
		t.Fatal(err)
	}
	r := b.signIn("ada@example.com", password)
	if loc := r.header.Get("Location"); r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/account/ask?rule=0&") {
		t.Fatalf("sign-in after a payment went to %d %q, want the question card", r.status, loc)
	}
}
