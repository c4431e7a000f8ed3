package profiles

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Password hash schemes, named by the identifier each one's encoding starts
// with.
const (
	// SchemeArgon2id is the current scheme: $argon2id$v=19$m=..,t=..,p=..$salt$hash.
	SchemeArgon2id = "argon2id"
	// SchemeArgon2i is accepted for import: $argon2i$v=19$m=..,t=..,p=..$salt$hash.
	SchemeArgon2i = "argon2i"
	// SchemeBcrypt is accepted for import: $2a$, $2b$ or $2y$, cost, salt and hash.
	SchemeBcrypt = "bcrypt"
	// SchemePBKDF2Django is Django's PBKDF2-HMAC-SHA256:
	// pbkdf2_sha256$iterations$salt$base64(hash).
	SchemePBKDF2Django = "pbkdf2_sha256"
	// SchemePBKDF2Passlib is passlib's PBKDF2-HMAC-SHA256:
	// $pbkdf2-sha256$iterations$ab64(salt)$ab64(hash), where ab64 is
	// unpadded base64 with '.' in place of '+'.
	SchemePBKDF2Passlib = "pbkdf2-sha256"
)

// ErrUnsupportedHash reports an encoded password hash that is malformed, of
// an unknown scheme, or whose parameters are outside the accepted bounds.
var ErrUnsupportedHash = errors.New("profiles: unsupported password hash")

// Bounds on the parameters of hashes this package accepts. Hashes may come
// from imported data, and a hash's parameters decide how much CPU and memory
// verifying it costs, so anything beyond what a sane deployment would use is
// refused rather than computed.
const (
	minKeyLen        = 16
	maxKeyLen        = 128
	minArgon2SaltLen = 8 // RFC 9106 section 3.1
	maxSaltLen       = 1024
	maxArgon2Memory  = 1 << 20 // KiB, 1 GiB
	maxArgon2Time    = 100
	maxBcryptCost    = 16 // some 5 s; deployments use 10 to 12
	maxPBKDF2Iter    = 10_000_000
	argon2Version    = 19 // 0x13, the only version x/crypto/argon2 implements
)

// Argon2Params are the cost parameters of argon2id hashes.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultArgon2Params are OWASP's minimum recommendation for argon2id:
// 19 MiB of memory, two passes, one lane, a 16-byte salt and a 32-byte key.
// Treat it as a constant.
var DefaultArgon2Params = Argon2Params{
	Memory:  19 * 1024,
	Time:    2,
	Threads: 1,
	SaltLen: 16,
	KeyLen:  32,
}

// Validate reports whether p can be used to make new hashes. The bounds are
// the ones Verify enforces on stored hashes, except that new salts must be at
// least 16 bytes.
func (p Argon2Params) Validate() error {
	var errs []error
	if p.Threads < 1 {
		errs = append(errs, errors.New("threads must be at least 1"))
	}
	if p.Time < 1 || p.Time > maxArgon2Time {
		errs = append(errs, fmt.Errorf("time must be within 1..%d", maxArgon2Time))
	}
	if p.Memory < 8*uint32(p.Threads) || p.Memory > maxArgon2Memory {
		errs = append(errs, fmt.Errorf("memory must be within 8*threads..%d KiB", maxArgon2Memory))
	}
	if p.SaltLen < 16 || p.SaltLen > maxSaltLen {
		errs = append(errs, fmt.Errorf("salt length must be within 16..%d bytes", maxSaltLen))
	}
	if p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen {
		errs = append(errs, fmt.Errorf("key length must be within %d..%d bytes", minKeyLen, maxKeyLen))
	}
	if len(errs) > 0 {
		return fmt.Errorf("argon2 parameters: %w", errors.Join(errs...))
	}
	return nil
}

// Hasher hashes passwords with argon2id and verifies hashes of every
// supported scheme. It is safe for concurrent use; do not change Params
// while it is in use.
type Hasher struct {
	Params Argon2Params
	// slots bounds the hashes computed at once to the cores: more would
	// finish no sooner, while each holds Params.Memory of buffers and the
	// garbage collector's heap target grows with the peak (16 concurrent
	// sign-ins on 2 cores held over a GiB with GOGC=400). nil: no bound.
	slots chan struct{}
}

// NewHasher returns a Hasher that makes hashes with p. Hash reports p's
// problems, if any (see Argon2Params.Validate). It computes at most
// GOMAXPROCS hashes at once; further calls wait their turn.
func NewHasher(p Argon2Params) *Hasher {
	return &Hasher{Params: p, slots: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))}
}

// acquire waits for a free slot and returns its release.
func (h *Hasher) acquire() (release func()) {
	if h.slots == nil {
		return func() {}
	}
	h.slots <- struct{}{}
	return func() { <-h.slots }
}

// Hash returns the argon2id PHC string of password under a fresh random salt.
// It does not apply the password policy: see CheckPassword.
func (h *Hasher) Hash(password string) (string, error) {
	p := h.Params
	if err := p.Validate(); err != nil {
		return "", err
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	defer h.acquire()()
	ph := passwordHash{
		scheme: SchemeArgon2id,
		params: p,
		salt:   salt,
		key:    argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen),
	}
	return ph.String(), nil
}

// Verify checks password against an encoded hash of any supported scheme.
// ok reports a match. rehash reports that the hash should be replaced by
// h.Hash(password): it is a legacy scheme, or argon2id with parameters other
// than h.Params. rehash is never true without ok. Key comparison is
// constant-time. A malformed or unsupported hash returns an error wrapping
// ErrUnsupportedHash; Verify never panics on any input.
func (h *Hasher) Verify(encoded, password string) (ok, rehash bool, err error) {
	ph, err := parsePasswordHash(encoded)
	if err != nil {
		return false, false, err
	}
	release := h.acquire()
	ok, err = ph.verify(password)
	release()
	if err != nil || !ok {
		return false, false, err
	}
	return true, ph.needsRehash(h.Params), nil
}

// DummyVerify spends the time Verify spends on a current hash (argon2id with
// h.Params), and reports nothing. Call it when there is no hash to check, such
// as for an unknown account, so the answer comes back after the same time.
func (h *Hasher) DummyVerify(password string) {
	p := h.Params
	if p.Validate() != nil {
		p = DefaultArgon2Params
	}
	// The same work Verify does: parse a current hash, derive, compare.
	dummy := passwordHash{
		scheme: SchemeArgon2id,
		params: p,
		salt:   make([]byte, p.SaltLen),
		key:    make([]byte, p.KeyLen),
	}
	_, _, _ = h.Verify(dummy.String(), password)
}

// ParseHash checks that encoded is a well-formed hash of a supported scheme
// with parameters within bounds, without verifying any password, and returns
// its scheme (one of the Scheme constants). Use it to validate imported
// hashes. Errors wrap ErrUnsupportedHash.
func ParseHash(encoded string) (scheme string, err error) {
	ph, err := parsePasswordHash(encoded)
	if err != nil {
		return "", err
	}
	return ph.scheme, nil
}

// passwordHash is a parsed encoded hash.
type passwordHash struct {
	scheme string
	params Argon2Params // argon2 only
	rounds uint32       // PBKDF2 iterations, or bcrypt's log2 cost
	salt   []byte       // raw bytes; for Django, the salt string's bytes
	key    []byte
	// bcrypt: the encoded hash as the bcrypt package accepts it ($2y$ read
	// as $2b$, the same algorithm), and the variant letter it had.
	bcrypt  []byte
	variant byte
}

// hashError returns an error wrapping ErrUnsupportedHash. It never includes
// the encoded hash itself.
func hashError(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnsupportedHash}, args...)...)
}

// ab64 is passlib's "adapted base64": the standard alphabet with '.' in place
// of '+', without padding.
var ab64 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").WithPadding(base64.NoPadding).Strict()

var phcB64 = base64.RawStdEncoding.Strict()

func parsePasswordHash(encoded string) (*passwordHash, error) {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return parseArgon2(SchemeArgon2id, encoded)
	case strings.HasPrefix(encoded, "$argon2i$"):
		return parseArgon2(SchemeArgon2i, encoded)
	case strings.HasPrefix(encoded, "$2"):
		return parseBcrypt(encoded)
	case strings.HasPrefix(encoded, "pbkdf2_sha256$"):
		return parsePBKDF2(SchemePBKDF2Django, encoded)
	case strings.HasPrefix(encoded, "$pbkdf2-sha256$"):
		return parsePBKDF2(SchemePBKDF2Passlib, encoded)
	case strings.HasPrefix(encoded, "$argon2d$"):
		return nil, hashError("argon2d is not supported")
	}
	return nil, hashError("unknown scheme")
}

// parseArgon2 parses $argon2id$v=19$m=M,t=T,p=P$salt$hash (or argon2i),
// with salt and hash in unpadded standard base64, as the reference
// implementation writes it.
func parseArgon2(scheme, encoded string) (*passwordHash, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 {
		return nil, hashError("%s: want 5 fields", scheme)
	}
	if parts[2] != "v="+strconv.Itoa(argon2Version) {
		return nil, hashError("%s: version must be v=%d", scheme, argon2Version)
	}
	m, t, p, ok := parseArgon2Params(parts[3])
	if !ok {
		return nil, hashError("%s: parameters must be m=<memory>,t=<time>,p=<threads>", scheme)
	}
	switch {
	case p < 1 || p > 255:
		return nil, hashError("%s: threads %d outside 1..255", scheme, p)
	case t < 1 || t > maxArgon2Time:
		return nil, hashError("%s: time %d outside 1..%d", scheme, t, maxArgon2Time)
	case m < 8*p || m > maxArgon2Memory:
		return nil, hashError("%s: memory %d KiB outside 8*threads..%d", scheme, m, maxArgon2Memory)
	}
	salt, err := decodeBounded(phcB64, parts[4], minArgon2SaltLen, maxSaltLen)
	if err != nil {
		return nil, hashError("%s: salt: %v", scheme, err)
	}
	key, err := decodeBounded(phcB64, parts[5], minKeyLen, maxKeyLen)
	if err != nil {
		return nil, hashError("%s: hash: %v", scheme, err)
	}
	return &passwordHash{
		scheme: scheme,
		params: Argon2Params{
			Memory:  uint32(m),
			Time:    uint32(t),
			Threads: uint8(p),
			SaltLen: uint32(len(salt)),
			KeyLen:  uint32(len(key)),
		},
		salt: salt,
		key:  key,
	}, nil
}

func parseArgon2Params(s string) (m, t, p uint64, ok bool) {
	ms, rest, ok1 := strings.Cut(s, ",")
	ts, ps, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	ms, ok1 = strings.CutPrefix(ms, "m=")
	ts, ok2 = strings.CutPrefix(ts, "t=")
	ps, ok3 := strings.CutPrefix(ps, "p=")
	if !ok1 || !ok2 || !ok3 {
		return 0, 0, 0, false
	}
	m, ok1 = parseDecimal(ms)
	t, ok2 = parseDecimal(ts)
	p, ok3 = parseDecimal(ps)
	return m, t, p, ok1 && ok2 && ok3
}

// parseDecimal parses a canonical unsigned decimal of at most 10 digits: no
// sign, no leading zeros.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// decodeBounded decodes s and checks that the result is min..max bytes long,
// refusing oversized input before decoding it.
func decodeBounded(enc *base64.Encoding, s string, min, max int) ([]byte, error) {
	if len(s) > enc.EncodedLen(max) {
		return nil, fmt.Errorf("longer than %d bytes", max)
	}
	if strings.ContainsAny(s, "\r\n") {
		// The decoder skips line breaks even in strict mode.
		return nil, errors.New("invalid base64")
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("invalid base64")
	}
	if len(b) < min || len(b) > max {
		return nil, fmt.Errorf("%d bytes, outside %d..%d", len(b), min, max)
	}
	return b, nil
}

// parseBcrypt parses $2a$, $2b$ or $2y$ followed by a two-digit cost, '$'
// and 53 characters of bcrypt's base64 (22 of salt, 31 of hash).
func parseBcrypt(encoded string) (*passwordHash, error) {
	const encodedLen = 60
	if len(encoded) != encodedLen || encoded[0] != '$' || encoded[1] != '2' || encoded[3] != '$' || encoded[6] != '$' {
		return nil, hashError("bcrypt: want $2b$NN$ and 53 characters")
	}
	variant := encoded[2]
	if variant != 'a' && variant != 'b' && variant != 'y' {
		return nil, hashError("bcrypt: variant must be 2a, 2b or 2y")
	}
	d0, d1 := encoded[4], encoded[5]
	if d0 < '0' || d0 > '9' || d1 < '0' || d1 > '9' {
		return nil, hashError("bcrypt: cost must be two digits")
	}
	cost := int(d0-'0')*10 + int(d1-'0')
	if cost < bcrypt.MinCost || cost > maxBcryptCost {
		return nil, hashError("bcrypt: cost %d outside %d..%d", cost, bcrypt.MinCost, maxBcryptCost)
	}
	for i := 7; i < encodedLen; i++ {
		if !isBcryptBase64(encoded[i]) {
			return nil, hashError("bcrypt: invalid character in salt or hash")
		}
	}
	b := []byte(encoded)
	if variant == 'y' {
		// $2y$ is PHP's name for the corrected algorithm that OpenBSD calls
		// $2b$; the bcrypt package knows it as the latter.
		b[2] = 'b'
	}
	return &passwordHash{scheme: SchemeBcrypt, rounds: uint32(cost), bcrypt: b, variant: variant}, nil
}

func isBcryptBase64(c byte) bool {
	return c == '.' || c == '/' || ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9')
}

// parsePBKDF2 parses Django's pbkdf2_sha256$iter$salt$b64 (salt used as its
// bytes, hash in padded standard base64) and passlib's
// $pbkdf2-sha256$iter$ab64salt$ab64hash.
func parsePBKDF2(scheme, encoded string) (*passwordHash, error) {
	parts := strings.Split(encoded, "$")
	var iterS, saltS, keyS string
	var salt []byte
	switch scheme {
	case SchemePBKDF2Django:
		if len(parts) != 4 {
			return nil, hashError("%s: want 4 fields", scheme)
		}
		iterS, saltS, keyS = parts[1], parts[2], parts[3]
		if saltS == "" || len(saltS) > maxSaltLen {
			return nil, hashError("%s: salt length outside 1..%d", scheme, maxSaltLen)
		}
		salt = []byte(saltS)
	default:
		if len(parts) != 5 {
			return nil, hashError("%s: want 4 fields", scheme)
		}
		iterS, saltS, keyS = parts[2], parts[3], parts[4]
		var err error
		if salt, err = decodeBounded(ab64, saltS, 0, maxSaltLen); err != nil {
			return nil, hashError("%s: salt: %v", scheme, err)
		}
	}
	iter, ok := parseDecimal(iterS)
	if !ok || iter < 1 || iter > maxPBKDF2Iter {
		return nil, hashError("%s: iterations must be a number within 1..%d", scheme, maxPBKDF2Iter)
	}
	enc := ab64
	if scheme == SchemePBKDF2Django {
		enc = base64.StdEncoding.Strict()
	}
	key, err := decodeBounded(enc, keyS, minKeyLen, maxKeyLen)
	if err != nil {
		return nil, hashError("%s: hash: %v", scheme, err)
	}
	return &passwordHash{
		scheme: scheme,
		rounds: uint32(iter),
		salt:   salt,
		key:    key,
	}, nil
}

// String encodes ph in its scheme's canonical form; for every hash that
// parsePasswordHash accepts, it returns the input.
func (ph *passwordHash) String() string {
	p := ph.params
	switch ph.scheme {
	case SchemeArgon2id, SchemeArgon2i:
		return fmt.Sprintf("$%s$v=%d$m=%d,t=%d,p=%d$%s$%s", ph.scheme, argon2Version,
			p.Memory, p.Time, p.Threads, phcB64.EncodeToString(ph.salt), phcB64.EncodeToString(ph.key))
	case SchemeBcrypt:
		b := bytes.Clone(ph.bcrypt)
		b[2] = ph.variant
		return string(b)
	case SchemePBKDF2Django:
		return fmt.Sprintf("%s$%d$%s$%s", ph.scheme, ph.rounds, ph.salt, base64.StdEncoding.EncodeToString(ph.key))
	case SchemePBKDF2Passlib:
		return fmt.Sprintf("$%s$%d$%s$%s", ph.scheme, ph.rounds, ab64.EncodeToString(ph.salt), ab64.EncodeToString(ph.key))
	}
	return ""
}

func (ph *passwordHash) verify(password string) (bool, error) {
	var got []byte
	switch ph.scheme {
	case SchemeArgon2id:
		p := ph.params
		got = argon2.IDKey([]byte(password), ph.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	case SchemeArgon2i:
		p := ph.params
		got = argon2.Key([]byte(password), ph.salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	case SchemeBcrypt:
		// Passwords longer than 72 bytes are cut there, as every bcrypt
		// implementation that made such hashes did.
		err := bcrypt.CompareHashAndPassword(ph.bcrypt, []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, hashError("bcrypt: %v", err)
		}
	case SchemePBKDF2Django, SchemePBKDF2Passlib:
		var err error
		got, err = pbkdf2.Key(sha256.New, password, ph.salt, int(ph.rounds), len(ph.key))
		if err != nil {
			return false, hashError("%s: %v", ph.scheme, err)
		}
	default:
		return false, hashError("unknown scheme")
	}
	return subtle.ConstantTimeCompare(got, ph.key) == 1, nil
}

// needsRehash reports whether a hash that matched should be replaced by one
// made with current.
func (ph *passwordHash) needsRehash(current Argon2Params) bool {
	return ph.scheme != SchemeArgon2id || ph.params != current
}

// Password length bounds, in Unicode code points.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 128
)

// Password policy violation codes, as PolicyError.Code.
const (
	PolicyTooShort = "too_short"
	PolicyTooLong  = "too_long"
	PolicyInvalid  = "invalid"
	PolicyCommon   = "common"
)

// PolicyError reports a password that the policy refuses. Code is one of the
// Policy constants; Message is safe to show to the person who chose the
// password and never contains it.
type PolicyError struct {
	Code    string
	Message string
}

func (e *PolicyError) Error() string { return "password policy: " + e.Message }

// CheckPassword applies the password policy of NIST SP 800-63B: at least
// MinPasswordLen and at most MaxPasswordLen code points, valid UTF-8 without
// NUL, and not in the list of common passwords (compared case-insensitively).
// There are deliberately no composition rules. A refused password returns a
// *PolicyError.
func CheckPassword(password string) error {
	// More than 4 bytes per code point cannot be within the limit; answer
	// before scanning arbitrarily long input.
	if len(password) > utf8.UTFMax*MaxPasswordLen {
		return tooLong()
	}
	if !utf8.ValidString(password) || strings.IndexByte(password, 0) >= 0 {
		return &PolicyError{Code: PolicyInvalid, Message: "Password contains characters that are not allowed."}
	}
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen {
		return &PolicyError{Code: PolicyTooShort, Message: fmt.Sprintf("Password must be at least %d characters long.", MinPasswordLen)}
	}
	if n > MaxPasswordLen {
		return tooLong()
	}
	if _, found := commonPasswords()[strings.ToLower(password)]; found {
		return &PolicyError{Code: PolicyCommon, Message: "This password is too common; choose another."}
	}
	return nil
}

func tooLong() *PolicyError {
	return &PolicyError{Code: PolicyTooLong, Message: fmt.Sprintf("Password must be at most %d characters long.", MaxPasswordLen)}
}

//go:embed common-passwords.txt
var commonPasswordsText string

// commonPasswords is the set of lower-cased entries of common-passwords.txt,
// built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 1024)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})
