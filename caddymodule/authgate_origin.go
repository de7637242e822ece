package caddymodule

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// siteOrigins are the origins one gate serves, fixed when the gate is
// provisioned. They decide the gate's Bearer audience, its login
// redirect_uri and its RFC 9728 resource, so they come from configuration
// only: never from a request. A request whose Host is not one of them is
// refused before the gate looks at anything else.
type siteOrigins struct {
	list []string // canonical origins, e.g. https://localhost:9443
	// byHost maps every accepted Host header value (lower case) to its
	// origin: "localhost:9443", and for default ports both "example.com"
	// and "example.com:443".
	byHost map[string]string
	http   bool // every origin is plain http
}

// maxGateOrigins bounds hosts × ports of one site. A larger site (a long
// host list, a wide port range) sets origin explicitly.
const maxGateOrigins = 64

// newSiteOrigins indexes canonical origins for lookup by Host.
func newSiteOrigins(origins []string) (*siteOrigins, error) {
	s := &siteOrigins{byHost: map[string]string{}, http: true}
	for _, raw := range origins {
		scheme, host, port, err := splitOrigin(raw)
		if err != nil {
			return nil, err
		}
		o := joinOrigin(scheme, host, port)
		if _, dup := s.byHost[net.JoinHostPort(host, port)]; dup {
			continue
		}
		s.list = append(s.list, o)
		s.byHost[net.JoinHostPort(host, port)] = o
		if port == defaultPort(scheme) {
			s.byHost[bracketIPv6(host)] = o
		}
		if scheme != "http" {
			s.http = false
		}
	}
	if len(s.list) == 0 {
		return nil, errors.New("no origin")
	}
	return s, nil
}

// match returns the origin a request with this Host header is for. The
// comparison is exact but for the case of the host name (RFC 9110 §4.2.3):
// another port, a trailing dot, a missing or zero-padded port do not
// match.
func (s *siteOrigins) match(host string) (string, bool) {
	if o, ok := s.byHost[host]; ok {
		return o, true
	}
	o, ok := s.byHost[strings.ToLower(host)]
	return o, ok
}

// splitOrigin parses and normalises an origin (RFC 6454 §4): scheme and
// host in lower case, the port always present in the result.
func splitOrigin(raw string) (scheme, host, port string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", "", "", fmt.Errorf("origin %q: want scheme://host[:port] with scheme https or http and nothing after the host", raw)
	}
	scheme = strings.ToLower(u.Scheme)
	host = strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") || strings.ContainsAny(host, "*{}") {
		return "", "", "", fmt.Errorf("origin %q: the host must be a plain host name or IP address", raw)
	}
	port = u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return "", "", "", fmt.Errorf("origin %q: invalid port", raw)
	}
	return scheme, host, port, nil
}

func joinOrigin(scheme, host, port string) string {
	if port == defaultPort(scheme) {
		return scheme + "://" + bracketIPv6(host)
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func bracketIPv6(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// originsOfSite derives the origins of the site a gate is being
// provisioned in from that site's address: the host names of its host
// matcher, the ports its server listens on, and https when the server
// has TLS. Caddy provisions a server's routes one after another and
// records a route's handlers only once all of them are provisioned, so
// the site being provisioned is the first route whose handlers are still
// unrecorded. A site without host matcher (a catch-all such as :8080), a
// wildcard or placeholder host, or a socket or wide port range has no
// origin to read: the operator must set one.
func originsOfSite(srv *caddyhttp.Server) ([]string, error) {
	if srv == nil {
		return nil, fmt.Errorf("the gate is not inside an HTTP server")
	}
	route := routeBeingProvisioned(srv)
	if route == nil {
		return nil, fmt.Errorf("the gate's site could not be found (named routes and the like have no address)")
	}
	hosts, err := siteHosts(route)
	if err != nil {
		return nil, err
	}
	var ports []string
	for _, addr := range srv.Listen {
		na, err := caddy.ParseNetworkAddress(addr)
		if err != nil || na.IsUnixNetwork() || na.IsFdNetwork() {
			return nil, fmt.Errorf("the server listens on %q, which is no TCP port", addr)
		}
		if na.PortRangeSize() > maxGateOrigins {
			return nil, fmt.Errorf("the server listens on %d ports", na.PortRangeSize())
		}
		for p := na.StartPort; p <= na.EndPort; p++ {
			if port := strconv.FormatUint(uint64(p), 10); !slices.Contains(ports, port) {
				ports = append(ports, port)
			}
		}
	}
	if len(ports) == 0 {
		return nil, fmt.Errorf("the server has no listener address")
	}
	scheme := "http"
	if len(srv.TLSConnPolicies) > 0 {
		scheme = "https"
	}
	if len(hosts)*len(ports) > maxGateOrigins {
		return nil, fmt.Errorf("the site has %d host and port combinations", len(hosts)*len(ports))
	}
	var origins []string
	for _, h := range hosts {
		for _, p := range ports {
			origins = append(origins, joinOrigin(scheme, h, p))
		}
	}
	return origins, nil
}

func routeBeingProvisioned(srv *caddyhttp.Server) *caddyhttp.Route {
	find := func(routes caddyhttp.RouteList) *caddyhttp.Route {
		for i := range routes {
			if routes[i].Handlers == nil && routes[i].HandlersRaw != nil {
				return &routes[i]
			}
		}
		return nil
	}
	if r := find(srv.Routes); r != nil {
		return r
	}
	if srv.Errors != nil {
		return find(srv.Errors.Routes)
	}
	return nil
}

// siteHosts returns the host names a site route matches. Every matcher
// set of the route must hold a host matcher of exact names: otherwise
// some request reaches the site whatever its Host says.
func siteHosts(route *caddyhttp.Route) ([]string, error) {
	if len(route.MatcherSets) == 0 {
		return nil, fmt.Errorf("the gate's site matches every host (a catch-all site)")
	}
	var hosts []string
	for _, set := range route.MatcherSets {
		found := false
		for _, m := range set {
			var mh caddyhttp.MatchHost
			switch v := m.(type) {
			case caddyhttp.MatchHost:
				mh = v
			case *caddyhttp.MatchHost:
				mh = *v
			default:
				continue
			}
			found = true
			for _, h := range mh {
				if strings.ContainsAny(h, "*{}") {
					return nil, fmt.Errorf("the site's host %q is a wildcard or placeholder", h)
				}
				h = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
				hosts = append(hosts, h)
			}
		}
		if !found {
			return nil, fmt.Errorf("the gate's site matches every host (a catch-all site)")
		}
	}
	return hosts, nil
}
