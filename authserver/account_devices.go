package authserver

import (
	"strings"
	"unicode/utf8"
)

// maxUserAgent bounds the User-Agent kept with a session.
const maxUserAgent = 256

// shortUserAgent is ua as a session keeps it: valid UTF-8, at most
// maxUserAgent bytes.
func shortUserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "")
	if len(ua) <= maxUserAgent {
		return ua
	}
	cut := maxUserAgent
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
}

// deviceOf names the browser and operating system a User-Agent shows,
// for the list of a user's sessions; either is "" when unknown.
func deviceOf(ua string) (browser, system string) {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chromium/", "Chromium"},
		{"HeadlessChrome/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	return browser, system
}
