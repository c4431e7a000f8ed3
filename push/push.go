package push

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/devices"
	"github.com/assent-auth/assent/store"
)

// Errors callers branch on. Every refusal of a decision is one of these,
// audited as push.decision_refused with Reason(err).
var (
	ErrPending        = errors.New("push: a request is already pending for this user and relying party")
	ErrExpired        = errors.New("push: request expired")
	ErrAlreadyDecided = errors.New("push: request already decided")
	ErrUnknownDevice  = errors.New("push: unknown or revoked device")
	ErrUnknownRequest = errors.New("push: no such request for this device's user")
	ErrBadSignature   = errors.New("push: signature does not verify")
	ErrWrongNumber    = errors.New("push: wrong number picked")
	ErrTampered       = errors.New("push: signed amount, currency or payee differ from the request")
)

// Reason returns the audit reason code for a refusal, or "error".
func Reason(err error) string {
	for e, r := range map[error]string{
		ErrMalformed: "malformed", ErrExpired: "expired", ErrAlreadyDecided: "already_decided",
		ErrUnknownDevice: "unknown_device", ErrUnknownRequest: "unknown_request",
		ErrBadSignature: "bad_signature", ErrWrongNumber: "wrong_number", ErrTampered: "tampered", ErrConsumed: "consumed",
		ErrPending: "already_pending", ErrLocked: "locked", ErrRateLimited: "rate_limited", ErrInvalidRequest: "invalid_request",
	} {
		if errors.Is(err, e) {
			return r
		}
	}
	return "error"
}

// Store is what push keeps and reports through.
type Store interface {
	store.Push
	store.PushLocks
	AppendAudit(ctx context.Context, e store.AuditEvent) (uint64, error)
	SetLastReport(ctx context.Context, userID string, t time.Time) error
}

// DeviceKeys finds an enrolled, unrevoked app device by id
// (devices.Service implements it). It returns an error wrapping
// devices.ErrNotFound for an unknown or revoked device.
type DeviceKeys interface {
	AppDeviceKey(ctx context.Context, deviceID string) (devices.DeviceKey, error)
}

// Waker wakes a user's devices out of band (FCM) when a request is
// created; it bounds its own time.
type Waker interface {
	Wake(ctx context.Context, r store.PushRequest) int
}

// Config configures a Service.
type Config struct {
	Store   Store
	Devices DeviceKeys
	// Waker, when set, is called for every new request besides the
	// in-process fan-out to connected devices.
	Waker Waker
	// TTL is how long a request waits for a decision (default 120 s).
	TTL time.Duration
	// NumberMatching is the policy for number matching: NumberAlways (the
	// default) or NumberByRisk.
	NumberMatching string
	// Fatigue configures the rate limit and the lock after repeated
	// denials; zero fields take the defaults.
	Fatigue Fatigue
	// Now is the clock (time.Now when nil).
	Now    func() time.Time
	Logger *slog.Logger
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("store: required"))
	}
	if c.Devices == nil {
		errs = append(errs, errors.New("devices: required"))
	}
	if c.TTL < 0 || c.TTL > 10*time.Minute {
		errs = append(errs, errors.New("ttl: must be between 0 (default 120 s) and 10 minutes"))
	}
	if c.NumberMatching != "" && c.NumberMatching != NumberAlways && c.NumberMatching != NumberByRisk {
		errs = append(errs, fmt.Errorf("number_matching: %q is not %q or %q", c.NumberMatching, NumberAlways, NumberByRisk))
	}
	if err := c.Fatigue.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Service creates requests, fans them out and verifies decisions. It is
// safe for concurrent use.
type Service struct {
	store   Store
	devices DeviceKeys
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
	hub     *hub
	waker   Waker
	numbers string
	fatigue *fatigue
}

// New returns a Service for c. It reads the fatigue locks in force from
// the store, so that a lock outlives a restart.
func New(c Config) (*Service, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.Fatigue.defaults()
	s := &Service{store: c.Store, devices: c.Devices, ttl: c.TTL, now: c.Now, log: c.Logger, hub: newHub(), waker: c.Waker,
		numbers: c.NumberMatching, fatigue: newFatigue(c.Fatigue, c.Store)}
	if s.numbers == "" {
		s.numbers = NumberAlways
	}
	if s.ttl == 0 {
		s.ttl = 120 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The locks in force outlive a restart: take them in from the store.
	if err := s.fatigue.load(context.Background(), s.now()); err != nil {
		return nil, fmt.Errorf("load push locks: %w", err)
	}
	return s, nil
}

// Create stores a new request for the user and pushes it to the user's
// connected devices (and wakes them over FCM when configured). It refuses
// with ErrInvalidRequest for a malformed request, ErrLocked while the
// user's push approvals are locked, ErrRateLimited past the per-user rate
// limit and ErrPending while a request of the same relying party is
// pending; every refusal is audited as push.refused.
func (s *Service) Create(ctx context.Context, n NewRequest) (store.PushRequest, error) {
	if err := n.validate(); err != nil {
		return store.PushRequest{}, err
	}
	now := s.now()
	refuse := func(err error) (store.PushRequest, error) {
		s.audit(ctx, store.AuditEvent{Kind: "push.refused", Actor: "system", Subject: n.UserID, Outcome: "denied",
			Details: map[string]string{"reason": Reason(err), "kind": n.Kind, "rp_name": n.RPName}})
		return store.PushRequest{}, err
	}
	if err := s.fatigue.admit(n.UserID, now); err != nil {
		return refuse(err)
	}
	nonce := make([]byte, 32)
	rand.Read(nonce)
	r := store.PushRequest{
		ID: "pr_" + strings.ToLower(rand.Text()[:20]), UserID: n.UserID, Kind: n.Kind, RPName: n.RPName,
		IP: n.IP, Country: n.Country, Browser: clip(n.Browser, 120),
		Amount: n.Amount, Currency: n.Currency, Payee: n.Payee,
		Nonce: nonce, CreatedAt: now, ExpiresAt: now.Add(s.ttl), Status: store.PushPending,
	}
	if s.numberMatching(n.RiskLevel) {
		r.Number, r.Choices = numbers()
	}
	if err := s.store.CreatePushRequest(ctx, r, now); err != nil {
		if errors.Is(err, store.ErrExists) {
			return refuse(ErrPending)
		}
		return store.PushRequest{}, fmt.Errorf("create push request: %w", err)
	}
	r.Version = 1
	details := map[string]string{"request_id": r.ID, "kind": r.Kind, "rp_name": r.RPName, "number_matching": strconv.FormatBool(r.Number != 0)}
	if r.Kind == store.PushPayment {
		details["amount"], details["currency"] = r.Amount, r.Currency
	}
	// Devices first: the audit append (its own fsync, shared with others
	// through the store's batching) runs while the request travels.
	s.hub.publish(n.UserID, Event{Request: r})
	if s.waker != nil {
		go s.waker.Wake(context.WithoutCancel(ctx), r)
	}
	s.audit(ctx, store.AuditEvent{Kind: "push.created", Actor: "system", Subject: n.UserID, Outcome: "ok", Details: details})
	return r, nil
}

// numberMatching reports whether a request at the risk level needs number
// matching under the policy.
func (s *Service) numberMatching(level string) bool {
	return s.numbers == NumberAlways || level != RiskLow
}

// numbers returns the number to match and three distinct two-digit
// choices holding it, in random order.
func numbers() (int, []int) {
	pick := func() int {
		n, _ := rand.Int(rand.Reader, big.NewInt(90))
		return int(n.Int64()) + 10
	}
	choices := []int{pick()}
	for len(choices) < 3 {
		c := pick()
		if c != choices[0] && (len(choices) < 2 || c != choices[1]) {
			choices = append(choices, c)
		}
	}
	number := choices[0]
	// Fisher-Yates with crypto randomness.
	for i := len(choices) - 1; i > 0; i-- {
		j, _ := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		choices[i], choices[j.Int64()] = choices[j.Int64()], choices[i]
	}
	return number, choices
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// Get returns one request of the user.
func (s *Service) Get(ctx context.Context, userID, id string) (store.PushRequest, error) {
	r, err := s.store.GetPushRequest(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return r, ErrUnknownRequest
	}
	return r, err
}

// Pending returns the user's requests still waiting at now.
func (s *Service) Pending(ctx context.Context, userID string) ([]store.PushRequest, error) {
	rs, err := s.store.ListPushRequests(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []store.PushRequest
	for _, r := range rs {
		if r.PendingAt(now) {
			out = append(out, r)
		}
	}
	return out, nil
}

// Authenticate checks a device's signature over the server's connect
// challenge and returns the device.
func (s *Service) Authenticate(ctx context.Context, deviceID string, challenge, sig []byte) (devices.DeviceKey, error) {
	k, err := s.devices.AppDeviceKey(ctx, deviceID)
	if err != nil {
		if errors.Is(err, devices.ErrNotFound) {
			err = ErrUnknownDevice
		}
		s.audit(ctx, store.AuditEvent{Kind: "push.connect_refused", Actor: "anonymous", Outcome: "denied",
			Details: map[string]string{"reason": Reason(err), "device_id": clip(deviceID, 64)}})
		return k, err
	}
	if !ecdsa.VerifyASN1(k.Key, ConnectDigest(deviceID, challenge), sig) {
		s.audit(ctx, store.AuditEvent{Kind: "push.connect_refused", Actor: deviceID, Subject: k.UserID, Outcome: "denied",
			Details: map[string]string{"reason": "bad_signature", "device_id": deviceID}})
		return devices.DeviceKey{}, ErrBadSignature
	}
	return k, nil
}

// Decide verifies and applies a device's signed decision. The first valid
// decision wins; every refusal leaves the request unchanged and is audited.
func (s *Service) Decide(ctx context.Context, deviceID string, d Decision) (store.PushRequest, error) {
	r, err := s.decide(ctx, deviceID, d)
	if err != nil {
		subject := r.UserID
		s.audit(ctx, store.AuditEvent{Kind: "push.decision_refused", Actor: deviceID, Subject: subject, Outcome: "denied",
			Details: map[string]string{"reason": Reason(err), "request_id": clip(d.RequestID, 64), "device_id": clip(deviceID, 64)}})
		if errors.Is(err, ErrWrongNumber) {
			// A wrong number counts as a denial attempt.
			s.denied(ctx, subject, r.ID)
		}
		return store.PushRequest{}, err
	}
	// The waiting side first; the audit append follows at once.
	s.hub.publish(r.UserID, Event{Request: r})
	details := map[string]string{"request_id": r.ID, "device_id": deviceID, "kind": r.Kind}
	if r.NotMe {
		details["not_me"] = "true"
	}
	s.audit(ctx, store.AuditEvent{Kind: "push." + r.Status, Actor: deviceID, Subject: r.UserID, Outcome: "ok", Details: details})
	if r.NotMe {
		if err := s.store.SetLastReport(ctx, r.UserID, r.DecidedAt); err != nil {
			s.log.ErrorContext(ctx, "record report failed", "user_id", r.UserID, "err", err)
		}
		s.audit(ctx, store.AuditEvent{Kind: "push.reported", Actor: deviceID, Subject: r.UserID, Outcome: "ok",
			Details: map[string]string{"request_id": r.ID}})
	}
	if r.Status == store.PushDenied {
		s.denied(ctx, r.UserID, r.ID)
	}
	return r, nil
}

func (s *Service) decide(ctx context.Context, deviceID string, d Decision) (store.PushRequest, error) {
	if err := d.check(); err != nil {
		return store.PushRequest{}, err
	}
	k, err := s.devices.AppDeviceKey(ctx, deviceID)
	if err != nil {
		if errors.Is(err, devices.ErrNotFound) {
			return store.PushRequest{}, ErrUnknownDevice
		}
		return store.PushRequest{}, err
	}
	req, err := s.store.GetPushRequest(ctx, k.UserID, d.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return store.PushRequest{UserID: k.UserID}, ErrUnknownRequest
	}
	if err != nil {
		return store.PushRequest{UserID: k.UserID}, err
	}
	if !ecdsa.VerifyASN1(k.Key, d.Digest(req.Nonce), d.Signature) {
		return req, ErrBadSignature
	}
	if !same(d.Amount, req.Amount) || !same(d.Currency, req.Currency) || !same(d.Payee, req.Payee) {
		return req, ErrTampered
	}
	if d.Decision == Approve {
		if _, locked := s.fatigue.lockedUntil(k.UserID, s.now()); locked {
			return req, ErrLocked
		}
	}
	now := s.now()
	out, err := s.store.UpdatePushRequest(ctx, k.UserID, d.RequestID, func(r store.PushRequest) (store.PushRequest, error) {
		if r.Status != store.PushPending {
			return r, ErrAlreadyDecided
		}
		if !now.Before(r.ExpiresAt) {
			return r, ErrExpired
		}
		if d.Decision == Approve && d.Number != r.Number {
			return r, ErrWrongNumber
		}
		r.Status = store.PushApproved
		if d.Decision == Deny {
			r.Status = store.PushDenied
			r.NotMe = d.NotMe
		}
		r.DecidedAt, r.DeviceID = now, deviceID
		return r, nil
	})
	if err != nil {
		return req, err
	}
	return out, nil
}

func same(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Subscribe delivers the user's request events (new and decided requests)
// until cancel is called. Events are dropped for a subscriber that falls
// behind; it recovers by reading the store (Pending, Get).
func (s *Service) Subscribe(userID string) (<-chan Event, func()) { return s.hub.subscribe(userID) }

// SubscribeFunc calls fn with each of the user's request events until
// cancel is called. fn runs on the publisher's goroutine with the fan-out
// locked: it must not block or call back into the Service, only hand the
// event on (the device channel queues it for its writer). It costs no
// goroutine and no buffer per subscriber.
func (s *Service) SubscribeFunc(userID string, fn func(Event)) (cancel func()) {
	return s.hub.subscribeFunc(userID, fn)
}

func (s *Service) audit(ctx context.Context, e store.AuditEvent) {
	e.Time = s.now()
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "audit failed", "kind", e.Kind, "err", err)
	}
}
