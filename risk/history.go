package risk

import (
	"context"
	"net/netip"
	"time"

	"github.com/assent-auth/assent/risk/geo"
)

// History is the record of past activity that Assess reads: the two
// lookups below, one per user and one per network. The server implements it
// over its store; MemoryHistory is an in-memory implementation.
//
// Implementations must be safe for concurrent use, honour ctx, and must not
// retain f after returning. The engine resets f before each call and reuses
// the slices' capacity, so implementations should append to f.SignIns and
// f.Payments rather than allocate new slices.
type History interface {
	// User fills f with what is known about q.UserID. Errors make Assess fail
	// closed.
	User(ctx context.Context, q UserQuery, f *UserFacts) error
	// Network fills f with the failure and account counters of q.Network.
	Network(ctx context.Context, q NetworkQuery, f *NetworkFacts) error
}

// UserQuery says what Assess needs to know about one user.
type UserQuery struct {
	UserID string
	// DeviceID, when not empty, asks for DeviceFirstSeen.
	DeviceID string
	// Payee, when not empty, asks for PayeeKnown.
	Payee string
	// SignIns is the most successful sign-ins to return, newest first.
	SignIns int
	// PaymentsSince and Payments bound the payments to return, newest first:
	// those at or after PaymentsSince, at most Payments of them (none for
	// events other than payments).
	PaymentsSince time.Time
	Payments      int
	// FailuresSince starts the window of Failures.
	FailuresSince time.Time
}

// UserFacts is one user's history as of the event.
type UserFacts struct {
	// SignIns are successful sign-ins, newest first.
	SignIns []SignIn
	// Payments are authorised payments, newest first.
	Payments []PaymentRecord
	// DeviceFirstSeen is when the queried device was first used by this user
	// with strong authentication (or enrolled); zero when unknown.
	DeviceFirstSeen time.Time
	// PayeeKnown reports that the user has paid the queried payee before.
	PayeeKnown bool
	// Failures counts the user's failed attempts since FailuresSince.
	Failures int
	// LastReport is when the user last reported "this wasn't me"; zero if
	// never.
	LastReport time.Time
}

func (f *UserFacts) reset() {
	*f = UserFacts{SignIns: f.SignIns[:0], Payments: f.Payments[:0]}
}

// NetworkQuery says what Assess needs to know about the client's network.
type NetworkQuery struct {
	// Network is the client address as a prefix: /32 for IPv4 and /64 for
	// IPv6, since one IPv6 host commonly has a whole /64.
	Network netip.Prefix
	// FailuresSince and AccountsSince start the windows of the counters.
	FailuresSince time.Time
	AccountsSince time.Time
}

// NetworkFacts counts recent activity from one network.
type NetworkFacts struct {
	// Failures counts failed attempts since FailuresSince, for any account.
	Failures int
	// Accounts counts distinct accounts attempted (successfully or not)
	// since AccountsSince.
	Accounts int
}

// NetworkOf returns the prefix that counters are kept under for ip: /32 for
// IPv4, /64 for IPv6.
func NetworkOf(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

// SignIn is one successful sign-in as the history keeps it.
type SignIn struct {
	Time     time.Time
	IP       netip.Addr
	Location geo.Location
	DeviceID string
	// Browser and OS are the user-agent family, as ParseUserAgent gives it.
	Browser string
	OS      string
	// Strong reports that the sign-in completed strong authentication.
	Strong bool
}

// PaymentRecord is one authorised payment as the history keeps it.
type PaymentRecord struct {
	Time     time.Time
	Amount   int64 // minor units
	Currency string
	Payee    string
	// Strong reports that the payment was authorised with strong customer
	// authentication, which resets the PSD2 low-value counters.
	Strong bool
}

// SignInRecord returns what to store in the history after the sign-in ev,
// assessed as a, succeeded; strong says whether it completed strong
// authentication (a step-up, or a passkey).
func SignInRecord(ev Event, a Assessment, strong bool) SignIn {
	ip, _ := netip.ParseAddr(ev.IP)
	ua := ParseUserAgent(ev.UserAgent)
	return SignIn{
		Time:     a.Time,
		IP:       ip.Unmap().WithZone(""),
		Location: a.Location,
		DeviceID: ev.DeviceID,
		Browser:  ua.Browser,
		OS:       ua.OS,
		Strong:   strong,
	}
}

// PaymentRecordOf returns what to store in the history after the payment ev,
// assessed as a, was authorised; strong says whether with SCA.
func PaymentRecordOf(ev Event, a Assessment, strong bool) PaymentRecord {
	return PaymentRecord{
		Time:     a.Time,
		Amount:   ev.Payment.Amount,
		Currency: ev.Payment.Currency,
		Payee:    ev.Payment.Payee,
		Strong:   strong,
	}
}
