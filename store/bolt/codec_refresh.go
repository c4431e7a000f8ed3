package bolt

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/store"
)

// A refresh token is read twice and written twice on every refresh grant
// (found, then spent and succeeded inside the rotation's transaction,
// which runs on the single writer), so it is stored in the compact binary
// form of codec.go rather than JSON:
//
//	format   byte (refreshFormat)
//	family   string
//	user id  string
//	client   string
//	grant    string (the provider's bytes)
//	created  time
//	expires  time
//	spent    byte (0 or 1)
//	session  string
//
// The token hash is the key and is not repeated. Records written as JSON
// by earlier releases (they start with '{') are still read.
const refreshFormat = 1

var errMalformedRefresh = errors.New("malformed refresh token record")

func encodeRefresh(t store.OIDCRefreshToken) []byte {
	n := 1 + 6*binary.MaxVarintLen64 + len(t.Family) + len(t.UserID) + len(t.ClientID) + len(t.Grant) + len(t.Session) + 4*binary.MaxVarintLen64 + 1
	b := make([]byte, 0, n)
	b = append(b, refreshFormat)
	b = appendString(b, t.Family)
	b = appendString(b, t.UserID)
	b = appendString(b, t.ClientID)
	b = binary.AppendUvarint(b, uint64(len(t.Grant)))
	b = append(b, t.Grant...)
	b = appendTime(b, t.CreatedAt)
	b = appendTime(b, t.ExpiresAt)
	spent := byte(0)
	if t.Spent {
		spent = 1
	}
	b = append(b, spent)
	b = binary.AppendUvarint(b, uint64(len(t.Session)))
	return append(b, t.Session...)
}

// decodeRefresh decodes the record v stored under hash; v may point into
// the database's memory map, and the result shares no memory with it.
func decodeRefresh(hash, v []byte) (store.OIDCRefreshToken, error) {
	if len(v) > 0 && v[0] == '{' {
		var t store.OIDCRefreshToken
		if err := json.Unmarshal(v, &t); err != nil {
			return store.OIDCRefreshToken{}, fmt.Errorf("decode refresh token: %w", err)
		}
		return t, nil
	}
	if len(v) == 0 || v[0] != refreshFormat {
		return store.OIDCRefreshToken{}, errMalformedRefresh
	}
	d := decoder[[]byte]{b: v[1:]}
	t := store.OIDCRefreshToken{TokenHash: append([]byte(nil), hash...)}
	t.Family = d.string()
	t.UserID = d.string()
	t.ClientID = d.string()
	if g := d.string(); g != "" {
		t.Grant = []byte(g)
	}
	t.CreatedAt = d.time()
	t.ExpiresAt = d.time()
	switch d.byte() {
	case 0:
	case 1:
		t.Spent = true
	default:
		d.bad = true
	}
	if s := d.string(); s != "" {
		t.Session = []byte(s)
	}
	if d.bad || len(d.b) != 0 {
		return store.OIDCRefreshToken{}, errMalformedRefresh
	}
	return t, nil
}

// getRefresh reads the refresh token stored under hash in tx, or
// store.ErrNotFound.
func getRefresh(tx *bbolt.Tx, hash []byte) (store.OIDCRefreshToken, error) {
	if len(hash) == 0 {
		return store.OIDCRefreshToken{}, store.ErrNotFound
	}
	v := tx.Bucket(bucketOIDCRefresh).Get(hash)
	if v == nil {
		return store.OIDCRefreshToken{}, store.ErrNotFound
	}
	return decodeRefresh(hash, v)
}
