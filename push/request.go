package push

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/assent-auth/assent/store"
)

// Number matching policies (Config.NumberMatching).
const (
	// NumberAlways asks for number matching on every request.
	NumberAlways = "always"
	// NumberByRisk asks for it unless the request's risk level is RiskLow.
	NumberByRisk = "risk"
)

// RiskLow is the risk engine's lowest level (risk.LevelLow), the only one
// for which NumberByRisk lets a request go without number matching.
const RiskLow = "low"

// ErrInvalidRequest reports a NewRequest that Create refuses: an unknown
// kind, a missing user, or a payment without a well-formed amount,
// currency or payee.
var ErrInvalidRequest = errors.New("push: invalid request")

// NewRequest is what Create needs to ask a user for an approval.
type NewRequest struct {
	UserID string
	// Kind is store.PushSignIn or store.PushPayment.
	Kind string
	// RPName is who asks, as the app shows it ("Assent" for its own
	// sign-in, the relying party's name otherwise). A user has at most one
	// pending request per RPName.
	RPName string
	// IP, Country and Browser describe where the request comes from, for
	// the app's card; Browser is cut to 120 bytes.
	IP, Country, Browser string
	// Amount is a payment's amount as the app must display it: a decimal
	// string with a dot ("49.90", "1200", at most 4 decimals); FormatMinor
	// builds one from minor units. Currency is ISO 4217 ("EUR") and Payee
	// the payee's name (at most 200 bytes, no control characters). The
	// device signs all three into its decision (dynamic linking).
	Amount, Currency, Payee string
	// RiskLevel is the risk engine's level for the operation ("low",
	// "medium", ...; empty when unknown, which counts as not low): under
	// NumberByRisk it decides whether the app must match a number.
	RiskLevel string
}

var (
	amountRE   = regexp.MustCompile(`^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

func (n NewRequest) validate() error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", ErrInvalidRequest, why) }
	if n.UserID == "" {
		return bad("no user")
	}
	if !printable(n.RPName, 100) || !printable(n.Country, 2) || len(n.IP) > 45 {
		return bad("rp_name, country or ip malformed")
	}
	switch n.Kind {
	case store.PushSignIn:
		if n.Amount != "" || n.Currency != "" || n.Payee != "" {
			return bad("a sign-in has no amount, currency or payee")
		}
	case store.PushPayment:
		if !amountRE.MatchString(n.Amount) {
			return bad("amount must be a decimal string such as 49.90")
		}
		if !currencyRE.MatchString(n.Currency) {
			return bad("currency must be an ISO 4217 code such as EUR")
		}
		if strings.TrimSpace(n.Payee) == "" || !printable(n.Payee, 200) {
			return bad("payee must be 1 to 200 bytes of printable text")
		}
	default:
		return bad(fmt.Sprintf("unknown kind %q", n.Kind))
	}
	return nil
}

func printable(s string, max int) bool {
	if len(s) > max || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}

// FormatMinor writes an amount in minor units as the decimal string
// NewRequest.Amount takes: FormatMinor(4990, 2) is "49.90",
// FormatMinor(1200, 0) is "1200". digits is the currency's minor unit
// exponent (2 for EUR, 0 for JPY, 3 for BHD).
func FormatMinor(minor int64, digits int) (string, error) {
	if minor < 0 || digits < 0 || digits > 4 {
		return "", fmt.Errorf("%w: amount must not be negative, minor digits 0 to 4", ErrInvalidRequest)
	}
	s := strconv.FormatInt(minor, 10)
	if digits == 0 {
		return s, nil
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:], nil
}

// Wait blocks until the request is decided, expires, or the user's push
// approvals are locked, or ctx ends. It returns the request as decided
// (Status store.PushApproved or store.PushDenied, DeviceID the deciding
// device) with a nil error; ErrExpired when it expired undecided (at
// exactly ExpiresAt); ErrLocked when the user's push approvals were locked
// meanwhile; ErrUnknownRequest for no such request of the user; or ctx's
// error. It subscribes before it reads, so no decision is missed, and
// never polls.
func (s *Service) Wait(ctx context.Context, userID, id string) (store.PushRequest, error) {
	events, cancel := s.Subscribe(userID)
	defer cancel()
	r, err := s.Get(ctx, userID, id)
	if err != nil {
		return r, err
	}
	for {
		if r.Status != store.PushPending {
			return r, nil
		}
		now := s.now()
		if !now.Before(r.ExpiresAt) {
			return r, ErrExpired
		}
		if _, locked := s.LockedUntil(userID); locked {
			return r, ErrLocked
		}
		timer := time.NewTimer(r.ExpiresAt.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return r, ctx.Err()
		case <-timer.C:
		case e, ok := <-events:
			timer.Stop()
			if !ok {
				return r, ctx.Err()
			}
			if e.Request.ID == id {
				r = e.Request
				continue
			}
			if e.Request.ID != "" {
				continue
			}
		}
		// A timer fired, a lock was announced, or events may have been
		// dropped: the store has the truth.
		if r, err = s.Get(ctx, userID, id); err != nil {
			return r, err
		}
	}
}
