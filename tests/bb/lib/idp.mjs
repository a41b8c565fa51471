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
//
// As the upstream IdP of flyteauth's relying party (userAuth.openId), it
// has devInteractions on (a login form that takes any account id of
// `accounts`, then a consent form) which idpLogin drives as a person does.
// `claims` replaces the scope -> claims map, `providerOptions` adds to the
// provider's configuration (clientAuthMethods, say). `idp.tamper`, when a
// test sets it, rewrites each /token answer's JSON on its way out (a
// man-in-the-middle between flyteauth and the IdP): the negative tests
// re-sign the ID token with one thing wrong; `idp.tamperUserinfo` does the
// same to userinfo's answers. A function that returns a string sends that
// string as the body, as it is.
import http from 'node:http';
import assert from 'node:assert/strict';
import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';
import { Jar, browse } from './browser.mjs';
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

export async function startIdp({ clients = [], accounts = {}, jwks, port, resource, oauthMetadata = false,
  claims, providerOptions = {} } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    findAccount: async (ctx, sub) => (accounts[sub] ? {
      accountId: sub,
      claims: async () => ({ sub, ...accounts[sub] }),
    } : undefined),
    claims: claims ?? { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'] },
    features: { devInteractions: { enabled: true }, ...(resource ? resourceFeatures(resource) : {}) },
    ...providerOptions,
    ...(resource ? { scopes: ['openid', 'offline_access', ...resource.scope.split(' ')] } : {}),
    ...(jwks ? { jwks } : {}),
  });
  provider.proxy = false;
  // Requests per path, so a test can count the fetches of the JWKS.
  const hits = {};
  const callback = provider.callback();
  const idp = { issuer, port, provider, hits, tamper: null, tamperUserinfo: null };
  const server = http.createServer((req, res) => {
    const p = req.url.split('?')[0];
    hits[p] = (hits[p] ?? 0) + 1;
    if (oauthMetadata && p === '/.well-known/oauth-authorization-server') {
      req.url = '/.well-known/openid-configuration';
    }
    if (p === '/token' && idp.tamper) tamperWith(res, idp.tamper);
    if (p === '/me' && idp.tamperUserinfo) tamperWith(res, idp.tamperUserinfo);
    callback(req, res);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  idp.stop = () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); });
  return idp;
}

// Holds back res's body, hands the JSON to fn (which may be async and
// returns the JSON to send), and sends that instead.
function tamperWith(res, fn) {
  const chunks = [];
  const { write, end, setHeader } = res;
  res.setHeader = function (name, value) {
    if (String(name).toLowerCase() === 'content-length') return this;
    return setHeader.call(this, name, value);
  };
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    const body = Buffer.concat(chunks).toString();
    Promise.resolve().then(() => fn(JSON.parse(body))).then((json) => {
      const out = Buffer.from(typeof json === 'string' ? json : JSON.stringify(json));
      setHeader.call(res, 'content-length', out.length);
      write.call(res, out);
      end.call(res);
    }, (e) => { end.call(res); throw e; });
    return res;
  };
}

// Logs accountId in at the IdP's devInteractions pages, as a person at the
// browser does: from the authorization URL flyteauth sent the browser to,
// through the login and consent forms, to the redirect back to the
// relying party. Returns that URL (flyteauth's /callback?code=...&state=...).
export async function idpLogin(authUrl, accountId, jar = new Jar()) {
  const origin = new URL(authUrl).origin;
  let res = await browse(authUrl, jar);
  for (let i = 0; i < 12; i++) {
    if (res.status === 200) {
      const html = await res.text();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      assert.ok(action && prompt, `IdP page without a form: ${html.slice(0, 300)}`);
      const body = prompt === 'login' ? { prompt, login: accountId, password: 'any' } : { prompt };
      res = await browse(new URL(action, origin).href, jar, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body).toString(),
      });
      continue;
    }
    assert.ok([302, 303].includes(res.status), `IdP answered ${res.status}: ${await res.text()}`);
    const next = new URL(res.headers.get('location'), origin);
    if (next.origin !== origin) return next.href;
    res = await browse(next.href, jar);
  }
  throw new Error('IdP login did not finish');
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
