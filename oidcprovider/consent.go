package oidcprovider

import (
	"context"
	"errors"
	"slices"

	"github.com/assent-auth/assent/store"
)

// needsConsent reports whether the user must agree before the client gets
// the request's scopes: never for a first-party client; for a third-party
// one when prompt=consent asks, or when no earlier consent covers the
// scopes. A consent given on this request counts.
func (p *Provider) needsConsent(ctx context.Context, a *authRequest, subject string) (bool, error) {
	c, err := p.Client(ctx, a.ClientID)
	if err != nil {
		return false, err
	}
	if c.FirstParty || a.ConsentedBy == subject && subject != "" {
		return false, nil
	}
	if a.PromptConsent {
		return true, nil
	}
	g, err := p.store.GetOIDCConsent(ctx, subject, a.ClientID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, sc := range a.Scopes {
		if !slices.Contains(g.Scopes, sc) {
			return true, nil
		}
	}
	return false, nil
}

// Consent records the user's answer on the consent page for request id.
// Allowed, the consent is remembered (with any scopes granted before) and
// the Decision's Target is the resume page, which goes on with the request
// (Outcome Completed); declined, the request ends with access_denied at
// the client (Outcome Failed). Only the browser that started the request
// may answer (binding.go); anyone else gets ErrUnknownRequest.
func (p *Provider) Consent(ctx context.Context, id string, auth Authentication, allow bool) (Decision, error) {
	a, err := p.boundRequest(ctx, id, &auth)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Outcome: Completed, Target: p.loginURL(id), ClientID: a.ClientID}
	if a.Authenticated {
		return d, nil
	}
	if !allow {
		return p.fail(ctx, a, "access_denied", "the user declined")
	}
	scopes := slices.Clone(a.Scopes)
	if old, err := p.store.GetOIDCConsent(ctx, auth.Subject, a.ClientID); err == nil {
		for _, sc := range old.Scopes {
			if !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return Decision{}, err
	}
	slices.Sort(scopes)
	err = p.store.PutOIDCConsent(ctx, store.OIDCConsent{UserID: auth.Subject, ClientID: a.ClientID, Scopes: scopes, GrantedAt: p.now().UTC()})
	if err != nil {
		return Decision{}, err
	}
	a.ConsentedBy = auth.Subject
	if err := p.putRequest(ctx, a, false); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// Grants lists the third-party clients the user consented to.
func (p *Provider) Grants(ctx context.Context, userID string) ([]store.OIDCConsent, error) {
	return p.store.ListOIDCConsents(ctx, userID)
}

// RevokeGrant withdraws the user's consent to the client and revokes the
// refresh tokens it holds for the user; store.ErrNotFound if there was no
// consent.
func (p *Provider) RevokeGrant(ctx context.Context, userID, clientID string) (int, error) {
	if err := p.store.DeleteOIDCConsent(ctx, userID, clientID); err != nil {
		return 0, err
	}
	return p.store.DeleteUserClientOIDCRefreshTokens(ctx, userID, clientID)
}

// RequestClient returns the client of a pending authorization request.
func (p *Provider) RequestClient(ctx context.Context, id string) (string, error) {
	a, err := p.request(ctx, id)
	if err != nil {
		return "", err
	}
	return a.ClientID, nil
}
