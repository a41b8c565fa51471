// idp.mjs -- a real OpenID Provider (npm oidc-provider, certified) on a
// loopback port, started and stopped by the test that uses it. `jwks` (the
// provider's private signing JWKs) and `port` are optional: a test that
// rotates keys stops the provider and starts another on the same port.
import http from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './server.mjs';

export async function startIdp({ clients = [], accounts = {}, jwks, port } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    findAccount: async (ctx, sub) => (accounts[sub] ? {
      accountId: sub,
      claims: async () => ({ sub, ...accounts[sub] }),
    } : undefined),
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    features: { devInteractions: { enabled: true } },
    ...(jwks ? { jwks } : {}),
  });
  provider.proxy = false;
  // Requests per path, so a test can count the fetches of the JWKS.
  const hits = {};
  const callback = provider.callback();
  const server = http.createServer((req, res) => {
    const p = req.url.split('?')[0];
    hits[p] = (hits[p] ?? 0) + 1;
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer, port, provider, hits,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
