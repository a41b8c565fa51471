// Debian's glewlwyd as an upstream IdP nobody here wrote. The harness first
// shows on its own that glewlwyd behaves as a real OpenID Provider (a
// certified client library completes the code flow with PKCE and nonce, the
// ID tokens verify against its JWKS with RS256 and ES256), so that a
// failure of flyteauth's relying party against it is flyteauth's. Then
// flyteauth logs users in through it: /login sends the browser there with
// state, nonce and PKCE; /callback verifies its RS256 or ES256 ID token
// (client_secret_basic or client_secret_post at its token endpoint); /me
// shows its claims and subject; flyteauth's own tokens carry that subject;
// logout goes on to its end_session, which accepts the hint; its access
// tokens are refreshed when they expire, and once the user revokes them at
// glewlwyd, its refusal ends the session.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { Jar, browse } from './lib/browser.mjs';
import { glewlwydAuthorize, glewlwydRevokeTokens, SCOPES, startGlewlwyd } from './lib/glewlwyd.mjs';
import { postForm, sleep } from './lib/server.mjs';
import { RP_SCOPES, rpPort, startRpServer } from './lib/upstream.mjs';

const GWEN = { username: 'gwen', password: 'gwen-password-1', name: 'Gwen Glew', email: 'gwen@example.org' };
const RP = 'http://127.0.0.1:9/callback';   // never reached: the harness stops at the redirect
// Client ids and secrets are letters and digits: glewlwyd does not
// percent-decode HTTP Basic credentials, which RFC 6749 §2.3.1 has clients
// form-encode (openid-client sends '-' as %2D).

describe('glewlwyd harness', () => {
  let gl;
  before(async () => {
    gl = await startGlewlwyd({
      users: [GWEN],
      clients: [
        { clientId: 'rpbasic', secret: 'basicSecret0123456789', redirectUris: [RP] },
        { clientId: 'rppost', secret: 'postSecret0123456789', redirectUris: [RP],
          authMethod: 'client_secret_post', signKid: 'es' },
        { clientId: 'rpnomethod', secret: 'noneSecret0123456789', redirectUris: [RP], authMethod: null },
      ],
    });
  });
  after(async () => { await gl?.stop(); });

  test('serves its discovery document, JWKS and login page', async () => {
    const res = await fetch(`${gl.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const d = await res.json();
    assert.equal(d.issuer, gl.issuer);
    assert.equal(d.authorization_endpoint, `${gl.issuer}/auth`);
    assert.ok(d.code_challenge_methods_supported.includes('S256'));
    assert.ok(d.end_session_endpoint.startsWith(gl.issuer));
    assert.deepEqual(d.token_endpoint_auth_methods_supported.sort(), ['client_secret_basic', 'client_secret_post']);
    const jwks = await (await fetch(d.jwks_uri)).json();
    assert.deepEqual(jwks.keys.map((k) => `${k.kid}:${k.alg}`).sort(), ['es:ES256', 'rs:RS256']);
    assert.ok(jwks.keys.every((k) => k.d === undefined), 'no private part in the JWKS');
    const page = await fetch(`${gl.url}/login.html`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /login\.js/);
  });

  for (const [clientId, secret, auth, alg] of [
    ['rpbasic', 'basicSecret0123456789', client.ClientSecretBasic, 'RS256'],
    ['rppost', 'postSecret0123456789', client.ClientSecretPost, 'ES256'],
  ]) {
    test(`openid-client completes the code flow (${clientId}, ${alg} ID token)`, async () => {
      const cfg = await client.discovery(new URL(gl.issuer), clientId, undefined, auth(secret),
        { execute: [client.allowInsecureRequests] });
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(cfg, {
        redirect_uri: RP, scope: SCOPES.join(' '), state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const back = new URL(await glewlwydAuthorize(gl, url.href, GWEN));
      assert.equal(back.origin + back.pathname, RP);
      const tokens = await client.authorizationCodeGrant(cfg, back,
        { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      const jwks = jose.createRemoteJWKSet(new URL(`${gl.issuer}/jwks`));
      const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks,
        { issuer: gl.issuer, audience: clientId });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.nonce, nonce);
      assert.equal(payload.name, GWEN.name);
      assert.equal(payload.email, GWEN.email);
      assert.equal(payload.preferred_username, GWEN.username);
      assert.ok(payload.sub && payload.sub !== GWEN.username, 'glewlwyd makes its own subject identifier');
      const info = await client.fetchUserInfo(cfg, tokens.access_token, payload.sub);
      assert.equal(info.email, GWEN.email);
      // The code is spent.
      await assert.rejects(client.authorizationCodeGrant(cfg, back,
        { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }),
      (e) => e.error === 'invalid_grant' || e.code === 'OAUTH_RESPONSE_BODY_ERROR');
    });
  }

  test('a client without token_endpoint_auth_method is refused at the token endpoint', async () => {
    const cfg = await client.discovery(new URL(gl.issuer), 'rpnomethod', undefined,
      client.ClientSecretBasic('noneSecret0123456789'), { execute: [client.allowInsecureRequests] });
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(cfg, {
      redirect_uri: RP, scope: 'openid', state: 's', nonce: 'n',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    });
    const back = new URL(await glewlwydAuthorize(gl, url.href, GWEN));
    assert.ok(back.searchParams.get('code'), 'the authorization itself succeeds');
    await assert.rejects(client.authorizationCodeGrant(cfg, back,
      { pkceCodeVerifier: verifier, expectedState: 's', expectedNonce: 'n' }),
    (e) => e.error === 'unauthorized_client');
  });

  test('a wrong password is refused and no code is issued', async () => {
    const cfg = await client.discovery(new URL(gl.issuer), 'rpbasic', undefined,
      client.ClientSecretBasic('basicSecret0123456789'), { execute: [client.allowInsecureRequests] });
    const url = client.buildAuthorizationUrl(cfg, { redirect_uri: RP, scope: 'openid', state: 's', nonce: 'n' });
    await assert.rejects(glewlwydAuthorize(gl, url.href, { ...GWEN, password: 'wrong-password' }),
      /refused the login: 401/);
  });
});

// glewlwyd's subject for a user, as a client of its own sees it (subjects
// are public: the same for every client).
async function glewlwydSub(gl, user) {
  const cfg = await client.discovery(new URL(gl.issuer), 'subcheck', undefined,
    client.ClientSecretBasic('subcheckSecret0123'), { execute: [client.allowInsecureRequests] });
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(cfg, {
    redirect_uri: RP, scope: 'openid', state: 's', nonce: 'n',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  });
  const back = new URL(await glewlwydAuthorize(gl, url.href, user));
  const t = await client.authorizationCodeGrant(cfg, back,
    { pkceCodeVerifier: verifier, expectedState: 's', expectedNonce: 'n' });
  return t.claims().sub;
}

describe('flyteauth logs users in through glewlwyd', () => {
  let gl;
  let sub;
  before(async () => {
    gl = await startGlewlwyd({
      users: [GWEN],
      clients: [{ clientId: 'subcheck', secret: 'subcheckSecret0123', redirectUris: [RP] }],
    });
    sub = await glewlwydSub(gl, GWEN);
  });
  after(async () => { await gl?.stop(); });

  // glewlwyd lists client_secret_basic and client_secret_post: flyteauth
  // takes basic (post only when the IdP lists nothing else).
  for (const [alg, signKid] of [['RS256', undefined], ['ES256', 'es']]) {
    test(`/login → glewlwyd → /callback → /me (${alg} ID token)`, async () => {
      const rp = await rpPort();
      const clientId = `flyteauth${alg}`;
      // Unreserved characters in the secret go into HTTP Basic as they are
      // (glewlwyd, unlike RFC 6749's form-decoding, reads them raw).
      const secret = `flyteauth-Secret_${alg}.0123~456789`;
      await gl.addClient({ clientId, secret, redirectUris: [rp.callback], postLogoutUris: [`${rp.url}/`], signKid });
      const srv = await startRpServer({ port: rp.port, baseUrl: gl.issuer, clientId, secret });
      try {
        const jar = new Jar();
        // flyteauth sends the browser to glewlwyd with state, nonce and PKCE.
        let res = await browse(`${srv.url}/login?redirect_url=${encodeURIComponent('/console/projects')}`, jar);
        assert.equal(res.status, 302, await res.text());
        const az = new URL(res.headers.get('location'));
        assert.equal(`${az.origin}${az.pathname}`, `${gl.issuer}/auth`);
        const q = az.searchParams;
        assert.equal(q.get('response_type'), 'code');
        assert.equal(q.get('client_id'), clientId);
        assert.equal(q.get('redirect_uri'), rp.callback);
        assert.deepEqual(q.get('scope').split(' ').sort(), [...RP_SCOPES].sort());
        assert.ok(q.get('state')?.length >= 22, 'state');
        assert.ok(q.get('nonce')?.length >= 22, 'nonce');
        assert.equal(q.get('code_challenge_method'), 'S256');
        assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);

        // The user logs in at glewlwyd, which sends the browser back.
        const back = new URL(await glewlwydAuthorize(gl, az.href, GWEN));
        assert.equal(`${back.origin}${back.pathname}`, rp.callback);
        assert.equal(back.searchParams.get('state'), q.get('state'));
        res = await browse(back.href, jar);
        assert.ok([302, 303].includes(res.status), `callback: ${res.status} ${srv.stderr}`);
        assert.equal(res.headers.get('location'), '/console/projects');
        const session = jar.lines.get('flyte_session');
        assert.ok(session, 'a session cookie');
        assert.ok(session.length < 400, `one small session cookie: ${session.length} bytes`);
        assert.ok([...jar.cookies.keys()].every((k) => k.startsWith('flyte_')), [...jar.cookies.keys()].join());

        // /me shows glewlwyd's claims.
        res = await browse(`${srv.url}/me`, jar);
        const me = await res.json();
        assert.equal(res.status, 200, JSON.stringify(me));
        assert.equal(me.subject, sub);
        assert.equal(res.headers.get('x-user-subject'), sub);
        assert.equal(me.name, GWEN.name);
        assert.equal(me.email, GWEN.email);
        assert.equal(me.preferred_username, GWEN.username);

        // Replaying the callback changes nothing: still the same user.
        res = await browse(back.href, jar);
        assert.ok(res.status >= 400, `a replayed callback is refused: ${res.status}`);
        res = await browse(`${srv.url}/me`, jar);
        assert.equal(res.status, 200);
        assert.equal((await res.json()).subject, sub);

        // flyteauth's own authorization server, for this browser session,
        // issues tokens whose subject is glewlwyd's.
        const verifier = client.randomPKCECodeVerifier();
        const authz = new URL(`${srv.url}/oauth2/authorize`);
        authz.search = new URLSearchParams({
          response_type: 'code', client_id: 'flytectl', redirect_uri: srv.flytectlRedirect,
          scope: 'all offline', state: 'clistate123',
          code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
        }).toString();
        res = await browse(authz.href, jar);
        assert.equal(res.status, 302, await res.text());
        const code = new URL(res.headers.get('location')).searchParams.get('code');
        assert.ok(code, res.headers.get('location'));
        const tok = await postForm(srv, '/oauth2/token', {
          grant_type: 'authorization_code', code, client_id: 'flytectl',
          redirect_uri: srv.flytectlRedirect, code_verifier: verifier,
        });
        assert.equal(tok.res.status, 200, tok.text);
        const claims = jose.decodeJwt(tok.json.access_token);
        assert.equal(claims.sub, sub);
        assert.equal(claims.user_info?.email, GWEN.email,
          `user_info in the access token: ${JSON.stringify(claims.user_info)}`);

        // Logout ends the session, then sends the browser to glewlwyd's
        // end_session, which takes the hint and the registered return
        // address (an unknown hint would make it a 'single_logout').
        const cookie = jar.header();
        res = await browse(`${srv.url}/logout?redirect_url=/`, jar, { headers: { 'sec-fetch-site': 'same-origin' } });
        assert.equal(res.status, 303, await res.text());
        const end = new URL(res.headers.get('location'));
        assert.equal(`${end.origin}${end.pathname}`, `${gl.issuer}/end_session`);
        assert.equal(jose.decodeJwt(end.searchParams.get('id_token_hint')).sub, sub);
        assert.equal(end.searchParams.get('post_logout_redirect_uri'), `${rp.url}/`);
        assert.equal((await browse(`${srv.url}/me`, null, { headers: { cookie } })).status, 401);
        res = await browse(end.href, new Jar());
        assert.equal(res.status, 302);
        const page = new URL(res.headers.get('location'));
        assert.equal(page.pathname, '/login.html');
        assert.equal(page.searchParams.get('prompt'), 'end_session');
        assert.equal(page.searchParams.get('callback_url'), `${rp.url}/`);
      } finally {
        await srv.stop();
      }
    });
  }

  test('glewlwyd\'s tokens are refreshed when they expire; once it refuses, the session ends', async () => {
    const gl2 = await startGlewlwyd({ users: [{ ...GWEN, scope: [...SCOPES, 'g_profile'] }], accessTokenDuration: 2 });
    const rp = await rpPort();
    let srv;
    try {
      await gl2.addClient({ clientId: 'flyteauth', secret: 'flyteauthSecret0123', redirectUris: [rp.callback] });
      srv = await startRpServer({ port: rp.port, baseUrl: gl2.issuer, clientId: 'flyteauth', secret: 'flyteauthSecret0123' });
      const jar = new Jar();
      let res = await browse(`${srv.url}/login`, jar);
      res = await browse(await glewlwydAuthorize(gl2, res.headers.get('location'), GWEN), jar);
      assert.equal(res.status, 302, await res.text());
      const refreshes = () => (gl2.log().match(/Access token generated for client 'flyteauth' granted by user 'gwen'/g) ?? []).length;
      assert.ok(refreshes() >= 1, 'the code exchange logged its access token');
      assert.equal((await browse(`${srv.url}/me`, jar)).status, 200);
      // glewlwyd's access token expires: the next /me refreshes it there,
      // once. (Counted from here: on a slow machine the /me above may
      // already have found the first token expired.)
      const before = refreshes();
      await sleep(2500);
      res = await browse(`${srv.url}/me`, jar);
      assert.equal(res.status, 200);
      assert.equal((await res.json()).email, GWEN.email);
      assert.equal(refreshes(), before + 1, gl2.log().slice(-2000));
      // The user revokes flyteauth's tokens in their glewlwyd profile: the
      // next refresh is refused (glewlwyd answers 400) and the session ends.
      assert.equal(await glewlwydRevokeTokens(gl2, GWEN, 'flyteauth'), 1);
      await sleep(2500);
      let status = 200;
      for (let i = 0; i < 20 && status === 200; i++) {
        status = (await browse(`${srv.url}/me`, jar)).status;
        if (status === 200) await sleep(500);
      }
      assert.equal(status, 401, srv.stderr.split('\n').filter((l) => !l.includes(' http ')).join('\n'));
      assert.match(srv.stderr, /a session ended: the IdP's token endpoint answered 400/);
    } finally {
      await srv?.stop();
      await gl2.stop();
    }
  });
});
