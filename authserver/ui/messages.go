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
	text: englishText,
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

// Message returns the English text of message id, formatted with args
// (fmt verbs) when there are any. It is how the server's own user-visible
// strings (error pages, the login page's error) come from the catalog.
// An unknown id returns the id itself, so a mistake shows instead of
// breaking a page; a test checks every id the server uses.
func Message(id string, args ...any) string {
	s, err := english.message(id)
	if err != nil {
		return id
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Problem is the text of an error page.
type Problem struct{ Heading, Message, Hint string }

// ProblemText returns the Problem of the catalog's messages id+".heading",
// id+".message" (formatted with args) and id+".hint", e.g.
// ProblemText("problem.unknown_client", productName).
func ProblemText(id string, args ...any) Problem {
	return Problem{
		Heading: Message(id + ".heading"),
		Message: Message(id+".message", args...),
		Hint:    Message(id + ".hint"),
	}
}

// accountCard is the data of the "account" template (partials.html).
type accountCard struct {
	User      UserView
	SwitchURL string // "Not you?" link; none when empty
}

func newAccountCard(u UserView, switchURL ...string) accountCard {
	c := accountCard{User: u}
	if len(switchURL) > 0 {
		c.SwitchURL = switchURL[0]
	}
	return c
}

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
		"account":  newAccountCard,
		"scope":    c.scope,
		"date":     c.date,
		"initial":  initial,
		"initials": initials,
		"host":     host,
		"webURL":   webURL,
		"appLink":  appLink,
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
