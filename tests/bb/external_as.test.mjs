// external_as.test.mjs -- flyteauth in External mode (authServerType:
// External) in front of a real authorization server: node oidc-provider
// issuing JWT access tokens for one API through resource indicators (RFC
// 8707), as an Okta custom AS or Keycloak does for flyteadmin.
//  - the AS's metadata, filtered, at flyteauth's
//    /.well-known/oauth-authorization-server, and /config/v1/flyte_client;
//  - the AS's tokens accepted at /auth/verify and /me; its other JWTs, other
//    audiences, other issuers, other keys refused;
//  - `flyteauth token` (ClientSecret) against flyteauth, unchanged: it
//    discovers the AS through flyteauth and gets a token flyteauth accepts;
//  - a key rotation at the AS while flyteauth runs, then the AS going down:
//    the keys held keep working, an unknown kid fails closed;
//  - retryAttempts/retryDelay: an AS that never answers stops serve with
//    one line naming the config position.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';

import { cli, machine } from './lib/client.mjs';
import { clientCredentials, signingKey, startIdp } from './lib/idp.mjs';
import { freePort, run, sleep, startServer, tempDir } from './lib/server.mjs';

const API = 'api://flyte';
const SECRET = 'propeller-at-the-as-0123456789';
const CLIENTS = [{
  client_id: 'flytepropeller', client_secret: SECRET, grant_types: ['client_credentials'],
  redirect_uris: [], response_types: [], scope: 'all offline',
}];

function externalConfig(baseUrl, { metadataUrl = '', attempts = 2, delay = '200ms' } = {}) {
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  appAuth:
    authServerType: External
    externalAuthServer:
      baseUrl: ${baseUrl}
      allowedAudience: [${API}]
      ${metadataUrl ? `metadataUrl: ${metadataUrl}` : ''}
      retryAttempts: ${attempts}
      retryDelay: ${delay}
    thirdPartyConfig:
      flyteClient: {clientId: flytepropeller, redirectUri: 'http://localhost:53593/callback', scopes: [all]}
`;
}

async function verify(srv, token, scheme = 'Bearer') {
  const res = await fetch(`${srv.url}/auth/verify`, { headers: { authorization: `${scheme} ${token}` } });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// A JWT the test signs itself with a key (the AS's own, or a stranger's).
function forge(key, claims, header = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...header })
    .sign(key.privateKey);
}

describe('External mode against oidc-provider', () => {
  let idp;
  let srv;
  let k1;
  let port;

  before(async () => {
    k1 = await signingKey('RS256', 'k1');
    idp = await startIdp({ jwks: { keys: [k1.jwk] }, clients: CLIENTS,
      resource: { audience: API, scope: 'all offline' }, oauthMetadata: true });
    port = idp.port;
    srv = await startServer({ config: externalConfig(idp.issuer) });
  });

  after(async () => {
    await srv?.stop();
    await idp?.stop();
  });

  test('the AS metadata, filtered, and Flyte\'s client settings', async () => {
    const res = await fetch(`${srv.url}/.well-known/oauth-authorization-server`);
    assert.equal(res.status, 200);
    const m = await res.json();
    assert.equal(m.issuer, idp.issuer);
    assert.equal(m.token_endpoint, `${idp.issuer}/token`);
    assert.equal(m.jwks_uri, `${idp.issuer}/jwks`);
    assert.ok(m.grant_types_supported.includes('client_credentials'));
    // Only flyteadmin's OAuth2MetadataResponse members.
    for (const k of Object.keys(m)) {
      assert.ok(['issuer', 'authorization_endpoint', 'token_endpoint', 'response_types_supported',
        'scopes_supported', 'token_endpoint_auth_methods_supported', 'jwks_uri',
        'code_challenge_methods_supported', 'grant_types_supported',
        'device_authorization_endpoint'].includes(k), k);
    }
    const fc = await (await fetch(`${srv.url}/config/v1/flyte_client`)).json();
    assert.equal(fc.client_id, 'flytepropeller');
    assert.equal(fc.authorization_metadata_key, 'flyte-authorization');
    // flyteauth issues nothing itself in External mode.
    assert.equal((await fetch(`${srv.url}/oauth2/token`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${srv.url}/oauth2/jwks`)).status, 404);
    assert.match(srv.stderr, /resource server: tokens of the external authorization server/);
  });

  test('the AS\'s JWT access tokens pass /auth/verify and /me', async () => {
    const { access_token: at, token_type: tt } = await clientCredentials(idp, 'flytepropeller', SECRET,
      { scope: 'all', resource: API });
    assert.equal(tt, 'Bearer');
    const claims = jose.decodeJwt(at);
    assert.equal(claims.aud, API);
    assert.equal(claims.iss, idp.issuer);
    const r = await verify(srv, at);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-user-subject'), 'flytepropeller');
    assert.equal(r.headers.get('x-user-client-id'), 'flytepropeller');
    assert.equal(r.headers.get('x-user-scopes'), 'all');
    assert.equal(r.headers.get('x-user-claim-iss'), JSON.stringify(idp.issuer));
    const me = await fetch(`${srv.url}/me`, { headers: { 'flyte-authorization': `Bearer ${at}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).subject, 'flytepropeller');
    // Without `all`: 403.
    const { access_token: off } = await clientCredentials(idp, 'flytepropeller', SECRET, { scope: 'offline' });
    assert.equal((await verify(srv, off)).status, 403);
  });

  test('tokens that are not the AS\'s access tokens for us are refused', async () => {
    const stranger = await signingKey('RS256', 'k1');   // same kid, other key
    const rogue = await signingKey('RS256', 'rogue');
    const base = { sub: 'u1', client_id: 'flytepropeller', scope: 'all', aud: API, iss: idp.issuer };
    const cases = {
      'wrong issuer': await forge(k1, { ...base, iss: 'https://evil.example.com' }),
      'wrong audience': await forge(k1, { ...base, aud: 'api://other' }),
      // An ID token of the AS: issued to a client, not to this API.
      'ID token': await forge(k1, { ...base, aud: 'flytepropeller', nonce: 'n' }, { typ: 'JWT' }),
      'logout token': await forge(k1, { ...base, events: {} }, { typ: 'logout+jwt' }),
      expired: await forge(k1, { ...base, exp: Math.floor(Date.now() / 1000) - 120 }),
      'not yet valid': await forge(k1, { ...base, nbf: Math.floor(Date.now() / 1000) + 120 }),
      'same kid, other key': await forge(stranger, base),
      'unknown kid': await forge(rogue, base),
      'alg none': `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt', kid: 'k1' })).toString('base64url')}.${Buffer.from(JSON.stringify(base)).toString('base64url')}.`,
    };
    for (const [name, token] of Object.entries(cases)) {
      const r = await verify(srv, token);
      assert.equal(r.status, 401, `${name}: ${r.status} ${r.text}`);
      assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/, name);
      assert.equal(r.headers.get('x-user-subject'), null, name);
    }
    // The control: the same claims with the AS's key pass.
    assert.equal((await verify(srv, await forge(k1, base))).status, 200);
  });

  test('flyteauth token (ClientSecret) works unchanged against flyteauth in External mode', async () => {
    const m = machine();
    const secretFile = m.file('secret', SECRET);
    const cfg = m.file('config.yaml', `admin:
  endpoint: ${srv.url}
  insecure: true
  authType: ClientSecret
  clientId: flytepropeller
  clientSecretLocation: ${secretFile}
  scopes: [all]
`);
    const r = await cli(m, ['token', '--config', cfg]);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const claims = jose.decodeJwt(token);
    assert.equal(claims.iss, idp.issuer, 'the token comes from the AS, found through flyteauth');
    assert.equal(claims.aud, API);
    assert.equal((await verify(srv, token)).status, 200);
    const who = await cli(m, ['whoami', '--config', cfg]);
    assert.equal(who.code, 0, who.stderr);
    assert.match(who.stdout, /flytepropeller/);
  });

  test('a key rotation at the AS, then the AS going down', async () => {
    const before1 = (await clientCredentials(idp, 'flytepropeller', SECRET, { scope: 'all' })).access_token;
    assert.equal((await verify(srv, before1)).status, 200);
    // The AS restarts with a new key first (it signs with it) and the old
    // one still published.
    const k2 = await signingKey('RS256', 'k2');
    await idp.stop();
    idp = await startIdp({ jwks: { keys: [k2.jwk, k1.jwk] }, clients: CLIENTS, port,
      resource: { audience: API, scope: 'all offline' }, oauthMetadata: true });
    // The key set refetches an unknown kid at most once per 10 s.
    await sleep(10500);
    const fresh = [];
    for (let i = 0; i < 3; i++) {
      fresh.push((await clientCredentials(idp, 'flytepropeller', SECRET, { scope: 'all' })).access_token);
    }
    assert.equal(jose.decodeProtectedHeader(fresh[0]).kid, 'k2');
    assert.equal((await verify(srv, fresh[0])).status, 200, 'the new key is picked up');
    assert.equal(idp.hits['/jwks'], 1, 'with one fetch');
    assert.equal((await verify(srv, before1)).status, 200, 'the old key still counts');

    // The AS goes down.
    await idp.stop();
    await sleep(10500);
    // Keys held keep working for tokens never seen before...
    const r1 = await verify(srv, fresh[1]);
    assert.equal(r1.status, 200, r1.text);
    assert.equal(r1.headers.get('x-user-subject'), 'flytepropeller');
    // ...an unknown kid fails closed (after at most one failing fetch)...
    const rogue = await signingKey('RS256', 'k3');
    const stray = await forge(rogue, { sub: 'x', scope: 'all', aud: API, iss: idp.issuer });
    assert.equal((await verify(srv, stray)).status, 401);
    assert.equal((await verify(srv, stray)).status, 401);
    // ...and the metadata is still served from what was loaded.
    assert.equal((await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).status, 200);
    assert.match(srv.stderr, /cannot load JWKS/);
    assert.equal((await verify(srv, fresh[2])).status, 200);
    // Back up for the other tests.
    idp = await startIdp({ jwks: { keys: [k2.jwk, k1.jwk] }, clients: CLIENTS, port,
      resource: { audience: API, scope: 'all offline' }, oauthMetadata: true });
  });
});

describe('External mode settings', () => {
  test('metadataUrl .well-known/openid-configuration is accepted', async () => {
    const k = await signingKey('RS256', 'k');
    const idp = await startIdp({ jwks: { keys: [k.jwk] }, clients: CLIENTS,
      resource: { audience: API, scope: 'all offline' } });
    let srv;
    try {
      srv = await startServer({ config: externalConfig(idp.issuer,
        { metadataUrl: '.well-known/openid-configuration' }) });
      const { access_token: at } = await clientCredentials(idp, 'flytepropeller', SECRET, { scope: 'all' });
      assert.equal((await verify(srv, at)).status, 200);
      assert.equal(idp.hits['/.well-known/oauth-authorization-server'], undefined);
    } finally {
      await srv?.stop();
      await idp.stop();
    }
  });

  test('an AS that never answers stops serve after retryAttempts, naming the key', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const dir = tempDir();
    const s = await run(['secrets', 'init', '-p', dir]);
    assert.equal(s.code, 0, s.stderr);
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, externalConfig(dead, { attempts: 1, delay: '100ms' })
      .replaceAll('PORT', String(await freePort())).replaceAll('DIR', dir));
    const t0 = Date.now();
    const r = await run(['serve', '--config', cfg]);
    assert.equal(r.code, 1);
    assert.ok(Date.now() - t0 < 15000, 'gave up after its retries');
    assert.match(r.stderr, /config\.yaml:\d+:\d+: auth\.appAuth\.externalAuthServer\.baseUrl: .*oauth-authorization-server.*nothing was started/);
    assert.doesNotMatch(r.stderr, /listening/);
    // Two attempts: the first and one retry.
    assert.equal(r.stderr.match(/cannot load the external authorization server's metadata/g)?.length, 1);
  });
});
