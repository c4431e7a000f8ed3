package bolt

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/assent-auth/assent/store"
)

// Sessions are read on every authenticated request, so they are stored in a
// compact binary form rather than JSON, which costs several times more to
// decode. Users and audit events are read far less often and stay JSON.
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
//
// where a string is a uvarint length and the bytes, and a time is the
// varint Unix seconds and the uvarint nanoseconds. Times come back in UTC.
// The id hash is the key and is not repeated in the value.
const sessionFormat = 1

var errMalformedSession = errors.New("malformed session record")

func encodeSession(s store.Session) []byte {
	n := 1 + 3*binary.MaxVarintLen64 + len(s.UserID) + len(s.IP) + len(s.UserAgent) + 3*2*binary.MaxVarintLen64
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
	return b
}

// decodeSession decodes v, which may point into the database's memory map:
// the result shares no memory with it. idHash is copied into the result.
func decodeSession(idHash, v []byte) (store.Session, error) {
	if len(v) == 0 || v[0] != sessionFormat {
		return store.Session{}, errMalformedSession
	}
	d := decoder{b: v[1:]}
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

// decoder reads the encoding that the append functions write. After the
// first error it returns zero values and sets bad.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
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

func (d *decoder) time() time.Time {
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
