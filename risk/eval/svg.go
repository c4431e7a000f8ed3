package eval

import (
	"bytes"
	"fmt"
	"html"
	"math"
)

// SVG draws detection (attack events challenged or denied) against
// friction (genuine sign-ins and payments challenged or denied), one point
// per challenge threshold, as a standalone SVG document.
func SVG(title string, pts []Point) []byte {
	const (
		w, h                     = 640, 440
		left, right, top, bottom = 70, 30, 50, 60
		pw, ph                   = w - left - right, h - top - bottom
	)
	maxX := 0.05
	for _, p := range pts {
		for maxX < p.Friction*1.1 {
			maxX += 0.05
		}
	}
	minY := 0.9
	for _, p := range pts {
		for minY > 0 && p.Detection < minY+0.01 {
			minY -= 0.1
		}
	}
	minY = math.Max(0, minY)
	x := func(f float64) float64 { return left + f/maxX*pw }
	y := func(d float64) float64 { return top + (1-(d-minY)/(1-minY))*ph }

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", w, h)
	fmt.Fprintf(&b, `<text x="%d" y="28" font-size="15" font-weight="bold">%s</text>`+"\n", left, html.EscapeString(title))
	// grid and axes
	for i := 0; i <= 5; i++ {
		fx := maxX * float64(i) / 5
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#e0e0e0"/>`+"\n", x(fx), top, x(fx), top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%.1f%%</text>`+"\n", x(fx), top+ph+18, 100*fx)
		dy := minY + (1-minY)*float64(i)/5
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`+"\n", left, y(dy), left+pw, y(dy))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.0f%%</text>`+"\n", left-8, y(dy)+4, 100*dy)
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">labels: the lowest score challenged</text>`+"\n", left+pw-190, top+ph-10)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">genuine sign-ins and payments challenged or denied (friction)</text>`+"\n", left+pw/2, h-18)
	fmt.Fprintf(&b, `<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">attack events challenged or denied (detection)</text>`+"\n", top+ph/2, top+ph/2)
	// the curve
	if len(pts) > 0 {
		b.WriteString(`<polyline fill="none" stroke="#1f6feb" stroke-width="2" points="`)
		for i, p := range pts {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%.1f,%.1f", x(p.Friction), y(p.Detection))
		}
		b.WriteString(`"/>` + "\n")
	}
	// Points that land on the same spot share one label.
	type spot struct{ x, y int }
	labels := map[spot]string{}
	var order []spot
	for _, p := range pts {
		s := spot{int(math.Round(x(p.Friction))), int(math.Round(y(p.Detection)))}
		if _, ok := labels[s]; !ok {
			order = append(order, s)
			labels[s] = fmt.Sprint(p.Threshold)
		} else {
			labels[s] += ", " + fmt.Sprint(p.Threshold)
		}
	}
	for i, s := range order {
		dy := -7
		if i%2 == 1 {
			dy = 15
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">%s</text>`+"\n", s.x+6, s.y+dy, labels[s])
	}
	for _, p := range pts {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="#1f6feb"><title>threshold %d: detection %.1f%%, friction %.1f%%</title></circle>`+"\n",
			x(p.Friction), y(p.Detection), p.Threshold, 100*p.Detection, 100*p.Friction)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
