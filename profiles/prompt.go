package profiles

import (
	"context"
	"slices"
	"time"
)

// Prompt is the one short question card to show a user: the attributes of
// one rule they have not given yet, and the purposes those are used for
// that the user has not consented to.
type Prompt struct {
	// Rule is the index of the rule in the schema's prompts.
	Rule       int         `json:"rule"`
	Attributes []Attribute `json:"attributes"`
	Purposes   []Purpose   `json:"purposes,omitempty"`
	Required   bool        `json:"required,omitempty"`
}

// NextPrompt picks the first prompt rule that applies to the user now, or
// returns nil. At sign-in (scopes nil, atSignIn true) rules without a scope
// are considered; when a relying party's request is about to complete
// (atSignIn false), rules whose scope it requested. A rule applies when
// some of its attributes are missing and the user has signed in at least
// OnSignIn times and, for an AfterPayment rule, has made a payment.
func (s *Service) NextPrompt(ctx context.Context, ident Identity, scopes []string, atSignIn bool) (*Prompt, error) {
	for i, r := range s.schema.Prompts {
		if r.Scope == "" && !atSignIn {
			continue
		}
		if r.Scope != "" && !slices.Contains(scopes, r.Scope) {
			continue
		}
		missing := Missing(ident, r.Attributes)
		if len(missing) == 0 {
			continue
		}
		if r.OnSignIn > 0 {
			recs, err := s.store.ListSignIns(ctx, ident.ID, r.OnSignIn)
			if err != nil {
				return nil, err
			}
			if len(recs) < r.OnSignIn {
				continue
			}
		}
		if r.AfterPayment {
			pays, err := s.store.ListPayments(ctx, ident.ID, time.Time{}, 1)
			if err != nil {
				return nil, err
			}
			if len(pays) == 0 {
				continue
			}
		}
		return s.prompt(ctx, ident.ID, i, missing)
	}
	return nil, nil
}

// PromptFor returns rule i's prompt for the user, or nil when the rule does
// not exist or nothing of it is missing.
func (s *Service) PromptFor(ctx context.Context, ident Identity, i int) (*Prompt, error) {
	if i < 0 || i >= len(s.schema.Prompts) {
		return nil, nil
	}
	missing := Missing(ident, s.schema.Prompts[i].Attributes)
	if len(missing) == 0 {
		return nil, nil
	}
	return s.prompt(ctx, ident.ID, i, missing)
}

func (s *Service) prompt(ctx context.Context, userID string, i int, missing []string) (*Prompt, error) {
	p := &Prompt{Rule: i, Required: s.schema.Prompts[i].Required}
	var purposes []string
	for _, n := range missing {
		a, _ := s.schema.Attribute(n)
		p.Attributes = append(p.Attributes, a)
		for _, pu := range a.Purposes {
			if !slices.Contains(purposes, pu) {
				purposes = append(purposes, pu)
			}
		}
	}
	if len(purposes) > 0 {
		granted, err := s.granted(ctx, userID)
		if err != nil {
			return nil, err
		}
		for _, name := range purposes {
			if pu, ok := s.schema.Purpose(name); ok && !granted[name] {
				p.Purposes = append(p.Purposes, pu)
			}
		}
	}
	return p, nil
}
