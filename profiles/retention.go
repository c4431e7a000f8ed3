package profiles

import (
	"context"
	"fmt"
	"time"
)

// Retention sets how long accounts are kept without use. Zero keeps them.
type Retention struct {
	// Unverified erases accounts whose e-mail was never verified this long
	// after they were created.
	Unverified time.Duration `yaml:"unverified" json:"unverified,omitempty"`
	// Inactive erases accounts with no sign-in (or, never signed in, no
	// creation) for this long.
	Inactive time.Duration `yaml:"inactive" json:"inactive,omitempty"`
}

// Retention reasons.
const (
	ReasonUnverified = "unverified"
	ReasonInactive   = "inactive"
)

func (r Retention) validate(bad func(field, format string, a ...any)) {
	if r.Unverified != 0 && r.Unverified < 24*time.Hour {
		bad("retention.unverified", "%v must be at least 24h (or 0 to keep unverified accounts)", r.Unverified)
	}
	if r.Inactive != 0 && r.Inactive < 30*24*time.Hour {
		bad("retention.inactive", "%v must be at least 720h (or 0 to keep inactive accounts)", r.Inactive)
	}
}

// Expired reports whether the identity is past the retention limits at now,
// and why.
func (r Retention) Expired(id Identity, now time.Time) (string, bool) {
	if r.Unverified > 0 && !id.EmailVerified && id.CreatedAt.Before(now.Add(-r.Unverified)) {
		return ReasonUnverified, true
	}
	last := id.LastSignIn
	if last.IsZero() {
		last = id.CreatedAt
	}
	if r.Inactive > 0 && last.Before(now.Add(-r.Inactive)) {
		return ReasonInactive, true
	}
	return "", false
}

// Purged is one account a retention run erased.
type Purged struct {
	UserID    string
	Pseudonym string
	Reason    string
}

// PurgeExpired erases every account past the schema's retention limits at
// now, calling erased after each, and returns how many accounts it checked.
// An erasure that fails is reported and the run goes on; the error returned
// is the first one.
func (s *Service) PurgeExpired(ctx context.Context, now time.Time, erased func(Purged)) (int, error) {
	r := s.schema.Retention
	if r.Unverified == 0 && r.Inactive == 0 {
		return 0, nil
	}
	checked := 0
	var first error
	after := ""
	for {
		page, err := s.List(ctx, after, 500)
		if err != nil {
			return checked, err
		}
		for _, id := range page {
			checked++
			reason, ok := r.Expired(id, now)
			if !ok {
				continue
			}
			if _, err := s.Erase(ctx, id.ID); err != nil {
				if first == nil {
					first = fmt.Errorf("erase %s: %w", id.ID, err)
				}
				continue
			}
			erased(Purged{UserID: id.ID, Pseudonym: s.keys.Pseudonym(id.ID), Reason: reason})
		}
		if len(page) < 500 {
			return checked, first
		}
		after = page[len(page)-1].ID
	}
}
