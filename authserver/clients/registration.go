package clients

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"slices"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// Dynamic client registration (RFC 7591) and the management of registered
// clients (RFC 7592): the metadata they carry and the records they change.
// The endpoint, its authentication and its error responses are the
// server's.

// RegistrationRequest is what, besides its body, decides how a
// registration request's metadata is read.
type RegistrationRequest struct {
	// Open: anyone may register, without an initial access token.
	Open bool
	// Current is the type of the client an update replaces (RFC 7592
	// §2.2), or "" for a new registration.
	Current Type
	// SupportedScopes are the scopes a client may be allowed.
	SupportedScopes []string
}

// DecodeRegistration reads the client metadata of a registration or update
// request (RFC 7591 §2) and applies the rules of registration: registered
// clients are always third-party; the type follows from
// token_endpoint_auth_method; anonymous (open) registration makes public
// clients only, without a back-channel logout URI; only the authorization
// code flow exists. Metadata it does not know is ignored, as §2 requires.
// The result is validated; an error is a *MetadataError naming the field
// as RFC 7591 does.
func DecodeRegistration(body map[string]json.RawMessage, req RegistrationRequest) (Metadata, error) {
	var md Metadata
	if err := md.Decode(body, RegistrationJSON); err != nil {
		return md, err
	}
	var responseTypes []string
	if raw, ok := body["response_types"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &responseTypes) != nil {
			return md, metadataErr("response_types", "must be an array of strings")
		}
	}

	// The client's kind follows from how it authenticates.
	switch md.TokenEndpointAuthMethod {
	case "":
		// RFC 7591 §2's default is client_secret_basic. An anonymous
		// registration can only be public, so there it is none; an
		// update keeps the client's kind.
		md.TokenEndpointAuthMethod = authMethodBasic
		if (req.Current == "" && req.Open) || req.Current.Public() {
			md.TokenEndpointAuthMethod = authMethodNone
		}
	case authMethodNone, authMethodBasic, authMethodPost, AuthMethodPrivateKeyJWT:
	default:
		return md, metadataErr("token_endpoint_auth_method", "unsupported method %q (supported: none, client_secret_basic, client_secret_post, private_key_jwt)", truncate(md.TokenEndpointAuthMethod, 64))
	}
	md.Type = ThirdParty
	if md.TokenEndpointAuthMethod == authMethodNone {
		md.Type = ThirdPartyPublic
	}
	switch {
	case req.Current != "" && md.Type != req.Current:
		return md, metadataErr("token_endpoint_auth_method", "cannot change between none and a client secret; register a new client")
	case req.Current == "" && req.Open && md.Type != ThirdPartyPublic:
		return md, metadataErr("token_endpoint_auth_method", "anonymous registration allows only public clients (none)")
	}
	// The server itself calls a back-channel logout URI, so an anonymous
	// one could aim it at internal services.
	if req.Open && md.BackchannelLogoutURI != "" {
		return md, metadataErr("backchannel_logout_uri", "is not accepted from anonymous registrations")
	}

	// Grant and response types must agree (RFC 7591 §2.1): only the
	// authorization code flow exists here, with response type code.
	if _, given := body["grant_types"]; !given {
		md.GrantTypes = []string{"authorization_code"}
	}
	if _, given := body["response_types"]; !given {
		responseTypes = []string{"code"}
	}
	for _, rt := range responseTypes {
		if rt != "code" {
			return md, metadataErr("response_types", "unsupported response type %q (supported: code)", truncate(rt, 64))
		}
	}
	if len(responseTypes) == 0 {
		return md, metadataErr("response_types", "must include code")
	}
	if !slices.Contains(md.GrantTypes, "authorization_code") {
		return md, metadataErr("grant_types", "must include authorization_code, which response type code requires")
	}
	md.normalize()
	return md, md.Validate(req.SupportedScopes)
}

// Register stores a dynamically registered client (RFC 7591 §3.2.1). It
// returns the client's secret, if it is confidential, and its
// registration access token (RFC 7592 §3), both never again.
func (r *Registry) Register(ctx context.Context, md Metadata) (info Info, secret, registrationToken string, err error) {
	raw, hash := newRegistrationToken()
	rec, secret, err := r.create(ctx, md, hash)
	if err != nil {
		return Info{}, "", "", err
	}
	return infoOf(&rec), secret, raw, nil
}

// Registered is a dynamically registered client, as its registration
// access token shows it (RFC 7592 §2).
type Registered struct {
	Info
	secretHashes []string // current and pending
}

// IsSecret reports whether secret is one of the client's secrets: an
// update may repeat its secret, never choose one (RFC 7592 §2.2).
func (g *Registered) IsSecret(secret string) bool {
	digest := HashSecret(secret)
	ok := 0
	for _, h := range g.secretHashes {
		ok |= subtle.ConstantTimeCompare([]byte(digest), []byte(h))
	}
	return ok == 1
}

// Registered returns the dynamically registered client id when token is
// its registration access token. An unknown client and a wrong token are
// both ErrUnknown, so that the endpoint does not reveal which clients
// exist (RFC 7592 §2.1).
func (r *Registry) Registered(ctx context.Context, id, token string) (*Registered, error) {
	rec, err := r.store.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !registrationTokenMatches(&rec, token)) {
		return nil, ErrUnknown
	} else if err != nil {
		return nil, err
	}
	hashes := slices.Clone(rec.SecretHashes)
	if rec.PendingSecretHash != "" {
		hashes = append(hashes, rec.PendingSecretHash)
	}
	return &Registered{Info: infoOf(&rec), secretHashes: hashes}, nil
}

// UpdateRegistered replaces the metadata of the dynamically registered
// client id (RFC 7592 §2.2), provided token is still its registration
// access token (ErrUnknown otherwise) and its kind does not change. md
// comes from DecodeRegistration.
func (r *Registry) UpdateRegistered(ctx context.Context, id, token string, md Metadata) (Info, error) {
	rec, err := r.modify(ctx, id, func(cur *store.Client) error {
		if !registrationTokenMatches(cur, token) {
			return ErrUnknown
		}
		if Type(cur.Type) != md.Type {
			return metadataErr("token_endpoint_auth_method", "cannot change between none and a client secret; register a new client")
		}
		if err := checkIDTokenAlg(&md, r.idTokenAlgs); err != nil {
			return err
		}
		setMetadata(cur, md)
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	return infoOf(&rec), nil
}

func registrationTokenMatches(rec *store.Client, token string) bool {
	if !rec.Dynamic || rec.RegistrationAccessTokenHash == "" || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashToken(token)), []byte(rec.RegistrationAccessTokenHash)) == 1
}

// RegistrationResponse is the client information response (RFC 7591
// §3.2.1, RFC 7592 §3) for info, whose configuration endpoint is
// clientURI. secret and registrationToken are included only when they are
// issued: just their hashes are kept. Defaults are spelled out: every
// supported scope, both grant types.
func RegistrationResponse(info *Info, clientURI string, supportedScopes []string, secret, registrationToken string) Object {
	out := Object{{"client_id", info.ID}}
	if secret != "" {
		out = append(out, Member{"client_secret", secret})
	}
	out = append(out, Member{"client_id_issued_at", info.CreatedAt.Unix()})
	if !info.Type.Public() {
		out = append(out, Member{"client_secret_expires_at", 0}) // §3.2.1: 0 means it does not expire
	}
	if registrationToken != "" {
		out = append(out, Member{"registration_access_token", registrationToken})
	}
	out = append(out, Member{"registration_client_uri", clientURI})
	md := info.Metadata
	if len(md.Scopes) == 0 {
		md.Scopes = supportedScopes
	}
	if len(md.GrantTypes) == 0 {
		md.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	out = append(out, md.Fields(RegistrationJSON)...)
	return append(out, Member{"response_types", []string{"code"}})
}
