package risk

import (
	"strconv"
	"time"
)

// groupInt formats n with thousands separators: 1,840.
func groupInt(n int64) string {
	var buf [32]byte
	return string(appendGroupInt(buf[:0], n))
}

func appendGroupInt(b []byte, n int64) []byte {
	if n < 0 {
		b = append(b, '-')
		if n == -n { // MinInt64
			return strconv.AppendInt(b[:len(b)-1], n, 10)
		}
		n = -n
	}
	var digits [24]byte
	d := strconv.AppendInt(digits[:0], n, 10)
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, c)
	}
	return b
}

// eur formats euro cents: EUR 1,500.00.
func eur(cents int64) string {
	var buf [40]byte
	b := append(buf[:0], "EUR "...)
	if cents < 0 {
		b = append(b, '-')
		cents = -cents
	}
	b = appendGroupInt(b, cents/100)
	b = append(b, '.')
	c := cents % 100
	b = append(b, byte('0'+c/10), byte('0'+c%10))
	return string(b)
}

// span formats a duration for people: 45 s, 20 min, 3 h, 2 days.
func span(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " s"
	case d < 2*time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	default:
		return strconv.Itoa(int(d.Hours()/24)) + " days"
	}
}

// ordinal formats 1st, 2nd, 3rd, 4th, 11th, 21st.
func ordinal(n int) string {
	suffix := "th"
	switch n % 100 {
	case 11, 12, 13:
	default:
		switch n % 10 {
		case 1:
			suffix = "st"
		case 2:
			suffix = "nd"
		case 3:
			suffix = "rd"
		}
	}
	return strconv.Itoa(n) + suffix
}
