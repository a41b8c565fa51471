// authz_flows.test.mjs -- black-box tests of flyteauth's own authorization
// server ("Self") against the real binary: every grant driven by certified
// client code (npm openid-client v6 on oauth4webapi), every access token
// verified with npm jose against the published JWKS, the browser half of the
// code flow driven with plain fetch through the local-user login form, and
// each refusal of the authorization server asserted on the wire (status,
// error code, headers).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';

import * as client from 'openid-client';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

import { Jar, browse, submitLogin } from './lib/browser.mjs';
import { basic, postForm, run, startServer, tempDir } from './lib/server.mjs';

const WEB_SECRET = 'web secret+%:/&=x';       // needs form-urlencoding inside Basic
const PROP_SECRET = 'propeller-' + randomBytes(8).toString('hex');
const LIMITED_SECRET = 'limited-secret';
const ALICE_PASSWORD = 'correct horse battery staple';
const CLI_REDIRECT = 'http://localhost:45678/callback'; // registered on port 53593
const WEB_REDIRECT = 'http://127.0.0.1:9/web/cb';

async function hash(secret) {
  const r = await run(['hash-secret', '--cost', '4'], { input: secret });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function serverSecrets() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const b64 = (n) => randomBytes(n).toString('base64').replace(/=+$/, '');
  return {
    claim_symmetric_key: b64(32),
    cookie_hash_key: b64(64),
    cookie_block_key: b64(32),
    'token_rsa_key.pem': privateKey.export({ type: 'pkcs1', format: 'pem' }),
  };
}

async function config() {
  const [web, prop, limited, alice] = await Promise.all([
    hash(WEB_SECRET), hash(PROP_SECRET), hash(LIMITED_SECRET), hash(ALICE_PASSWORD)]);
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true, allowCors: true, allowedOrigins: ["*"]}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    localUsers: [{username: alice, passwordHash: "${alice}", name: Alice Example, email: alice@example.com}]
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      staticClients:
        flytectl:
          id: flytectl
          redirect_uris: [http://localhost:53593/callback, http://127.0.0.1:53593/callback]
          grant_types: [authorization_code, refresh_token]
          response_types: [code]
          scopes: [all, offline, access_token]
          public: true
        web:
          id: web
          client_secret: "${web}"
          redirect_uris: [http://127.0.0.1:9/web/cb]
          grant_types: [authorization_code, refresh_token, client_credentials]
          response_types: [code]
          scopes: [all, offline]
          public: false
        flytepropeller:
          id: flytepropeller
          client_secret: "${prop}"
          redirect_uris: [http://localhost:3846/callback]
          grant_types: [refresh_token, client_credentials]
          response_types: [token]
          scopes: [all, offline, access_token]
          public: false
        limited:
          id: limited
          client_secret: "${limited}"
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [read]
          public: false
`;
}

// ---- a manual redirect walker (what a browser does) ------------------------

// Follows an authorize URL the way a browser would, logging in through the
// local login form when asked; returns the final redirect to the client.
async function authorize(srv, authUrl, jar = new Jar(), password = ALICE_PASSWORD) {
  let res = await browse(authUrl, jar);
  assert.equal(res.status, 302, `authorize: ${res.status} ${await res.clone().text()}`);
  let loc = new URL(res.headers.get('location'), srv.url);
  if (loc.origin === srv.url && loc.pathname === '/login') {
    res = await submitLogin(loc, jar, 'alice', password);
    assert.ok([302, 303].includes(res.status), `login: ${res.status}`);
    loc = new URL(res.headers.get('location'), srv.url);
    assert.equal(loc.pathname, '/oauth2/authorize_callback');
    res = await browse(loc, jar);
    assert.equal(res.status, 302, `callback: ${res.status} ${await res.clone().text()}`);
    loc = new URL(res.headers.get('location'), srv.url);
  }
  return { loc, jar, res };
}

function assertOAuthError(r, status, error) {
  assert.equal(r.res.status, status, r.text);
  assert.equal(r.json?.error, error, r.text);
  assert.equal(r.res.headers.get('cache-control'), 'no-store');
}

async function expectGrantError(promise, error) {
  await assert.rejects(promise, (e) => {
    assert.equal(e.error, error, `${e.name}: ${e.message}`);
    return true;
  });
}

// invalid_client arrives as a 401 with a Basic challenge, which the
// certified client reports as a challenge error; its body is still §5.2 JSON.
async function expectInvalidClient(promise) {
  let caught = null;
  await assert.rejects(promise, (e) => { caught = e; return true; });
  assert.equal(caught.name, 'WWWAuthenticateChallengeError', `${caught.name}: ${caught.message}`);
  assert.equal(caught.status, 401);
  assert.equal(caught.cause[0].scheme, 'basic');
  assert.equal(caught.cause[0].parameters.realm, 'flyteauth');
  assert.equal((await caught.response.json()).error, 'invalid_client');
}

describe('authz (Self authorization server)', () => {
  let srv;
  let meta;
  let JWKS;
  let pub;     // flytectl, public
  let web;     // confidential, client_secret_basic
  let prop;    // flytepropeller, client_secret_post

  const opts = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' };

  before(async () => {
    srv = await startServer({ config: await config(), files: serverSecrets() });
    pub = await client.discovery(new URL(srv.url), 'flytectl', undefined, client.None(), opts);
    web = await client.discovery(new URL(srv.url), 'web', undefined,
      client.ClientSecretBasic(WEB_SECRET), opts);
    prop = await client.discovery(new URL(srv.url), 'flytepropeller', undefined,
      client.ClientSecretPost(PROP_SECRET), opts);
    meta = pub.serverMetadata();
    JWKS = createRemoteJWKSet(new URL(meta.jwks_uri));
  });

  after(async () => {
    if (!srv) return;
    const exited = await srv.stop();
    const out = srv.stdout + srv.stderr;
    for (const s of [WEB_SECRET, PROP_SECRET, ALICE_PASSWORD]) {
      assert.ok(!out.includes(s), 'a secret reached the server output');
    }
    assert.doesNotMatch(out, /AddressSanitizer|LeakSanitizer|runtime error/);
    assert.equal(exited.code, 0, out.slice(-2000));
  });

  async function verify(token, audience = srv.url) {
    const { payload, protectedHeader } = await jwtVerify(token, JWKS, {
      issuer: srv.url, audience, typ: 'at+jwt',
    });
    assert.equal(protectedHeader.key_id, protectedHeader.kid);
    assert.equal(protectedHeader.alg, 'RS256');
    return payload;
  }

  async function pkceAuthUrl(cfg, extra = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: CLI_REDIRECT,
      scope: 'all offline',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      ...extra,
    });
    return { url, verifier, state };
  }

  // A full browser login and code exchange for flytectl.
  async function cliTokens(jar) {
    const { url, verifier, state } = await pkceAuthUrl(pub);
    const { loc } = await authorize(srv, url, jar);
    assert.equal(loc.origin + loc.pathname, CLI_REDIRECT);
    assert.equal(loc.searchParams.get('iss'), srv.url);
    const tokens = await client.authorizationCodeGrant(pub, loc, {
      pkceCodeVerifier: verifier, expectedState: state,
    });
    return { tokens, loc, verifier, state };
  }

  // ---- discovery ---------------------------------------------------------

  test('RFC 8414 metadata, flyte_client and JWKS are public, with CORS', async () => {
    assert.equal(meta.issuer, srv.url);
    assert.equal(meta.authorization_endpoint, `${srv.url}/oauth2/authorize`);
    assert.equal(meta.token_endpoint, `${srv.url}/oauth2/token`);
    assert.equal(meta.jwks_uri, `${srv.url}/oauth2/jwks`);
    assert.equal(meta.introspection_endpoint, `${srv.url}/oauth2/introspect`);
    assert.equal(meta.revocation_endpoint, `${srv.url}/oauth2/revoke`);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    // Public clients authenticate with "none" (RFC 8414 §2); introspection
    // is for confidential clients only.
    assert.deepEqual(meta.token_endpoint_auth_methods_supported,
      ['client_secret_basic', 'client_secret_post', 'none']);
    assert.deepEqual(meta.introspection_endpoint_auth_methods_supported,
      ['client_secret_basic', 'client_secret_post']);
    assert.ok(meta.revocation_endpoint_auth_methods_supported.includes('none'));
    assert.ok(meta.grant_types_supported.includes('client_credentials'));
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    assert.ok(meta.scopes_supported.includes('all'));

    const origin = 'https://console.example.com';
    for (const path of ['/.well-known/oauth-authorization-server', '/config/v1/flyte_client',
      '/oauth2/jwks']) {
      const res = await fetch(`${srv.url}${path}`, { headers: { origin } });
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type'), /^application\/json/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*', path);
    }
    const fc = await (await fetch(`${srv.url}/config/v1/flyte_client`)).json();
    assert.deepEqual(fc, {
      client_id: 'flytectl',
      redirect_uri: 'http://localhost:53593/callback',
      scopes: ['all', 'offline'],
      authorization_metadata_key: 'flyte-authorization',
      service_http_endpoint: srv.url,
      audience: '',
    });
    const jwks = await (await fetch(meta.jwks_uri)).json();
    assert.equal(jwks.keys.length, 1);
    const [k] = jwks.keys;
    assert.equal(k.kty, 'RSA');
    assert.equal(k.alg, 'RS256');
    assert.equal(k.use, 'sig');
    assert.equal(k.kid, await calculateJwkThumbprint(k));
    assert.equal(k.d, undefined);
  });

  // ---- client credentials ----------------------------------------------

  test('client_credentials (client_secret_post and client_secret_basic) gives a verifiable at+jwt', async () => {
    const t = await client.clientCredentialsGrant(prop, { scope: 'all' });
    assert.equal(t.token_type.toLowerCase(), 'bearer');
    assert.equal(t.scope, 'all');
    assert.equal(t.refresh_token, undefined);
    assert.ok(t.expires_in > 1700 && t.expires_in <= 1800);
    const claims = await verify(t.access_token);
    assert.equal(claims.sub, 'flytepropeller');
    assert.equal(claims.client_id, 'flytepropeller');
    assert.deepEqual(claims.scp, ['all']);
    assert.deepEqual(claims.aud, [srv.url]);
    assert.equal(typeof claims.jti, 'string');
    assert.equal(claims.user_info, undefined);

    // Basic, with id and secret form-urlencoded (RFC 6749 §2.3.1).
    const t2 = await client.clientCredentialsGrant(web, { scope: 'all' });
    assert.equal((await verify(t2.access_token)).sub, 'web');

    const raw = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials' },
      { authorization: basic('flytepropeller', PROP_SECRET) });
    assert.equal(raw.res.status, 200);
    assert.equal(raw.res.headers.get('cache-control'), 'no-store');
    assert.equal(raw.json.scope, 'all access_token');
  });

  test('invalid_client is 401 with WWW-Authenticate: Basic, same for unknown client', async () => {
    const wrong = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials' },
      { authorization: basic('flytepropeller', 'wrong') });
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.match(wrong.res.headers.get('www-authenticate'), /^Basic realm="flyteauth"/);
    const unknown = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials' },
      { authorization: basic('nosuch', 'wrong') });
    assertOAuthError(unknown, 401, 'invalid_client');
    assert.equal(unknown.json.error_description, wrong.json.error_description);
    const post = await postForm(srv, '/oauth2/token', {
      grant_type: 'client_credentials', client_id: 'flytepropeller', client_secret: 'nope' });
    assertOAuthError(post, 401, 'invalid_client');
    // The certified client sees the same.
    const bad = await client.discovery(new URL(srv.url), 'flytepropeller', undefined,
      client.ClientSecretBasic('wrong'), opts);
    await expectInvalidClient(client.clientCredentialsGrant(bad));
  });

  test('token endpoint request errors', async () => {
    const both = await postForm(srv, '/oauth2/token',
      { grant_type: 'client_credentials', client_secret: PROP_SECRET },
      { authorization: basic('flytepropeller', PROP_SECRET) });
    assertOAuthError(both, 400, 'invalid_request');
    assertOAuthError(await postForm(srv, '/oauth2/token', { client_id: 'flytectl' }),
      400, 'invalid_request');
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'password', username: 'alice', password: 'x' },
      { authorization: basic('web', WEB_SECRET) }), 400, 'unsupported_grant_type');
    // A grant the client may not use.
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'client_credentials', client_id: 'flytectl' }), 400, 'unauthorized_client');
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'refresh_token', refresh_token: 'x' },
      { authorization: basic('limited', LIMITED_SECRET) }), 400, 'unauthorized_client');
    // A scope the client may not have.
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'client_credentials', scope: 'all' },
      { authorization: basic('limited', LIMITED_SECRET) }), 400, 'invalid_scope');
    // A public client presenting a secret.
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'authorization_code', client_id: 'flytectl', client_secret: 'x', code: 'x' }),
    401, 'invalid_client');
    // Duplicate parameters never reach the grant.
    const dup = await fetch(`${srv.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded',
        authorization: basic('flytepropeller', PROP_SECRET) },
      body: 'grant_type=client_credentials&scope=all&scope=access_token',
    });
    assert.equal(dup.status, 400);
    assert.equal((await dup.json()).error, 'invalid_request');
  });

  // ---- authorization code --------------------------------------------------

  test('authorization code + PKCE through the login form, then refresh, introspect, revoke', async () => {
    const jar = new Jar();
    const { tokens } = await cliTokens(jar);
    assert.ok(jar.cookies.has('flyteauth_authreq'), 'the binding cookie was set');
    assert.equal(tokens.scope, 'all offline');
    assert.ok(tokens.refresh_token);
    const claims = await verify(tokens.access_token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, 'flytectl');
    assert.deepEqual(claims.scp, ['all', 'offline']);
    assert.equal(claims.user_info.preferred_username, 'alice');
    assert.equal(claims.user_info.email, 'alice@example.com');
    assert.equal(claims.user_info.name, 'Alice Example');

    // Logged in already: straight back with a code, no login page.
    const again = await pkceAuthUrl(pub);
    const direct = await browse(again.url, jar);
    assert.equal(direct.status, 302);
    assert.ok(direct.headers.get('location').startsWith(`${CLI_REDIRECT}?code=`));
    assert.equal(direct.headers.get('cache-control'), 'no-store');

    // Refresh rotates.
    const r1 = await client.refreshTokenGrant(pub, tokens.refresh_token);
    assert.notEqual(r1.refresh_token, tokens.refresh_token);
    assert.equal((await verify(r1.access_token)).sub, 'alice');
    // Narrowing is allowed.
    const r2 = await client.refreshTokenGrant(pub, r1.refresh_token, { scope: 'all' });
    assert.equal(r2.scope, 'all');
    assert.deepEqual((await verify(r2.access_token)).scp, ['all']);

    // Introspection by a confidential client.
    const at = await client.tokenIntrospection(web, r2.access_token);
    assert.equal(at.active, true);
    assert.equal(at.sub, 'alice');
    assert.equal(at.client_id, 'flytectl');
    assert.equal(at.scope, 'all');
    const rt = await client.tokenIntrospection(web, r2.refresh_token,
      { token_type_hint: 'refresh_token' });
    assert.equal(rt.active, true);
    const spent = await client.tokenIntrospection(web, tokens.refresh_token);
    assert.deepEqual({ ...spent }, { active: false });

    // Revocation by the public client, by client_id alone: the family dies.
    await client.tokenRevocation(pub, r2.refresh_token);
    for (const t of [r2.refresh_token, r2.access_token, r1.access_token, tokens.access_token]) {
      const i = await client.tokenIntrospection(web, t);
      assert.equal(i.active, false);
    }
    await expectGrantError(client.refreshTokenGrant(pub, r2.refresh_token), 'invalid_grant');
  });

  test('replayed code: invalid_grant, and the first refresh token now fails', async () => {
    const { tokens, loc, verifier, state } = await cliTokens(new Jar());
    await expectGrantError(client.authorizationCodeGrant(pub, loc, {
      pkceCodeVerifier: verifier, expectedState: state }), 'invalid_grant');
    await expectGrantError(client.refreshTokenGrant(pub, tokens.refresh_token), 'invalid_grant');
    const i = await client.tokenIntrospection(web, tokens.access_token);
    assert.equal(i.active, false);
  });

  test('test_code_replay_by_other_client: another client replaying a spent code revokes nothing', async () => {
    // web (confidential) gets a code and redeems it.
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(web, {
      redirect_uri: WEB_REDIRECT, scope: 'all offline', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    const { loc } = await authorize(srv, url, new Jar());
    assert.equal(loc.origin + loc.pathname, WEB_REDIRECT);
    const tokens = await client.authorizationCodeGrant(web, loc, {
      pkceCodeVerifier: verifier, expectedState: state });
    assert.ok(tokens.refresh_token);
    // An attacker with the spent code and flytectl's public client_id.
    const code = loc.searchParams.get('code');
    const replay = await postForm(srv, '/oauth2/token', { grant_type: 'authorization_code',
      client_id: 'flytectl', code, redirect_uri: WEB_REDIRECT, code_verifier: verifier });
    assertOAuthError(replay, 400, 'invalid_grant');
    assert.doesNotMatch(replay.json.error_description, /revoked/);
    // web's tokens are untouched: active, and the refresh token rotates.
    assert.equal((await client.tokenIntrospection(web, tokens.access_token)).active, true);
    assert.equal((await client.tokenIntrospection(web, tokens.refresh_token)).active, true);
    const r1 = await client.refreshTokenGrant(web, tokens.refresh_token);
    assert.equal((await verify(r1.access_token)).sub, 'alice');
    // The same code replayed by web itself still revokes the family.
    await expectGrantError(client.authorizationCodeGrant(web, loc, {
      pkceCodeVerifier: verifier, expectedState: state }), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(web, r1.access_token)).active, false);
    await expectGrantError(client.refreshTokenGrant(web, r1.refresh_token), 'invalid_grant');
  });

  test('spent_code_replay_without_verifier: the holder of a spent flytectl code cannot revoke the victim\'s tokens', async () => {
    const { tokens, loc, verifier, state } = await cliTokens(new Jar());
    const code = loc.searchParams.get('code');
    const me = async (at) => (await fetch(`${srv.url}/me`,
      { headers: { authorization: `Bearer ${at}` } })).status;
    assert.equal(await me(tokens.access_token), 200);
    // The attacker has the spent code (from a log, the browser history)
    // and flytectl's public id, but not the verifier, which never left the
    // victim's CLI: no verifier, a wrong one, another redirect_uri.
    const forged = [
      { redirect_uri: CLI_REDIRECT },
      { redirect_uri: CLI_REDIRECT, code_verifier: client.randomPKCECodeVerifier() },
      { redirect_uri: 'http://localhost:45679/callback', code_verifier: verifier },
      { code_verifier: verifier },
    ];
    for (const extra of forged) {
      const replay = await postForm(srv, '/oauth2/token', { grant_type: 'authorization_code',
        client_id: 'flytectl', code, ...extra });
      assertOAuthError(replay, 400, 'invalid_grant');
      assert.equal(replay.json.error_description, 'authorization code is invalid or expired');
    }
    // The victim's tokens are untouched: the access token works at /me and
    // is active at introspection, and the refresh token rotates.
    assert.equal(await me(tokens.access_token), 200);
    assert.equal((await client.tokenIntrospection(web, tokens.access_token)).active, true);
    const r1 = await client.refreshTokenGrant(pub, tokens.refresh_token);
    assert.equal((await verify(r1.access_token)).sub, 'alice');
    // With the verifier, the replay is RFC 6749 §4.1.2's: the family dies.
    await expectGrantError(client.authorizationCodeGrant(pub, loc, {
      pkceCodeVerifier: verifier, expectedState: state }), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(web, r1.access_token)).active, false);
    await expectGrantError(client.refreshTokenGrant(pub, r1.refresh_token), 'invalid_grant');
  });

  test('reused refresh token: invalid_grant, and the newest one fails too', async () => {
    const { tokens } = await cliTokens(new Jar());
    const r1 = await client.refreshTokenGrant(pub, tokens.refresh_token);
    await expectGrantError(client.refreshTokenGrant(pub, tokens.refresh_token), 'invalid_grant');
    await expectGrantError(client.refreshTokenGrant(pub, r1.refresh_token), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(web, r1.access_token)).active, false);
  });

  test('a stolen refresh token rotated first: the real client presenting the old one at once revokes the family', async () => {
    const { tokens } = await cliTokens(new Jar());
    // The thief rotates RT1 -> RT2; the real client presents RT1 immediately.
    const stolen = await client.refreshTokenGrant(pub, tokens.refresh_token);
    const reuse = await postForm(srv, '/oauth2/token', { grant_type: 'refresh_token',
      client_id: 'flytectl', refresh_token: tokens.refresh_token });
    assertOAuthError(reuse, 400, 'invalid_grant');
    assert.match(reuse.json.error_description, /revoked/);
    await expectGrantError(client.refreshTokenGrant(pub, stolen.refresh_token), 'invalid_grant');
    assert.equal((await client.tokenIntrospection(web, stolen.access_token)).active, false);
  });

  test('concurrent refreshes of one token: exactly one wins, never two new refresh tokens', async () => {
    const { tokens } = await cliTokens(new Jar());
    const answers = await Promise.all(Array.from({ length: 8 }, () => postForm(srv,
      '/oauth2/token', { grant_type: 'refresh_token', client_id: 'flytectl',
        refresh_token: tokens.refresh_token })));
    const winners = answers.filter((a) => a.res.status === 200);
    assert.equal(winners.length, 1, answers.map((a) => a.text).join('\n'));
    const losers = answers.filter((a) => a.res.status !== 200);
    for (const a of losers) assertOAuthError(a, 400, 'invalid_grant');
    // A loser that read the token spent was a reuse and revoked the family;
    // if every loser only lost the version-checked write, it is intact.
    const reused = losers.some((a) => /now revoked/.test(a.json.error_description));
    const next = await postForm(srv, '/oauth2/token', { grant_type: 'refresh_token',
      client_id: 'flytectl', refresh_token: winners[0].json.refresh_token });
    if (reused) assertOAuthError(next, 400, 'invalid_grant');
    else assert.equal(next.res.status, 200, next.text);
  });

  test('refresh may not widen the scope', async () => {
    const { tokens } = await cliTokens(new Jar());
    const r = await postForm(srv, '/oauth2/token', { grant_type: 'refresh_token',
      client_id: 'flytectl', refresh_token: tokens.refresh_token, scope: 'all offline access_token' });
    assertOAuthError(r, 400, 'invalid_scope');
    // Refused without effect: the token still rotates.
    const ok = await client.refreshTokenGrant(pub, tokens.refresh_token);
    assert.ok(ok.access_token);
  });

  test('code exchange: wrong redirect_uri, missing or wrong code_verifier', async () => {
    const { url, verifier } = await pkceAuthUrl(pub);
    const { loc } = await authorize(srv, url, new Jar());
    const code = loc.searchParams.get('code');
    const base = { grant_type: 'authorization_code', client_id: 'flytectl', code };
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { ...base, redirect_uri: 'http://localhost:45679/callback', code_verifier: verifier }),
    400, 'invalid_grant');
    assertOAuthError(await postForm(srv, '/oauth2/token', { ...base, redirect_uri: CLI_REDIRECT }),
      400, 'invalid_request');
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { ...base, redirect_uri: CLI_REDIRECT, code_verifier: client.randomPKCECodeVerifier() }),
    400, 'invalid_grant');
    // Another client cannot redeem it.
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: 'authorization_code', code, redirect_uri: CLI_REDIRECT, code_verifier: verifier },
      { authorization: basic('web', WEB_SECRET) }), 400, 'invalid_grant');
    // None of that consumed the code.
    const ok = await postForm(srv, '/oauth2/token',
      { ...base, redirect_uri: CLI_REDIRECT, code_verifier: verifier });
    assert.equal(ok.res.status, 200, ok.text);
    assert.equal(ok.res.headers.get('cache-control'), 'no-store');
    await verify(ok.json.access_token);
  });

  // ---- authorize endpoint errors -----------------------------------------

  async function authorizeError(params) {
    const u = new URL(meta.authorization_endpoint);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return fetch(u, { redirect: 'manual' });
  }

  test('unknown client or bad redirect_uri: an error page, never a redirect', async () => {
    const cases = [
      { response_type: 'code', client_id: 'nosuch', redirect_uri: CLI_REDIRECT, state: 'abcdefgh' },
      { response_type: 'code', client_id: 'flytectl', redirect_uri: 'https://evil.example/cb',
        state: 'abcdefgh' },
      { response_type: 'code', client_id: 'flytectl', redirect_uri: 'http://localhost.evil.example:53593/callback',
        state: 'abcdefgh' },
      { response_type: 'code', client_id: 'flytectl', state: 'abcdefgh' },
    ];
    for (const c of cases) {
      const res = await authorizeError(c);
      assert.equal(res.status, 400, JSON.stringify(c));
      assert.equal(res.headers.get('location'), null);
      assert.match(res.headers.get('content-type'), /^text\/html/);
      const html = await res.text();
      assert.ok(!html.includes('evil.example'), 'the page does not echo the URI');
    }
  });

  test('other authorize errors redirect back with error, state and iss', async () => {
    const challenge = await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier());
    const base = { response_type: 'code', client_id: 'flytectl', redirect_uri: CLI_REDIRECT,
      state: 'state-12345', code_challenge: challenge, code_challenge_method: 'S256' };
    const cases = [
      [{ ...base, code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request'],
      [{ ...base, code_challenge_method: 'plain' }, 'invalid_request'],
      [{ ...base, state: 'short' }, 'invalid_request'],
      [{ ...base, scope: 'admin root' }, 'invalid_scope'],
      [{ ...base, response_type: 'token' }, 'unsupported_response_type'],
    ];
    for (const [params, error] of cases) {
      const p = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
      const res = await authorizeError(p);
      assert.equal(res.status, 302, JSON.stringify(p));
      const loc = new URL(res.headers.get('location'));
      assert.equal(loc.origin + loc.pathname, CLI_REDIRECT);
      assert.equal(loc.searchParams.get('error'), error, JSON.stringify(p));
      assert.ok(loc.searchParams.get('error_description'));
      assert.equal(loc.searchParams.get('state'), p.state);
      assert.equal(loc.searchParams.get('iss'), srv.url);
      assert.equal(loc.searchParams.get('code'), null);
    }
    // A confidential client without the code grant.
    const res = await authorizeError({ response_type: 'code', client_id: 'flytepropeller',
      redirect_uri: 'http://localhost:3846/callback', state: 'abcdefgh' });
    assert.equal(new URL(res.headers.get('location')).searchParams.get('error'),
      'unauthorized_client');
  });

  test('the callback link does not work in another browser', async () => {
    const { url } = await pkceAuthUrl(pub);
    const jar = new Jar();
    const res = await browse(url, jar);
    assert.equal(res.status, 302);
    const login = new URL(res.headers.get('location'), srv.url);
    const cb = login.searchParams.get('redirect_url');
    assert.match(cb, /^\/oauth2\/authorize_callback\?request=/);
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith('flyteauth_authreq='));
    assert.match(setCookie, /HttpOnly/i);
    assert.match(setCookie, /SameSite=Lax/i);
    assert.match(setCookie, /Path=\/oauth2/);
    assert.doesNotMatch(setCookie, /Secure/i, 'insecureCookieHeader: true');
    // Log in with a different browser and open the first browser's link.
    const other = new Jar();
    const done = await submitLogin(`${srv.url}/login?redirect_url=${encodeURIComponent(cb)}`,
      other, 'alice', ALICE_PASSWORD);
    assert.ok([302, 303].includes(done.status));
    const cbRes = await browse(new URL(done.headers.get('location'), srv.url), other);
    assert.equal(cbRes.status, 400);
    assert.equal(cbRes.headers.get('location'), null);
    assert.match(await cbRes.text(), /another browser/);
  });

  test('introspection needs a confidential client; revocation of an access token', async () => {
    const t = await client.clientCredentialsGrant(prop, { scope: 'all' });
    await expectInvalidClient(client.tokenIntrospection(pub, t.access_token));
    const raw = await postForm(srv, '/oauth2/introspect',
      { token: t.access_token, client_id: 'flytectl' });
    assertOAuthError(raw, 401, 'invalid_client');
    assert.match(raw.res.headers.get('www-authenticate'), /^Basic/);
    const garbage = await client.tokenIntrospection(web, 'garbage');
    assert.deepEqual({ ...garbage }, { active: false });

    // Another client's revocation does nothing; the owner's works.
    await client.tokenRevocation(web, t.access_token);
    assert.equal((await client.tokenIntrospection(web, t.access_token)).active, true);
    await client.tokenRevocation(prop, t.access_token, { token_type_hint: 'access_token' });
    assert.equal((await client.tokenIntrospection(web, t.access_token)).active, false);
    const rev = await postForm(srv, '/oauth2/revoke', { token: 'unknown', client_id: 'flytectl' });
    assert.equal(rev.res.status, 200);
    assert.equal(rev.res.headers.get('cache-control'), 'no-store');
    // The access token itself still verifies offline (the gate does not
    // consult the store): revocation shows in introspection.
    assert.equal((await verify(t.access_token)).sub, 'flytepropeller');
    assert.ok(decodeJwt(t.access_token).exp > Date.now() / 1000);
  });
});

describe('authz default clients', () => {
  test('without staticClients: flyteadmin defaults, flytepropeller secret generated once per installation', async () => {
    const shared = tempDir('fa-bb-authz-db-');
    const files = serverSecrets();
    const alice = await hash(ALICE_PASSWORD);
    const cfg = `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: ${shared}/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    localUsers: [{username: alice, passwordHash: "${alice}"}]
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
`;
    const token43 = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/g;
    const cc = (srv, secret) => postForm(srv, '/oauth2/token', { grant_type: 'client_credentials' },
      { authorization: basic('flytepropeller', secret) });
    let srv = await startServer({ config: cfg, files });
    let secret = null;
    try {
      const meta = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
      assert.ok(meta.scopes_supported.includes('all'));
      // flyteadmin's published default password is not accepted.
      assertOAuthError(await cc(srv, 'foobar'), 401, 'invalid_client');
      // The generated secret is printed once, on stdout (never the log);
      // exactly one printed value works. (Values from the log, such as the
      // key id, are not tried: the log scan would rightly flag a "secret"
      // sent that the log holds.)
      const candidates = [...new Set(srv.stdout.match(token43) || [])];
      for (const c of candidates) {
        if ((await cc(srv, c)).res.status === 200) {
          assert.equal(secret, null, 'only one printed value is a secret');
          secret = c;
        }
      }
      assert.ok(secret, 'serve printed the generated flytepropeller secret');
      // The public defaults.
      const pub = await postForm(srv, '/oauth2/token',
        { grant_type: 'client_credentials', client_id: 'flytectl' });
      assertOAuthError(pub, 400, 'unauthorized_client');
    } finally {
      await srv.stop();
    }
    // Second start of the same installation: same secret, not printed again.
    srv = await startServer({ config: cfg, files });
    try {
      assert.ok(!(srv.stdout + srv.stderr).includes(secret), 'the secret is shown only once');
      const ok = await cc(srv, secret);
      assert.equal(ok.res.status, 200, ok.text);
    } finally {
      await srv.stop();
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
