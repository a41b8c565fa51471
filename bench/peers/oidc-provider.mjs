// oidc-provider.mjs -- the node-oidc-provider peer of the benchmark: npm
// `oidc-provider` (v8, from /work/main/node_modules) configured as the
// equivalent of flyteauth's Self authorization server for the measured
// scenarios, and nothing more.
//
// - One confidential client (client_secret_basic) allowed client_credentials
//   with scope `all`.
// - RS256 JWT access tokens through resource indicators: resource
//   `urn:bench:api` (the default) is a resource server with
//   accessTokenFormat 'jwt', signed with the RSA-2048 key given in KEY.
// - Token introspection is enabled; oidc-provider only introspects opaque
//   tokens, so a second resource server `urn:bench:opaque` issues opaque
//   tokens for the introspection scenario.
// - GET /healthcheck answers "OK" from a middleware in front of the provider:
//   the HTTP ceiling of this Node/Koa stack, as /healthcheck is flyteauth's.
// State lives in oidc-provider's default in-memory adapter (its default; a
// database adapter would only be slower). One Node process, as shipped.
//
// Env: PORT, CLIENT_ID, CLIENT_SECRET, KEY (path of an RSA private key PEM).
// Prints "ready <port>" on stdout once listening.
import { createPrivateKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const { PORT, CLIENT_ID, CLIENT_SECRET, KEY } = process.env;
if (!PORT || !CLIENT_ID || !CLIENT_SECRET || !KEY) {
  console.error('oidc-provider.mjs: PORT, CLIENT_ID, CLIENT_SECRET and KEY are required');
  process.exit(2);
}

const issuer = `http://127.0.0.1:${PORT}`;
const jwk = {
  ...createPrivateKey(readFileSync(KEY)).export({ format: 'jwk' }),
  alg: 'RS256',
  use: 'sig',
  kid: 'bench-rs256',
};

const resourceServer = (resource) => ({
  scope: 'all',
  audience: resource,
  accessTokenTTL: 30 * 60,
  accessTokenFormat: resource === 'urn:bench:opaque' ? 'opaque' : 'jwt',
  jwt: { sign: { alg: 'RS256' } },
});

const provider = new Provider(issuer, {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'all',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: ['all'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:bench:api',
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== 'urn:bench:api' && resource !== 'urn:bench:opaque') {
          throw new Provider.errors.InvalidTarget();
        }
        return resourceServer(resource);
      },
    },
  },
});

// Keep the benchmark's stdout/stderr quiet: no per-request logging at all.
provider.use(async (ctx, next) => {
  if (ctx.method === 'GET' && ctx.path === '/healthcheck') {
    ctx.body = 'OK';
    return;
  }
  await next();
});

const server = createServer(provider.callback());
server.keepAliveTimeout = 60_000;
server.listen(Number(PORT), '127.0.0.1', () => {
  console.log(`ready ${PORT}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
