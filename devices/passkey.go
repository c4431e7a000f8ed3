package devices

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/assent-auth/assent/store"
)

// Ceremony purposes.
const (
	// PurposeRegister adds a passkey to a signed-in user.
	PurposeRegister = "register"
	// PurposeSignIn signs in with a discoverable passkey alone, the user
	// unknown until the authenticator answers (usernameless, or the
	// sign-in page's autofill).
	PurposeSignIn = "signin"
	// PurposeSecondFactor asks a user who gave a correct password for one
	// of their passkeys.
	PurposeSecondFactor = "second_factor"
)

// Ceremony is the state of one WebAuthn ceremony between the options sent
// to the browser and the authenticator's answer. The caller keeps it where
// the browser cannot change it, binds it to that browser and hands it back
// at most once: a challenge is single-use.
type Ceremony struct {
	Purpose string `json:"purpose"`
	// UserID is the user the ceremony is for; empty for PurposeSignIn.
	UserID  string               `json:"user_id,omitempty"`
	Session webauthn.SessionData `json:"session"`
	Expires time.Time            `json:"expires"`
}

// PasskeyUser is who a passkey is registered for. Name is what
// authenticators show to tell accounts apart (the e-mail address);
// DisplayName is the person's name.
type PasskeyUser struct {
	ID          string
	Name        string
	DisplayName string
}

// Assertion is a verified passkey sign-in.
type Assertion struct {
	UserID   string
	FactorID string
	Name     string
	// UserVerified reports that this assertion carried the UV flag: the
	// authenticator verified the person (PIN or biometric).
	UserVerified bool
	// Synced reports a backup-eligible passkey; false means device-bound.
	Synced bool
}

// passkeyData is a passkey's record, kept in store.Factor.Data; the
// credential id is the factor's LookupKey as well.
type passkeyData struct {
	CredentialID      []byte   `json:"credential_id"`
	PublicKey         []byte   `json:"public_key"` // COSE
	AttestationType   string   `json:"attestation_type,omitempty"`
	AttestationFormat string   `json:"attestation_format,omitempty"`
	AAGUID            []byte   `json:"aaguid,omitempty"`
	Transports        []string `json:"transports,omitempty"`
	Attachment        string   `json:"attachment,omitempty"`
	SignCount         uint32   `json:"sign_count"`
	// Flags as at registration, then updated: UP, UV (latched at
	// registration), BE (never changes), BS (follows the last assertion).
	UserPresent    bool `json:"user_present"`
	UserVerified   bool `json:"user_verified"`
	BackupEligible bool `json:"backup_eligible"`
	BackupState    bool `json:"backup_state"`
	// Discoverable is the credProps answer, when the browser gave one.
	Discoverable *bool `json:"discoverable,omitempty"`
	// Suspect is set when the sign counter went backwards: the credential
	// may have been cloned and is refused from then on.
	Suspect   bool      `json:"suspect,omitempty"`
	SuspectAt time.Time `json:"suspect_at,omitzero"`
}

func (p passkeyData) credential() webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	var flags protocol.AuthenticatorFlags
	if p.UserPresent {
		flags |= protocol.FlagUserPresent
	}
	if p.UserVerified {
		flags |= protocol.FlagUserVerified
	}
	if p.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if p.BackupState {
		flags |= protocol.FlagBackupState
	}
	return webauthn.Credential{
		ID:                p.CredentialID,
		PublicKey:         p.PublicKey,
		AttestationType:   p.AttestationType,
		AttestationFormat: p.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(flags),
		Authenticator: webauthn.Authenticator{
			AAGUID:     p.AAGUID,
			SignCount:  p.SignCount,
			Attachment: protocol.AuthenticatorAttachment(p.Attachment),
		},
	}
}

// waUser adapts a user and their passkeys to the WebAuthn library. The
// user handle is the opaque user id: no personal data.
type waUser struct {
	id          string
	name        string
	displayName string
	creds       []webauthn.Credential
}

func (u *waUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// passkeys returns the user's passkey records.
func (s *Service) passkeys(ctx context.Context, userID string) ([]store.Factor, []passkeyData, error) {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return nil, nil, fmt.Errorf("list factors of %s: %w", userID, err)
	}
	var out []store.Factor
	var data []passkeyData
	for _, f := range fs {
		if f.Kind != store.FactorPasskey {
			continue
		}
		var p passkeyData
		if err := json.Unmarshal(f.Data, &p); err != nil {
			return nil, nil, fmt.Errorf("decode passkey %s of %s: %w", f.ID, userID, err)
		}
		out = append(out, f)
		data = append(data, p)
	}
	return out, data, nil
}

func (s *Service) ceremony(purpose, userID string, sd *webauthn.SessionData) Ceremony {
	return Ceremony{Purpose: purpose, UserID: userID, Session: *sd, Expires: s.now().Add(s.ttl)}
}

// check refuses a ceremony of the wrong purpose, for the wrong user, or
// past its deadline.
func (s *Service) check(c Ceremony, purpose, userID string) error {
	if c.Purpose != purpose || c.UserID != userID || c.Session.Challenge == "" {
		return refused(ReasonWrongCeremony)
	}
	if !s.now().Before(c.Expires) {
		return refused(ReasonExpired)
	}
	return nil
}

// BeginRegistration starts adding a passkey for u: it returns the
// PublicKeyCredentialCreationOptions for the browser (as JSON, in the shape
// PublicKeyCredential.parseCreationOptionsFromJSON takes, under "publicKey")
// and the ceremony state. The passkey is discoverable, attestation is not
// asked for, and the user's existing passkeys are excluded.
func (s *Service) BeginRegistration(ctx context.Context, u PasskeyUser) ([]byte, Ceremony, error) {
	if s.wa == nil {
		return nil, Ceremony{}, ErrPasskeysOff
	}
	_, existing, err := s.passkeys(ctx, u.ID)
	if err != nil {
		return nil, Ceremony{}, err
	}
	exclude := make([]protocol.CredentialDescriptor, len(existing))
	for i, p := range existing {
		c := p.credential()
		exclude[i] = c.Descriptor()
	}
	user := &waUser{id: u.ID, name: u.Name, displayName: u.DisplayName}
	if user.displayName == "" {
		user.displayName = u.Name
	}
	opts, sd, err := s.wa.BeginRegistration(user,
		webauthn.WithExclusions(exclude),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("begin passkey registration: %w", err)
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, Ceremony{}, err
	}
	return b, s.ceremony(PurposeRegister, u.ID, sd), nil
}

// FinishRegistration verifies the browser's answer (the JSON of
// PublicKeyCredential.toJSON()) to a registration ceremony of userID and
// stores the new passkey under name. Nothing is stored on any failure.
func (s *Service) FinishRegistration(ctx context.Context, c Ceremony, userID string, response []byte, name string) (Summary, error) {
	if s.wa == nil {
		return Summary{}, ErrPasskeysOff
	}
	if err := s.check(c, PurposeRegister, userID); err != nil {
		return Summary{}, err
	}
	name, err := CleanName(name)
	if err != nil {
		return Summary{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Summary{}, malformed(err)
	}
	cred, err := s.wa.CreateCredential(&waUser{id: userID}, c.Session, parsed)
	if err != nil {
		return Summary{}, classify(err)
	}
	p := passkeyData{
		CredentialID:      cred.ID,
		PublicKey:         cred.PublicKey,
		AttestationType:   cred.AttestationType,
		AttestationFormat: cred.AttestationFormat,
		AAGUID:            cred.Authenticator.AAGUID,
		Attachment:        string(cred.Authenticator.Attachment),
		SignCount:         cred.Authenticator.SignCount,
		UserPresent:       cred.Flags.UserPresent,
		UserVerified:      cred.Flags.UserVerified,
		BackupEligible:    cred.Flags.BackupEligible,
		BackupState:       cred.Flags.BackupState,
		Discoverable:      cred.Extensions.RK,
	}
	for _, t := range cred.Transport {
		if len(p.Transports) < 8 && len(t) <= 32 {
			p.Transports = append(p.Transports, string(t))
		}
	}
	if name == "" {
		name = "Passkey"
	}
	data, err := json.Marshal(p)
	if err != nil {
		return Summary{}, err
	}
	f := store.Factor{
		ID:        newFactorID("pk"),
		UserID:    userID,
		Kind:      store.FactorPasskey,
		Name:      name,
		LookupKey: cred.ID,
		Data:      data,
		CreatedAt: s.now().UTC(),
	}
	if err := s.store.CreateFactor(ctx, f); err != nil {
		if errors.Is(err, store.ErrExists) {
			return Summary{}, refused(ReasonAlreadyRegistered)
		}
		return Summary{}, fmt.Errorf("store passkey of %s: %w", userID, err)
	}
	return summarize(f)
}

// BeginSignIn starts a sign-in with a discoverable passkey alone. User
// verification is required, since the passkey is the only factor. With
// conditional set the options are for the sign-in page's autofill
// (mediation "conditional").
func (s *Service) BeginSignIn(ctx context.Context, conditional bool) ([]byte, Ceremony, error) {
	if s.wa == nil {
		return nil, Ceremony{}, ErrPasskeysOff
	}
	mediation := protocol.MediationDefault
	if conditional {
		mediation = protocol.MediationConditional
	}
	opts, sd, err := s.wa.BeginDiscoverableMediatedLogin(mediation, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	b, err := json.Marshal(opts)
	if err != nil {
		return nil, Ceremony{}, err
	}
	return b, s.ceremony(PurposeSignIn, "", sd), nil
}

// BeginSecondFactor asks userID for one of their passkeys after a correct
// password. The options list the user's usable passkeys; user verification
// is preferred, not required. It is refused with ReasonNotEnrolled when the
// user has no usable passkey.
func (s *Service) BeginSecondFactor(ctx context.Context, userID string) ([]byte, Ceremony, error) {
	return s.beginUserAssertion(ctx, userID, "begin passkey second factor", webauthn.WithUserVerification(protocol.VerificationPreferred))
}

// beginUserAssertion starts an assertion over userID's usable passkeys
// with opts; what names the step in errors.
func (s *Service) beginUserAssertion(ctx context.Context, userID, what string, opts ...webauthn.LoginOption) ([]byte, Ceremony, error) {
	if s.wa == nil {
		return nil, Ceremony{}, ErrPasskeysOff
	}
	_, data, err := s.passkeys(ctx, userID)
	if err != nil {
		return nil, Ceremony{}, err
	}
	user := &waUser{id: userID}
	for _, p := range data {
		if !p.Suspect {
			user.creds = append(user.creds, p.credential())
		}
	}
	if len(user.creds) == 0 {
		return nil, Ceremony{}, &RefusedError{Reason: ReasonNotEnrolled, UserID: userID}
	}
	o, sd, err := s.wa.BeginLogin(user, opts...)
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("%s: %w", what, err)
	}
	b, err := json.Marshal(o)
	if err != nil {
		return nil, Ceremony{}, err
	}
	return b, s.ceremony(PurposeSecondFactor, userID, sd), nil
}

// FinishSignIn verifies the browser's answer (the JSON of
// PublicKeyCredential.toJSON()) to a PurposeSignIn ceremony and returns the
// user it signs in. On success the new sign count and backup state are
// stored. A sign counter that did not increase marks the credential
// suspect and is refused; that mark is the only thing a refused assertion
// ever writes.
func (s *Service) FinishSignIn(ctx context.Context, c Ceremony, response []byte) (Assertion, error) {
	v, err := s.verifyAssertion(ctx, c, PurposeSignIn, "", response)
	if err != nil {
		return Assertion{}, err
	}
	return s.commitAssertion(ctx, v)
}

// FinishSecondFactor verifies the answer to a PurposeSecondFactor ceremony
// of userID, as FinishSignIn does.
func (s *Service) FinishSecondFactor(ctx context.Context, c Ceremony, userID string, response []byte) (Assertion, error) {
	v, err := s.verifyAssertion(ctx, c, PurposeSecondFactor, userID, response)
	if err != nil {
		return Assertion{}, err
	}
	return s.commitAssertion(ctx, v)
}

// verified is an assertion whose signature and ceremony checked out, not
// yet recorded.
type verified struct {
	factor  store.Factor
	data    passkeyData
	counter uint32
	flags   protocol.AuthenticatorFlags
}

// verifyAssertion does every check of an assertion that needs no write:
// decoding, the credential look-up, ownership, and the WebAuthn checks
// (challenge, origin, RP ID, flags, signature).
func (s *Service) verifyAssertion(ctx context.Context, c Ceremony, purpose, userID string, response []byte) (verified, error) {
	if s.wa == nil {
		return verified{}, ErrPasskeysOff
	}
	if err := s.check(c, purpose, userID); err != nil {
		return verified{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return verified{}, malformed(err)
	}
	f, err := s.store.GetFactorByLookupKey(ctx, parsed.RawID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && f.Kind != store.FactorPasskey) {
		return verified{}, &RefusedError{Reason: ReasonUnknownCredential, UserID: c.UserID}
	}
	if err != nil {
		return verified{}, fmt.Errorf("look up passkey: %w", err)
	}
	owner := f.UserID
	switch {
	case c.Purpose == PurposeSecondFactor && owner != c.UserID:
		return verified{}, &RefusedError{Reason: ReasonWrongUser, UserID: c.UserID}
	case c.Purpose == PurposeSignIn && len(parsed.Response.UserHandle) == 0:
		return verified{}, &RefusedError{Reason: ReasonMalformed, Detail: "the answer has no user handle", UserID: owner}
	case c.Purpose == PurposeSignIn && !bytes.Equal(parsed.Response.UserHandle, []byte(owner)):
		return verified{}, &RefusedError{Reason: ReasonWrongUser, UserID: owner}
	}
	var p passkeyData
	if err := json.Unmarshal(f.Data, &p); err != nil {
		return verified{}, fmt.Errorf("decode passkey %s of %s: %w", f.ID, owner, err)
	}
	if p.Suspect {
		return verified{}, &RefusedError{Reason: ReasonSuspect, UserID: owner}
	}
	flags := parsed.Response.AuthenticatorData.Flags
	if c.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return verified{}, &RefusedError{Reason: ReasonUserNotVerified, UserID: owner}
	}

	user := &waUser{id: owner}
	if c.Purpose == PurposeSecondFactor {
		// The library checks that the user owns every allowed credential.
		_, all, err := s.passkeys(ctx, owner)
		if err != nil {
			return verified{}, err
		}
		for _, q := range all {
			user.creds = append(user.creds, q.credential())
		}
		if _, err := s.wa.ValidateLogin(user, c.Session, parsed); err != nil {
			return verified{}, withUser(classify(err), owner)
		}
	} else {
		user.creds = []webauthn.Credential{p.credential()}
		handler := func(rawID, userHandle []byte) (webauthn.User, error) { return user, nil }
		if _, _, err := s.wa.ValidatePasskeyLogin(handler, c.Session, parsed); err != nil {
			return verified{}, withUser(classify(err), owner)
		}
	}
	return verified{factor: f, data: p, counter: parsed.Response.AuthenticatorData.Counter, flags: flags}, nil
}

// commitAssertion records a verified assertion's sign count in one atomic
// update, where a counter that did not increase marks the passkey suspect.
func (s *Service) commitAssertion(ctx context.Context, v verified) (Assertion, error) {
	owner := v.factor.UserID
	now := s.now().UTC()
	var regression bool
	_, err := s.store.UpdateFactor(ctx, owner, v.factor.ID, func(f store.Factor) (store.Factor, error) {
		var q passkeyData
		if err := json.Unmarshal(f.Data, &q); err != nil {
			return f, err
		}
		if q.Suspect {
			return f, &RefusedError{Reason: ReasonSuspect, UserID: owner}
		}
		// A counter of zero on both sides means the authenticator does
		// not count (synced passkeys); otherwise it must increase.
		regression = (v.counter != 0 || q.SignCount != 0) && v.counter <= q.SignCount
		if regression {
			q.Suspect = true
			q.SuspectAt = now
		} else {
			q.SignCount = v.counter
			q.BackupState = v.flags.HasBackupState()
			f.LastUsedAt = now
		}
		b, err := json.Marshal(q)
		if err != nil {
			return f, err
		}
		f.Data = b
		return f, nil
	})
	var re *RefusedError
	switch {
	case errors.As(err, &re):
		return Assertion{}, re
	case errors.Is(err, store.ErrNotFound):
		return Assertion{}, &RefusedError{Reason: ReasonUnknownCredential, UserID: owner}
	case err != nil:
		return Assertion{}, fmt.Errorf("record passkey use of %s: %w", owner, err)
	case regression:
		return Assertion{}, &RefusedError{Reason: ReasonCounterRegression, UserID: owner}
	}
	return Assertion{
		UserID:       owner,
		FactorID:     v.factor.ID,
		Name:         v.factor.Name,
		UserVerified: v.flags.HasUserVerified(),
		Synced:       v.data.BackupEligible,
	}, nil
}

func withUser(e *RefusedError, userID string) *RefusedError {
	e.UserID = userID
	return e
}

// malformed turns a parse failure (bad JSON, base64url or CBOR) into a
// refusal. The parser's own message is kept out: it can quote input.
func malformed(err error) *RefusedError {
	detail := "the answer could not be decoded"
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" && !strings.ContainsAny(pe.Details, "%:{") {
		detail = pe.Details
	}
	return &RefusedError{Reason: ReasonMalformed, Detail: detail}
}

// classify maps a WebAuthn library error onto a refusal reason. The detail
// is the library's fixed description of the check that failed.
func classify(err error) *RefusedError {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		var ue *protocol.ErrorUnknownCredential
		if errors.As(err, &ue) {
			return refused(ReasonUnknownCredential)
		}
		return &RefusedError{Reason: ReasonVerification}
	}
	info := pe.DevInfo
	reason := ReasonVerification
	detail := pe.Details
	switch {
	case pe.Type == protocol.ErrChallengeMismatch.Type || pe.Details == "Error validating challenge":
		reason = ReasonChallenge
	case strings.Contains(strings.ToLower(pe.Details), "origin"):
		reason = ReasonOrigin
	case strings.HasPrefix(info, "RP Hash mismatch"):
		reason, detail = ReasonRPID, "RP ID hash mismatch"
	case strings.HasPrefix(info, "User verification required"):
		reason = ReasonUserNotVerified
	case strings.HasPrefix(info, "User presence required"):
		reason = ReasonUserNotPresent
	case pe.Type == protocol.ErrAssertionSignature.Type:
		reason, detail = ReasonSignature, "the signature does not verify"
	case pe.Type == protocol.ErrParsingData.Type:
		reason = ReasonMalformed
	}
	if len(detail) > 120 {
		detail = detail[:120]
	}
	return &RefusedError{Reason: reason, Detail: detail}
}
