// idp.mjs -- a real OpenID Provider (npm oidc-provider, certified) on a
// loopback port, started and stopped by the test that uses it.
import http from 'node:http';
import Provider from 'oidc-provider';
import { freePort } from './server.mjs';

export async function startIdp({ clients = [], accounts = {} } = {}) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    findAccount: async (ctx, sub) => (accounts[sub] ? {
      accountId: sub,
      claims: async () => ({ sub, ...accounts[sub] }),
    } : undefined),
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    features: { devInteractions: { enabled: true } },
  });
  provider.proxy = false;
  const server = http.createServer(provider.callback());
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer, port, provider,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}
