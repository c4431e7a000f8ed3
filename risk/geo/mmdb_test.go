package geo

import (
	"bytes"
	"encoding/binary"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// mmdbWriter builds a minimal IPv4 MaxMind DB (format 2.0, 24-bit records)
// so the city lookups can be tested without shipping a vendor's file.
type mmdbWriter struct {
	nodes [][2]int // child node index, or -(data offset)-2, or -1 for empty
	data  bytes.Buffer
}

func newMMDBWriter() *mmdbWriter { return &mmdbWriter{nodes: [][2]int{{-1, -1}}} }

// insert maps prefix to the already-encoded record rec.
func (w *mmdbWriter) insert(p netip.Prefix, rec []byte) {
	off := w.data.Len()
	w.data.Write(rec)
	a := p.Addr().As4()
	ip := binary.BigEndian.Uint32(a[:])
	n := 0
	for i := 0; i < p.Bits(); i++ {
		bit := int(ip>>(31-i)) & 1
		if i == p.Bits()-1 {
			w.nodes[n][bit] = -off - 2
			return
		}
		if w.nodes[n][bit] < 0 {
			w.nodes = append(w.nodes, [2]int{-1, -1})
			w.nodes[n][bit] = len(w.nodes) - 1
		}
		n = w.nodes[n][bit]
	}
}

func (w *mmdbWriter) bytes() []byte {
	var out bytes.Buffer
	count := len(w.nodes)
	put24 := func(v int) { out.Write([]byte{byte(v >> 16), byte(v >> 8), byte(v)}) }
	for _, nd := range w.nodes {
		for _, c := range nd {
			switch {
			case c == -1:
				put24(count)
			case c < -1:
				put24(count + 16 + (-c - 2))
			default:
				put24(c)
			}
		}
	}
	out.Write(make([]byte, 16))
	out.Write(w.data.Bytes())
	out.WriteString("\xAB\xCD\xEFMaxMind.com")
	out.Write(mmMap(
		"binary_format_major_version", mmUint(5, 2),
		"binary_format_minor_version", mmUint(5, 0),
		"build_epoch", mmUint64(1700000000),
		"database_type", mmString("Test-City"),
		"description", mmMap("en", mmString("test")),
		"ip_version", mmUint(5, 4),
		"languages", mmArray(mmString("en")),
		"node_count", mmUint(6, uint64(count)),
		"record_size", mmUint(5, 24),
	))
	return out.Bytes()
}

func mmString(s string) []byte { return append([]byte{2<<5 | byte(len(s))}, s...) }

func mmDouble(f float64) []byte {
	b := []byte{3<<5 | 8, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(f))
	return b
}

func mmUintBytes(v uint64) []byte {
	var b []byte
	for v > 0 {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
	}
	return b
}

func mmUint(typ byte, v uint64) []byte {
	b := mmUintBytes(v)
	return append([]byte{typ<<5 | byte(len(b))}, b...)
}

func mmUint64(v uint64) []byte {
	b := mmUintBytes(v)
	return append([]byte{byte(len(b)), 9 - 7}, b...)
}

func mmBool(v bool) []byte {
	if v {
		return []byte{1, 14 - 7}
	}
	return []byte{0, 14 - 7}
}

func mmArray(items ...[]byte) []byte {
	out := []byte{byte(len(items)), 11 - 7}
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

// mmMap takes alternating string keys and encoded values.
func mmMap(kv ...any) []byte {
	type pair struct {
		k string
		v []byte
	}
	var ps []pair
	for i := 0; i < len(kv); i += 2 {
		ps = append(ps, pair{kv[i].(string), kv[i+1].([]byte)})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].k < ps[j].k })
	out := []byte{7<<5 | byte(len(ps))}
	for _, p := range ps {
		out = append(out, mmString(p.k)...)
		out = append(out, p.v...)
	}
	return out
}

// writeTestCityDB writes a database with a few city, country-only and
// flagged networks and returns its path.
func writeTestCityDB(t testing.TB) string {
	t.Helper()
	w := newMMDBWriter()
	w.insert(netip.MustParsePrefix("81.2.69.0/24"), mmMap(
		"country", mmMap("iso_code", mmString("GB")),
		"location", mmMap("latitude", mmDouble(51.5142), "longitude", mmDouble(-0.0931), "accuracy_radius", mmUint(5, 10)),
	))
	w.insert(netip.MustParsePrefix("89.160.20.0/24"), mmMap(
		"country", mmMap("iso_code", mmString("SE")),
		"location", mmMap("latitude", mmDouble(58.4167), "longitude", mmDouble(15.6167), "accuracy_radius", mmUint(5, 76)),
	))
	w.insert(netip.MustParsePrefix("2.125.160.0/24"), mmMap(
		"country", mmMap("iso_code", mmString("FR")),
	))
	w.insert(netip.MustParsePrefix("67.43.156.0/24"), mmMap(
		"country", mmMap("iso_code", mmString("BT")),
		"location", mmMap("latitude", mmDouble(27.5), "longitude", mmDouble(90.5), "accuracy_radius", mmUint(5, 534)),
		"traits", mmMap("is_anonymous_vpn", mmBool(true), "connection_type", mmString("Cellular")),
	))
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, w.bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
