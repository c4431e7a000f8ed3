package risk

import "strings"

// UserAgent is a user-agent family: coarse enough to stay the same across
// version updates, fine enough to notice a different browser or system.
type UserAgent struct {
	Browser string // "chrome", "firefox", "safari", "edge", "opera", "samsung", "app", "other"; "" if no header
	OS      string // "windows", "macos", "ios", "android", "chromeos", "linux", "other"; "" if no header
}

// String returns "chrome on windows" and the like.
func (u UserAgent) String() string {
	if u.Browser == "" {
		return "no user agent"
	}
	return u.Browser + " on " + u.OS
}

// ParseUserAgent reduces a User-Agent header to its family. It does not
// allocate.
func ParseUserAgent(ua string) UserAgent {
	if ua == "" {
		return UserAgent{}
	}
	var u UserAgent
	switch {
	case strings.Contains(ua, "Edg/"), strings.Contains(ua, "EdgA/"), strings.Contains(ua, "EdgiOS/"):
		u.Browser = "edge"
	case strings.Contains(ua, "OPR/"), strings.Contains(ua, "Opera"):
		u.Browser = "opera"
	case strings.Contains(ua, "SamsungBrowser/"):
		u.Browser = "samsung"
	case strings.Contains(ua, "Firefox/"), strings.Contains(ua, "FxiOS/"):
		u.Browser = "firefox"
	case strings.Contains(ua, "Chrome/"), strings.Contains(ua, "CriOS/"), strings.Contains(ua, "Chromium/"):
		u.Browser = "chrome"
	case strings.Contains(ua, "Safari/"):
		u.Browser = "safari"
	case strings.HasPrefix(ua, "Mozilla/"):
		u.Browser = "other"
	default:
		u.Browser = "app" // native clients: okhttp, CFNetwork, Dalvik, the company's app
	}
	switch {
	case strings.Contains(ua, "Windows"):
		u.OS = "windows"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iOS"), strings.Contains(ua, "CFNetwork"):
		u.OS = "ios"
	case strings.Contains(ua, "Android"), strings.Contains(ua, "Dalvik"), strings.Contains(ua, "okhttp"):
		u.OS = "android"
	case strings.Contains(ua, "CrOS"):
		u.OS = "chromeos"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		u.OS = "macos"
	case strings.Contains(ua, "Linux"), strings.Contains(ua, "X11"):
		u.OS = "linux"
	default:
		u.OS = "other"
	}
	return u
}
