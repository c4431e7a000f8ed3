package profiles

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/assent-auth/assent/store"
)

// ConsentState is a user's current decision about one purpose.
type ConsentState struct {
	Purpose Purpose `json:"purpose"`
	// Granted reports consent to the purpose's current text version.
	Granted bool `json:"granted"`
	// Latest is the user's last record for the purpose, if any.
	Latest *store.ConsentRecord `json:"latest,omitempty"`
}

// Consents returns the user's consent history (oldest first) and the
// current state of every declared purpose.
func (s *Service) Consents(ctx context.Context, id string) ([]ConsentState, []store.ConsentRecord, error) {
	hist, err := s.store.ListConsents(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if hist == nil {
		hist = []store.ConsentRecord{}
	}
	return s.consentStates(hist), hist, nil
}

func (s *Service) consentStates(hist []store.ConsentRecord) []ConsentState {
	out := make([]ConsentState, 0, len(s.schema.Purposes))
	for _, p := range s.schema.Purposes {
		st := ConsentState{Purpose: p}
		for i := len(hist) - 1; i >= 0; i-- {
			if hist[i].Purpose == p.Name {
				r := hist[i]
				st.Latest = &r
				st.Granted = r.Granted && r.Version == p.Version
				break
			}
		}
		out = append(out, st)
	}
	return out
}

// granted returns the purposes the user currently consents to.
func (s *Service) granted(ctx context.Context, id string) (map[string]bool, error) {
	hist, err := s.store.ListConsents(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, st := range s.consentStates(hist) {
		if st.Granted {
			out[st.Purpose.Name] = true
		}
	}
	return out, nil
}

// SetConsent records that the user gave (granted) or withdrew consent to a
// declared purpose, against its current text version. The record is
// appended: the history is never rewritten. An unknown purpose is a
// *ValidationError.
func (s *Service) SetConsent(ctx context.Context, id, purpose string, granted bool, channel, clientID string) (store.ConsentRecord, error) {
	p, ok := s.schema.Purpose(purpose)
	if !ok {
		return store.ConsentRecord{}, &ValidationError{Field: "purpose", Code: "unknown", Message: "There is no such purpose."}
	}
	r := store.ConsentRecord{UserID: id, Purpose: p.Name, Granted: granted, Version: p.Version,
		Channel: channel, ClientID: clientID, Time: s.now().UTC()}
	seq, err := s.store.AppendConsent(ctx, r)
	if errors.Is(err, store.ErrNotFound) {
		return store.ConsentRecord{}, ErrNotFound
	}
	if err != nil {
		return store.ConsentRecord{}, fmt.Errorf("record consent: %w", err)
	}
	r.Seq = seq
	return r, nil
}

// Claims returns the attribute claims to release for a user to a relying
// party granted scopes: each attribute whose scope was granted, which has
// a value, and to all of whose purposes the user currently consents.
func (s *Service) Claims(ctx context.Context, id string, scopes []string) (map[string]any, error) {
	var wanted []Attribute
	for _, a := range s.schema.Attributes {
		if a.Scope != "" && slices.Contains(scopes, a.Scope) {
			wanted = append(wanted, a)
		}
	}
	if len(wanted) == 0 {
		return nil, nil
	}
	ident, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	var consented map[string]bool
	out := map[string]any{}
	for _, a := range wanted {
		v, ok := ident.Attributes[a.Name]
		if !ok || v == "" {
			continue
		}
		if len(a.Purposes) > 0 && consented == nil {
			if consented, err = s.granted(ctx, id); err != nil {
				return nil, err
			}
		}
		ok = true
		for _, p := range a.Purposes {
			ok = ok && consented[p]
		}
		if ok {
			out[a.Claim] = a.ClaimValue(v)
		}
	}
	return out, nil
}
