package ui

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// catalog holds every user-visible string of the pages in one language.
//
// Messages are plain text (never HTML) and may contain fmt verbs (%s, or
// %[2]s to reorder arguments) for values such as the app or product name.
// The templates look them up with {{t "id" args...}}; {{tb "id" args...}}
// does the same but shows the arguments in bold.
//
// To translate the pages, copy the English catalog, translate the values,
// and register it in catalogs under its language tag. A page whose
// Base.Lang has no catalog is rendered in English (and marked lang="en").
type catalog struct {
	// text maps a message ID to its text.
	text map[string]string
	// scopes maps an OAuth scope to a plain sentence saying what the app
	// may do with it; unknownScope (with %s for the scope) covers the rest.
	scopes       map[string]string
	unknownScope string
	// dateLayout formats dates (time.Time.Format), e.g. on the
	// connected-apps page.
	dateLayout string
}

// catalogs maps a language tag to its catalog; "en" must exist.
var catalogs = map[string]*catalog{"en": &english}

var english = catalog{
	text: map[string]string{
		// Shared.
		"client.logo_alt":         "%s logo",
		"client.logo_alt_generic": "App logo",

		// Login page.
		"login.title":           "Sign in",
		"login.heading":         "Sign in",
		"login.subtitle_client": "to continue to %s",
		"login.subtitle":        "Use your %s account",
		"login.username":        "Username",
		"login.password":        "Password",
		"login.submit":          "Sign in",

		// Consent page.
		"consent.title":        "Allow %s to access your account?",
		"consent.heading":      "Allow %s to access your account?",
		"consent.first_party":  "Made by %s",
		"consent.third_party":  "Third-party app",
		"consent.signed_in_as": "Signed in as",
		"consent.not_you":      "Not you?",
		"consent.wants_to":     "%s wants to:",
		"consent.trust_note":   "%s is not made by %s. Only allow access if you trust this app.",
		"consent.allow":        "Allow",
		"consent.deny":         "Deny",
		"consent.privacy":      "%s privacy policy",
		"consent.terms":        "%s terms of service",
		"consent.legal":        "About this app",

		// Error page.
		"error.title":   "Something went wrong",
		"error.heading": "Something went wrong",
		"error.message": "We couldn't complete your request.",
		"error.hint":    "Go back to the app you came from and try again.",
		"error.code":    "Error code:",

		// Signed-out page.
		"signed_out.title":   "Signed out",
		"signed_out.heading": "You're signed out",
		"signed_out.message": "You have signed out of your %s account.",
		"signed_out.hint":    "You can close this window. If you're using a shared device, close all browser windows too.",

		// Sign-out confirmation page.
		"logout.title":           "Sign out",
		"logout.heading":         "Sign out of %s?",
		"logout.subtitle_client": "%s asked to sign you out",
		"logout.note":            "You will be signed out on this device. If you did not ask to sign out, you can close this page.",
		"logout.submit":          "Sign out",

		// Connected apps (account) page.
		"account.title":        "Connected apps",
		"account.heading":      "Connected apps",
		"account.subtitle":     "Apps you have allowed to use your %s account",
		"account.empty":        "You have not allowed any apps to access your account.",
		"account.granted":      "Allowed on %s",
		"account.last_used":    "Last used on %s",
		"account.never_used":   "Not used yet",
		"account.access":       "It can:",
		"account.revoke":       "Remove access",
		"account.revoke_label": "Remove access for %s",
		"account.revoke_note":  "Removing access signs the app out of your account. It will have to ask you again to get back in.",
		"account.sign_out":     "Sign out",
	},
	scopes: map[string]string{
		"openid":         "Confirm your identity",
		"profile":        "See your name and username",
		"email":          "See your email address",
		"phone":          "See your phone number",
		"address":        "See your postal address",
		"groups":         "See the groups you belong to",
		"offline_access": "Stay connected when you're not using the app (keeps access until you revoke it)",
	},
	unknownScope: "Use the “%s” permission",
	dateLayout:   "2 January 2006",
}

// ScopeDescription returns a plain English sentence saying what an app
// granted scope may do, for the consent page.
func ScopeDescription(scope string) string { return english.scope(scope) }

func (c *catalog) scope(scope string) string {
	if d, ok := c.scopes[scope]; ok {
		return d
	}
	if d, ok := english.scopes[scope]; ok {
		return d
	}
	return fmt.Sprintf(c.unknownScope, scope)
}

// date formats a day in UTC: the server does not know the reader's time
// zone, and a day is precise enough for when an app was allowed or used.
func (c *catalog) date(t time.Time) string {
	layout := c.dateLayout
	if layout == "" {
		layout = english.dateLayout
	}
	return t.UTC().Format(layout)
}

// message returns the text of id, falling back to English when c lacks it.
func (c *catalog) message(id string) (string, error) {
	if s, ok := c.text[id]; ok {
		return s, nil
	}
	if s, ok := english.text[id]; ok {
		return s, nil
	}
	return "", fmt.Errorf("ui: unknown message %q", id)
}

// funcs returns the template functions bound to c.
func (c *catalog) funcs() template.FuncMap {
	return template.FuncMap{
		// t returns a message as plain text; the template escapes it.
		"t": func(id string, args ...any) (string, error) {
			s, err := c.message(id)
			if err != nil {
				return "", err
			}
			if len(args) == 0 {
				return s, nil
			}
			return fmt.Sprintf(s, args...), nil
		},
		// tb returns a message as HTML, with each argument escaped and
		// wrapped in <strong>. The message itself is escaped too: catalogs
		// hold text, never markup.
		"tb": func(id string, args ...any) (template.HTML, error) {
			s, err := c.message(id)
			if err != nil {
				return "", err
			}
			s = template.HTMLEscapeString(s)
			if len(args) == 0 {
				return template.HTML(s), nil
			}
			strong := make([]any, len(args))
			for i, a := range args {
				strong[i] = "<strong>" + template.HTMLEscapeString(fmt.Sprint(a)) + "</strong>"
			}
			return template.HTML(fmt.Sprintf(s, strong...)), nil
		},
		"scope":    c.scope,
		"date":     c.date,
		"initial":  initial,
		"initials": initials,
		"host":     host,
		"webURL":   webURL,
	}
}

// resolveLang maps a page's language tag to a catalog key: an exact match,
// then the primary subtag ("pt-BR" → "pt"), then "en". It also returns the
// tag the page should carry in its lang attribute: the one asked for if a
// catalog matched, else "en", so the attribute always describes the text.
func resolveLang(lang string) (key, attr string) {
	if !validLangTag(lang) {
		return "en", "en"
	}
	lower := strings.ToLower(lang)
	if _, ok := catalogs[lower]; ok {
		return lower, lang
	}
	primary, _, _ := strings.Cut(lower, "-")
	if _, ok := catalogs[primary]; ok {
		return primary, lang
	}
	return "en", "en"
}

// validLangTag is a loose BCP 47 shape check: letters, digits and hyphens,
// starting with a 2–8 letter primary subtag.
func validLangTag(s string) bool {
	if s == "" || len(s) > 35 {
		return false
	}
	for i, part := range strings.Split(s, "-") {
		if len(part) == 0 || len(part) > 8 || (i == 0 && len(part) < 2) {
			return false
		}
		for _, r := range part {
			isLetter := (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
			isDigit := r >= '0' && r <= '9'
			if !isLetter && !(isDigit && i > 0) {
				return false
			}
		}
	}
	return true
}
