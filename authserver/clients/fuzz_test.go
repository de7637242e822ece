package clients

// Fuzz targets of client metadata: redirect URI rules and matching, and
// the codec. Run one for longer with, for example:
//
//	go test -run '^$' -fuzz '^FuzzRegistrationMetadata$' -fuzztime 10m ./authserver/clients
//
// Inputs that ever broke an invariant are kept in testdata/fuzz/<target>
// and run by every plain `go test`.

import (
	"encoding/json"
	"errors"
	"net"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzMatchRedirectURI: a requested redirect URI matches a registered one
// only when the two are the same string, or both are http on the same
// loopback IP literal and differ in nothing but the port (RFC 8252 §7.3);
// and that port rule really lets any port in.
func FuzzMatchRedirectURI(f *testing.F) {
	for _, s := range [][2]string{
		{"https://app.example/cb", "https://app.example/cb"},
		{"https://app.example/cb", "https://app.example/cb/"},
		{"https://app.example/cb", "https://APP.example/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080/cb"},
		{"http://127.0.0.1:1/cb", "http://127.0.0.1/cb"},
		{"http://[::1]/cb", "http://[::1]:9/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:8080@evil.example/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.2:80/cb"},
		{"http://127.0.0.1/cb?x=1", "http://127.0.0.1:5/cb?x=1"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:5/cb#frag"},
		{"http://localhost/cb", "http://localhost:5/cb"},
		{"com.example.app:/cb", "com.example.app:/cb"},
		{"http://[::ffff:127.0.0.1]/cb", "http://[::ffff:127.0.0.1]:1/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:0/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:00080/cb"},
		{"http://127.0.0.1:8080/cb", "http://127.0.0.1:99999/cb"},
	} {
		f.Add(s[0], s[1], uint16(8080))
	}
	f.Add("http://127.0.0.1/cb", "http://127.0.0.1:1/cb", uint16(0)) // port 0 is no port
	f.Fuzz(func(t *testing.T, registered, requested string, port uint16) {
		c := &Client{ID: "c", Metadata: Metadata{Type: ThirdPartyPublic, RedirectURIs: []string{registered}}}
		if c.Prepare(testScopes) != nil {
			return
		}
		if c.MatchRedirectURI(requested) && requested != registered && !sameButPort(registered, requested) {
			t.Fatalf("%q matched registered %q", requested, registered)
		}
		if !c.MatchRedirectURI(registered) {
			t.Fatalf("registered %q does not match itself", registered)
		}
		if u, err := url.Parse(registered); err == nil && u.Scheme == "http" && isLoopbackIP(u.Hostname()) && u.Opaque == "" {
			u.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(int(port)))
			if other := u.String(); sameButPort(registered, other) && !c.MatchRedirectURI(other) {
				t.Fatalf("%q does not match loopback %q on another port", other, registered)
			}
		}
	})
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// sameButPort is the test's own reading of RFC 8252 §7.3: both http, the
// same loopback IP literal, written the same way, the rest of the URI
// identical, and a real port (or none) on each.
func sameButPort(a, b string) bool {
	ua, errA := url.Parse(a)
	ub, errB := url.Parse(b)
	if errA != nil || errB != nil || ua.Scheme != "http" || ub.Scheme != "http" || ua.User != nil || ub.User != nil {
		return false
	}
	if !isLoopbackIP(ua.Hostname()) || ua.Hostname() != ub.Hostname() || strings.Contains(a, "#") || strings.Contains(b, "#") {
		return false
	}
	for _, u := range []*url.URL{ua, ub} {
		if p := u.Port(); p != "" && !realPort(p) {
			return false
		}
	}
	hostA, hostB := ua.Host, ub.Host
	if ua.Port() != "" {
		hostA = hostA[:len(hostA)-len(ua.Port())-1]
	}
	if ub.Port() != "" {
		hostB = hostB[:len(hostB)-len(ub.Port())-1]
	}
	restA := strings.TrimPrefix(a, "http://"+ua.Host)
	restB := strings.TrimPrefix(b, "http://"+ub.Host)
	return hostA == hostB && restA == restB && strings.HasPrefix(a, "http://"+ua.Host) && strings.HasPrefix(b, "http://"+ub.Host)
}

// realPort is the test's own reading of a port a redirect may name: a
// number from 1 to 65535 that prints back exactly as written.
func realPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && strconv.Itoa(n) == p
}

// FuzzValidateRedirectURI: a redirect URI accepted at registration is an
// absolute URI without fragment or user information, and https, http on
// a loopback host, or (public clients only) a reverse-domain private-use
// scheme.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example/cb", "http://127.0.0.1/cb", "http://localhost:3000/", "http://[::1]/x",
		"http://app.example/cb", "https://app.example/cb#x", "https://user@app.example/", "com.example.app:/cb",
		"javascript:alert(1)", "data:text/html,x", "https:///cb", "//app.example/cb", "HTTPS://APP.EXAMPLE/",
		"http://127.0.0.1.evil.example/", "http://0x7f000001/", "https://a.example/cb?x=1#", "urn:ietf:wg:oauth:2.0:oob",
		"http://127.0.0.1:0/cb", "http://127.0.0.1:99999/cb", "http://127.0.0.1:00080/cb", "https://a.example:/cb", "http://[::1]:65535/cb",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, raw string, public bool) {
		if ValidateRedirectURI(raw, public) != nil {
			return
		}
		u, err := url.Parse(raw)
		switch {
		case err != nil || !u.IsAbs() || !utf8.ValidString(raw):
			t.Fatalf("accepted %q: not an absolute URI of valid UTF-8", raw)
		case strings.Contains(raw, "#") || u.User != nil:
			t.Fatalf("accepted %q with a fragment or user information", raw)
		case (u.Port() != "" || strings.HasSuffix(u.Host, ":")) && !realPort(u.Port()):
			t.Fatalf("accepted %q with port %q", raw, u.Port())
		case u.Scheme == "https":
			if u.Host == "" {
				t.Fatalf("accepted %q without a host", raw)
			}
		case u.Scheme == "http":
			if h := u.Hostname(); !strings.EqualFold(h, "localhost") && !isLoopbackIP(h) {
				t.Fatalf("accepted plain http %q off loopback", raw)
			}
		case !public || !strings.Contains(u.Scheme, "."):
			t.Fatalf("accepted scheme %q (public %v)", u.Scheme, public)
		}
	})
}

// FuzzRegistrationMetadata: dynamic registration (RFC 7591) accepts only
// third-party clients (public ones only when anonymous, without a
// back-channel logout URI), with valid redirect URIs, supported scopes
// and grant types that include authorization_code; and whatever it
// accepts becomes a client the server can load (Client.Prepare), so no
// registration is ever stored that the server would then refuse. Every
// refusal names a field.
func FuzzRegistrationMetadata(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["https://app.example/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1/cb","com.example.app:/cb"],"client_name":"App","scope":"openid email offline_access","grant_types":["authorization_code","refresh_token"]}`,
		`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"client_secret_post","backchannel_logout_uri":"https://app.example/bc"}`,
		`{"redirect_uris":["https://app.example/cb"],"response_types":["code","token"]}`,
		`{"redirect_uris":["https://app.example/cb"],"grant_types":["refresh_token"]}`,
		`{"redirect_uris":["http://app.example/cb"]}`,
		`{"redirect_uris":[],"client_name":"x"}`,
		`{"redirect_uris":"https://app.example/cb"}`,
		`{"redirect_uris":["https://app.example/cb"],"logo_uri":"javascript:alert(1)","contacts":["a@b"],"software_id":"s","id_token_signed_response_alg":"ES256"}`,
		`{"redirect_uris":["https://app.example/cb"],"post_logout_redirect_uris":["https://app.example/bye"],"client_uri":"https://app.example/","tos_uri":"https://app.example/tos","policy_uri":"https://app.example/p"}`,
		`{"redirect_uris":["https://app.example/cb"],"client_name":"a\u0000b"}`,
		`{"redirect_uris":["https://app.example/cb"],"type":"first_party","bypass_consent_for_offline_access":true,"name":"admin alias"}`,
		`[]`, `null`, `{"a":1}{"b":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			return
		}
		for _, open := range []bool{true, false} {
			for _, current := range []Type{"", ThirdParty, ThirdPartyPublic} {
				md, err := DecodeRegistration(obj, RegistrationRequest{Open: open, Current: current, SupportedScopes: testScopes})
				if err != nil {
					var me *MetadataError
					if !errors.As(err, &me) || me.Field == "" {
						t.Fatalf("refusal without a field: %v", err)
					}
					continue
				}
				checkRegisteredMetadata(t, open, current, md)
			}
		}
	})
}

func checkRegisteredMetadata(t *testing.T, open bool, current Type, md Metadata) {
	t.Helper()
	switch {
	case md.Type != ThirdParty && md.Type != ThirdPartyPublic:
		t.Fatalf("registered a %s client", md.Type)
	case current != "" && md.Type != current:
		t.Fatalf("an update turned a %s client into %s", current, md.Type)
	case current == "" && open && md.Type != ThirdPartyPublic:
		t.Fatalf("anonymous registration of a %s client", md.Type)
	case open && md.BackchannelLogoutURI != "":
		t.Fatalf("anonymous client with a back-channel logout URI")
	case md.BypassConsentForOfflineAccess || md.AccessTokenLifetime != 0 || md.Description != "":
		t.Fatalf("registration set Gatehouse's own fields: %+v", md)
	case md.Type.Public() != (md.TokenEndpointAuthMethod == authMethodNone):
		t.Fatalf("%s client with auth method %q", md.Type, md.TokenEndpointAuthMethod)
	case !slices.Contains(md.GrantTypes, "authorization_code"):
		t.Fatalf("grant types %v", md.GrantTypes)
	}
	for _, u := range md.RedirectURIs {
		if ValidateRedirectURI(u, md.Type.Public()) != nil || !utf8.ValidString(u) {
			t.Fatalf("registered redirect URI %q", u)
		}
	}
	for _, sc := range md.Scopes {
		if !slices.Contains(testScopes, sc) {
			t.Fatalf("registered scope %q", sc)
		}
	}
	var secrets []string
	if !md.Type.Public() {
		secrets = []string{HashSecret("s")}
	}
	c := &Client{ID: "gh_client_x", Metadata: md, SecretHashes: secrets}
	if err := c.Prepare(testScopes); err != nil {
		t.Fatalf("accepted metadata makes a client the server refuses: %v", err)
	}
}

// FuzzDecodeMetadata: in every dialect, a JSON object is either refused
// with an error naming a member it holds, or decoded into metadata that
// the same dialect writes back (Fields) and reads again unchanged.
func FuzzDecodeMetadata(f *testing.F) {
	for _, s := range []string{
		`{"client_name":"App","scope":"openid email","redirect_uris":["https://app.example/cb"]}`,
		`{"name":"App","scopes":["openid"],"type":"first_party","access_token_lifetime":"15m","refresh_token_lifetime":3600}`,
		`{"name":"a","client_name":"b"}`,
		`{"access_token_lifetime":"1d12h","bypass_consent_for_offline_access":true,"contacts":null}`,
		`{"access_token_lifetime":90.5}`, `{"scope":"a \"b"}`, `{"colour":"blue"}`, `{"client_id":"x"}`,
		`{"grant_types":["authorization_code",1]}`, `{"type":7}`, `{"tos_uri":null,"software_version":"1.0"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) != nil || obj == nil {
			return
		}
		for _, d := range []Dialect{RegistrationJSON, AdminJSON, ConfigJSON} {
			var md Metadata
			if err := md.Decode(obj, d); err != nil {
				var me *MetadataError
				if !errors.As(err, &me) {
					t.Fatalf("dialect %d: not a *MetadataError: %v", d, err)
				}
				if _, sent := obj[me.Field]; !sent && !strings.HasSuffix(me.Field, "...") {
					t.Fatalf("dialect %d: error about %q, which was not sent: %v", d, me.Field, err)
				}
				continue
			}
			written, err := json.Marshal(md.Fields(d))
			if err != nil {
				t.Fatalf("dialect %d: writing %+v: %v", d, md, err)
			}
			var again map[string]json.RawMessage
			if err := json.Unmarshal(written, &again); err != nil {
				t.Fatalf("dialect %d: wrote invalid JSON %s", d, written)
			}
			var back Metadata
			if err := back.Decode(again, d); err != nil {
				t.Fatalf("dialect %d: cannot read back %s: %v", d, written, err)
			}
			if !sameMetadata(md, back) {
				t.Fatalf("dialect %d: %+v\nwritten as %s\nread back as %+v", d, md, written, back)
			}
		}
	})
}

// sameMetadata compares metadata, an empty list equal to none.
func sameMetadata(a, b Metadata) bool {
	for _, m := range []*Metadata{&a, &b} {
		for _, l := range []*[]string{&m.RedirectURIs, &m.PostLogoutRedirectURIs, &m.Scopes, &m.GrantTypes, &m.Contacts} {
			if len(*l) == 0 {
				*l = nil
			}
		}
	}
	return reflect.DeepEqual(a, b)
}
