package oidcprovider

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/assent-auth/assent/acr"
)

// Authentication is what a browser session proves about its user.
type Authentication struct {
	Subject  string
	AuthTime time.Time
	// AMR lists the methods used (RFC 8176 values).
	AMR []string
	// Session is the browser session's id hash: refresh tokens issued on
	// it are revoked when it ends (EndBrowserSession).
	Session []byte
	// Browser is the hash of the browser's binding nonce (WithBrowser):
	// only the browser that started a request sees and answers its consent
	// and payment pages (binding.go).
	Browser []byte
}

// Outcome is what Resume decided.
type Outcome int

const (
	// Completed: send the browser to Decision.Target, which issues the
	// code to the client.
	Completed Outcome = iota
	// SignIn: the user must (re-)authenticate, then come back to Resume.
	SignIn
	// Failed: send the browser to Decision.Target, the client's redirect
	// URI carrying an error.
	Failed
	// Consent: a third-party client asks for Decision.Scopes and the user
	// has not agreed yet; show the consent page, then call Consent.
	Consent
	// Payment: the request carries Decision.AuthorizationDetails that the
	// user has not approved yet; show them, then call ApprovePayment or
	// Reject (payment.go).
	Payment
)

// Decision is the result of Resume.
type Decision struct {
	Outcome Outcome
	Target  string
	// ClientID, ACR and Error describe the decision for the audit log.
	// Scopes are what the client requested (on Completed), so the caller
	// can ask the user for profile data the client will need.
	Scopes   []string
	ClientID string
	ACR      string
	Error    string
	// Want is the level the sign-in should reach, on a SignIn outcome: the
	// sign-in page then asks for a second factor even when the risk engine
	// would have let a password through.
	Want acr.Level
	// AuthorizationDetails and PromptNone describe a Payment outcome.
	AuthorizationDetails json.RawMessage
	PromptNone           bool
}

// ErrUnknownRequest reports an authorization request that does not exist
// or has expired.
var ErrUnknownRequest = errUnknownRequest

// Resume decides whether the authorization request id can complete with
// auth (nil when the browser has no session).
//
// The user is sent to sign in when the session is older than max_age
// (prompt=login counts as max_age=0: only an authentication after this
// request sent the user to sign in satisfies it), when its level is below what an essential acr
// claim or the client's minimum requires, or when it is below acr_values
// (a preference, asked once: after a fresh sign-in the best level reached
// is accepted). A fresh authentication still below a required level ends
// with unmet_authentication_requirements; prompt=none ends with
// login_required wherever a sign-in would be needed.
func (p *Provider) Resume(ctx context.Context, id string, auth *Authentication) (Decision, error) {
	a, err := p.request(ctx, id)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{ClientID: a.ClientID}
	if a.Authenticated {
		d.Outcome, d.Target, d.ACR, d.Scopes = Completed, p.callbackURL(id), a.ACR, a.Scopes
		return d, nil
	}
	if a.Unmeetable {
		return p.fail(ctx, a, "unmet_authentication_requirements", "none of the essential acr values is supported")
	}
	if auth == nil {
		if a.PromptNone {
			return p.fail(ctx, a, "login_required", "")
		}
		return p.signIn(ctx, a)
	}
	// Fresh: the user authenticated after this request sent them to.
	fresh := !a.SignInAt.IsZero() && !auth.AuthTime.Before(a.SignInAt)
	ageOK := true
	if a.MaxAge != nil {
		if *a.MaxAge == 0 {
			ageOK = fresh
		} else {
			ageOK = p.now().Sub(auth.AuthTime) <= time.Duration(*a.MaxAge)*time.Second
		}
	}
	level := acr.Of(auth.AMR)
	if !ageOK || level < a.Required || (level < a.Preferred && !fresh) {
		if fresh && level < a.Required {
			return p.fail(ctx, a, "unmet_authentication_requirements", "the required authentication level was not reached")
		}
		if a.PromptNone {
			return p.fail(ctx, a, "login_required", "")
		}
		return p.signIn(ctx, a)
	}
	if need, err := p.needsConsent(ctx, a, auth.Subject); err != nil {
		return Decision{}, err
	} else if need {
		if a.PromptNone {
			return p.fail(ctx, a, "consent_required", "")
		}
		if ok, err := p.bindPage(ctx, a, auth); err != nil || !ok {
			return Decision{}, cmp.Or(err, ErrUnknownRequest)
		}
		d.Outcome, d.Scopes = Consent, a.Scopes
		return d, nil
	}
	if len(a.AuthorizationDetails) > 0 && !a.PaymentApproved {
		if ok, err := p.bindPage(ctx, a, auth); err != nil || !ok {
			return Decision{}, cmp.Or(err, ErrUnknownRequest)
		}
		d.Outcome, d.Scopes, d.AuthorizationDetails, d.PromptNone = Payment, a.Scopes, a.AuthorizationDetails, a.PromptNone
		return d, nil
	}
	a.Session = auth.Session
	a.Subject, a.AuthTime, a.AMR, a.ACR = auth.Subject, auth.AuthTime.UTC().Truncate(time.Second), auth.AMR, level.String()
	a.Authenticated = true
	if err := p.putRequest(ctx, a, false); err != nil {
		return Decision{}, err
	}
	d.Outcome, d.Target, d.ACR, d.Scopes = Completed, p.callbackURL(id), a.ACR, a.Scopes
	return d, nil
}

// signIn records when the user was sent to sign in: an authentication at
// or after that time is fresh for this request.
func (p *Provider) signIn(ctx context.Context, a *authRequest) (Decision, error) {
	a.SignInAt = p.now().UTC()
	if err := p.putRequest(ctx, a, false); err != nil {
		return Decision{}, err
	}
	return Decision{Outcome: SignIn, ClientID: a.ClientID, Want: max(a.Required, a.Preferred)}, nil
}

func (p *Provider) callbackURL(id string) string {
	return issuerString(p.issuer) + "/authorize/callback?id=" + url.QueryEscape(id)
}

// fail ends the request with an error sent to the client's (registered,
// already checked) redirect URI.
func (p *Provider) fail(ctx context.Context, a *authRequest, code, desc string) (Decision, error) {
	u, err := url.Parse(a.RedirectURI)
	if err != nil {
		return Decision{}, errors.New("stored redirect uri does not parse")
	}
	q := u.Query()
	q.Set("error", code)
	if desc != "" {
		q.Set("error_description", desc)
	}
	if a.State != "" {
		q.Set("state", a.State)
	}
	q.Set("iss", issuerString(p.issuer))
	u.RawQuery = q.Encode()
	if err := p.store.DeleteOIDCAuthRequest(ctx, a.ID); err != nil {
		p.log.ErrorContext(ctx, "delete failed auth request", "err", err)
	}
	return Decision{Outcome: Failed, Target: u.String(), ClientID: a.ClientID, Error: code}, nil
}
