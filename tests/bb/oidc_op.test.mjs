// oidc_op.test.mjs -- flyteauth as an OpenID Provider, black-box: its
// discovery document as npm openid-client reads it, the ID token of the
// code, refresh and device grants verified with npm jose against the
// published keys (iss, sub, aud, azp, exp, iat, auth_time, nonce, at_hash,
// sid, and the profile / email claims of the local user), offline_access as
// Flyte's offline, scopes narrowed rather than refused (SPEC §5), and
// /oauth2/userinfo with its RFC 6750 refusals, and RP-initiated logout at
// /oauth2/end_session.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';

import * as client from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { browse, hiddenInputs } from './lib/browser.mjs';
import {
  RP_LOGOUT, RP_REDIRECT, RP_SECRET, approveDevice, authorize, basic, codeFlow, flowParams, postForm,
  rpConfig, startOp,
} from './lib/op.mjs';

function atHash(accessToken) {
  const h = createHash('sha256').update(accessToken).digest();
  return h.subarray(0, h.length / 2).toString('base64url');
}

describe('OpenID Provider (local users)', () => {
  let srv;
  let jwks;
  before(async () => {
    srv = await startOp();
    jwks = createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`));
  });
  after(async () => { await srv?.stop(); });

  const verifyIdToken = (token, audience = 'rp') =>
    jwtVerify(token, jwks, { issuer: srv.url, audience, typ: 'JWT' });

  test('discovery: the OpenID Provider document, beside RFC 8414', async () => {
    const res = await fetch(`${srv.url}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    const d = await res.json();
    const as = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(d.issuer, srv.url);
    assert.equal(d.userinfo_endpoint, `${srv.url}/oauth2/userinfo`);
    assert.deepEqual(d.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(d.subject_types_supported, ['public']);
    assert.deepEqual(d.response_types_supported, ['code']);
    for (const s of ['openid', 'profile', 'email', 'offline_access', 'all', 'offline']) {
      assert.ok(d.scopes_supported.includes(s), `scopes_supported has ${s}`);
    }
    for (const c of ['sub', 'iss', 'auth_time', 'nonce', 'at_hash', 'sid', 'name', 'email',
      'email_verified', 'groups']) {
      assert.ok(d.claims_supported.includes(c), `claims_supported has ${c}`);
    }
    assert.equal(d.request_uri_parameter_supported, false);
    // The same grants, endpoints and client authentication as RFC 8414.
    for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'grant_types_supported',
      'token_endpoint_auth_methods_supported', 'code_challenge_methods_supported',
      'revocation_endpoint', 'introspection_endpoint', 'device_authorization_endpoint']) {
      assert.deepEqual(d[k], as[k], k);
    }
    // openid-client accepts it (it checks the issuer against the URL).
    const config = await rpConfig(srv);
    assert.equal(config.serverMetadata().issuer, srv.url);
  });

  test('code flow: an ID token with every claim, verified with jose', async () => {
    const config = await rpConfig(srv);
    const before = Math.floor(Date.now() / 1000);
    const { tokens, params } = await codeFlow(srv, config, { scope: 'openid profile email' });
    assert.equal(tokens.scope, 'openid profile email');
    // openid-client validated it (signature, iss, aud, nonce, exp); so does jose.
    const { payload, protectedHeader } = await verifyIdToken(tokens.id_token);
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(protectedHeader.typ, 'JWT');
    assert.equal(payload.iss, srv.url);
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.aud, 'rp');
    assert.equal(payload.azp, 'rp');
    assert.equal(payload.nonce, params.nonce);
    assert.equal(payload.at_hash, atHash(tokens.access_token));
    assert.match(payload.sid, /^[0-9a-f]{32}$/);
    assert.ok(payload.auth_time >= before - 1 && payload.auth_time <= payload.iat);
    assert.ok(payload.iat >= before - 1);
    assert.equal(payload.exp - payload.iat, 30 * 60);   // accessTokenLifespan
    assert.equal(payload.name, 'Alice Example');
    assert.equal(payload.preferred_username, 'alice');
    assert.equal(payload.email, 'alice@example.com');
    assert.equal(payload.email_verified, true);
    assert.deepEqual(payload.groups, ['flyte-admins', 'data']);
    assert.deepEqual(tokens.claims(), payload);
    // The ID token is no access token, and the access token no ID token.
    await assert.rejects(jwtVerify(tokens.access_token, jwks, { typ: 'JWT' }));
    assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
  });

  test('scope openid alone releases no profile or email claims', async () => {
    const config = await rpConfig(srv);
    const { tokens } = await codeFlow(srv, config, { scope: 'openid' });
    const { payload } = await verifyIdToken(tokens.id_token);
    assert.equal(payload.sub, 'alice');
    for (const c of ['name', 'email', 'email_verified', 'groups', 'preferred_username']) {
      assert.equal(payload[c], undefined, c);
    }
  });

  test('a user without profile fields gets only what exists', async () => {
    const config = await rpConfig(srv);
    const { tokens } = await codeFlow(srv, config, { scope: 'openid profile email', user: 'bob' });
    const { payload } = await verifyIdToken(tokens.id_token);
    assert.equal(payload.sub, 'bob');
    assert.equal(payload.preferred_username, 'bob');
    assert.equal(payload.name, undefined);
    assert.equal(payload.email, undefined);
  });

  test('without openid there is no ID token', async () => {
    const config = await rpConfig(srv);
    const params = await flowParams();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT, scope: 'all',
      state: params.state, code_challenge: params.challenge, code_challenge_method: 'S256' });
    const { loc } = await authorize(srv, url);
    const r = await postForm(srv, '/oauth2/token', { grant_type: 'authorization_code',
      code: loc.searchParams.get('code'), redirect_uri: RP_REDIRECT, code_verifier: params.verifier },
    { authorization: basic('rp', RP_SECRET) });
    assert.equal(r.res.status, 200, r.text);
    assert.equal(r.json.scope, 'all');
    assert.equal(r.json.id_token, undefined);
  });

  test('without a nonce the ID token has none (nonce is only echoed)', async () => {
    const config = await rpConfig(srv);
    const params = await flowParams();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT, scope: 'openid',
      state: params.state, code_challenge: params.challenge, code_challenge_method: 'S256' });
    const { loc } = await authorize(srv, url);
    const tokens = await client.authorizationCodeGrant(config, loc,
      { expectedState: params.state, pkceCodeVerifier: params.verifier });
    const { payload } = await verifyIdToken(tokens.id_token);
    assert.equal('nonce' in payload, false);
  });

  test('offline_access is Flyte\'s offline: a refresh token, and an ID token on refresh', async () => {
    const config = await rpConfig(srv);
    const { tokens } = await codeFlow(srv, config, { scope: 'openid offline_access' });
    assert.equal(tokens.scope, 'openid offline_access');
    assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
    const first = (await verifyIdToken(tokens.id_token)).payload;
    const next = await client.refreshTokenGrant(config, tokens.refresh_token);
    assert.ok(next.id_token);
    const { payload } = await verifyIdToken(next.id_token);
    // Core §12.2: same iss, sub, aud, auth_time; no nonce.
    for (const c of ['iss', 'sub', 'aud', 'auth_time', 'sid']) assert.equal(payload[c], first[c], c);
    assert.equal(payload.nonce, undefined);
    assert.equal(payload.at_hash, atHash(next.access_token));
  });

  test('scopes a client may not have are dropped, and the answer says so', async () => {
    const config = await rpConfig(srv);
    const { tokens } = await codeFlow(srv, config, { scope: 'openid admin all phone' });
    assert.equal(tokens.scope, 'openid all');
    // Nothing grantable at all is still invalid_scope, at the redirect URI.
    const params = await flowParams();
    const url = client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT, scope: 'admin',
      state: params.state, code_challenge: params.challenge, code_challenge_method: 'S256' });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location'));
    assert.equal(`${loc.origin}${loc.pathname}`, RP_REDIRECT);
    assert.equal(loc.searchParams.get('error'), 'invalid_scope');
    assert.equal(loc.searchParams.get('state'), params.state);
  });

  test('client_credentials: machine tokens are narrowed to configured scopes, never openid', async () => {
    const r = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials',
      scope: 'all openid' }, { authorization: basic('machine', RP_SECRET) });
    assert.equal(r.res.status, 200, r.text);
    assert.equal(r.json.scope, 'all');
    assert.equal(r.json.id_token, undefined);
    const none = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials',
      scope: 'openid' }, { authorization: basic('machine', RP_SECRET) });
    assert.equal(none.res.status, 400);
    assert.equal(none.json.error, 'invalid_scope');
  });

  test('device flow: openid gives an ID token for the approving user', async () => {
    const config = await client.discovery(new URL(srv.url), 'cli', undefined, client.None(),
      { execute: [client.allowInsecureRequests] });
    const da = await client.initiateDeviceAuthorization(config,
      { scope: 'openid profile offline_access' });
    await approveDevice(srv, da);
    const tokens = await client.pollDeviceAuthorizationGrant(config, da);
    assert.equal(tokens.scope, 'openid profile offline_access');
    assert.ok(tokens.refresh_token);
    const { payload } = await verifyIdToken(tokens.id_token, 'cli');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.azp, 'cli');
    assert.equal(payload.name, 'Alice Example');
    assert.equal(payload.at_hash, atHash(tokens.access_token));
    assert.ok(payload.auth_time > 0);
  });

  describe('userinfo', () => {
    let config;
    let full;
    before(async () => {
      config = await rpConfig(srv);
      full = (await codeFlow(srv, config, { scope: 'openid profile email offline' })).tokens;
    });
    const alice = { sub: 'alice', name: 'Alice Example', preferred_username: 'alice',
      email: 'alice@example.com', email_verified: true, groups: ['flyte-admins', 'data'] };
    const bearer = (t) => ({ authorization: `Bearer ${t}` });

    test('openid-client reads it with the ID token\'s subject', async () => {
      const info = await client.fetchUserInfo(config, full.access_token, 'alice');
      assert.deepEqual({ ...info }, alice);
    });

    test('GET with the header, POST with the header, POST with the token in the body', async () => {
      const get = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(full.access_token) });
      assert.equal(get.status, 200);
      assert.equal(get.headers.get('cache-control'), 'no-store');
      assert.deepEqual(await get.json(), alice);
      const post = await postForm(srv, '/oauth2/userinfo', {}, bearer(full.access_token));
      assert.equal(post.res.status, 200, post.text);
      assert.deepEqual(post.json, alice);
      const body = await postForm(srv, '/oauth2/userinfo', { access_token: full.access_token });
      assert.equal(body.res.status, 200, body.text);
      assert.deepEqual(body.json, alice);
    });

    test('the scopes pick the claims', async () => {
      const { tokens } = await codeFlow(srv, config, { scope: 'openid email' });
      const r = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(tokens.access_token) });
      assert.deepEqual(await r.json(),
        { sub: 'alice', email: 'alice@example.com', email_verified: true });
    });

    test('RFC 6750 refusals', async () => {
      const none = await fetch(`${srv.url}/oauth2/userinfo`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const bad = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer('not.a.token') });
      assert.equal(bad.status, 401);
      assert.match(bad.headers.get('www-authenticate'), /^Bearer error="invalid_token"/);
      assert.equal((await bad.json()).error, 'invalid_token');
      // The ID token is not an access token.
      const idt = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(full.id_token) });
      assert.equal(idt.status, 401);
      const basicAuth = await fetch(`${srv.url}/oauth2/userinfo`,
        { headers: { authorization: basic('rp', RP_SECRET) } });
      assert.equal(basicAuth.status, 400);
      assert.match(basicAuth.headers.get('www-authenticate'), /error="invalid_request"/);
      const twice = await postForm(srv, '/oauth2/userinfo', { access_token: full.access_token },
        bearer(full.access_token));
      assert.equal(twice.res.status, 400);
      assert.equal(twice.json.error, 'invalid_request');
      // A token without openid, and a machine token: insufficient_scope.
      const { tokens } = await codeFlow(srv, config, { scope: 'all' });
      const noOpenid = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(tokens.access_token) });
      assert.equal(noOpenid.status, 403);
      assert.match(noOpenid.headers.get('www-authenticate'),
        /^Bearer error="insufficient_scope".*scope="openid"/);
      const m = await postForm(srv, '/oauth2/token', { grant_type: 'client_credentials' },
        { authorization: basic('machine', RP_SECRET) });
      const machine = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(m.json.access_token) });
      assert.equal(machine.status, 403);
    });

    test('a revoked grant\'s access token is refused', async () => {
      const { tokens } = await codeFlow(srv, config, { scope: 'openid offline' });
      const ok = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(tokens.access_token) });
      assert.equal(ok.status, 200);
      const rev = await postForm(srv, '/oauth2/revoke', { token: tokens.refresh_token },
        { authorization: basic('rp', RP_SECRET) });
      assert.equal(rev.res.status, 200);
      const gone = await fetch(`${srv.url}/oauth2/userinfo`, { headers: bearer(tokens.access_token) });
      assert.equal(gone.status, 401);
      assert.match(gone.headers.get('www-authenticate'), /error="invalid_token"/);
    });
  });

  describe('RP-initiated logout', () => {
    let config;
    before(async () => { config = await rpConfig(srv); });

    // Is the browser of jar still signed in? (authorize answers without /login)
    async function signedIn(jar) {
      const params = await flowParams();
      const url = client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT, scope: 'openid',
        state: params.state, code_challenge: params.challenge, code_challenge_method: 'S256' });
      const res = await browse(url, jar);
      return new URL(res.headers.get('location'), srv.url).pathname !== '/login';
    }

    test('discovery names the endpoint', async () => {
      assert.equal(config.serverMetadata().end_session_endpoint, `${srv.url}/oauth2/end_session`);
    });

    test('id_token_hint and a registered post_logout_redirect_uri: signed out, state back', async () => {
      const { tokens, jar } = await codeFlow(srv, config);
      assert.equal(await signedIn(jar), true);
      const url = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token,
        post_logout_redirect_uri: RP_LOGOUT, state: 'bye-state-1' });
      const res = await browse(url, jar);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), `${RP_LOGOUT}?state=bye-state-1`);
      assert.equal(jar.get('flyte_session'), undefined, 'the session cookie is cleared');
      assert.equal(await signedIn(jar), false);
      // The copied cookie is dead too: the session record is gone.
    });

    test('a post_logout_redirect_uri that is not registered exactly is refused, nothing changes', async () => {
      const { tokens, jar } = await codeFlow(srv, config);
      for (const uri of [`${RP_LOGOUT}/x`, `${RP_LOGOUT}?a=b`, 'http://127.0.0.1:10/rp/logged-out',
        RP_REDIRECT]) {
        const res = await browse(client.buildEndSessionUrl(config,
          { id_token_hint: tokens.id_token, post_logout_redirect_uri: uri }), jar);
        assert.equal(res.status, 400, uri);
        assert.equal(res.headers.get('location'), null);
        assert.match(await res.text(), /not registered/);
      }
      // Without a hint or client_id there is no client to match against.
      const res = await browse(`${srv.url}/oauth2/end_session?post_logout_redirect_uri=${encodeURIComponent(RP_LOGOUT)}`, jar);
      assert.equal(res.status, 400);
      // A forged hint, and a client_id that is not the hint's audience.
      const forged = tokens.id_token.slice(0, -4) + 'AAAA';
      assert.equal((await browse(client.buildEndSessionUrl(config, { id_token_hint: forged }), jar)).status, 400);
      assert.equal((await browse(`${srv.url}/oauth2/end_session?id_token_hint=${tokens.id_token}&client_id=cli`, jar)).status, 400);
      assert.equal(await signedIn(jar), true);
    });

    test('without a hint the user confirms with a session-bound form', async () => {
      const { jar } = await codeFlow(srv, config);
      const url = `${srv.url}/oauth2/end_session?client_id=rp&post_logout_redirect_uri=${encodeURIComponent(RP_LOGOUT)}&state=s-123`;
      let res = await browse(url, jar);
      assert.equal(res.status, 200);
      const page = await res.text();
      assert.match(page, /Sign out <strong>alice<\/strong>/);
      const fields = hiddenInputs(page);
      assert.ok(fields.csrf_token);
      assert.equal(await signedIn(jar), true, 'GET alone signs nobody out');
      const post = (f) => browse(`${srv.url}/oauth2/end_session`, jar, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(f).toString() });
      // A forged or missing token only gets the question again.
      res = await post({ ...fields, csrf_token: 'x'.repeat(43) });
      assert.equal(res.status, 200);
      assert.equal(await signedIn(jar), true);
      res = await post(fields);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), `${RP_LOGOUT}?state=s-123`);
      assert.equal(await signedIn(jar), false);
    });

    test('no session: straight on; no target: a signed-out page', async () => {
      const { tokens } = await codeFlow(srv, config);
      let res = await browse(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token,
        post_logout_redirect_uri: RP_LOGOUT }), null);
      assert.equal(res.status, 302);
      assert.equal(res.headers.get('location'), RP_LOGOUT);
      const { tokens: t2, jar } = await codeFlow(srv, config);
      res = await browse(client.buildEndSessionUrl(config, { id_token_hint: t2.id_token }), jar);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /signed out/);
      assert.equal(await signedIn(jar), false);
    });
  });

  describe('authorization request parameters of OpenID Connect', () => {
    let config;
    before(async () => { config = await rpConfig(srv); });

    async function authUrl(extra) {
      const params = await flowParams();
      return { params, url: client.buildAuthorizationUrl(config, { redirect_uri: RP_REDIRECT,
        scope: 'openid', state: params.state, nonce: params.nonce, code_challenge: params.challenge,
        code_challenge_method: 'S256', ...extra }) };
    }

    test('response_mode=form_post: a self-posting form to the redirect_uri', async () => {
      const { jar } = await codeFlow(srv, config);
      const { url, params } = await authUrl({ response_mode: 'form_post' });
      const res = await browse(url, jar);
      assert.equal(res.status, 200);
      const html = await res.text();
      assert.match(html, new RegExp(`<form method="post" action="${RP_REDIRECT}">`));
      const fields = hiddenInputs(html);
      assert.equal(fields.state, params.state);
      assert.equal(fields.iss, srv.url);
      assert.equal(fields.code.length, 43);
      // Its policy lets exactly this script run and the form reach the client.
      const csp = res.headers.get('content-security-policy');
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)[1];
      assert.match(html, new RegExp(`<script nonce="${nonce}">document.forms\\[0\\].submit\\(\\);</script>`));
      assert.match(csp, /form-action 'self' http:\/\/127\.0\.0\.1:9;/);
      // The posted code redeems like a redirected one.
      const cb = new URL(RP_REDIRECT);
      for (const [k, v] of Object.entries(fields)) cb.searchParams.set(k, v);
      const tokens = await client.authorizationCodeGrant(config, cb,
        { expectedState: params.state, expectedNonce: params.nonce, pkceCodeVerifier: params.verifier });
      assert.equal(tokens.claims().sub, 'alice');
      // Errors use the same mode.
      const err = await authUrl({ response_mode: 'form_post', prompt: 'none' });
      const r2 = await browse(err.url, null);
      assert.equal(r2.status, 200);
      assert.equal(hiddenInputs(await r2.text()).error, 'login_required');
    });

    test('bad values are invalid_request at the redirect_uri', async () => {
      for (const extra of [{ prompt: 'none login' }, { prompt: 'sometimes' }, { max_age: '-1' },
        { max_age: 'soon' }, { response_mode: 'fragment' }, { login_hint: 'x'.repeat(300) },
        { id_token_hint: 'not-a-token' }, { ui_locales: 'x'.repeat(1100) }]) {
        const { url, params } = await authUrl(extra);
        const res = await fetch(url, { redirect: 'manual' });
        assert.equal(res.status, 302, JSON.stringify(extra));
        const loc = new URL(res.headers.get('location'));
        assert.equal(loc.searchParams.get('error'), 'invalid_request', JSON.stringify(extra));
        assert.equal(loc.searchParams.get('state'), params.state);
      }
    });

    test('id_token_hint for another user: with prompt=none login_required, else a new login', async () => {
      const { jar } = await codeFlow(srv, config);   // alice is signed in
      const { tokens: bobs } = await codeFlow(srv, config, { user: 'bob' });
      const none = await authUrl({ prompt: 'none', id_token_hint: bobs.id_token });
      let res = await browse(none.url, jar);
      assert.equal(new URL(res.headers.get('location')).searchParams.get('error'), 'login_required');
      const { url } = await authUrl({ id_token_hint: bobs.id_token });
      res = await browse(url, jar);
      assert.equal(new URL(res.headers.get('location'), srv.url).pathname, '/login');
    });
  });
});
