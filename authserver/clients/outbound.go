package clients

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// outboundClient is the HTTP client that fetches documents an app names
// (client metadata documents, jwks_uri): a URL from outside decides where
// the issuer connects, so the connection is checked after name
// resolution, at dial time (no rebinding window), against public
// addresses and the operator's allowNetworks; no proxy (it would dial for
// us, unchecked), no redirects, and every phase bounded by timeout.
// what names the document in refusals.
func outboundClient(what string, timeout time.Duration, allowNetworks []netip.Prefix, rootCAs *x509.CertPool) *http.Client {
	check := func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return fmt.Errorf("unexpected address %q", address)
		}
		ip := ap.Addr().Unmap()
		for _, p := range allowNetworks {
			if p.Contains(ip) {
				return nil
			}
		}
		if !isPublicAddress(ip) {
			return fmt.Errorf("refusing to fetch %s from the non-public address %s", what, ip)
		}
		return nil
	}
	dialer := &net.Dialer{Timeout: timeout, Control: check}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          10,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if rootCAs != nil {
		transport.TLSClientConfig = &tls.Config{RootCAs: rootCAs, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
