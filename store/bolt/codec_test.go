package bolt

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/assent-auth/assent/store"
)

func TestSessionCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, time.March, 1, 12, 0, 0, 123456789, time.UTC)
	for _, s := range []store.Session{
		{IDHash: []byte{1}, UserID: "u"},
		{
			IDHash:    bytes.Repeat([]byte{0xab}, 32),
			UserID:    "user-1",
			AuthTime:  at,
			AMR:       []string{"pwd", "otp", ""},
			IP:        "2001:db8::1",
			UserAgent: "agent/1.0 (ünïcode)",
			CreatedAt: at.Add(-time.Hour),
			ExpiresAt: at.Add(24 * time.Hour),
			LastSeen:  at.Add(time.Minute),
		},
		{IDHash: []byte{2}, UserID: "before 1970", AuthTime: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC)},
	} {
		got, err := decodeSession(s.IDHash, encodeSession(s))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", s, err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, s)
		}
	}
}

// TestSessionCodecReadsFormat1: records written before LastSeen existed
// still decode, with a zero LastSeen.
func TestSessionCodecReadsFormat1(t *testing.T) {
	at := time.Date(2025, time.March, 1, 12, 0, 0, 0, time.UTC)
	s := store.Session{IDHash: []byte{1}, UserID: "u", AMR: []string{"pwd"}, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
	v := encodeSession(s)
	v = v[:len(v)-len(appendTime(nil, time.Time{}))]
	v[0] = sessionFormatV1
	got, err := decodeSession(s.IDHash, v)
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Errorf("format 1: %+v, %v; want %+v", got, err, s)
	}
}

func TestSessionCodecKeepsInstantNotZone(t *testing.T) {
	at := time.Date(2025, time.March, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	got, err := decodeSession([]byte{1}, encodeSession(store.Session{UserID: "u", ExpiresAt: at}))
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(at) || got.ExpiresAt.Location() != time.UTC {
		t.Errorf("ExpiresAt = %v, want %v in UTC", got.ExpiresAt, at.UTC())
	}
}

func TestSessionCodecRejectsMalformed(t *testing.T) {
	good := encodeSession(store.Session{UserID: "user", AMR: []string{"pwd"}, IP: "192.0.2.1"})
	bad := map[string][]byte{
		"empty":          nil,
		"unknown format": append([]byte{sessionFormat + 1}, good[1:]...),
		"trailing bytes": append(bytes.Clone(good), 0),
		"huge amr count": {sessionFormat, 1, 'u', 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"nanos too big":  {sessionFormat, 1, 'u', 0, 0x80, 0x94, 0xeb, 0xdc, 0x03},
	}
	for i := range len(good) - 1 {
		bad["truncated "+string(rune('a'+i))] = good[:i+1]
	}
	for name, v := range bad {
		if s, err := decodeSession([]byte{1}, v); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, s)
		}
	}
}

func FuzzSessionCodec(f *testing.F) {
	f.Add(encodeSession(store.Session{UserID: "u", AMR: []string{"pwd"}}))
	f.Add(encodeSession(store.Session{
		UserID:    "user-1",
		AuthTime:  time.Date(2025, time.March, 1, 12, 0, 0, 5, time.UTC),
		IP:        "192.0.2.1",
		UserAgent: "agent",
		ExpiresAt: time.Date(2025, time.March, 2, 12, 0, 0, 0, time.UTC),
	}))
	f.Add([]byte{sessionFormat})
	f.Add([]byte{sessionFormat, 0x81, 0x00, 'u', 0, 0, 0, 0, 0, 0, 0, 0, 0}) // overlong length
	f.Fuzz(func(t *testing.T, v []byte) {
		s, err := decodeSession([]byte{1}, v)
		if err != nil {
			return
		}
		// Whatever decodes survives a round trip unchanged. (The bytes may
		// differ: a varint may be written longer than needed.)
		again, err := decodeSession([]byte{1}, encodeSession(s))
		if err != nil {
			t.Fatalf("decoding the re-encoding of %+v: %v", s, err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Errorf("round trip:\n got %+v\nwant %+v", again, s)
		}
	})
}

func TestSignInCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, time.March, 1, 12, 0, 0, 123456789, time.UTC)
	for _, r := range []store.SignInRecord{
		{},
		{Time: at, IP: "2001:db8::1", Strong: true},
		{
			Time: at, IP: "192.0.2.1", Country: "DE", City: "Köln", Lat: 50.9375, Lon: -6.9603,
			RadiusKm: 20, Mobile: true, Anonymous: true,
			Precision: "city", DeviceID: "dev-1", Browser: "Firefox", OS: "Linux", Strong: true,
		},
		{Time: at, Country: "US", RadiusKm: 1000, Precision: "country"},
		{Time: at, Anonymous: true},
		{Time: at, Lat: 0, Lon: 1e-300},          // one coordinate zero
		{Time: at, Lat: math.Inf(-1), Lon: 90.0}, // odd but representable
		{Time: time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC), Country: "FR", Precision: "country"},
	} {
		got, err := decodeSignIn(encodeSignIn(r))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestSignInCodecKeepsNaN(t *testing.T) {
	got, err := decodeSignIn(encodeSignIn(store.SignInRecord{Lat: math.NaN()}))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got.Lat) || got.Lon != 0 {
		t.Errorf("Lat, Lon = %v, %v; want NaN, 0", got.Lat, got.Lon)
	}
}

func TestPaymentCodecRoundTrip(t *testing.T) {
	at := time.Date(2025, time.March, 1, 12, 0, 0, 5, time.UTC)
	for _, r := range []store.PaymentRecord{
		{},
		{Time: at, Amount: 12_345, Currency: "EUR", Payee: "DE89370400440532013000", Strong: true},
		{Time: at, Amount: -1, Currency: "GBP", Payee: "refund"},
		{Time: at, Amount: math.MaxInt64},
		{Time: at, Amount: math.MinInt64},
	} {
		got, err := decodePayment(encodePayment(r))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", r, err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
		}
	}
}

func TestHistoryCodecsKeepInstantNotZone(t *testing.T) {
	at := time.Date(2025, time.March, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))
	s, err := decodeSignIn(encodeSignIn(store.SignInRecord{Time: at}))
	if err != nil {
		t.Fatal(err)
	}
	p, err := decodePayment(encodePayment(store.PaymentRecord{Time: at}))
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []time.Time{s.Time, p.Time} {
		if !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("Time = %v, want %v in UTC", got, at.UTC())
		}
	}
}

func TestHistoryCodecsRejectMalformed(t *testing.T) {
	goodSignIn := encodeSignIn(store.SignInRecord{Time: time.Unix(1, 2), IP: "192.0.2.1", Lat: 1, Lon: 2, RadiusKm: 3, Strong: true})
	goodPayment := encodePayment(store.PaymentRecord{Time: time.Unix(1, 2), Amount: 300, Currency: "EUR", Payee: "p"})
	goodUser := historyUser{signIns: 3, payments: 400, lastReport: time.Unix(5, 6)}.encode()
	decoders := map[string]func([]byte) error{
		"sign-in": func(v []byte) error { _, err := decodeSignIn(v); return err },
		"payment": func(v []byte) error { _, err := decodePayment(v); return err },
		"summary": func(v []byte) error { _, err := decodeHistoryUser(v); return err },
	}
	goods := map[string][]byte{"sign-in": goodSignIn, "payment": goodPayment, "summary": goodUser}
	for kind, good := range goods {
		if err := decoders[kind](good); err != nil {
			t.Fatalf("%s: the good value does not decode: %v", kind, err)
		}
		bad := map[string][]byte{
			"empty":          nil,
			"unknown format": append([]byte{good[0] + 1}, good[1:]...),
			"trailing bytes": append(bytes.Clone(good), 0),
		}
		if kind != "summary" {
			bad["unknown flag"] = append([]byte{good[0], good[1] | 0x80}, good[2:]...)
		}
		for i := range len(good) - 1 {
			bad["truncated to "+strconv.Itoa(i+1)] = good[:i+1]
		}
		for name, v := range bad {
			if err := decoders[kind](v); err == nil {
				t.Errorf("%s, %s: decoded, want an error", kind, name)
			}
		}
	}
	// Coordinates or radius flagged but missing.
	for _, flag := range []byte{flagCoords, flagRadius} {
		v := encodeSignIn(store.SignInRecord{})
		v[1] |= flag
		if _, err := decodeSignIn(v); err == nil {
			t.Errorf("sign-in flagged %#x without the value decoded", flag)
		}
	}
}

func TestHistoryUserCodecRoundTrip(t *testing.T) {
	for _, h := range []historyUser{
		{},
		{signIns: store.MaxSignIns, payments: store.MaxPayments},
		{signIns: 1, lastReport: time.Date(2025, time.March, 1, 12, 0, 0, 7, time.UTC)},
	} {
		got, err := decodeHistoryUser(h.encode())
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", h, err)
		}
		if !reflect.DeepEqual(got, h) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, h)
		}
	}
}

// sameSignIn is reflect.DeepEqual except that NaN equals NaN.
func sameSignIn(a, b store.SignInRecord) bool {
	bits := math.Float64bits
	if bits(a.Lat) != bits(b.Lat) || bits(a.Lon) != bits(b.Lon) || bits(a.RadiusKm) != bits(b.RadiusKm) {
		return false
	}
	a.Lat, a.Lon, a.RadiusKm, b.Lat, b.Lon, b.RadiusKm = 0, 0, 0, 0, 0, 0
	return reflect.DeepEqual(a, b)
}

// fillAll sets every field of the struct v points to to a value other than
// its zero value, different for each field, so that a codec that leaves a
// field out (say, one added to the store types later) fails a round trip.
func fillAll(t *testing.T, v any) {
	t.Helper()
	rv := reflect.ValueOf(v).Elem()
	for i := range rv.NumField() {
		f, name := rv.Field(i), rv.Type().Field(i).Name
		switch f.Interface().(type) {
		case string:
			f.SetString(name + " value")
		case bool:
			f.SetBool(true)
		case int64:
			f.SetInt(-int64(1000 + i))
		case int:
			f.SetInt(int64(1000 + i))
		case uint64:
			f.SetUint(uint64(1000 + i))
		case float64:
			f.SetFloat(float64(i) + 0.25)
		case time.Time:
			f.Set(reflect.ValueOf(time.Date(2025, time.March, 1, 12, 0, i, i, time.UTC)))
		case []byte:
			f.SetBytes([]byte(name + " bytes"))
		case []string:
			f.Set(reflect.ValueOf([]string{name, "second"}))
		default:
			t.Fatalf("fillAll: field %s of type %s: teach the test, and check the codec", name, f.Type())
		}
	}
}

// TestCodecsCarryEveryField round-trips records with every field set. When
// a field is added to a store type this fails until the codec carries it.
func TestCodecsCarryEveryField(t *testing.T) {
	var sess store.Session
	fillAll(t, &sess)
	gotSess, err := decodeSession(sess.IDHash, encodeSession(sess))
	if err != nil || !reflect.DeepEqual(gotSess, sess) {
		t.Errorf("session round trip = %+v, %v; want %+v", gotSess, err, sess)
	}
	var si store.SignInRecord
	fillAll(t, &si)
	gotSI, err := decodeSignIn(encodeSignIn(si))
	if err != nil || !reflect.DeepEqual(gotSI, si) {
		t.Errorf("sign-in round trip = %+v, %v; want %+v", gotSI, err, si)
	}
	var p store.PaymentRecord
	fillAll(t, &p)
	gotP, err := decodePayment(encodePayment(p))
	if err != nil || !reflect.DeepEqual(gotP, p) {
		t.Errorf("payment round trip = %+v, %v; want %+v", gotP, err, p)
	}
	// And each field alone, so that one field cannot stand in for another.
	for i := range reflect.TypeFor[store.SignInRecord]().NumField() {
		var one store.SignInRecord
		reflect.ValueOf(&one).Elem().Field(i).Set(reflect.ValueOf(si).Field(i))
		if got, err := decodeSignIn(encodeSignIn(one)); err != nil || !reflect.DeepEqual(got, one) {
			t.Errorf("sign-in with only %s set: round trip = %+v, %v; want %+v",
				reflect.TypeFor[store.SignInRecord]().Field(i).Name, got, err, one)
		}
	}
}

func FuzzSignInCodec(f *testing.F) {
	f.Add(encodeSignIn(store.SignInRecord{}))
	f.Add(encodeSignIn(store.SignInRecord{
		Time: time.Date(2025, time.March, 1, 12, 0, 0, 5, time.UTC), IP: "192.0.2.1", Country: "DE",
		City: "Berlin", Lat: 52.52, Lon: 13.405, RadiusKm: 25, Mobile: true, Anonymous: true,
		Precision: "city", DeviceID: "d", Browser: "b", OS: "o", Strong: true,
	}))
	f.Add([]byte{signInFormat, signInFlags})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodeSignIn(v)
		if err != nil {
			return
		}
		again, err := decodeSignIn(encodeSignIn(r))
		if err != nil {
			t.Fatalf("decoding the re-encoding of %+v: %v", r, err)
		}
		if !sameSignIn(again, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", again, r)
		}
	})
}

func FuzzPaymentCodec(f *testing.F) {
	f.Add(encodePayment(store.PaymentRecord{}))
	f.Add(encodePayment(store.PaymentRecord{Time: time.Unix(1e9, 5), Amount: -42, Currency: "EUR", Payee: "p", Strong: true}))
	f.Add([]byte{paymentFormat, 0, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		r, err := decodePayment(v)
		if err != nil {
			return
		}
		again, err := decodePayment(encodePayment(r))
		if err != nil {
			t.Fatalf("decoding the re-encoding of %+v: %v", r, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Errorf("round trip:\n got %+v\nwant %+v", again, r)
		}
	})
}

// FuzzDecoderVarints checks the decoder's own varint reading, which also
// reads strings, against encoding/binary's.
func FuzzDecoderVarints(f *testing.F) {
	for _, v := range []uint64{0, 1, 127, 128, 300, math.MaxUint32, math.MaxUint64} {
		f.Add(binary.AppendUvarint(nil, v))
	}
	f.Add([]byte{0x80, 0x00})                                                 // overlong, accepted
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}) // overflow
	f.Add([]byte{0x80})                                                       // truncated
	f.Fuzz(func(t *testing.T, b []byte) {
		want, n := binary.Uvarint(b)
		fromBytes := decoder[[]byte]{b: b}
		fromString := decoder[string]{b: string(b)}
		for name, got := range map[string]uint64{"bytes": fromBytes.uvarint(), "string": fromString.uvarint()} {
			if n <= 0 {
				if !fromBytes.bad || !fromString.bad {
					t.Errorf("%s: uvarint(%x) = %d, want an error", name, b, got)
				}
				continue
			}
			if got != want {
				t.Errorf("%s: uvarint(%x) = %d, want %d", name, b, got, want)
			}
		}
		if n > 0 && (len(fromBytes.b) != len(b)-n || len(fromString.b) != len(b)-n) {
			t.Errorf("uvarint(%x) left %d and %d bytes, want %d", b, len(fromBytes.b), len(fromString.b), len(b)-n)
		}
		wantV, nv := binary.Varint(b)
		d := decoder[string]{b: string(b)}
		if gotV := d.varint(); (nv <= 0) != d.bad || (nv > 0 && gotV != wantV) {
			t.Errorf("varint(%x) = %d, bad %v; want %d, n %d", b, gotV, d.bad, wantV, nv)
		}
	})
}
