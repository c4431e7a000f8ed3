package risk

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Kind is what the user is doing.
type Kind string

// Event kinds.
const (
	KindLogin      Kind = "login"
	KindPayment    Kind = "payment"
	KindEnrollment Kind = "enrollment" // adding an authenticator or app device
	KindRecovery   Kind = "recovery"   // account recovery, credential reset
	KindAdmin      Kind = "admin"      // operator or privileged action
)

func (k Kind) valid() bool {
	switch k {
	case KindLogin, KindPayment, KindEnrollment, KindRecovery, KindAdmin:
		return true
	}
	return false
}

// Channel is how the event reached the server.
type Channel string

// Channels.
const (
	ChannelWeb Channel = "web"
	ChannelApp Channel = "app"
	// ChannelCIBA is a client-initiated backchannel request: IP and
	// UserAgent are the relying party's server, not the user, so location,
	// device and user-agent signals are not evaluated.
	ChannelCIBA Channel = "ciba"
)

func (c Channel) valid() bool {
	switch c {
	case ChannelWeb, ChannelApp, ChannelCIBA:
		return true
	}
	return false
}

// Instrument is the kind of payment, which selects the PSD2 transaction
// risk analysis reference fraud rates.
type Instrument string

// Instruments. The zero value is treated as a credit transfer, whose
// reference fraud rates are the stricter ones.
const (
	InstrumentCreditTransfer Instrument = "credit_transfer"
	InstrumentCard           Instrument = "card"
)

// Event is one thing a user is attempting, as the server saw it.
type Event struct {
	Kind Kind
	// UserID is the account the event is for. For a login that fails before
	// the account is known, pass the identifier that was tried.
	UserID string
	// Time is when it happened; the zero time means the engine's Now().
	Time time.Time
	// IP is the client address as a string (the server resolves trusted
	// proxies first). Required except on ChannelCIBA.
	IP string
	// UserAgent is the raw User-Agent header.
	UserAgent string
	// DeviceID is the verified id of a known device: the value of a valid
	// long-lived signed browser cookie, or the app's enrolled device id.
	// Empty when the request carried none.
	DeviceID string
	Channel  Channel
	// ClientID is the OAuth client (relying party) the event is for.
	ClientID string
	// Payment is required when Kind is KindPayment and ignored otherwise.
	Payment Payment
}

// Payment describes a payment being authorised.
type Payment struct {
	// Amount is in the currency's minor units (cents for EUR); it must be
	// positive.
	Amount int64
	// Currency is the ISO 4217 code. EUR is always accepted; others only
	// when the policy gives their rate to EUR.
	Currency string
	// Payee is a stable identifier of the beneficiary (IBAN, merchant id).
	Payee string
	// PayeeTrusted reports that the user put this payee on their list of
	// trusted beneficiaries (itself done with strong authentication).
	PayeeTrusted bool
	// Instrument selects the PSD2 reference fraud rates.
	Instrument Instrument
}

// ErrInvalidEvent is wrapped by every error that Assess returns for an event
// it cannot assess (unparseable IP, missing or absurd amount, unknown
// currency and the like). The Assessment returned with it demands a
// challenge.
var ErrInvalidEvent = errors.New("risk: invalid event")

// ErrHistory is wrapped by the error Assess returns when the History failed;
// the Assessment returned with it demands a challenge.
var ErrHistory = errors.New("risk: history unavailable")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidEvent}, args...)...)
}

// checkEvent validates ev and parses its IP. It returns the zero Addr for a
// CIBA event without an IP.
func checkEvent(ev *Event) (netip.Addr, error) {
	if !ev.Kind.valid() {
		return netip.Addr{}, invalid("unknown kind %q", ev.Kind)
	}
	if ev.UserID == "" {
		return netip.Addr{}, invalid("missing user")
	}
	if ev.Channel == "" {
		ev.Channel = ChannelWeb
	}
	if !ev.Channel.valid() {
		return netip.Addr{}, invalid("unknown channel %q", ev.Channel)
	}
	var ip netip.Addr
	if ev.IP != "" || ev.Channel != ChannelCIBA {
		var err error
		ip, err = netip.ParseAddr(ev.IP)
		if err != nil {
			return netip.Addr{}, invalid("IP %q: not an address", ev.IP)
		}
		ip = ip.Unmap().WithZone("")
	}
	if ev.Kind == KindPayment {
		p := &ev.Payment
		if p.Amount <= 0 {
			return netip.Addr{}, invalid("payment amount %d: must be positive", p.Amount)
		}
		if p.Currency == "" {
			return netip.Addr{}, invalid("payment without currency")
		}
		if p.Instrument == "" {
			p.Instrument = InstrumentCreditTransfer
		}
		if p.Instrument != InstrumentCreditTransfer && p.Instrument != InstrumentCard {
			return netip.Addr{}, invalid("unknown payment instrument %q", p.Instrument)
		}
	}
	return ip, nil
}
