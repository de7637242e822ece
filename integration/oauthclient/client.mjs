// Driven by integration/oauth4webapi_test.go: oauth4webapi, a certified
// OAuth client library, redeems a code with private_key_jwt client
// authentication (RFC 7523) and a DPoP proof (RFC 9449), calls UserInfo
// with the DPoP-bound token, and refreshes. Input: one JSON object on
// stdin; output: one JSON object on stdout.
import * as oauth from 'oauth4webapi'
import { readFileSync } from 'node:fs'

const input = JSON.parse(readFileSync(0, 'utf8'))
const issuer = new URL(input.issuer)
const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc' }))
const client = { client_id: input.client_id }
const signingKey = await crypto.subtle.importKey('jwk', input.private_jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
const clientAuth = oauth.PrivateKeyJwt({ key: signingKey, kid: input.kid })
const dpopKeys = await oauth.generateKeyPair('ES256')
const DPoP = oauth.DPoP(client, dpopKeys)

const params = oauth.validateAuthResponse(as, client, new URL(input.callback), input.state)
let response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, input.redirect_uri, input.code_verifier, { DPoP })
const tokens = await oauth.processAuthorizationCodeResponse(as, client, response)

response = await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP })
const userinfo = await oauth.processUserInfoResponse(as, client, oauth.skipSubjectCheck, response)

response = await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokens.refresh_token, { DPoP })
const refreshed = await oauth.processRefreshTokenResponse(as, client, response)

process.stdout.write(JSON.stringify({
  token_type: tokens.token_type,
  access_token: tokens.access_token,
  userinfo_sub: userinfo.sub,
  refreshed_token_type: refreshed.token_type,
  refreshed_access_token: refreshed.access_token,
}))
