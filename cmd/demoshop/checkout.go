package main

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Browser checkout: the shop sends the shopper's browser to Assent with an
// ordinary authorization request (code flow with PKCE) carrying the payment
// as authorization_details and acr_values=mfa. Assent shows the amount and
// payee, has the shopper approve (in the app or with a passkey linked to the
// payment) and sends the browser back with a code; the shop redeems it and
// ships only when the verified ID token and the token response carry
// exactly the details it asked for.

// checkoutCookie binds a checkout's state to the browser that started it.
const checkoutCookie = "demoshop_checkout"

// checkoutTTL is how long a browser checkout may take.
const checkoutTTL = 10 * time.Minute

// checkout is a browser checkout waiting for its callback.
type checkout struct {
	verifier string
	nonce    string
	details  string
	expires  time.Time
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := rand.Text(), rand.Text(), oauth2.GenerateVerifier()
	c := &checkout{verifier: verifier, nonce: nonce, details: paymentDetails(cartTotal), expires: s.cfg.Now().Add(checkoutTTL)}
	s.mu.Lock()
	for k, old := range s.checkouts {
		if s.cfg.Now().After(old.expires) {
			delete(s.checkouts, k)
		}
	}
	s.checkouts[state] = c
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: checkoutCookie, Value: state, Path: "/callback", MaxAge: int(checkoutTTL.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: strings.HasPrefix(s.cfg.URL, "https:")})
	http.Redirect(w, r, s.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce),
		oauth2.SetAuthURLParam("acr_values", "mfa"), oauth2.SetAuthURLParam("authorization_details", c.details)), http.StatusSeeOther)
}

// takeCheckout returns the checkout the callback's state names, once, when
// this browser started it.
func (s *shop) takeCheckout(r *http.Request) *checkout {
	state := r.URL.Query().Get("state")
	ck, err := r.Cookie(checkoutCookie)
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(state)) != 1 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.checkouts[state]
	delete(s.checkouts, state)
	if c == nil || s.cfg.Now().After(c.expires) {
		return nil
	}
	return c
}

func (s *shop) callback(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: checkoutCookie, Path: "/callback", MaxAge: -1})
	c := s.takeCheckout(r)
	if c == nil {
		render(w, http.StatusBadRequest, cartPage, map[string]any{"Cart": cart, "Total": cartTotal, "Payee": payee, "Browser": true,
			"Error": "This checkout is unknown, expired or was not started in this browser."})
		return
	}
	o := &order{ID: rand.Text()[:12], Email: "you", Total: cartTotal, details: c.details}
	s.finishCheckout(r, c, o)
	s.mu.Lock()
	s.orders[o.ID] = o
	s.mu.Unlock()
	http.Redirect(w, r, "/order/"+o.ID, http.StatusSeeOther)
}

// finishCheckout sets o's outcome from the callback: the error Assent
// sent, or the verified tokens for the code.
func (s *shop) finishCheckout(r *http.Request, c *checkout, o *order) {
	q := r.URL.Query()
	o.Outcome = "failed"
	if e := q.Get("error"); e != "" {
		o.Reason = strings.TrimSpace(e + " " + q.Get("error_description"))
		return
	}
	ctx := oidc.ClientContext(r.Context(), s.hc)
	tok, err := s.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(c.verifier))
	if err != nil {
		s.cfg.Logger.Warn("code exchange failed", "err", err)
		o.Reason = "the code could not be redeemed"
		return
	}
	o.Reason = "the tokens did not verify"
	raw, _ := tok.Extra("id_token").(string)
	idt, err := s.verifier.Verify(ctx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(c.nonce)) != 1 {
		s.cfg.Logger.Warn("ID token refused", "err", err)
		return
	}
	var claims struct {
		ACR     string          `json:"acr"`
		AMR     []string        `json:"amr"`
		Details json.RawMessage `json:"authorization_details"`
		Exempt  string          `json:"psd2_exemption"`
	}
	inResponse, _ := json.Marshal(tok.Extra("authorization_details"))
	if err := idt.Claims(&claims); err != nil || !sameJSON(claims.Details, []byte(c.details)) || !sameJSON(inResponse, []byte(c.details)) {
		o.Reason = "the approval is not for this payment"
		return
	}
	o.Outcome, o.Reason, o.ACR, o.AMR, o.Exempt, o.Approved = "paid", "", claims.ACR, claims.AMR, claims.Exempt, describeDetails(claims.Details)
}

// describeDetails renders approved payment_initiation details for the
// order page: "EUR 89.90 to Demo Shop (DE89...)".
func describeDetails(raw json.RawMessage) string {
	var ds []struct {
		Amount struct {
			Currency string `json:"currency"`
			Amount   string `json:"amount"`
		} `json:"instructedAmount"`
		Creditor string `json:"creditorName"`
		Account  struct {
			IBAN string `json:"iban"`
		} `json:"creditorAccount"`
	}
	if json.Unmarshal(raw, &ds) != nil || len(ds) != 1 {
		return ""
	}
	d := ds[0]
	out := fmt.Sprintf("%s %s to %s", d.Amount.Currency, d.Amount.Amount, d.Creditor)
	if d.Account.IBAN != "" {
		out += " (" + d.Account.IBAN + ")"
	}
	return out
}
