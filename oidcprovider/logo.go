package oidcprovider

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers the JPEG decoder for LogoType
	_ "image/png"  // and the PNG one
)

// Client logo bounds: small enough for an admin API request body and a
// page, large enough for a sharp logo at any density.
const (
	MaxLogoBytes = 32 << 10
	maxLogoSide  = 512
)

// LogoType checks that logo is a PNG or JPEG image within the bounds and
// returns its media type. Only the header is decoded; the server sends
// the bytes as they are, with this type and nosniff, so nothing else (an
// SVG with script, HTML) can pass as a logo.
func LogoType(logo []byte) (string, error) {
	if len(logo) == 0 {
		return "", errors.New("empty")
	}
	if len(logo) > MaxLogoBytes {
		return "", fmt.Errorf("%d bytes: at most %d", len(logo), MaxLogoBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(logo))
	if err != nil || format != "png" && format != "jpeg" {
		return "", errors.New("not a PNG or JPEG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxLogoSide || cfg.Height > maxLogoSide {
		return "", fmt.Errorf("%dx%d pixels: at most %d a side", cfg.Width, cfg.Height, maxLogoSide)
	}
	return "image/" + format, nil
}
