package store

import (
	"context"
	"time"
)

// SignInRecord is one successful sign-in as the risk engine's history keeps
// it. Location fields are empty when the address had no known location.
type SignInRecord struct {
	Time    time.Time `json:"time"`
	IP      string    `json:"ip,omitempty"`
	Country string    `json:"country,omitempty"`
	City    string    `json:"city,omitempty"`
	Lat     float64   `json:"lat,omitempty"`
	Lon     float64   `json:"lon,omitempty"`
	// RadiusKm is the uncertainty of Lat and Lon.
	RadiusKm float64 `json:"radius_km,omitempty"`
	// Mobile and Anonymous mark carrier and VPN/hosting networks, whose
	// locations are unreliable.
	Mobile    bool `json:"mobile,omitempty"`
	Anonymous bool `json:"anonymous,omitempty"`
	// Precision names how the location was found ("country", "city").
	Precision string `json:"precision,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
	Browser   string `json:"browser,omitempty"`
	OS        string `json:"os,omitempty"`
	// Strong reports that the sign-in completed strong authentication.
	Strong bool `json:"strong,omitempty"`
}

// PaymentRecord is one authorised payment as the history keeps it.
type PaymentRecord struct {
	Time     time.Time `json:"time"`
	Amount   int64     `json:"amount"` // minor units
	Currency string    `json:"currency"`
	Payee    string    `json:"payee"`
	// Strong reports that the payment was authorised with strong customer
	// authentication.
	Strong bool `json:"strong,omitempty"`
}

// History keeps each user's recent activity for the risk engine: sign-ins,
// payments, the devices and payees the user has used, and the time of the
// user's last "this wasn't me" report. Appends are batched into shared
// commits. DeleteUser removes all of it.
type History interface {
	// AppendSignIn records a successful sign-in. The store keeps at least
	// the newest MaxSignIns per user and may drop older ones. If the record
	// has a DeviceID and Strong is set, the device counts as seen from then
	// on (see DeviceFirstSeen).
	AppendSignIn(ctx context.Context, userID string, r SignInRecord) error
	// ListSignIns returns up to limit of the user's newest sign-ins, newest
	// first.
	ListSignIns(ctx context.Context, userID string, limit int) ([]SignInRecord, error)
	// AppendPayment records an authorised payment and remembers its payee.
	// The store keeps at least the newest MaxPayments per user.
	AppendPayment(ctx context.Context, userID string, r PaymentRecord) error
	// ListPayments returns up to limit of the user's payments at or after
	// since, newest first.
	ListPayments(ctx context.Context, userID string, since time.Time, limit int) ([]PaymentRecord, error)
	// DeviceFirstSeen returns when the device was first recorded for the
	// user with strong authentication, or the zero time.
	DeviceFirstSeen(ctx context.Context, userID, deviceID string) (time.Time, error)
	// PayeeFirstSeen returns when the user first paid the payee, or the zero
	// time.
	PayeeFirstSeen(ctx context.Context, userID, payee string) (time.Time, error)
	// SetLastReport records that the user reported "this wasn't me" at t.
	SetLastReport(ctx context.Context, userID string, t time.Time) error
	// LastReport returns the time of the user's last report, or zero.
	LastReport(ctx context.Context, userID string) (time.Time, error)
}

// How much history a backend keeps at least, per user.
const (
	MaxSignIns  = 100
	MaxPayments = 500
)
