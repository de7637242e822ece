package authserver

import (
	"context"
	"net"
	"net/http"
	"strings"
)

type clientIPKey struct{}

// WithClientIP returns ctx carrying the IP address of the client that made
// the request, as the host determined it. Behind a reverse proxy only the
// host knows which forwarding headers to trust (Caddy's trusted_proxies),
// so the core does not read them itself.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP is the IP address of the client making r: the one WithClientIP
// put in its context, else the host of r.RemoteAddr. It is "" when neither
// is known (a request made in process).
func ClientIP(r *http.Request) string {
	if ip, ok := r.Context().Value(clientIPKey{}).(string); ok && ip != "" {
		return ip
	}
	return remoteIP(r)
}

// remoteIP is the host of r.RemoteAddr.
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isLoopbackHost reports whether host names this machine: localhost or a
// loopback IP literal.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
