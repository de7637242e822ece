package clients

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"time"

	"github.com/gatehouse-auth/gatehouse/authserver/store"
)

// The conversions between Metadata and the stored record, store.Client,
// are here and nowhere else.

// Info is what management reports about a client. It never holds a
// secret or a token.
type Info struct {
	ID string
	Metadata
	// Static clients come from the configuration and are read-only.
	Static bool
	// Dynamic clients were registered through RFC 7591.
	Dynamic bool
	// SecretRotationPending: a new secret was issued and both are accepted.
	SecretRotationPending bool
	CreatedAt             time.Time // zero for static clients
	UpdatedAt             time.Time
}

// Object is the client as the admin API shows it; secret, the client's
// new secret, only in the response that issues it.
func (i *Info) Object(secret string) Object {
	out := Object{{"client_id", i.ID}}
	if secret != "" {
		out = append(out, Member{"client_secret", secret})
	}
	out = append(out, i.Fields(AdminJSON)...)
	out = append(out, Member{"static", i.Static}, Member{"dynamic", i.Dynamic},
		Member{"secret_rotation_pending", i.SecretRotationPending})
	if !i.CreatedAt.IsZero() {
		out = append(out, Member{"created_at", i.CreatedAt.UTC()}, Member{"updated_at", i.UpdatedAt.UTC()})
	}
	return out
}

// setMetadata stores md in rec.
func setMetadata(rec *store.Client, md Metadata) {
	rec.Name, rec.Description, rec.Type = md.Name, md.Description, string(md.Type)
	rec.RedirectURIs, rec.PostLogoutRedirectURIs, rec.Scopes = md.RedirectURIs, md.PostLogoutRedirectURIs, md.Scopes
	rec.BackchannelLogoutURI = md.BackchannelLogoutURI
	rec.LogoURI, rec.ClientURI, rec.PolicyURI, rec.TOSURI = md.LogoURI, md.ClientURI, md.PolicyURI, md.TOSURI
	rec.GrantTypes, rec.TokenEndpointAuthMethod, rec.IDTokenSigningAlg = md.GrantTypes, md.TokenEndpointAuthMethod, md.IDTokenSigningAlg
	rec.AccessTokenLifetime, rec.RefreshTokenLifetime = md.AccessTokenLifetime, md.RefreshTokenLifetime
	rec.BypassConsentForOfflineAccess = md.BypassConsentForOfflineAccess
	rec.RequirePushedAuthorizationRequests = md.RequirePushedAuthorizationRequests
	rec.JWKS, rec.JWKSURI, rec.DPoPBoundAccessTokens = md.JWKS, md.JWKSURI, md.DPoPBoundAccessTokens
	rec.Contacts, rec.SoftwareID, rec.SoftwareVersion = md.Contacts, md.SoftwareID, md.SoftwareVersion
}

// metadataOf reads the metadata stored in rec.
func metadataOf(rec *store.Client) Metadata {
	return Metadata{
		Name: rec.Name, Description: rec.Description, Type: Type(rec.Type),
		RedirectURIs: rec.RedirectURIs, PostLogoutRedirectURIs: rec.PostLogoutRedirectURIs, Scopes: rec.Scopes,
		BackchannelLogoutURI: rec.BackchannelLogoutURI,
		LogoURI:              rec.LogoURI, ClientURI: rec.ClientURI, PolicyURI: rec.PolicyURI, TOSURI: rec.TOSURI,
		GrantTypes: rec.GrantTypes, TokenEndpointAuthMethod: rec.TokenEndpointAuthMethod, IDTokenSigningAlg: rec.IDTokenSigningAlg,
		AccessTokenLifetime: rec.AccessTokenLifetime, RefreshTokenLifetime: rec.RefreshTokenLifetime,
		BypassConsentForOfflineAccess:      rec.BypassConsentForOfflineAccess,
		RequirePushedAuthorizationRequests: rec.RequirePushedAuthorizationRequests,
		Contacts:                           rec.Contacts, SoftwareID: rec.SoftwareID, SoftwareVersion: rec.SoftwareVersion,
		JWKS: rec.JWKS, JWKSURI: rec.JWKSURI, DPoPBoundAccessTokens: rec.DPoPBoundAccessTokens,
	}
}

// clientOf is the client a record describes, not yet prepared. A pending
// secret is accepted alongside the current ones.
func clientOf(rec *store.Client) *Client {
	secrets := slices.Clone(rec.SecretHashes)
	if rec.PendingSecretHash != "" {
		secrets = append(secrets, rec.PendingSecretHash)
	}
	return &Client{ID: rec.ID, Metadata: metadataOf(rec), SecretHashes: secrets, Dynamic: rec.Dynamic}
}

// infoOf is what management reports about a stored client.
func infoOf(rec *store.Client) Info {
	return Info{
		ID: rec.ID, Metadata: metadataOf(rec), Dynamic: rec.Dynamic,
		SecretRotationPending: rec.PendingSecretHash != "",
		CreatedAt:             rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
	}
}

// staticInfo is what management reports about a client from the
// configuration.
func staticInfo(c *Client) Info {
	return Info{ID: c.ID, Static: true, Metadata: c.Metadata}
}

// Prefixes of what the registry generates. A secret or registration
// access token found in a log or a repository is recognisable by them.
const (
	clientIDPrefix     = "gh_client_"
	clientSecretPrefix = "gh_cs_"
	regTokenPrefix     = "gh_rat_"
)

// newSecret returns a generated secret (256 random bits) and the hash
// under which it is stored. A fast hash is as strong as a slow one for a
// value this random.
func newSecret() (raw, hash string) {
	raw = clientSecretPrefix + randomText(32)
	return raw, HashSecret(raw)
}

// newRegistrationToken returns a registration access token (RFC 7591
// §3.2.1) and the hash under which it is stored.
func newRegistrationToken() (raw, hash string) {
	raw = regTokenPrefix + randomText(32)
	return raw, hashToken(raw)
}

// hashToken is the stored form of a registration access token: the hex
// SHA-256, as the server stores its other tokens.
func hashToken(raw string) string {
	h := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(h[:])
}

// randomText is n random bytes in unpadded base64url.
func randomText(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
