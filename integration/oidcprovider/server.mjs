// The certified oidc-provider (https://github.com/panva/node-oidc-provider)
// as an upstream identity provider for integration/federation_node_test.go,
// with its built-in development login and consent pages (any login and
// password is accepted). Arguments: issuer, port, client secret, redirect
// URI of Gatehouse's callback. It prints "ready" once it listens.
import Provider from 'oidc-provider';

const [issuer, port, clientSecret, redirectURI] = process.argv.slice(2);

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'gatehouse',
    client_secret: clientSecret,
    redirect_uris: [redirectURI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'email', 'profile', 'groups'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Scope claims in the ID token too: Gatehouse maps the ID token's.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  cookies: { keys: ['gatehouse-test-cookie-key-0123456789abcdef'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: `node-${id}`,
          email: `${id}@node.example`,
          email_verified: true,
          name: `${id} from oidc-provider`,
          preferred_username: id,
          groups: ['eng', 'node'],
        };
      },
    };
  },
});

provider.listen(Number(port), '127.0.0.1', () => console.log('ready'));
