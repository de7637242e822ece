// An MCP client built on the official SDK (@modelcontextprotocol/sdk) with
// its own OAuth support, as an agent would run it. integration/mcp_node_test.go
// drives it: it prints one JSON object per line on stdout, and the test
// plays the user's browser for the authorization step.
//
//   node client.mjs <mcp server URL> [<client metadata document URL>]
//
// Lines: {"authorize": url} when the user must sign in (the test answers
// by sending the browser's callback to our loopback redirect URI);
// {"result": {...}} at the end, with what the whoami tool said before and
// after a refresh, the client id and the tokens; {"error": message} on
// failure (exit status 1).
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const [serverURL, metadataDocumentURL] = process.argv.slice(2);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// The loopback redirect URI (RFC 8252 §7.3) and the code it receives.
let codeArrived;
const codePromise = new Promise((resolve) => { codeArrived = resolve; });
const callback = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end('You may close this window.');
  codeArrived(u.searchParams);
});
await new Promise((resolve) => callback.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${callback.address().port}/callback`;

// An in-memory OAuthClientProvider: what a real agent keeps on disk.
const store = {};
const provider = {
  get redirectUrl() { return redirectUrl; },
  clientMetadataUrl: metadataDocumentURL || undefined,
  get clientMetadata() {
    return {
      client_name: 'Gatehouse e2e agent',
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      software_id: 'gatehouse-e2e',
      software_version: '1.0.0',
    };
  },
  clientInformation() { return store.client; },
  saveClientInformation(info) { store.client = info; },
  tokens() { return store.tokens; },
  saveTokens(tokens) { store.tokens = tokens; },
  redirectToAuthorization(url) { say({ authorize: url.href }); },
  saveCodeVerifier(v) { store.verifier = v; },
  codeVerifier() { return store.verifier; },
};

async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(serverURL), { authProvider: provider });
  const client = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  try {
    await client.connect(transport);
    return client;
  } catch (err) {
    if (!(err instanceof UnauthorizedError)) throw err;
  }
  const params = await codePromise;
  if (params.get('error')) throw new Error(`authorization failed: ${params.get('error')}`);
  await transport.finishAuth(params.get('code'));
  const again = new Client({ name: 'gatehouse-e2e', version: '1.0.0' });
  await again.connect(new StreamableHTTPClientTransport(new URL(serverURL), { authProvider: provider }));
  return again;
}

const whoami = async (client) => JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);

try {
  const client = await connect();
  const tools = (await client.listTools()).tools.map((t) => t.name);
  const first = await whoami(client);
  const before = { ...store.tokens };
  // The access token is no longer good: the SDK refreshes it on the 401
  // and retries, without the user.
  store.tokens = { ...store.tokens, access_token: 'expired-' + store.tokens.access_token.slice(0, 8) };
  const second = await whoami(await connect());
  say({ result: { tools, first, second, client_id: store.client.client_id, before, after: store.tokens } });
  callback.close();
  process.exit(0);
} catch (err) {
  say({ error: String(err && err.stack || err) });
  process.exit(1);
}
