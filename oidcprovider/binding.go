package oidcprovider

import (
	"context"
	"crypto/subtle"
)

// An authorization request's consent and payment pages belong to the
// browser that started it. The caller (authserver) gives every browser
// that reaches the authorization endpoint a random nonce in a cookie and
// hands its hash in with WithBrowser; CreateAuthRequest keeps it with the
// request. Only a browser presenting the same nonce (Authentication.Browser)
// is shown the pages, and only its answers (Consent, ApprovePayment,
// Reject, BoundClient) count. A request stored without a browser (one that
// did not pass the authorization endpoint's wrapper) is bound instead to
// the first user it showed a page to. Anyone else is told the request does
// not exist (ErrUnknownRequest), exactly as for a random id.

type browserKey struct{}

// WithBrowser returns ctx carrying the hash of the browser's binding nonce
// for the authorization request the authorization endpoint will create.
func WithBrowser(ctx context.Context, hash []byte) context.Context {
	return context.WithValue(ctx, browserKey{}, hash)
}

func browserOf(ctx context.Context) []byte {
	b, _ := ctx.Value(browserKey{}).([]byte)
	return b
}

// answerable reports whether auth may see and answer a's pages.
func (a *authRequest) answerable(auth *Authentication) bool {
	if auth == nil {
		return false
	}
	if len(a.Browser) > 0 {
		return subtle.ConstantTimeCompare(a.Browser, auth.Browser) == 1
	}
	return a.PageUser != "" && a.PageUser == auth.Subject
}

// bindPage checks that auth may be shown a's consent or payment page,
// binding a request stored without a browser to auth's user the first time.
func (p *Provider) bindPage(ctx context.Context, a *authRequest, auth *Authentication) (bool, error) {
	if len(a.Browser) == 0 && a.PageUser == "" && auth != nil && auth.Subject != "" {
		a.PageUser = auth.Subject
		if err := p.putRequest(ctx, a, false); err != nil {
			return false, err
		}
	}
	return a.answerable(auth), nil
}

// boundRequest loads request id for an answer on its pages by auth:
// ErrUnknownRequest when it does not exist or belongs to another browser.
func (p *Provider) boundRequest(ctx context.Context, id string, auth *Authentication) (*authRequest, error) {
	a, err := p.request(ctx, id)
	if err != nil {
		return nil, err
	}
	if !a.answerable(auth) {
		return nil, ErrUnknownRequest
	}
	return a, nil
}

// BoundClient returns the client of pending request id when auth's browser
// may answer its pages; ErrUnknownRequest otherwise.
func (p *Provider) BoundClient(ctx context.Context, id string, auth Authentication) (string, error) {
	a, err := p.boundRequest(ctx, id, &auth)
	if err != nil {
		return "", err
	}
	return a.ClientID, nil
}
