package profiles

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/assent-auth/assent/store"
)

// Export is everything Assent holds about one user, as one JSON document
// (GDPR articles 15 and 20). Secrets are left out: password hashes, TOTP
// seeds, recovery code hashes, passkey public keys, session and token
// hashes, upstream subjects; what they are and when they were used is in.
type Export struct {
	ExportedAt     time.Time             `json:"exported_at"`
	Identity       Identity              `json:"identity"`
	Consents       []ConsentState        `json:"consents"`
	ConsentHistory []store.ConsentRecord `json:"consent_history"`
	Factors        []ExportFactor        `json:"factors"`
	LinkedAccounts []ExportLink          `json:"linked_accounts"`
	KnownDevices   []store.KnownDevice   `json:"known_devices"`
	Sessions       []ExportSession       `json:"sessions"`
	RefreshTokens  []ExportToken         `json:"refresh_tokens"`
	SignIns        []store.SignInRecord  `json:"sign_ins"`
	Payments       []store.PaymentRecord `json:"payments"`
	Approvals      []store.PushRequest   `json:"approval_requests"`
	AuditEvents    []store.AuditEvent    `json:"audit_events"`
}

// ExportFactor is a strong factor's public metadata.
type ExportFactor struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
}

// ExportLink is a link to an upstream account.
type ExportLink struct {
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
}

// ExportSession is a browser session without its id.
type ExportSession struct {
	CreatedAt time.Time `json:"created_at"`
	AuthTime  time.Time `json:"auth_time"`
	ExpiresAt time.Time `json:"expires_at"`
	AMR       []string  `json:"amr,omitempty"`
	IP        string    `json:"ip,omitempty"`
	UserAgent string    `json:"user_agent,omitempty"`
}

// ExportToken is a refresh token without its hash.
type ExportToken struct {
	ClientID  string    `json:"client_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Spent     bool      `json:"spent,omitempty"`
}

// Export gathers everything stored about the user.
func (s *Service) Export(ctx context.Context, id string) (Export, error) {
	ident, err := s.Get(ctx, id)
	if err != nil {
		return Export{}, err
	}
	x := Export{ExportedAt: s.now().UTC(), Identity: ident}
	if x.Consents, x.ConsentHistory, err = s.Consents(ctx, id); err != nil {
		return Export{}, err
	}
	fs, err := s.store.ListFactors(ctx, id)
	if err != nil {
		return Export{}, err
	}
	x.Factors = make([]ExportFactor, 0, len(fs))
	for _, f := range fs {
		x.Factors = append(x.Factors, ExportFactor{ID: f.ID, Kind: f.Kind, Name: f.Name, CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt})
	}
	links, err := s.store.ListFederatedLinks(ctx, id)
	if err != nil {
		return Export{}, err
	}
	x.LinkedAccounts = make([]ExportLink, 0, len(links))
	for _, l := range links {
		x.LinkedAccounts = append(x.LinkedAccounts, ExportLink{Provider: l.Provider, CreatedAt: l.CreatedAt})
	}
	if x.KnownDevices, err = s.store.ListKnownDevices(ctx, id); err != nil {
		return Export{}, err
	}
	ss, err := s.store.ListUserSessions(ctx, id)
	if err != nil {
		return Export{}, err
	}
	x.Sessions = make([]ExportSession, 0, len(ss))
	for _, se := range ss {
		x.Sessions = append(x.Sessions, ExportSession{CreatedAt: se.CreatedAt, AuthTime: se.AuthTime, ExpiresAt: se.ExpiresAt,
			AMR: se.AMR, IP: se.IP, UserAgent: se.UserAgent})
	}
	ts, err := s.store.ListUserOIDCRefreshTokens(ctx, id)
	if err != nil {
		return Export{}, err
	}
	x.RefreshTokens = make([]ExportToken, 0, len(ts))
	for _, t := range ts {
		x.RefreshTokens = append(x.RefreshTokens, ExportToken{ClientID: t.ClientID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Spent: t.Spent})
	}
	if x.SignIns, err = s.store.ListSignIns(ctx, id, 1000); err != nil {
		return Export{}, err
	}
	if x.Payments, err = s.store.ListPayments(ctx, id, time.Time{}, 1000); err != nil {
		return Export{}, err
	}
	if x.Approvals, err = s.store.ListPushRequests(ctx, id); err != nil {
		return Export{}, err
	}
	if x.AuditEvents, err = s.auditAbout(ctx, id); err != nil {
		return Export{}, err
	}
	return x, nil
}

// auditAbout returns the audit events whose actor or subject is the user.
func (s *Service) auditAbout(ctx context.Context, id string) ([]store.AuditEvent, error) {
	out := []store.AuditEvent{}
	var after uint64
	for {
		page, err := s.store.ListAudit(ctx, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			if e.Actor == id || e.Subject == id {
				out = append(out, e)
			}
		}
		if len(page) < 1000 {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}

// Erase erases the user (GDPR article 17) in one store transaction: the
// record with its wrapped data key (so the sealed e-mail, name and
// attributes can no longer be opened, in backups either), the e-mail index,
// sessions, refresh tokens, factors, app devices, risk history, approval
// requests and consent records. The audit events about the user are kept,
// so security history stays countable, but pseudonymised: the user id
// becomes a keyed hash and addresses and user agents are dropped.
func (s *Service) Erase(ctx context.Context, id string) (store.ErasureReport, error) {
	rep, err := s.store.EraseUser(ctx, id, s.keys.Pseudonym(id))
	if errors.Is(err, store.ErrNotFound) {
		return rep, ErrNotFound
	}
	if err != nil {
		return rep, fmt.Errorf("erase user: %w", err)
	}
	return rep, nil
}

// Pseudonym returns the stable keyed hash that stands for an erased user in
// the audit log: the same user always maps to the same pseudonym, which
// cannot be turned back into the id without the master key.
func (k *Keyring) Pseudonym(userID string) string {
	key, err := hkdf.Key(sha256.New, k.master, nil, "assent audit pseudonyms v1", 32)
	if err != nil {
		panic(err) // only on an invalid length, which is constant here
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(userID))
	return "erased:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
