package oidcprovider

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/assent-auth/assent/acr"
)

// Checkout step-up: an ordinary authorization request may carry
// authorization_details (RFC 9396) describing a payment. The caller
// validates them (SetAuthorizationDetailsParser); the request then stops at
// a Payment outcome until the user approves exactly those details
// (ApprovePayment), and the code it ends with is for tokens that carry
// them, with the claim names the CIBA tokens use.

// ErrorInvalidAuthorizationDetails is the RFC 9396 error code.
const ErrorInvalidAuthorizationDetails = "invalid_authorization_details"

// detailsKey carries the raw authorization_details parameter from the
// authorization endpoint to CreateAuthRequest.
type detailsKey struct{}

// SetAuthorizationDetailsParser installs the validator of the
// authorization_details parameter: it returns the canonical JSON array, or
// an error whose text after the first ": " is safe to show the client.
// Without one, requests carrying the parameter are refused. Call it before
// serving.
func (p *Provider) SetAuthorizationDetailsParser(parse func(raw string) ([]byte, error)) {
	p.parseDetails = parse
}

// authorizationDetails validates raw for CreateAuthRequest; a refusal is
// sent to the client's redirect URI.
func (p *Provider) authorizationDetails(raw string) (json.RawMessage, error) {
	if p.parseDetails == nil {
		return nil, &oidc.Error{ErrorType: ErrorInvalidAuthorizationDetails, Description: "authorization_details are not supported"}
	}
	canonical, err := p.parseDetails(raw)
	if err != nil {
		desc := err.Error()
		if _, after, ok := strings.Cut(desc, ": "); ok {
			desc = after
		}
		return nil, &oidc.Error{ErrorType: ErrorInvalidAuthorizationDetails, Description: desc}
	}
	return canonical, nil
}

// paymentClaims are the claims a token issued for a request carries about
// its approved payment: the same names IssueCIBATokens uses.
func paymentClaims(a *authRequest) map[string]any {
	if len(a.AuthorizationDetails) == 0 || !a.PaymentApproved {
		return nil
	}
	c := map[string]any{"authorization_details": a.AuthorizationDetails}
	if a.Exemption != "" {
		c["psd2_exemption"] = a.Exemption
	}
	return c
}

// ApprovePayment records that the user approved the payment of request id:
// details must be byte for byte what the request carries (the page shows
// the stored details, and posts back what it showed), or the request ends
// with invalid_authorization_details at the client; an approval whose
// methods fall below the request's PaymentLevel ends it with access_denied
// (step_up_required). exemption names the
// PSD2 exemption that spared a new challenge ("" after one). auth is what
// the approval proved; the request then resumes with it, so max_age, acr
// and consent are checked as for any other request. Only the browser that
// started the request may approve (binding.go).
func (p *Provider) ApprovePayment(ctx context.Context, id string, auth Authentication, details []byte, exemption string) (Decision, error) {
	a, err := p.boundRequest(ctx, id, &auth)
	if err != nil {
		return Decision{}, err
	}
	if a.Authenticated || len(a.AuthorizationDetails) == 0 {
		return Decision{}, ErrUnknownRequest
	}
	if !bytes.Equal(details, a.AuthorizationDetails) {
		return p.fail(ctx, a, ErrorInvalidAuthorizationDetails, "the approved details differ from the request")
	}
	if acr.Of(auth.AMR) < a.PaymentLevel {
		return p.fail(ctx, a, "access_denied", "step_up_required")
	}
	a.PaymentApproved, a.Exemption = true, exemption
	if err := p.putRequest(ctx, a, false); err != nil {
		return Decision{}, err
	}
	d, err := p.Resume(ctx, id, &auth)
	if err != nil || d.Outcome == Completed || d.Outcome == Failed {
		return d, err
	}
	// The approval did not complete the request (a sign-in or consent
	// comes first): it is not kept for whoever finishes it later.
	if a, err := p.request(ctx, id); err == nil {
		a.PaymentApproved, a.Exemption = false, ""
		if err := p.putRequest(ctx, a, false); err != nil {
			return Decision{}, err
		}
	}
	return d, nil
}

// Reject ends request id with an error at the client's redirect URI, when
// auth's browser may answer its pages (binding.go); ErrUnknownRequest
// otherwise.
func (p *Provider) Reject(ctx context.Context, id string, auth Authentication, code, desc string) (Decision, error) {
	a, err := p.boundRequest(ctx, id, &auth)
	if err != nil {
		return Decision{}, err
	}
	return p.fail(ctx, a, code, desc)
}

// RequirePaymentLevel records that approving the payment of request id
// needs at least level: the risk engine stepped the payment up beyond what
// the request asks. ApprovePayment then refuses an approval below it. The
// level only ever rises, so a later, milder assessment of the same request
// does not lower it.
func (p *Provider) RequirePaymentLevel(ctx context.Context, id string, level acr.Level) error {
	a, err := p.request(ctx, id)
	if err != nil {
		return err
	}
	if a.Authenticated || len(a.AuthorizationDetails) == 0 {
		return ErrUnknownRequest
	}
	if level <= a.PaymentLevel {
		return nil
	}
	a.PaymentLevel = level
	return p.putRequest(ctx, a, false)
}

// PaymentLevel returns the level an approval of request id's payment must
// reach beyond the request's own acr (acr.None when the risk engine asked
// for nothing more).
func (p *Provider) PaymentLevel(ctx context.Context, id string) (acr.Level, error) {
	a, err := p.request(ctx, id)
	if err != nil {
		return acr.None, err
	}
	return a.PaymentLevel, nil
}

// RedirectURI returns the redirect URI request id ends at, with the code
// or an error: a page whose form finishes the request lets its form
// submission be redirected there (form-action).
func (p *Provider) RedirectURI(ctx context.Context, id string) (string, error) {
	a, err := p.request(ctx, id)
	if err != nil {
		return "", err
	}
	return a.RedirectURI, nil
}
