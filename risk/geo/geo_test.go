package geo

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestLocatable(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"8.8.8.8", true},
		{"2a00:1450:4001::1", true},
		{"::ffff:8.8.8.8", true},
		{"10.1.2.3", false},
		{"192.168.1.1", false},
		{"172.16.0.1", false},
		{"127.0.0.1", false},
		{"::1", false},
		{"169.254.1.1", false},
		{"fe80::1", false},
		{"fd00::1", false},
		{"100.64.1.1", false},
		{"0.0.0.0", false},
		{"224.0.0.1", false},
		{"192.0.2.7", false},
		{"198.51.100.7", false},
		{"203.0.113.7", false},
		{"2001:db8::1", false},
	}
	for _, tt := range tests {
		if got := Locatable(netip.MustParseAddr(tt.ip)); got != tt.want {
			t.Errorf("Locatable(%s) = %v, want %v", tt.ip, got, tt.want)
		}
	}
}

func TestCountryTable(t *testing.T) {
	n := 0
	prev := ""
	Countries(func(c Country) {
		n++
		if c.Code <= prev {
			t.Errorf("table not sorted at %s", c.Code)
		}
		prev = c.Code
		if c.Lat < -90 || c.Lat > 90 || c.Lon < -180 || c.Lon > 180 || c.RadiusKm < 25 || c.Name == "" {
			t.Errorf("bad row %+v", c)
		}
	})
	if n < 249 {
		t.Errorf("%d countries, want every ISO 3166-1 code (249)", n)
	}
	for _, code := range []string{"DE", "FR", "US", "BV", "HM", "ZW", "AD"} {
		if _, ok := LookupCountry(code); !ok {
			t.Errorf("LookupCountry(%s) missing", code)
		}
	}
	for _, code := range []string{"", "ZZ", "XX", "de"} {
		if _, ok := LookupCountry(code); ok {
			t.Errorf("LookupCountry(%q) found", code)
		}
	}
}

func TestDistanceKm(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want                   float64
	}{
		{"same point", 48.85, 2.35, 48.85, 2.35, 0},
		{"Paris-London", 48.8567, 2.3508, 51.5072, -0.1276, 344},
		{"Berlin-New York", 52.52, 13.405, 40.7128, -74.006, 6385},
		{"antipodes", 0, 0, 0, 180, 20015},
	}
	for _, tt := range tests {
		got := DistanceKm(tt.lat1, tt.lon1, tt.lat2, tt.lon2)
		if math.Abs(got-tt.want) > tt.want*0.01+1 {
			t.Errorf("%s: %.0f km, want about %.0f", tt.name, got, tt.want)
		}
	}
}

func TestDistanceSameCountry(t *testing.T) {
	a := countryLocation("US")
	km, unc := Distance(a, a)
	if km != 0 || unc != 0 {
		t.Errorf("same country at country precision: %v, %v", km, unc)
	}
	b := countryLocation("FR")
	km, unc = Distance(a, b)
	if km < 5000 || unc != a.RadiusKm+b.RadiusKm {
		t.Errorf("US-FR: %v km ± %v", km, unc)
	}
}

func TestCountryDB(t *testing.T) {
	var db CountryDB
	tests := []struct {
		ip      string
		country string
	}{
		{"121.229.143.64", "CN"},
		{"23.16.28.232", "CA"},
		{"192.210.171.249", "US"},
		{"2001:dc7:1000::1", "CN"},
		{"10.0.0.1", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"0.1.1.1", ""},
	}
	for _, tt := range tests {
		loc := db.Locate(netip.MustParseAddr(tt.ip))
		if loc.Country != tt.country {
			t.Errorf("Locate(%s) country %q, want %q", tt.ip, loc.Country, tt.country)
		}
		if want := tt.country != ""; loc.Known() != want {
			t.Errorf("Locate(%s).Known() = %v", tt.ip, loc.Known())
		}
		if loc.Known() && loc.Precision != PrecisionCountry {
			t.Errorf("Locate(%s) precision %v", tt.ip, loc.Precision)
		}
	}
}

func TestCityDB(t *testing.T) {
	db, err := OpenCityDB(writeTestCityDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tests := []struct {
		ip        string
		country   string
		precision Precision
		radius    float64
		mobile    bool
		anonymous bool
	}{
		{"81.2.69.142", "GB", PrecisionCity, 10, false, false},
		{"89.160.20.112", "SE", PrecisionCity, 76, false, false},
		{"2.125.160.216", "FR", PrecisionCountry, 419, false, false}, // country only in the file
		{"67.43.156.1", "BT", PrecisionCity, 534, true, true},
		{"121.229.143.64", "CN", PrecisionCountry, 0, false, false}, // not in the file: falls back
		{"192.168.0.1", "", PrecisionNone, 0, false, false},
		{"2001:dc7:1000::1", "CN", PrecisionCountry, 0, false, false}, // IPv6 in an IPv4 file
	}
	for _, tt := range tests {
		loc := db.Locate(netip.MustParseAddr(tt.ip))
		if loc.Country != tt.country || loc.Precision != tt.precision || loc.Mobile != tt.mobile || loc.Anonymous != tt.anonymous {
			t.Errorf("Locate(%s) = %+v", tt.ip, loc)
		}
		if tt.radius != 0 && loc.RadiusKm != tt.radius {
			t.Errorf("Locate(%s) radius %v, want %v", tt.ip, loc.RadiusKm, tt.radius)
		}
	}
	london := db.Locate(netip.MustParseAddr("81.2.69.142"))
	if math.Abs(london.Lat-51.5142) > 1e-9 || math.Abs(london.Lon+0.0931) > 1e-9 {
		t.Errorf("London at %v,%v", london.Lat, london.Lon)
	}
}

func TestOpenCityDBErrors(t *testing.T) {
	if _, err := OpenCityDB(filepath.Join(t.TempDir(), "missing.mmdb")); err == nil {
		t.Error("missing file: no error")
	}
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	os.WriteFile(bad, []byte("not a database"), 0o600)
	if _, err := OpenCityDB(bad); err == nil {
		t.Error("garbage file: no error")
	}
}

func BenchmarkCountryDB(b *testing.B) {
	var db CountryDB
	ip := netip.MustParseAddr("23.16.28.232")
	b.ReportAllocs()
	for b.Loop() {
		db.Locate(ip)
	}
}
