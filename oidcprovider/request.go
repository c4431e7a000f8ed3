package oidcprovider

import (
	"encoding/json"
	"errors"
	"github.com/assent-auth/assent/acr"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is an authorization request as stored (JSON inside
// store.OIDCAuthRequest.Request), and also what a refresh token stands for:
// both go into tokens through the same methods.
type authRequest struct {
	ID                  string                   `json:"id"`
	CreatedAt           time.Time                `json:"created_at"`
	ClientID            string                   `json:"client_id"`
	RedirectURI         string                   `json:"redirect_uri"`
	State               string                   `json:"state,omitempty"`
	Nonce               string                   `json:"nonce,omitempty"`
	Scopes              []string                 `json:"scopes"`
	ResponseType        oidc.ResponseType        `json:"response_type"`
	ResponseMode        oidc.ResponseMode        `json:"response_mode,omitempty"`
	CodeChallenge       string                   `json:"code_challenge,omitempty"`
	CodeChallengeMethod oidc.CodeChallengeMethod `json:"code_challenge_method,omitempty"`
	// PromptNone and MaxAge come from prompt and max_age; prompt=login
	// arrives as max_age=0.
	PromptNone bool  `json:"prompt_none,omitempty"`
	MaxAge     *uint `json:"max_age,omitempty"`
	// Preferred is the lowest level acr_values asks for (a preference).
	Preferred acr.Level `json:"preferred,omitempty"`
	// Required is the lowest level an essential acr claim or the client's
	// minimum allows; Unmeetable marks an essential acr claim that names no
	// value Assent issues.
	Required   acr.Level `json:"required,omitempty"`
	Unmeetable bool      `json:"unmeetable,omitempty"`
	// SignInAt is when the request last sent the user to sign in.
	SignInAt time.Time `json:"sign_in_at,omitzero"`

	// Set when the user has authenticated well enough.
	Subject       string    `json:"subject,omitempty"`
	AuthTime      time.Time `json:"auth_time,omitzero"`
	AMR           []string  `json:"amr,omitempty"`
	ACR           string    `json:"acr,omitempty"`
	Authenticated bool      `json:"done,omitempty"`

	// Redeemed is set when the code was exchanged; Family names the refresh
	// token family issued from it, revoked if the code comes back.
	Redeemed bool   `json:"redeemed,omitempty"`
	Family   string `json:"family,omitempty"`

	// PromptConsent comes from prompt=consent; ConsentedBy is the user who
	// agreed on the consent page for this request.
	PromptConsent bool   `json:"prompt_consent,omitempty"`
	ConsentedBy   string `json:"consented_by,omitempty"`
	// Session is the id hash of the browser session that authorized the
	// request (a refresh token's, for a refresh).
	Session []byte `json:"session,omitempty"`
	// Browser is the hash of the binding nonce of the browser that started
	// the request; PageUser, for a request stored without one, the user
	// first shown its consent or payment page (binding.go).
	Browser  []byte `json:"browser,omitempty"`
	PageUser string `json:"page_user,omitempty"`

	// AuthorizationDetails is the request's canonical RFC 9396 array (a
	// payment at checkout, payment.go); PaymentApproved is set when the
	// user approved exactly these bytes, Exemption when a PSD2 exemption
	// let them through without a new challenge.
	AuthorizationDetails json.RawMessage `json:"authorization_details,omitempty"`
	PaymentApproved      bool            `json:"payment_approved,omitempty"`
	Exemption            string          `json:"psd2_exemption,omitempty"`
	// PaymentLevel is the level an approval of the payment must reach,
	// when the risk engine stepped it up beyond what the request asks
	// (RequirePaymentLevel).
	PaymentLevel acr.Level `json:"payment_level,omitempty"`
}

var (
	_ op.AuthRequest         = (*authRequest)(nil)
	_ op.RefreshTokenRequest = (*authRequest)(nil)
)

func (a *authRequest) GetID() string                      { return a.ID }
func (a *authRequest) GetACR() string                     { return a.ACR }
func (a *authRequest) GetAMR() []string                   { return a.AMR }
func (a *authRequest) GetAudience() []string              { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time             { return a.AuthTime }
func (a *authRequest) GetClientID() string                { return a.ClientID }
func (a *authRequest) GetNonce() string                   { return a.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.Authenticated }
func (a *authRequest) SetCurrentScopes(s []string)        { a.Scopes = s }

func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: a.CodeChallengeMethod}
}

// claimsRequest is the part of the claims parameter (OpenID Connect Core
// 5.5) Assent acts on: an acr request for the ID token.
type claimsRequest struct {
	IDToken map[string]*claimRequest `json:"id_token"`
}

type claimRequest struct {
	Essential bool     `json:"essential"`
	Value     string   `json:"value"`
	Values    []string `json:"values"`
}

var errMalformedClaims = errors.New("malformed claims parameter")

// essentialACR parses the claims parameter and returns the acr values of an
// essential acr claim; nil when there is none.
func essentialACR(raw string) (values []string, essential bool, err error) {
	if raw == "" {
		return nil, false, nil
	}
	if len(raw) > 4096 {
		return nil, false, errMalformedClaims
	}
	var c claimsRequest
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		return nil, false, errMalformedClaims
	}
	claim := c.IDToken["acr"]
	if claim == nil || !claim.Essential {
		return nil, false, nil
	}
	values = claim.Values
	if claim.Value != "" {
		values = append(values, claim.Value)
	}
	return values, true, nil
}
