package profiles

import (
	"context"
	"slices"
)

// SyncPayload is what a downstream system that uses data for purposes
// receives about a user: the user id and the user's consent to each of
// those purposes always; the e-mail and name only if the user consents to
// at least one of them; and each attribute tied to one of them whose
// purposes the user all consents to. Attributes without purposes and
// high-sensitivity ones are never sent.
func (s *Service) SyncPayload(ctx context.Context, userID string, purposes []string) (map[string]any, error) {
	ident, err := s.Get(ctx, userID)
	if err != nil {
		return nil, err
	}
	granted, err := s.granted(ctx, userID)
	if err != nil {
		return nil, err
	}
	consents := map[string]bool{}
	some := false
	for _, p := range purposes {
		consents[p] = granted[p]
		some = some || granted[p]
	}
	out := map[string]any{"user_id": userID, "consents": consents}
	if !some {
		return out, nil
	}
	out["email"] = ident.Email
	out["email_verified"] = ident.EmailVerified
	if ident.Name != "" {
		out["name"] = ident.Name
	}
	attrs := map[string]any{}
	for _, a := range s.schema.Attributes {
		v := ident.Attributes[a.Name]
		if v == "" || a.Sensitivity == SensitivityHigh || len(a.Purposes) == 0 {
			continue
		}
		ok, serves := true, false
		for _, p := range a.Purposes {
			ok = ok && granted[p]
			serves = serves || slices.Contains(purposes, p)
		}
		if ok && serves {
			attrs[a.Name] = a.ClaimValue(v)
		}
	}
	out["attributes"] = attrs
	return out, nil
}
