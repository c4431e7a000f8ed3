package eval

import (
	"net/netip"

	"github.com/assent-auth/assent/risk/geo"
)

type city struct {
	name     string
	country  string
	lat, lon float64
}

// cities is the synthetic world. Customers live in the first homeCities;
// the rest are travel destinations and attackers' bases.
var cities = [...]city{
	{"Berlin", "DE", 52.52, 13.40}, {"Munich", "DE", 48.14, 11.58}, {"Hamburg", "DE", 53.55, 9.99},
	{"Cologne", "DE", 50.94, 6.96}, {"Paris", "FR", 48.86, 2.35}, {"Lyon", "FR", 45.76, 4.84},
	{"Marseille", "FR", 43.30, 5.37}, {"Madrid", "ES", 40.42, -3.70}, {"Barcelona", "ES", 41.39, 2.17},
	{"Seville", "ES", 37.39, -5.98}, {"Rome", "IT", 41.90, 12.50}, {"Milan", "IT", 45.46, 9.19},
	{"Naples", "IT", 40.85, 14.27}, {"Amsterdam", "NL", 52.37, 4.90}, {"Rotterdam", "NL", 51.92, 4.48},
	{"Brussels", "BE", 50.85, 4.35}, {"Vienna", "AT", 48.21, 16.37}, {"Warsaw", "PL", 52.23, 21.01},
	{"Krakow", "PL", 50.06, 19.94}, {"Lisbon", "PT", 38.72, -9.14}, {"Porto", "PT", 41.15, -8.61},
	{"Dublin", "IE", 53.35, -6.26}, {"Stockholm", "SE", 59.33, 18.07}, {"Copenhagen", "DK", 55.68, 12.57},
	{"Helsinki", "FI", 60.17, 24.94},
	// travel and attack only
	{"London", "GB", 51.51, -0.13}, {"Zurich", "CH", 47.38, 8.54}, {"Athens", "GR", 37.98, 23.73},
	{"Prague", "CZ", 50.08, 14.44}, {"New York", "US", 40.71, -74.01}, {"San Francisco", "US", 37.77, -122.42},
	{"Dubai", "AE", 25.20, 55.27}, {"Bangkok", "TH", 13.76, 100.50}, {"Tokyo", "JP", 35.68, 139.69},
	{"Lagos", "NG", 6.52, 3.38}, {"Sao Paulo", "BR", -23.55, -46.63}, {"Moscow", "RU", 55.76, 37.62},
	{"Bucharest", "RO", 44.43, 26.10}, {"Hanoi", "VN", 21.03, 105.85}, {"Singapore", "SG", 1.35, 103.82},
}

const homeCities = 25

// Address plan of the synthetic Internet (public-looking, never routed):
//
//	11.C.x.y  residential broadband in city C
//	12.K.x.y  mobile carrier K (CGNAT); K's gateway is the first city of its country
//	13.C.x.y  hosting provider or VPN exit in city C
const (
	netResidential = 11
	netMobile      = 12
	netHosting     = 13
)

func residentialIP(c, x, y int) netip.Addr {
	return netip.AddrFrom4([4]byte{netResidential, byte(c), byte(x), byte(y)})
}

func mobileIP(carrier, x, y int) netip.Addr {
	return netip.AddrFrom4([4]byte{netMobile, byte(carrier), byte(x), byte(y)})
}

func hostingIP(c, x, y int) netip.Addr {
	return netip.AddrFrom4([4]byte{netHosting, byte(c), byte(x), byte(y)})
}

// carrierOf returns the mobile carrier of a country: the index of the
// country's first city, which is also its gateway.
func carrierOf(country string) int {
	for i, c := range cities {
		if c.country == country {
			return i
		}
	}
	return 0
}

// carrierFlagged says whether the geolocation database knows a carrier's
// ranges as cellular: it knows about half of them.
func carrierFlagged(carrier int) bool { return carrier%2 == 0 }

// hostingFlagged says whether the database knows a hosting range as
// anonymous: most, not all.
func hostingFlagged(c int) bool { return c%5 != 1 }

// Locator places the synthetic addresses the way a city-level database
// would, or only to the country when CountryLevel is set.
type Locator struct {
	CountryLevel bool
}

// Locate implements risk.Locator.
func (l Locator) Locate(ip netip.Addr) geo.Location {
	if !ip.Is4() {
		return geo.Location{}
	}
	b := ip.As4()
	if int(b[1]) >= len(cities) {
		return geo.Location{}
	}
	c := cities[b[1]]
	var loc geo.Location
	switch b[0] {
	case netResidential:
		loc = geo.Location{Country: c.country, Lat: c.lat, Lon: c.lon, RadiusKm: 25, Precision: geo.PrecisionCity}
	case netMobile:
		loc = geo.Location{Country: c.country, Lat: c.lat, Lon: c.lon, RadiusKm: 100, Precision: geo.PrecisionCity, Mobile: carrierFlagged(int(b[1]))}
	case netHosting:
		loc = geo.Location{Country: c.country, Lat: c.lat, Lon: c.lon, RadiusKm: 20, Precision: geo.PrecisionCity, Anonymous: hostingFlagged(int(b[1]))}
	default:
		return geo.Location{}
	}
	if l.CountryLevel {
		cc, ok := geo.LookupCountry(loc.Country)
		if !ok {
			return geo.Location{}
		}
		loc.Lat, loc.Lon, loc.RadiusKm, loc.Precision = cc.Lat, cc.Lon, cc.RadiusKm, geo.PrecisionCountry
	}
	return loc
}

// User agents.
var (
	desktopUAs = [...]string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
	}
	appUAs = [...]string{
		"AssentApp/3.4 (iOS 18.1; iPhone15,2)",
		"AssentApp/3.4 (Android 14; Pixel 8)",
	}
	mobileWebUAs = [...]string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	}
)
