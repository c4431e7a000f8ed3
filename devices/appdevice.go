package devices

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"

	"github.com/assent-auth/assent/store"
)

// App device enrollment. A signed-in user (or an operator) gets a one-time
// code; the app redeems it with its P-256 public key and a signature over
// the code, which the server issued and which is good once: that proves
// the app holds the private key.

// Reasons specific to app devices.
const (
	// ReasonInvalidEnrollment: no enrollment has the code (never issued,
	// used already, or removed).
	ReasonInvalidEnrollment = "invalid_enrollment_code"
	// ReasonBadKey: the public key is not an uncompressed P-256 key.
	ReasonBadKey = "bad_public_key"
)

// Platforms an app device may declare.
var platforms = map[string]bool{"ios": true, "android": true, "cli": true, "other": true}

// EnrollmentTTL is how long an app enrollment code stays good.
const EnrollmentTTL = 10 * time.Minute

// appDeviceData is an app device's record. A pending enrollment holds only
// its deadline; an enrolled device its public key.
type appDeviceData struct {
	Pending bool      `json:"pending,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// PublicKey is the device's P-256 key, PKIX DER.
	PublicKey []byte `json:"public_key,omitempty"`
	Platform  string `json:"platform,omitempty"`
	// FCMToken is the app's registration token, if it gave one.
	FCMToken string `json:"fcm_token,omitempty"`
}

// AppEnrollment is a one-time code for enrolling an app device, shown to
// its owner once.
type AppEnrollment struct {
	// Code is what the app redeems, typed or scanned.
	Code Secret
	// QR is a PNG image of the code.
	QR []byte
	// Matrix is the QR code's modules, true for dark, for terminals.
	Matrix  [][]bool
	Expires time.Time
}

// enrollCodeKey is the lookup key of the pending enrollment with code.
func enrollCodeKey(code string) []byte {
	h := sha256.Sum256([]byte("app enrollment\x00" + normalizeEnrollCode(code)))
	return []byte("enroll:" + hex.EncodeToString(h[:]))
}

func normalizeEnrollCode(code string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(code), "-", ""))
}

// StartAppEnrollment issues a one-time enrollment code for the user.
func (s *Service) StartAppEnrollment(ctx context.Context, userID string) (AppEnrollment, error) {
	// Earlier codes of the user that were never redeemed lapse now: one
	// live code per user.
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return AppEnrollment{}, fmt.Errorf("start app enrollment of %s: %w", userID, err)
	}
	for _, f := range fs {
		if f.Kind == store.FactorAppDevice && strings.HasPrefix(f.ID, "enroll_") {
			if err := s.store.DeleteFactor(ctx, userID, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return AppEnrollment{}, fmt.Errorf("start app enrollment of %s: %w", userID, err)
			}
		}
	}
	raw := rand.Text()[:20] // 100 random bits, base32
	code := raw[:5] + "-" + raw[5:10] + "-" + raw[10:15] + "-" + raw[15:]
	exp := s.now().Add(EnrollmentTTL)
	data, err := json.Marshal(appDeviceData{Pending: true, Expires: exp})
	if err != nil {
		return AppEnrollment{}, err
	}
	f := store.Factor{ID: newFactorID("enroll"), UserID: userID, Kind: store.FactorAppDevice,
		LookupKey: enrollCodeKey(code), Data: data, CreatedAt: s.now()}
	if err := s.store.CreateFactor(ctx, f); err != nil {
		return AppEnrollment{}, fmt.Errorf("start app enrollment of %s: %w", userID, err)
	}
	bc, err := qr.Encode(code, qr.M, qr.Auto)
	if err != nil {
		return AppEnrollment{}, fmt.Errorf("render QR code: %w", err)
	}
	matrix := qrMatrix(bc)
	qrPNG, err := matrixPNG(matrix, 240)
	if err != nil {
		return AppEnrollment{}, fmt.Errorf("encode QR code: %w", err)
	}
	return AppEnrollment{Code: Secret(code), QR: qrPNG, Matrix: matrix, Expires: exp}, nil
}

// pngBuffers keeps the PNG encoder's compressor between images.
var pngBuffers = &pngPool{}

type pngPool struct{ p sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.p.Get().(*png.EncoderBuffer)
	return b
}
func (p *pngPool) Put(b *png.EncoderBuffer) { p.p.Put(b) }

// matrixPNG draws a QR matrix as a two-colour PNG about size pixels wide,
// each module a whole number of pixels. A paletted image takes the PNG
// encoder's fast path: rendering the same code through the generic
// image interface cost three quarters of an enrollment's CPU.
func matrixPNG(m [][]bool, size int) ([]byte, error) {
	if len(m) == 0 {
		return nil, errors.New("empty QR matrix")
	}
	scale := max(size/len(m), 1)
	side := scale * len(m)
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range scale {
				line := img.Pix[(y*scale+dy)*img.Stride:]
				for dx := range scale {
					line[x*scale+dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: pngBuffers}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func qrMatrix(bc barcode.Barcode) [][]bool {
	b := bc.Bounds()
	m := make([][]bool, 0, b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := make([]bool, 0, b.Dx())
		for x := b.Min.X; x < b.Max.X; x++ {
			r, _, _, _ := bc.At(x, y).RGBA()
			row = append(row, r == 0)
		}
		m = append(m, row)
	}
	return m
}

// EnrollmentMessage is what the app signs to prove it holds the key: a fixed
// label, the code as issued (normalized: upper case, no dashes) and the
// SHA-256 of the public key.
func EnrollmentMessage(code string, publicKey []byte) []byte {
	h := sha256.Sum256(publicKey)
	return []byte("assent app enrollment v1\x00" + normalizeEnrollCode(code) + "\x00" + hex.EncodeToString(h[:]))
}

// Redemption is what the app sends to enroll.
type Redemption struct {
	Code string
	// PublicKey is the device's P-256 public key, PKIX DER.
	PublicKey []byte
	// Signature is ASN.1 DER ECDSA over SHA-256 of EnrollmentMessage.
	Signature []byte
	Platform  string
	Name      string
	FCMToken  string
}

// AppDevice is an enrolled app device.
type AppDevice struct {
	ID       string
	UserID   string
	Name     string
	Platform string
}

// RedeemAppEnrollment enrolls the app device: the code is consumed whatever
// the outcome once it has been found, so it is good for one try.
func (s *Service) RedeemAppEnrollment(ctx context.Context, red Redemption) (AppDevice, error) {
	name, err := CleanName(red.Name)
	if err != nil {
		return AppDevice{}, err
	}
	if !platforms[red.Platform] {
		return AppDevice{}, refused(ReasonMalformed)
	}
	if !ValidFCMToken(red.FCMToken) {
		return AppDevice{}, refused(ReasonMalformed)
	}
	pending, err := s.store.GetFactorByLookupKey(ctx, enrollCodeKey(red.Code))
	if errors.Is(err, store.ErrNotFound) || (err == nil && pending.Kind != store.FactorAppDevice) {
		return AppDevice{}, refused(ReasonInvalidEnrollment)
	}
	if err != nil {
		return AppDevice{}, fmt.Errorf("find app enrollment: %w", err)
	}
	var pd appDeviceData
	if err := json.Unmarshal(pending.Data, &pd); err != nil || !pd.Pending {
		return AppDevice{}, refused(ReasonInvalidEnrollment)
	}
	// Single use: whoever deletes the pending record redeems it.
	if err := s.store.DeleteFactor(ctx, pending.UserID, pending.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return AppDevice{}, refused(ReasonInvalidEnrollment)
		}
		return AppDevice{}, fmt.Errorf("consume app enrollment: %w", err)
	}
	fail := func(reason string) (AppDevice, error) {
		return AppDevice{}, &RefusedError{Reason: reason, UserID: pending.UserID}
	}
	if !s.now().Before(pd.Expires) {
		return fail(ReasonExpired)
	}
	pub, err := ParseDeviceKey(red.PublicKey)
	if err != nil {
		return fail(ReasonBadKey)
	}
	digest := sha256.Sum256(EnrollmentMessage(red.Code, red.PublicKey))
	if !ecdsa.VerifyASN1(pub, digest[:], red.Signature) {
		return fail(ReasonSignature)
	}
	data, err := json.Marshal(appDeviceData{PublicKey: red.PublicKey, Platform: red.Platform, FCMToken: red.FCMToken})
	if err != nil {
		return AppDevice{}, err
	}
	id := newFactorID("app")
	if name == "" {
		name = "App (" + red.Platform + ")"
	}
	f := store.Factor{ID: id, UserID: pending.UserID, Kind: store.FactorAppDevice, Name: name,
		LookupKey: []byte(id), Data: data, CreatedAt: s.now()}
	if err := s.store.CreateFactor(ctx, f); err != nil {
		return AppDevice{}, fmt.Errorf("enroll app device of %s: %w", pending.UserID, err)
	}
	return AppDevice{ID: id, UserID: pending.UserID, Name: name, Platform: red.Platform}, nil
}

// ParseDeviceKey parses a PKIX DER P-256 public key.
func ParseDeviceKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return pub, nil
}

// DeviceKey is an enrolled app device's key, as push verifies decisions
// against it.
type DeviceKey struct {
	DeviceID string
	UserID   string
	Name     string
	Key      *ecdsa.PublicKey
	FCMToken string
}

// AppDeviceKey returns the enrolled app device with the id, or ErrNotFound
// (never enrolled, pending, or revoked: removing the factor revokes it).
func (s *Service) AppDeviceKey(ctx context.Context, deviceID string) (DeviceKey, error) {
	if !strings.HasPrefix(deviceID, "app_") {
		return DeviceKey{}, ErrNotFound
	}
	f, err := s.store.GetFactorByLookupKey(ctx, []byte(deviceID))
	if err != nil {
		return DeviceKey{}, mapNotFound(err)
	}
	if f.Kind != store.FactorAppDevice || f.ID != deviceID {
		return DeviceKey{}, ErrNotFound
	}
	var d appDeviceData
	if err := json.Unmarshal(f.Data, &d); err != nil || d.Pending {
		return DeviceKey{}, ErrNotFound
	}
	pub, err := ParseDeviceKey(d.PublicKey)
	if err != nil {
		return DeviceKey{}, fmt.Errorf("app device %s has a bad key: %w", deviceID, err)
	}
	return DeviceKey{DeviceID: f.ID, UserID: f.UserID, Name: f.Name, Key: pub, FCMToken: d.FCMToken}, nil
}

// AppDevices returns the user's enrolled app devices.
func (s *Service) AppDevices(ctx context.Context, userID string) ([]DeviceKey, error) {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("list factors of %s: %w", userID, err)
	}
	var out []DeviceKey
	for _, f := range fs {
		if f.Kind != store.FactorAppDevice || !strings.HasPrefix(f.ID, "app_") {
			continue
		}
		k, err := s.AppDeviceKey(ctx, f.ID)
		if err != nil {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}

// TouchAppDevice records that the device was used now.
func (s *Service) TouchAppDevice(ctx context.Context, userID, deviceID string) error {
	_, err := s.store.UpdateFactor(ctx, userID, deviceID, func(f store.Factor) (store.Factor, error) {
		f.LastUsedAt = s.now()
		return f, nil
	})
	return mapNotFound(err)
}

// MaxFCMToken bounds an FCM registration token, in bytes.
const MaxFCMToken = 4096

// ValidFCMToken reports whether token can be an FCM registration token:
// at most MaxFCMToken bytes of letters, digits and "-_:.", or empty.
func ValidFCMToken(token string) bool {
	return len(token) <= MaxFCMToken && strings.IndexFunc(token, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-_:.", r))
	}) < 0
}

// SetFCMToken replaces the device's FCM registration token (the app got a
// new one from Firebase); an empty token turns FCM wake-ups off for the
// device. It fails with ErrNotFound for an unknown, pending or revoked
// device and a RefusedError (ReasonMalformed) for a token ValidFCMToken
// refuses.
func (s *Service) SetFCMToken(ctx context.Context, userID, deviceID, token string) error {
	if !ValidFCMToken(token) {
		return refused(ReasonMalformed)
	}
	return s.setFCMToken(ctx, userID, deviceID, token)
}

// DropFCMToken forgets the device's FCM registration token (FCM reported it
// unregistered); the device still works over its websocket.
func (s *Service) DropFCMToken(ctx context.Context, userID, deviceID string) error {
	return s.setFCMToken(ctx, userID, deviceID, "")
}

func (s *Service) setFCMToken(ctx context.Context, userID, deviceID, token string) error {
	_, err := s.store.UpdateFactor(ctx, userID, deviceID, func(f store.Factor) (store.Factor, error) {
		var d appDeviceData
		if err := json.Unmarshal(f.Data, &d); err != nil {
			return f, err
		}
		if f.Kind != store.FactorAppDevice || d.Pending {
			return f, store.ErrNotFound
		}
		d.FCMToken = token
		b, err := json.Marshal(d)
		if err != nil {
			return f, err
		}
		f.Data = b
		return f, nil
	})
	return mapNotFound(err)
}
