package bolt

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/assent-auth/assent/store"
)

// Sessions are read on every authenticated request, and the risk engine
// reads dozens of sign-in and payment records on every assessment, so these
// are stored in a compact binary form rather than JSON, which costs several
// times more to decode (see BenchmarkHistoryDecode). Users, factors and audit
// events are read far less often and stay JSON.
//
// A session value is:
//
//	format   byte (sessionFormat)
//	user id  string
//	auth     time
//	amr      uvarint count, then that many strings
//	ip       string
//	agent    string
//	created  time
//	expires  time
//	seen     time (format 2 only; format 1 records have none)
//
// where a string is a uvarint length and the bytes, and a time is the
// varint Unix seconds and the uvarint nanoseconds. Times come back in UTC.
// The id hash is the key and is not repeated in the value.
const (
	sessionFormat   = 2
	sessionFormatV1 = 1
)

var errMalformedSession = errors.New("malformed session record")

func encodeSession(s store.Session) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(s.UserID) + len(s.IP) + len(s.UserAgent) + 4*2*binary.MaxVarintLen64
	for _, m := range s.AMR {
		n += binary.MaxVarintLen64 + len(m)
	}
	b := make([]byte, 0, n)
	b = append(b, sessionFormat)
	b = appendString(b, s.UserID)
	b = appendTime(b, s.AuthTime)
	b = binary.AppendUvarint(b, uint64(len(s.AMR)))
	for _, m := range s.AMR {
		b = appendString(b, m)
	}
	b = appendString(b, s.IP)
	b = appendString(b, s.UserAgent)
	b = appendTime(b, s.CreatedAt)
	b = appendTime(b, s.ExpiresAt)
	b = appendTime(b, s.LastSeen)
	return b
}

// decodeSession decodes v, which may point into the database's memory map:
// the result shares no memory with it. idHash is copied into the result.
func decodeSession(idHash, v []byte) (store.Session, error) {
	if len(v) == 0 || v[0] != sessionFormat && v[0] != sessionFormatV1 {
		return store.Session{}, errMalformedSession
	}
	d := decoder[[]byte]{b: v[1:]}
	s := store.Session{IDHash: append([]byte(nil), idHash...)}
	s.UserID = d.string()
	s.AuthTime = d.time()
	if n := d.uvarint(); n > 0 {
		// Each entry takes at least one byte, which bounds n before the
		// allocation.
		if n > uint64(len(d.b)) {
			return store.Session{}, errMalformedSession
		}
		s.AMR = make([]string, n)
		for i := range s.AMR {
			s.AMR[i] = d.string()
		}
	}
	s.IP = d.string()
	s.UserAgent = d.string()
	s.CreatedAt = d.time()
	s.ExpiresAt = d.time()
	if v[0] == sessionFormat {
		s.LastSeen = d.time()
	}
	if d.bad || len(d.b) != 0 {
		return store.Session{}, errMalformedSession
	}
	return s, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads the encoding that the append functions write, from a byte
// slice or from a string. Reading from a string, string returns substrings
// of it: records copied into one string and decoded from there cost one
// allocation for all their strings, rather than one per field. After the
// first error a decoder returns zero values and sets bad.
type decoder[T []byte | string] struct {
	b   T
	bad bool
}

// uvarint reads what binary.AppendUvarint writes, as binary.Uvarint does,
// which takes no string.
func (d *decoder[T]) uvarint() uint64 {
	if d.bad {
		return 0
	}
	var x uint64
	var s uint
	for i := 0; i < len(d.b); i++ {
		if i == binary.MaxVarintLen64 {
			break // overflow
		}
		c := d.b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflow
			}
			d.b = d.b[i+1:]
			return x | uint64(c)<<s
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	d.bad = true
	return 0
}

// varint reads what binary.AppendVarint writes.
func (d *decoder[T]) varint() int64 {
	ux := d.uvarint()
	x := int64(ux >> 1)
	if ux&1 != 0 {
		x = ^x
	}
	return x
}

func (d *decoder[T]) string() string {
	n := d.uvarint()
	if d.bad {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder[T]) byte() byte {
	if d.bad {
		return 0
	}
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

// float reads 8 bytes: the big-endian IEEE 754 bits.
func (d *decoder[T]) float() float64 {
	if d.bad {
		return 0
	}
	if len(d.b) < 8 {
		d.bad = true
		return 0
	}
	var u uint64
	for i := range 8 {
		u = u<<8 | uint64(d.b[i])
	}
	d.b = d.b[8:]
	return math.Float64frombits(u)
}

func (d *decoder[T]) time() time.Time {
	sec := d.varint()
	nsec := d.uvarint()
	if d.bad {
		return time.Time{}
	}
	if nsec >= uint64(time.Second) {
		d.bad = true
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// A sign-in record value is:
//
//	format   byte (signInFormat)
//	flags    byte: flagStrong, flagCoords, flagRadius, flagMobile, flagAnonymous
//	time     time
//	ip, country, city, precision, device id, browser, os   strings
//	lat, lon 8 bytes each, big-endian IEEE 754, only with flagCoords
//	radius   8 bytes, big-endian IEEE 754, only with flagRadius
//
// and a payment record value is:
//
//	format   byte (paymentFormat)
//	flags    byte: flagStrong
//	time     time
//	amount   varint
//	currency, payee   strings
//
// Unknown flag bits are refused, so that a value decodes only if this build
// would have written it.
const (
	signInFormat  = 1
	paymentFormat = 1

	flagStrong    = 1 << 0
	flagCoords    = 1 << 1
	flagRadius    = 1 << 2
	flagMobile    = 1 << 3
	flagAnonymous = 1 << 4

	signInFlags = flagStrong | flagCoords | flagRadius | flagMobile | flagAnonymous
)

var (
	errMalformedSignIn  = errors.New("malformed sign-in record")
	errMalformedPayment = errors.New("malformed payment record")
)

func encodeSignIn(r store.SignInRecord) []byte {
	n := 2 + 2*binary.MaxVarintLen64 + 7*binary.MaxVarintLen64 + 3*8 +
		len(r.IP) + len(r.Country) + len(r.City) + len(r.Precision) + len(r.DeviceID) + len(r.Browser) + len(r.OS)
	b := make([]byte, 0, n)
	var flags byte
	if r.Strong {
		flags |= flagStrong
	}
	coords := math.Float64bits(r.Lat)|math.Float64bits(r.Lon) != 0
	if coords {
		flags |= flagCoords
	}
	radius := math.Float64bits(r.RadiusKm) != 0
	if radius {
		flags |= flagRadius
	}
	if r.Mobile {
		flags |= flagMobile
	}
	if r.Anonymous {
		flags |= flagAnonymous
	}
	b = append(b, signInFormat, flags)
	b = appendTime(b, r.Time)
	for _, s := range [...]string{r.IP, r.Country, r.City, r.Precision, r.DeviceID, r.Browser, r.OS} {
		b = appendString(b, s)
	}
	if coords {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Lat))
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Lon))
	}
	if radius {
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.RadiusKm))
	}
	return b
}

// decodeSignIn decodes v, which may point into the database's memory map:
// the result shares no memory with it.
func decodeSignIn(v []byte) (store.SignInRecord, error) {
	var r store.SignInRecord
	err := decodeSignInTo(&r, v)
	return r, err
}

// decodeSignInTo decodes v into *r. From a string, r's strings are
// substrings of v.
func decodeSignInTo[T []byte | string](r *store.SignInRecord, v T) error {
	if len(v) < 2 || v[0] != signInFormat {
		return errMalformedSignIn
	}
	d := decoder[T]{b: v[1:]}
	flags := d.byte()
	if flags&^signInFlags != 0 {
		return errMalformedSignIn
	}
	*r = store.SignInRecord{
		Time:      d.time(),
		IP:        d.string(),
		Country:   d.string(),
		City:      d.string(),
		Precision: d.string(),
		DeviceID:  d.string(),
		Browser:   d.string(),
		OS:        d.string(),
		Strong:    flags&flagStrong != 0,
		Mobile:    flags&flagMobile != 0,
		Anonymous: flags&flagAnonymous != 0,
	}
	if flags&flagCoords != 0 {
		r.Lat = d.float()
		r.Lon = d.float()
	}
	if flags&flagRadius != 0 {
		r.RadiusKm = d.float()
	}
	if d.bad || len(d.b) != 0 {
		*r = store.SignInRecord{}
		return errMalformedSignIn
	}
	return nil
}

func encodePayment(r store.PaymentRecord) []byte {
	b := make([]byte, 0, 2+3*binary.MaxVarintLen64+2*binary.MaxVarintLen64+len(r.Currency)+len(r.Payee))
	var flags byte
	if r.Strong {
		flags |= flagStrong
	}
	b = append(b, paymentFormat, flags)
	b = appendTime(b, r.Time)
	b = binary.AppendVarint(b, r.Amount)
	b = appendString(b, r.Currency)
	return appendString(b, r.Payee)
}

// decodePayment decodes v, which may point into the database's memory map:
// the result shares no memory with it.
func decodePayment(v []byte) (store.PaymentRecord, error) {
	var r store.PaymentRecord
	err := decodePaymentTo(&r, v)
	return r, err
}

// decodePaymentTo decodes v into *r. From a string, r's strings are
// substrings of v.
func decodePaymentTo[T []byte | string](r *store.PaymentRecord, v T) error {
	if len(v) < 2 || v[0] != paymentFormat {
		return errMalformedPayment
	}
	d := decoder[T]{b: v[1:]}
	flags := d.byte()
	if flags&^flagStrong != 0 {
		return errMalformedPayment
	}
	*r = store.PaymentRecord{
		Time:     d.time(),
		Amount:   d.varint(),
		Currency: d.string(),
		Payee:    d.string(),
		Strong:   flags&flagStrong != 0,
	}
	if d.bad || len(d.b) != 0 {
		*r = store.PaymentRecord{}
		return errMalformedPayment
	}
	return nil
}

// A time value (in devices, payees) is a time as above and nothing else.
func encodeTime(t time.Time) []byte {
	return appendTime(make([]byte, 0, 2*binary.MaxVarintLen64), t)
}

var errMalformedTime = errors.New("malformed time value")

func decodeTime(v []byte) (time.Time, error) {
	d := decoder[[]byte]{b: v}
	t := d.time()
	if d.bad || len(d.b) != 0 {
		return time.Time{}, errMalformedTime
	}
	return t, nil
}
