package devices

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// paymentNonce is the random part of a payment-linked challenge.
const paymentNonce = 16

// BeginPayment starts a second-factor ceremony of userID whose challenge is
// linked to a payment: 16 random bytes followed by linked (the SHA-256 of
// the exact payment details), so the authenticator's signature covers the
// payment (PSD2 dynamic linking). User verification is required. It is
// answered with FinishSecondFactor; PaymentLinked then checks the link.
func (s *Service) BeginPayment(ctx context.Context, userID string, linked []byte) ([]byte, Ceremony, error) {
	if len(linked) == 0 {
		return nil, Ceremony{}, fmt.Errorf("begin payment passkey: nothing to link")
	}
	ch := make([]byte, paymentNonce, paymentNonce+len(linked))
	rand.Read(ch)
	ch = append(ch, linked...)
	withChallenge := func(o *protocol.PublicKeyCredentialRequestOptions) error {
		o.Challenge = ch
		return nil
	}
	return s.beginUserAssertion(ctx, userID, "begin payment passkey", webauthn.WithUserVerification(protocol.VerificationRequired), withChallenge)
}

// PaymentLinked reports whether c is a payment ceremony (BeginPayment)
// linked to linked.
func PaymentLinked(c Ceremony, linked []byte) bool {
	ch, err := base64.RawURLEncoding.DecodeString(c.Session.Challenge)
	return err == nil && len(linked) > 0 && len(ch) == paymentNonce+len(linked) && bytes.Equal(ch[paymentNonce:], linked) &&
		c.Session.UserVerification == protocol.VerificationRequired
}
