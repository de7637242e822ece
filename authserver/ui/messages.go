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
		"client.logo_alt":           "%s logo",
		"client.logo_alt_generic":   "App logo",
		"account_card.signed_in_as": "Signed in as",
		"account_card.not_you":      "Not you?",

		// Login page.
		"login.title":           "Sign in",
		"login.heading":         "Sign in",
		"login.subtitle_client": "to continue to %s",
		"login.subtitle":        "Use your %s account",
		"login.username":        "Username",
		"login.password":        "Password",
		"login.submit":          "Sign in",
		"login.forgot":          "Forgot password?",
		"login.providers":       "Sign in with another account",
		"continue.title":        "Signing you in",
		"continue.heading":      "You're signed in",
		"continue.message":      "Taking you back to where you were going.",
		"continue.link":         "Continue",
		"login.with_provider":   "Sign in with %s",
		"login.or":              "or",

		// Forgot password page.
		"forgot.title":     "Forgot password",
		"forgot.heading":   "Forgot your password?",
		"forgot.subtitle":  "Enter the email address of your %s account and we'll send you a link to choose a new password.",
		"forgot.email":     "Email address",
		"forgot.submit":    "Send link",
		"forgot.sent":      "Check your email",
		"forgot.sent_text": "If an account uses that address, a link to choose a new password is on its way. It works once, for a limited time.",
		"forgot.back":      "Back to sign in",

		// Consent page.
		"consent.title":            "Allow %s to access your account?",
		"consent.heading":          "Allow %s to access your account?",
		"consent.first_party":      "Made by %s",
		"consent.third_party":      "Third-party app",
		"consent.metadata_from":    "Described by %s",
		"consent.software":         "Says it is %s",
		"consent.software_version": "Says it is %s %s",
		"consent.wants_to":         "%s wants to:",
		"consent.resources":        "%s wants to use these services as you:",
		"consent.resource_named":   "%s at %s",
		"consent.trust_note":       "%s is not made by %s. Only allow access if you trust this app.",
		"consent.allow":            "Allow",
		"consent.deny":             "Deny",
		"consent.privacy":          "%s privacy policy",
		"consent.terms":            "%s terms of service",
		"consent.legal":            "About this app",

		// Error page.
		"error.title":   "Something went wrong",
		"error.heading": "Something went wrong",
		"error.message": "We couldn't complete your request.",
		"error.hint":    "Go back to the app you came from and try again.",
		"error.code":    "Error code:",
		"error.detail":  "Details: %s",

		// Signed-out page.
		"signed_out.title":   "Signed out",
		"signed_out.heading": "You're signed out",
		"signed_out.message": "You have signed out of your %s account.",
		"signed_out.hint":    "You can close this window. If you're using a shared device, close all browser windows too.",
		// The app's post-logout address, offered rather than followed.
		"signed_out.return_note": "The app you signed out of asked to send you to another site. Continue only if you expected to go there.",
		"signed_out.return":      "Continue to %s",

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
		"account.resources":    "On these services:",
		"account.revoke":       "Remove access",
		"account.revoke_label": "Remove access for %s",
		"account.revoke_note":  "Removing access signs the app out of your account. It will have to ask you again to get back in.",
		"account.sign_out":     "Sign out",
		"account.settings":     "Your account and devices",

		// Account settings page: profile, password, sessions.
		"settings.title":             "Your account",
		"settings.heading":           "Your account",
		"settings.subtitle":          "Your %s account and the devices signed in to it",
		"settings.profile":           "Profile",
		"settings.name":              "Name",
		"settings.username":          "Username",
		"settings.email":             "Email",
		"settings.save":              "Save",
		"settings.email_note":        "A new address changes once you open the link we send to it.",
		"settings.managed":           "This account is managed by your administrator: ask them to change its name or password.",
		"settings.password":          "Password",
		"settings.current_password":  "Current password",
		"settings.new_password":      "New password",
		"settings.confirm_password":  "Confirm the new password",
		"settings.password_rules":    "At least %d characters. Changing it signs out your other devices.",
		"settings.change_password":   "Change password",
		"settings.sessions":          "Where you're signed in",
		"settings.device":            "%s on %s",
		"settings.unknown_device":    "Unknown device",
		"settings.signed_in":         "Signed in on %s",
		"settings.this_device":       "This device",
		"settings.end_session":       "Sign out",
		"settings.end_session_label": "Sign out of %s",
		"settings.end_others":        "Sign out of all other devices",
		"settings.apps":              "Connected apps",
		"settings.identities":        "Accounts you sign in with",
		"settings.linked_on":         "Linked on %s",
		"settings.last_used":         "Last used on %s",
		"settings.sign_out":          "Sign out",

		// Choosing a password through an invitation or reset link.
		"choose_password.title":          "Choose a password",
		"choose_password.heading_invite": "Welcome! Choose a password",
		"choose_password.heading_reset":  "Choose a new password",
		"choose_password.subtitle":       "for the account %s",
		"choose_password.new":            "New password",
		"choose_password.confirm":        "Confirm the new password",
		"choose_password.rules":          "At least %d characters. A few unrelated words make a password that is long, easy to remember and hard to guess.",
		"choose_password.submit":         "Set password",
		"choose_password.done_heading":   "Your password is set",
		"choose_password.done_message":   "You can now sign in to your %s account with your new password.",
		"choose_password.continue":       "Sign in",

		// Confirming a new email address.
		"device.title":               "Connect a device",
		"device.heading":             "Connect a device",
		"device.subtitle":            "Enter the code shown on your TV, console or command line.",
		"device.code_label":          "Device code",
		"device.continue":            "Continue",
		"device.confirm_title":       "Connect %s?",
		"device.confirm_heading":     "Is this your code?",
		"device.confirm_subtitle":    "%s on a device asks to use your account.",
		"device.phishing_note":       "Only continue if this code is on a screen in front of you now. If someone sent it to you, deny.",
		"device.allow":               "Allow",
		"device.deny":                "Deny",
		"device.approved_heading":    "Device connected",
		"device.approved_message":    "%s can now use your account. Go back to your device.",
		"device.denied_heading":      "Request denied",
		"device.denied_message":      "%s was not given access. You can close this page.",
		"device.error.unknown":       "That code is not valid or has expired. Check the code on your device and try again.",
		"device.error.malformed":     "Enter the 8 letters shown on your device, like BCDF-GHJK.",
		"device.error.throttled":     "Too many wrong codes. Try again in %s.",
		"device.error.decided":       "That code has already been used.",
		"device.error.second_factor": "This app needs two-step verification, and this sign-in did not use it. Sign out, sign in again with your second factor, then enter the code.",
		"verify_email.title":         "Confirm your email address",
		"verify_email.heading":       "Confirm your email address",
		"verify_email.subtitle":      "Use %s for the account %s?",
		"verify_email.submit":        "Confirm",
		"verify_email.done_heading":  "Your email address is confirmed",
		"verify_email.done_message":  "Your %s account now uses this address.",
		"verify_email.account":       "Your account",

		// The issuer's home page (its root).
		"home.title":      "Sign-in service",
		"home.heading":    "Welcome to %s",
		"home.message":    "Apps that use your %s account send you here to sign in.",
		"home.account":    "See your connected apps",
		"home.developers": "For app developers:",
		"home.discovery":  "OpenID Connect configuration",

		// Two-step verification (second_factor.html, enrol_factor.html,
		// the account page's section).
		"factor.title":            "Two-step verification",
		"factor.heading":          "Two-step verification",
		"factor.subtitle":         "Enter the 6-digit code from your authenticator app.",
		"factor.code":             "Code",
		"factor.code_note":        "Lost your device? Enter one of your recovery codes instead.",
		"factor.submit":           "Verify",
		"factor.enrol_title":      "Set up two-step verification",
		"factor.enrol_heading":    "Set up an authenticator app",
		"factor.enrol_required":   "This app requires two-step verification. Set it up to continue.",
		"factor.enrol_steps":      "Scan this QR code with your authenticator app, then enter the code it shows.",
		"factor.qr_alt":           "QR code for your authenticator app",
		"factor.manual":           "Can't scan it? Enter this key:",
		"factor.confirm":          "Turn on",
		"factor.recovery_heading": "Your recovery codes",
		"factor.recovery_note":    "Keep these codes somewhere safe. Each works once if you lose your device. They are shown only now.",
		"factor.continue":         "Continue",
		"factor.done":             "Done",
		"factor.section":          "Two-step verification",
		"factor.state_on":         "On: signing in asks for a code from your authenticator app.",
		"factor.state_off":        "Off: signing in asks only for your password.",
		"factor.recovery_left":    "Recovery codes left: %d",
		"factor.start":            "Set up an authenticator app",
		"factor.remove":           "Turn off",
		"factor.new_recovery":     "New recovery codes",
		"factor.error.wrong":      "That code is not right. Try the current code.",
		"factor.error.used":       "That code was already used. Wait for the next one.",
		"factor.error.missing":    "Enter the code.",
		"factor.error.throttled":  "Too many incorrect codes. Try again in %s.",
		"factor.notice.removed":   "Two-step verification is off.",

		// Messages the server puts on the login page.
		"login.error.wrong":        "The username or password is incorrect.",
		"login.error.missing":      "Enter your username and password.",
		"login.error.stale":        "Your sign-in form expired. Please try again.",
		"login.error.password_off": "Sign in with one of the accounts above.",
		"login.error.busy":         "Too many people are signing in right now. Please try again in a moment.",
		// Messages the server puts on the password forms.
		"password.error.mismatch":       "The two passwords do not match.",
		"password.error.missing":        "Enter the new password twice.",
		"password.error.stale":          "The form expired. Please try again.",
		"password.error.policy":         "The password %s.",
		"password.error.current":        "The current password is incorrect.",
		"password.error.throttled":      "Too many incorrect passwords. Try again in %s.",
		"password.error.email":          "Enter an email address.",
		"password.error.too_many":       "Too many requests from this network. Try again in %s.",
		"settings.error.name":           "The name %s.",
		"settings.notice.profile":       "Your profile is saved.",
		"settings.notice.password":      "Your password is changed. Your other devices are signed out.",
		"settings.notice.ended_session": "That device is signed out.",
		"settings.notice.ended_others":  "Your other devices are signed out.",
		"settings.notice.email_sent":    "We sent a link to the new address. Your email changes when you open it.",
		"settings.error.email":          "The email address %s.",
		"settings.error.send":           "The email could not be sent. Try again later.",
		// Brute-force defence (authserver/throttle.go): the wait is one of
		// the wait_ messages.
		"login.error.throttled":    "Too many failed sign-in attempts. Try again in %s.",
		"login.error.wait_second":  "a second",
		"login.error.wait_seconds": "%d seconds",
		"login.error.wait_minutes": "%d minutes",
		"login.error.wait_hours":   "%d hours",

		// Error pages: each problem has a heading, a message (what
		// happened, in plain words) and a hint (what to do next); see
		// ProblemText.
		"problem.unknown_client.heading": "This app is not recognized",
		"problem.unknown_client.message": "The app that sent you here is not registered with %s, so you can't sign in to it here.",
		"problem.unknown_client.hint":    "Go back to the app and try again. If it keeps happening, let the app's developer know.",

		"problem.bad_redirect.heading": "This sign-in link is not safe to follow",
		"problem.bad_redirect.message": "The app asked to send you back to an address it has not registered. To protect your account, signing in stopped here.",
		"problem.bad_redirect.hint":    "Go back to the app and try again. If it keeps happening, let the app's developer know.",

		"problem.email_link.heading": "This link is no longer valid",
		"problem.email_link.message": "Links to confirm an email address work once, for a limited time. This one has been used, has expired or is incomplete.",
		"problem.email_link.hint":    "Change the address on your account page again to get a new link.",

		"problem.password_link.heading": "This link is no longer valid",
		"problem.password_link.message": "Links to choose a password work once, for a limited time. This one has been used, has expired or is incomplete.",
		"problem.password_link.hint":    "Ask your administrator for a new link.",

		"problem.bad_request.heading": "This sign-in link is not valid",
		"problem.bad_request.message": "The link that brought you here is incomplete or damaged.",
		"problem.bad_request.hint":    "Go back to the app you came from and try signing in again. If it keeps happening, contact the app's developer.",

		"problem.expired_request.heading": "This sign-in page has expired",
		"problem.expired_request.message": "Sign-in pages are only valid for a while, and this one has timed out or is no longer valid.",
		"problem.expired_request.hint":    "Go back to the app and start signing in again.",

		"problem.stale_form.heading": "This form has expired",
		"problem.stale_form.message": "For your security, the page you submitted is no longer valid.",
		"problem.stale_form.hint":    "Go back to the app and start signing in again.",

		"problem.bad_form.heading": "This form could not be read",
		"problem.bad_form.message": "The page you submitted sent something other than a sign-in form.",
		"problem.bad_form.hint":    "Go back to the app and start signing in again.",

		"problem.form_too_large.heading": "This form is too large",
		"problem.form_too_large.message": "The page you submitted sent more than the sign-in service accepts.",
		"problem.form_too_large.hint":    "Go back to the app and start signing in again.",

		"problem.no_decision.heading": "Choose Allow or Deny",
		"problem.no_decision.message": "The consent form was submitted without a decision.",
		"problem.no_decision.hint":    "Go back and choose whether to allow access.",

		"problem.not_found.heading": "This page does not exist",
		"problem.not_found.message": "There is nothing at this address.",
		"problem.not_found.hint":    "Check the address, or go back to the app you came from.",

		"problem.unavailable.heading": "Sign-in is briefly unavailable",
		"problem.unavailable.message": "The sign-in service cannot reach its database right now. Nothing has changed with your account or your apps.",
		"problem.unavailable.hint":    "Please try again in a few seconds.",

		"problem.server.heading": "Something went wrong",
		"problem.server.message": "The sign-in service could not complete your request.",
		"problem.server.hint":    "Please try again in a moment.",

		"problem.sign_in_failed.heading": "Something went wrong",
		"problem.sign_in_failed.message": "We could not sign you in right now.",
		"problem.sign_in_failed.hint":    "Please try again in a moment.",

		"problem.account_bad_request.heading": "This request is not valid",
		"problem.account_bad_request.message": "The form could not be read.",
		"problem.account_bad_request.hint":    "Open your connected apps page again.",

		"problem.account_stale_form.heading": "This form has expired",
		"problem.account_stale_form.message": "For your security, the page you submitted is no longer valid. Nothing was changed.",
		"problem.account_stale_form.hint":    "Open your connected apps page again and retry.",

		"problem.account_no_app.heading": "This request is not valid",
		"problem.account_no_app.message": "The form was submitted without an app to remove.",
		"problem.account_no_app.hint":    "Open your connected apps page again.",

		"problem.revoke_failed.heading": "Something went wrong",
		"problem.revoke_failed.message": "We could not remove the app's access.",
		"problem.revoke_failed.hint":    "Please try again in a moment.",

		"problem.list_apps_failed.heading": "Something went wrong",
		"problem.list_apps_failed.message": "We could not list your connected apps.",
		"problem.list_apps_failed.hint":    "Please try again in a moment.",

		"problem.federation_denied.heading":      "Sign-in cancelled",
		"problem.federation_denied.message":      "%s did not let us sign you in: the sign-in was cancelled or refused there.",
		"problem.federation_denied.hint":         "Go back to the app and sign in again.",
		"problem.federation_failed.heading":      "Sign-in did not work",
		"problem.federation_failed.message":      "We could not sign you in with %s.",
		"problem.federation_failed.hint":         "Please try again in a moment. If it keeps happening, tell your administrator.",
		"problem.federation_stale.heading":       "This sign-in has expired",
		"problem.federation_stale.message":       "The sign-in with %s did not start in this browser, or took too long.",
		"problem.federation_stale.hint":          "Go back to the app and start signing in again.",
		"problem.federation_no_account.heading":  "No account here yet",
		"problem.federation_no_account.message":  "You signed in with %s, but that account is not linked to any account here.",
		"problem.federation_no_account.hint":     "Ask your administrator to create an account for you, or sign in another way.",
		"problem.federation_email_taken.heading": "An account already uses this email",
		"problem.federation_email_taken.message": "An account here already has the email address %s reports for you, and it is not linked to your %s account.",
		"problem.federation_email_taken.hint":    "Sign in with your password, or ask your administrator to link the accounts.",
		"problem.federation_not_allowed.heading": "This account cannot sign in here",
		"problem.federation_not_allowed.message": "The %s account you used is not allowed to sign in here.",
		"problem.federation_not_allowed.hint":    "Sign in with an account of your organization.",
		"problem.federation_disabled.heading":    "This account is disabled",
		"problem.federation_disabled.message":    "The account linked to your %s sign-in is disabled or no longer exists.",
		"problem.federation_disabled.hint":       "Ask your administrator.",
		"problem.account_login_failed.heading":   "Something went wrong",
		"problem.account_login_failed.message":   "We could not start signing you in.",
		"problem.account_login_failed.hint":      "Please try again in a moment.",

		"problem.logout_invalid.heading": "This sign-out request is not valid",
		"problem.logout_invalid.message": "%s",
		"problem.logout_invalid.hint":    "Nothing was changed. Go back to the app and try again, or close this page.",

		"problem.logout_server.heading": "Something went wrong",
		"problem.logout_server.message": "The sign-out service could not complete your request.",
		"problem.logout_server.hint":    "Please try again in a moment.",

		"problem.logout_stale_form.heading": "This sign-out form has expired",
		"problem.logout_stale_form.message": "For your security, the page you submitted is no longer valid. Nothing was changed.",
		"problem.logout_stale_form.hint":    "Go back and try signing out again.",

		"problem.logout_expired.heading": "This sign-out page has expired",
		"problem.logout_expired.message": "The sign-out request is too old or is not valid any more. Nothing was changed.",
		"problem.logout_expired.hint":    "Go back and try signing out again.",

		"problem.logout_failed.heading": "Something went wrong",
		"problem.logout_failed.message": "We could not sign you out completely.",
		"problem.logout_failed.hint":    "Please try again in a moment.",

		// What is wrong with a sign-out request (problem.logout_invalid).
		"logout.problem.unreadable":      "The sign-out request could not be read.",
		"logout.problem.bad_hint":        "The app sent a sign-out request that this service did not issue.",
		"logout.problem.client_mismatch": "The sign-out request names two different apps.",
		"logout.problem.bad_client":      "The sign-out request names an app that is not valid.",
		"logout.problem.unknown_client":  "The app that asked to sign you out is not registered.",
		"logout.problem.state_too_long":  "The sign-out request is too long.",
		"logout.problem.server":          "The sign-out service could not complete your request.",

		// The gate's pages.
		"problem.gate_unavailable.heading": "Sign-in is not available right now",
		"problem.gate_unavailable.message": "The identity provider could not be reached.",
		"problem.gate_unavailable.hint":    "Please try again in a moment.",

		"problem.gate_start_failed.heading": "Something went wrong",
		"problem.gate_start_failed.message": "The sign-in could not start.",
		"problem.gate_start_failed.hint":    "Please try again.",

		"problem.gate_expired.heading": "This sign-in link has expired",
		"problem.gate_expired.message": "The sign-in took too long or was started in another browser.",
		"problem.gate_expired.hint":    "Go back to the page you wanted and try again.",

		"problem.gate_wrong_issuer.heading": "This sign-in response is not valid",
		"problem.gate_wrong_issuer.message": "It came from an unexpected identity provider.",
		"problem.gate_wrong_issuer.hint":    "Go back to the page you wanted and try again.",

		"problem.gate_cancelled.heading":      "Sign-in was cancelled",
		"problem.gate_cancelled.message":      "Access was not granted.",
		"problem.gate_cancelled.hint":         "Go back to the page you wanted to sign in again.",
		"problem.gate_step_up_failed.heading": "Two-step verification needed",
		"problem.gate_step_up_failed.message": "This site requires a stronger sign-in than the one you completed.",
		"problem.gate_step_up_failed.hint":    "Set up two-step verification on your account page, then try again.",

		"problem.gate_not_completed.heading": "Sign-in did not complete",
		"problem.gate_not_completed.message": "The identity provider could not sign you in.",
		"problem.gate_not_completed.hint":    "Go back to the page you wanted and try again.",

		"problem.gate_not_verified.heading": "Sign-in did not complete",
		"problem.gate_not_verified.message": "The sign-in could not be verified.",
		"problem.gate_not_verified.hint":    "Go back to the page you wanted and try again.",

		"problem.gate_session_failed.heading": "Something went wrong",
		"problem.gate_session_failed.message": "Your session could not be saved.",
		"problem.gate_session_failed.hint":    "Please try again.",

		"problem.gate_forbidden.heading": "You don't have access to this page",
		"problem.gate_forbidden.message": "You are signed in as %s, but this account is not allowed here.",
		"problem.gate_forbidden.hint":    "Ask the site's administrator for access, or sign out and use another account.",

		"gate.this_account":  "this account",
		"gate.sign_out":      "Sign out",
		"gate.sign_in_again": "Sign in again",
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
