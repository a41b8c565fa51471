// Debian's glewlwyd as an upstream IdP nobody here wrote. The harness first
// shows on its own that glewlwyd behaves as a real OpenID Provider (a
// certified client library completes the code flow with PKCE and nonce, the
// ID tokens verify against its JWKS with RS256 and ES256), so that a
// failure of flyteauth's relying party against it is flyteauth's.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as jose from 'jose';
import * as client from 'openid-client';

import { glewlwydAuthorize, SCOPES, startGlewlwyd } from './lib/glewlwyd.mjs';

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
