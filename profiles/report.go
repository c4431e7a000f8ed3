package profiles

import (
	"context"
	"errors"
	"time"

	"github.com/assent-auth/assent/store"
)

// Report links ride in security notices ("new sign-in to your account",
// "your account was locked"): the user follows one to say "this wasn't me".
// They are signed like the other account links, bound only to the user, so
// that an intruder who changed the password or the address cannot void
// them, and they live a week.
const (
	ReportLinkTTL      = 7 * 24 * time.Hour
	purposeReport byte = 3
	// reportLockFor is how long a reported account stays locked unless a
	// password reset (which proves the mailbox, and the second factor when
	// there is one) lifts it first.
	reportLockFor = 30 * 24 * time.Hour
)

// ReportLink returns a "this wasn't me" link token for the user.
func (s *Service) ReportLink(id string) string {
	return s.makeLink(purposeReport, id, s.now().Add(ReportLinkTTL), "report")
}

// CheckReportLink returns the user a report link is for, or ErrLinkInvalid.
func (s *Service) CheckReportLink(ctx context.Context, token string) (Identity, error) {
	payload, mac, id, exp, err := parseLink(purposeReport, token)
	if err != nil {
		return Identity{}, err
	}
	if err := s.checkLink(purposeReport, payload, mac, exp, "report"); err != nil {
		return Identity{}, err
	}
	ident, err := s.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, ErrLinkInvalid
	}
	return ident, err
}

// ReportNotMe acts on a report link: the account is locked pending
// recovery (a password reset lifts the lock), every browser session ends
// and every refresh token is revoked,
// and the report is recorded for the risk engine, which weighs it on the
// account's next events. Reporting twice is harmless.
func (s *Service) ReportNotMe(ctx context.Context, token string) (Identity, error) {
	ident, err := s.CheckReportLink(ctx, token)
	if err != nil {
		return Identity{}, err
	}
	now := s.now().UTC()
	ident, err = s.update(ctx, ident.ID, func(u *store.User, _ *personal) error {
		if until := now.Add(reportLockFor); u.LockedUntil.Before(until) {
			u.LockedUntil = until
		}
		return nil
	})
	if err != nil {
		return Identity{}, err
	}
	if _, _, err := s.SignOutEverywhere(ctx, ident.ID); err != nil {
		return ident, err
	}
	return ident, s.store.SetLastReport(ctx, ident.ID, now)
}
