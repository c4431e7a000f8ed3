package devices

import (
	"bytes"
	"image/png"
	"testing"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
)

// TestMatrixPNG checks that the enrollment QR image shows exactly the
// code's modules: every module's centre pixel is dark where the matrix
// is, and light elsewhere.
func TestMatrixPNG(t *testing.T) {
	bc, err := qr.Encode("ABCDE-FGHJK-MNPQR-STVWX", qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	m := qrMatrix(bc)
	raw, err := matrixPNG(m, 240)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	scale := img.Bounds().Dx() / len(m)
	if scale < 2 || img.Bounds().Dx() < 200 || img.Bounds().Dx() != img.Bounds().Dy() {
		t.Fatalf("image %v for a %d-module code", img.Bounds(), len(m))
	}
	dark := 0
	for y, row := range m {
		for x, want := range row {
			r, _, _, _ := img.At(x*scale+scale/2, y*scale+scale/2).RGBA()
			if got := r == 0; got != want {
				t.Fatalf("module (%d,%d) dark=%v, want %v", x, y, got, want)
			}
			if want {
				dark++
			}
		}
	}
	if dark == 0 {
		t.Fatal("no dark module")
	}
	if _, err := matrixPNG(nil, 240); err == nil {
		t.Error("an empty matrix gave an image")
	}
}

func BenchmarkMatrixPNG(b *testing.B) {
	bc, err := qr.Encode("ABCDE-FGHJK-MNPQR-STVWX", qr.M, qr.Auto)
	if err != nil {
		b.Fatal(err)
	}
	m := qrMatrix(bc)
	for b.Loop() {
		if _, err := matrixPNG(m, 240); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScalePNG(b *testing.B) {
	bc, err := qr.Encode("ABCDE-FGHJK-MNPQR-STVWX", qr.M, qr.Auto)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		img, _ := barcode.Scale(bc, 240, 240)
		var buf bytes.Buffer
		png.Encode(&buf, img)
	}
}
