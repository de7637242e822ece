package clients

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dialect is one of the JSON forms client metadata takes. All of them are
// read by Metadata.Decode and written by Metadata.Fields, from one table
// of fields (below).
type Dialect int

const (
	// RegistrationJSON is dynamic client registration's (RFC 7591 §2,
	// with OpenID Connect Dynamic Client Registration 1.0 §2's
	// id_token_signed_response_alg, RP-Initiated Logout 1.0's
	// post_logout_redirect_uris and Back-Channel Logout 1.0's
	// backchannel_logout_uri): RFC names only. Gatehouse's own fields are
	// not registration metadata, and members it does not know are
	// ignored, as RFC 7591 §2 requires.
	RegistrationJSON Dialect = iota
	// AdminJSON is the admin API's: every field, under its RFC 7591 name
	// or its older name (name, scopes), which it also writes. A member it
	// does not know is refused. A lifetime is a duration ("15m") or a
	// number of seconds.
	AdminJSON
	// ConfigJSON is Caddy's JSON configuration of static clients: as
	// AdminJSON, except that a lifetime given as a number counts
	// nanoseconds, like every other duration in Caddy's configuration.
	ConfigJSON
)

// Kind is the type of a field's value.
type Kind int

const (
	// KindString is a JSON string; one Caddyfile argument.
	KindString Kind = iota
	// KindList is an array of strings; Caddyfile arguments, repeatable.
	KindList
	// KindBool is true or false; a Caddyfile flag.
	KindBool
	// KindDuration is a duration such as "15m", "720h" or "30d".
	KindDuration
	// KindJSON is a JSON object; also accepted as a string holding one,
	// which is how the Caddyfile and the command line give it (one
	// argument).
	KindJSON
)

// field is one member of client metadata in JSON.
type field struct {
	// name is the field's RFC 7591 §2 (or OpenID Connect registration)
	// name, or Gatehouse's own for a field of its own.
	name string
	// alias is the older name the admin API and the configuration used
	// before they took RFC 7591's. Both are accepted; they write it.
	alias string
	// own fields are Gatehouse's, not registration metadata: /register
	// ignores them.
	own   bool
	kind  Kind
	usage string // one line of command-line help
	// spaced: under name the list is one space-separated string
	// (RFC 7591 §2 scope); under alias it is an array.
	spaced bool

	// Exactly one of these, as kind says, reaches the field.
	str  func(*Metadata) *string
	list func(*Metadata) *[]string
	flag func(*Metadata) *bool
	dur  func(*Metadata) *time.Duration
}

// fields are the members of client metadata, in the order they are
// written.
var fields = []field{
	{name: "client_name", alias: "name", kind: KindString, usage: "name shown on the login and consent pages",
		str: func(m *Metadata) *string { return &m.Name }},
	{name: "description", own: true, kind: KindString, usage: "description",
		str: func(m *Metadata) *string { return &m.Description }},
	{name: "type", own: true, kind: KindString, usage: "first_party, first_party_public, third_party or third_party_public",
		str: func(m *Metadata) *string { return (*string)(&m.Type) }},
	{name: "redirect_uris", kind: KindList, usage: "redirect URI (repeat for several)",
		list: func(m *Metadata) *[]string { return &m.RedirectURIs }},
	{name: "post_logout_redirect_uris", kind: KindList, usage: "post-logout redirect URI (repeat for several)",
		list: func(m *Metadata) *[]string { return &m.PostLogoutRedirectURIs }},
	{name: "backchannel_logout_uri", kind: KindString, usage: "URL that receives back-channel logout tokens",
		str: func(m *Metadata) *string { return &m.BackchannelLogoutURI }},
	{name: "scope", alias: "scopes", spaced: true, kind: KindList, usage: "allowed scope (repeat for several; none means all)",
		list: func(m *Metadata) *[]string { return &m.Scopes }},
	{name: "logo_uri", kind: KindString, usage: "https URL of the app's logo",
		str: func(m *Metadata) *string { return &m.LogoURI }},
	{name: "client_uri", kind: KindString, usage: "https URL of the app's home page",
		str: func(m *Metadata) *string { return &m.ClientURI }},
	{name: "policy_uri", kind: KindString, usage: "https URL of the app's privacy policy",
		str: func(m *Metadata) *string { return &m.PolicyURI }},
	{name: "tos_uri", kind: KindString, usage: "https URL of the app's terms of service",
		str: func(m *Metadata) *string { return &m.TOSURI }},
	{name: "grant_types", kind: KindList, usage: "allowed grant type: authorization_code, refresh_token (default both), client_credentials, urn:ietf:params:oauth:grant-type:device_code",
		list: func(m *Metadata) *[]string { return &m.GrantTypes }},
	{name: "token_endpoint_auth_method", kind: KindString, usage: "client_secret_basic (default for confidential types), client_secret_post, private_key_jwt or none",
		str: func(m *Metadata) *string { return &m.TokenEndpointAuthMethod }},
	{name: "id_token_signed_response_alg", kind: KindString, usage: "RS256 (default), ES256, PS256 or EdDSA: one the server has keys for",
		str: func(m *Metadata) *string { return &m.IDTokenSigningAlg }},
	{name: "access_token_lifetime", own: true, kind: KindDuration, usage: `e.g. "15m"; "" for the server's default`,
		dur: func(m *Metadata) *time.Duration { return &m.AccessTokenLifetime }},
	{name: "refresh_token_lifetime", own: true, kind: KindDuration, usage: `e.g. "720h"; "" for the server's default`,
		dur: func(m *Metadata) *time.Duration { return &m.RefreshTokenLifetime }},
	{name: "bypass_consent_for_offline_access", own: true, kind: KindBool, usage: "first-party only: no consent page for offline_access",
		flag: func(m *Metadata) *bool { return &m.BypassConsentForOfflineAccess }},
	{name: "require_pushed_authorization_requests", kind: KindBool, usage: "authorization requests only through /par (RFC 9126)",
		flag: func(m *Metadata) *bool { return &m.RequirePushedAuthorizationRequests }},
	{name: "contacts", kind: KindList, usage: "contact address (repeat for several)",
		list: func(m *Metadata) *[]string { return &m.Contacts }},
	{name: "software_id", kind: KindString, usage: "identifier of the app's software",
		str: func(m *Metadata) *string { return &m.SoftwareID }},
	{name: "software_version", kind: KindString, usage: "version of the app's software",
		str: func(m *Metadata) *string { return &m.SoftwareVersion }},
	{name: "jwks", kind: KindJSON, usage: "private_key_jwt: the app's public keys, a JSON Web Key Set",
		str: func(m *Metadata) *string { return &m.JWKS }},
	{name: "jwks_uri", kind: KindString, usage: "private_key_jwt: https URL of the app's JSON Web Key Set",
		str: func(m *Metadata) *string { return &m.JWKSURI }},
	{name: "dpop_bound_access_tokens", kind: KindBool, usage: "require DPoP proofs (RFC 9449) at the token endpoint",
		flag: func(m *Metadata) *bool { return &m.DPoPBoundAccessTokens }},
}

// written is the name d writes f under: RFC 7591's for registration, the
// older one where there is one for the admin API and the configuration,
// which keeps their output as it was.
func (f *field) written(d Dialect) string {
	if d != RegistrationJSON && f.alias != "" {
		return f.alias
	}
	return f.name
}

// lookup finds the field a member name means in d.
func lookup(name string, d Dialect) *field {
	for i := range fields {
		f := &fields[i]
		switch {
		case d == RegistrationJSON && f.own:
		case name == f.name || (d != RegistrationJSON && name == f.alias && f.alias != ""):
			return f
		}
	}
	return nil
}

// serverFields are what the admin API shows about a client but only the
// server sets (Info.Object).
var serverFields = []string{"client_id", "client_secret", "static", "dynamic", "secret_rotation_pending", "created_at", "updated_at"}

// Decode sets on m every member of obj that d knows, in name order so the
// first error reported does not depend on map order. A member not sent
// leaves its field unchanged; null resets it. The error names the member
// as it was sent (a *MetadataError). Defaults are filled in and the
// values checked later, by the registry.
func (m *Metadata) Decode(obj map[string]json.RawMessage, d Dialect) error {
	seen := map[*field]string{}
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		f := lookup(name, d)
		if f == nil {
			switch {
			case d == RegistrationJSON:
				continue // RFC 7591 §2: unknown metadata is ignored
			case d == AdminJSON && slices.Contains(serverFields, name):
				return metadataErr(name, "is set by the server and cannot be changed")
			}
			return metadataErr(truncate(name, 64), "unknown field")
		}
		if other, dup := seen[f]; dup {
			return metadataErr(name, "is the same field as %s; send only one of them", other)
		}
		seen[f] = name
		if err := f.decode(m, obj[name], name == f.name && f.spaced, d); err != nil {
			return metadataErr(name, "%v", err)
		}
	}
	return nil
}

// decode sets f from raw; spaced says raw is the space-separated form.
func (f *field) decode(m *Metadata, raw json.RawMessage, spaced bool, d Dialect) error {
	null := string(raw) == "null"
	switch {
	case spaced:
		var s string
		if !null && json.Unmarshal(raw, &s) != nil {
			return errors.New("must be a string of space-separated values")
		}
		l, ok := ParseScope(s)
		if !ok {
			return errors.New("is malformed")
		}
		*f.list(m) = l
	case f.kind == KindString:
		var s string
		if !null && json.Unmarshal(raw, &s) != nil {
			return errors.New("must be a string")
		}
		*f.str(m) = s
	case f.kind == KindList:
		var l []string
		if !null && json.Unmarshal(raw, &l) != nil {
			return errors.New("must be an array of strings")
		}
		*f.list(m) = l
	case f.kind == KindBool:
		var b bool
		if !null && json.Unmarshal(raw, &b) != nil {
			return errors.New("must be true or false")
		}
		*f.flag(m) = b
	case f.kind == KindJSON:
		v, err := decodeJSONObject(raw)
		if err != nil {
			return err
		}
		*f.str(m) = v
	case f.kind == KindDuration:
		v, err := decodeDuration(raw, d)
		if err != nil {
			return err
		}
		*f.dur(m) = v
	}
	return nil
}

// maxJSONMember bounds a JSON object member such as jwks.
const maxJSONMember = 16 * 1024

// decodeJSONObject reads a JSON object, given as itself or as a string
// holding one, into its compact form; null or "" clear it.
func decodeJSONObject(raw json.RawMessage) (string, error) {
	if string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return "", nil
		}
		raw = json.RawMessage(s)
	}
	if len(raw) > maxJSONMember {
		return "", fmt.Errorf("must be at most %d bytes", maxJSONMember)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return "", errors.New("must be a JSON object")
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return "", errors.New("must be a JSON object")
	}
	return b.String(), nil
}

// maxLifetime bounds what a lifetime may be written as, far above what
// validation allows, so that no number overflows.
const maxLifetime = 100 * 365 * 24 * time.Hour

// decodeDuration reads a lifetime: null, "" or 0 for the server's
// default, a duration string, or a whole number of seconds (nanoseconds
// in the configuration, as caddy.Duration reads it).
func decodeDuration(raw json.RawMessage, d Dialect) (time.Duration, error) {
	unit, what := time.Second, "seconds"
	if d == ConfigJSON {
		unit, what = time.Nanosecond, "nanoseconds"
	}
	bad := fmt.Errorf(`must be a duration such as "15m" or "720h", or a number of %s`, what)
	if string(raw) == "null" {
		return 0, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if s == "" {
			return 0, nil
		}
		v, err := parseDuration(s)
		if err != nil || v < 0 || v > maxLifetime {
			return 0, bad
		}
		return v, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 || n > int64(maxLifetime/unit) {
		return 0, bad
	}
	return time.Duration(n) * unit, nil
}

// days are the "d" units of a duration, with their number.
var days = regexp.MustCompile(`([0-9]*\.?[0-9]+)d`)

// parseDuration reads a Go duration in which, as in Caddy's
// configuration, "d" is a day of 24 hours ("30d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	if len(s) > 64 {
		return 0, errors.New("too long")
	}
	var bad error
	s = days.ReplaceAllStringFunc(s, func(d string) string {
		n, err := strconv.ParseFloat(strings.TrimSuffix(d, "d"), 64)
		if err != nil {
			bad = err
		}
		return strconv.FormatFloat(n*24, 'f', -1, 64) + "h"
	})
	if bad != nil {
		return 0, bad
	}
	return time.ParseDuration(s)
}

// ParseScope splits a scope parameter (RFC 6749 §3.3: space-delimited,
// case-sensitive) into distinct scopes in order of first appearance. It
// reports false when a scope token has characters §3.3 forbids.
func ParseScope(raw string) ([]string, bool) {
	var out []string
	for _, s := range strings.Split(raw, " ") {
		if s == "" {
			continue
		}
		for _, c := range s {
			// scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
				return nil, false
			}
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, true
}

// Fields returns m's members as d writes them, in a fixed order. The
// admin API shows every field: lists as arrays, never null, and lifetimes
// as durations ("15m", "" for the server's default). The configuration
// and registration write only the fields that are set; the configuration
// counts lifetimes in nanoseconds, and registration writes only
// registration metadata, scope as one string.
func (m *Metadata) Fields(d Dialect) Object {
	var out Object
	for i := range fields {
		f := &fields[i]
		if d == RegistrationJSON && f.own {
			continue
		}
		var v any
		empty := false
		switch f.kind {
		case KindString:
			s := *f.str(m)
			v, empty = s, s == ""
		case KindList:
			l := *f.list(m)
			v, empty = l, len(l) == 0
			switch {
			case d == RegistrationJSON && f.spaced:
				v = strings.Join(l, " ")
			case l == nil:
				v = []string{}
			}
		case KindBool:
			b := *f.flag(m)
			v, empty = b, !b
		case KindJSON:
			s := *f.str(m)
			v, empty = json.RawMessage(s), s == ""
			if empty {
				v = nil
			}
		case KindDuration:
			dur := *f.dur(m)
			v, empty = int64(dur), dur == 0
			if d == AdminJSON {
				v = ""
				if dur != 0 {
					v = formatDuration(dur)
				}
			}
		}
		if empty && d != AdminJSON {
			continue
		}
		out = append(out, Member{f.written(d), v})
	}
	return out
}

// Label names err's field, when it is a *MetadataError about a field of
// the table, as a request did: under the name obj used for it, else the
// name d writes. Other errors are returned as they are.
func (d Dialect) Label(err error, obj map[string]json.RawMessage) error {
	var me *MetadataError
	if !errors.As(err, &me) {
		return err
	}
	for i := range fields {
		f := &fields[i]
		if me.Field != f.name && me.Field != f.alias {
			continue
		}
		name := f.written(d)
		for _, sent := range []string{f.name, f.alias} {
			if _, ok := obj[sent]; ok && sent != "" && lookup(sent, d) == f {
				name = sent
			}
		}
		return &MetadataError{Field: name, Reason: me.Reason}
	}
	return err
}

// Spec describes a field to parsers of text rather than JSON: the
// Caddyfile and the command line.
type Spec struct {
	// Name is the field's name in the admin API and the configuration.
	Name  string
	Kind  Kind
	Usage string
}

// Specs lists every field, in the order the admin API writes them.
func Specs() []Spec {
	out := make([]Spec, 0, len(fields))
	for i := range fields {
		out = append(out, fields[i].spec())
	}
	return out
}

// LookupSpec finds a field by either of its names or, for a list, by the
// singular of one ("redirect_uri", "scope", "contact").
func LookupSpec(name string) (Spec, bool) {
	if f := lookup(name, AdminJSON); f != nil {
		return f.spec(), true
	}
	if f := lookup(name+"s", AdminJSON); f != nil && f.kind == KindList {
		return f.spec(), true
	}
	return Spec{}, false
}

func (f *field) spec() Spec { return Spec{Name: f.written(AdminJSON), Kind: f.kind, Usage: f.usage} }

// Object is a JSON object whose members keep their order, so that what
// the APIs write reads in a stable, logical order.
type Object []Member

// Member is one member of an Object.
type Member struct {
	Name  string
	Value any
}

// Get returns the value of the member name.
func (o Object) Get(name string) (any, bool) {
	for _, m := range o {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// MarshalJSON writes the members in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		name, err := json.Marshal(m.Name)
		if err != nil {
			return nil, err
		}
		value, err := json.Marshal(m.Value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object keeping the order of its members,
// each value as a json.RawMessage.
func (o *Object) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	*o = (*o)[:0]
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, Member{name, v})
	}
	_, err := dec.Token() // the closing brace
	return err
}

// Interface guards
var (
	_ json.Marshaler   = Object(nil)
	_ json.Unmarshaler = (*Object)(nil)
)
