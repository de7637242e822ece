package integration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const (
	tvClientID = "living-room-tv"
	tvName     = "Living Room TV"
)

// startDeviceFlow runs the example with the device authorization grant
// on and a public third-party app that may use it.
func startDeviceFlow(t *testing.T) *instance {
	t.Helper()
	tv := "client " + tvClientID + " {\n\t\t\tname \"" + tvName + "\"\n\t\t\ttype third_party_public" +
		"\n\t\t\tgrant_types urn:ietf:params:oauth:grant-type:device_code refresh_token\n\t\t\tscopes openid profile offline_access\n\t\t}"
	return startExampleWith(t, exampleSetup{dir: t.TempDir(), port: freePort(t), extraGatehouse: []string{"device_authorization", tv}})
}

func tvConfig(in *instance) *oauth2.Config {
	return &oauth2.Config{
		ClientID: tvClientID,
		Endpoint: oauth2.Endpoint{
			DeviceAuthURL: in.issuer + "/device_authorization", TokenURL: in.issuer + "/token", AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{"openid", "profile", "offline_access"},
	}
}

// answerDevice is the user at /device in a browser: signing in when
// asked, checking that the page asks "Is this your code?" with the app's
// name, and pressing decision.
func answerDevice(t *testing.T, in *instance, verificationURI, userCode, decision string) *page {
	t.Helper()
	b := in.newBrowser()
	p := b.get(verificationURI)
	if p.status == http.StatusOK && strings.HasSuffix(p.url.Path, "/login") {
		p = b.submit(p, map[string]string{"username": "alice", "password": alicePassword})
	}
	if p.status != http.StatusOK || !strings.Contains(p.body, "Is this your code?") || !strings.Contains(p.body, userCode) || !strings.Contains(p.body, tvName) {
		t.Fatalf("no confirmation of %s at %s (%d):\n%s", userCode, p.url, p.status, p.body)
	}
	checkPageHeaders(t, "device confirmation", p.header.Get)
	return b.submit(p, nil, "decision", decision)
}

// TestDeviceFlowThroughCaddy (issue 17 item 2): golang.org/x/oauth2's
// device flow (RFC 8628) against a real Caddy. The library polls while a
// browser signs in at verification_uri_complete, confirms the code and
// allows; the library then gets tokens, refreshable. A second device
// whose user denies gets access_denied.
func TestDeviceFlowThroughCaddy(t *testing.T) {
	in := startDeviceFlow(t)
	cfg := tvConfig(in)
	ctx, cancel := context.WithTimeout(in.ctx(), 90*time.Second)
	defer cancel()

	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	if !strings.HasPrefix(da.VerificationURIComplete, in.issuer+"/device?user_code=") || da.VerificationURI != in.issuer+"/device" ||
		len(da.UserCode) != 9 || da.Interval != 5 {
		t.Fatalf("device authorization %+v", da)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da)
		polled <- result{tok, err}
	}()
	done := answerDevice(t, in, da.VerificationURIComplete, da.UserCode, "allow")
	if done.status != http.StatusOK || !strings.Contains(done.body, "Device connected") {
		t.Fatalf("allowing: %d\n%s", done.status, done.body)
	}
	r := <-polled
	if r.err != nil {
		t.Fatalf("DeviceAccessToken: %v", r.err)
	}
	if r.tok.RefreshToken == "" || r.tok.Extra("id_token") == nil {
		t.Errorf("tokens: refresh %q id_token %v", r.tok.RefreshToken, r.tok.Extra("id_token"))
	}
	if c := jwtClaims(t, r.tok.AccessToken); c["client_id"] != tvClientID || c["sub"] != "alice" {
		t.Errorf("access token claims %v", c)
	}
	if status := in.userinfoStatus(r.tok.AccessToken); status != http.StatusOK {
		t.Errorf("userinfo with the device's token: %d", status)
	}
	// The library refreshes the token like any other.
	expired := *r.tok
	expired.Expiry = time.Now().Add(-time.Minute)
	if fresh, err := cfg.TokenSource(ctx, &expired).Token(); err != nil || fresh.AccessToken == r.tok.AccessToken {
		t.Errorf("refresh: %v", err)
	}

	// A second device, denied.
	da2, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("DeviceAuth: %v", err)
	}
	go func() {
		tok, err := cfg.DeviceAccessToken(ctx, da2)
		polled <- result{tok, err}
	}()
	if denied := answerDevice(t, in, da2.VerificationURI+"?user_code="+strings.ToLower(da2.UserCode), da2.UserCode, "deny"); !strings.Contains(denied.body, "Request denied") {
		t.Fatalf("denying:\n%s", denied.body)
	}
	r = <-polled
	var re *oauth2.RetrieveError
	if !errors.As(r.err, &re) || re.ErrorCode != "access_denied" {
		t.Errorf("a denied device got %v, want access_denied", r.err)
	}
}
