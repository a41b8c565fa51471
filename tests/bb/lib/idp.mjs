// idp.mjs -- a real OpenID Provider (npm oidc-provider, certified) on a
// loopback port, started and stopped by the test that uses it. `jwks` (the
// provider's private signing JWKs) and `port` are optional: a test that
// rotates keys stops the provider and starts another on the same port.
//
// With `resource` ({ audience, scope }) it is also an authorization server
// for one API (RFC 8707 resource indicators): the client_credentials grant
// is on, and access tokens for that audience are JWTs (RFC 9068, `scope` a
// space-separated string, signed RS256 with the provider's keys) -- what an
// Okta custom authorization server or Keycloak gives flyteadmin in External
// mode. A request without `resource` gets that audience. With
// `oauthMetadata` it also answers RFC 8414's
// /.well-known/oauth-authorization-server with its discovery document, as
// such servers do.
import http from 'node:http';
import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import { freePort } from './server.mjs';

// A private signing JWK (alg, kid, use set) and its key object.
export async function signingKey(alg, kid) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await jose.exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { alg, kid, jwk, privateKey };
}

function resourceFeatures(resource) {
  return {
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource.audience) throw new errors.InvalidTarget();
        return {
          scope: resource.scope,
          audience: resource.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: resource.ttl ?? 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  };
}

export async function startIdp({ clients = [], accounts = {}, jwks, port, resource, oauthMetadata = false } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    findAccount: async (ctx, sub) => (accounts[sub] ? {
      accountId: sub,
      claims: async () => ({ sub, ...accounts[sub] }),
    } : undefined),
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    features: { devInteractions: { enabled: true }, ...(resource ? resourceFeatures(resource) : {}) },
    ...(resource ? { scopes: ['openid', 'offline_access', ...resource.scope.split(' ')] } : {}),
    ...(jwks ? { jwks } : {}),
  });
  provider.proxy = false;
  // Requests per path, so a test can count the fetches of the JWKS.
  const hits = {};
  const callback = provider.callback();
  const server = http.createServer((req, res) => {
    const p = req.url.split('?')[0];
    hits[p] = (hits[p] ?? 0) + 1;
    if (oauthMetadata && p === '/.well-known/oauth-authorization-server') {
      req.url = '/.well-known/openid-configuration';
    }
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer, port, provider, hits,
    stop: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

// client_credentials at the provider (client_secret_basic): the token
// response's JSON, or throws with the provider's answer.
export async function clientCredentials(idp, clientId, secret, params = {}) {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const res = await fetch(`${idp.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...params }),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`token: ${res.status} ${JSON.stringify(json)}`);
  return json;
}
