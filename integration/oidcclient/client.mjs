// openid-client (panva) against Gatehouse, driven by
// integration/openid_client_test.go. Every step prints one JSON line; the
// test answers on stdin where a person would act in a browser.
//
//   node client.mjs par <issuer> <client_id> <client_secret> <redirect_uri>
//     prints {"authorization_url"}; reads the callback URL; prints {"tokens"}
//   node client.mjs device <issuer> <client_id>
//     prints {"user_code","verification_uri_complete"}; polls; prints {"tokens"}
//
// NODE_EXTRA_CA_CERTS makes Node trust the test Caddy's local CA.
import * as client from 'openid-client'
import { createInterface } from 'node:readline'

const [mode, issuer, clientId, secret, redirectUri] = process.argv.slice(2)
const print = (v) => process.stdout.write(JSON.stringify(v) + '\n')
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function par() {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.ClientSecretBasic(secret))
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid email',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  })
  print({ authorization_url: url.href })
  const { value: callback } = await lines.next()
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state })
  print({ tokens: { access_token: tokens.access_token, id_token: tokens.id_token, scope: tokens.scope, sub: tokens.claims()?.sub } })
}

async function device() {
  const config = await client.discovery(new URL(issuer), clientId, undefined, client.None())
  const auth = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' })
  print({ user_code: auth.user_code, verification_uri_complete: auth.verification_uri_complete })
  const tokens = await client.pollDeviceAuthorizationGrant(config, auth)
  print({ tokens: { access_token: tokens.access_token, refresh_token: tokens.refresh_token, sub: tokens.claims()?.sub } })
}

try {
  await (mode === 'par' ? par() : device())
  process.exit(0)
} catch (err) {
  print({ error: String(err), code: err.code, cause: err.cause?.error ?? null })
  process.exit(1)
}
