// gate_tokens.test.mjs -- the gate of the real binary (Self mode) against
// every forged or misused credential the issue lists, each asserted at
// /auth/verify: alg none; HS256 keyed with the RSA public key; an unknown
// kid; jku/x5u/jwk headers pointing at the attacker's key; expired; not yet
// valid; wrong iss; wrong aud; a refresh token and an ID token presented as
// access tokens; two headers with different tokens; a 10 KB token;
// non-base64 segments; the IDToken scheme with a token from another IdP.
// The forgeries that need the server's own key use the key file the test
// wrote for it (what a stolen key could do is a different problem). Then
// revocation: without selfAuthServer.checkRevocation a revoked token still
// passes until it expires; with it, it stops passing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import * as jose from 'jose';

import { CLIENT_SECRET, FLYTECTL, FLYTECTL_REDIRECT, clientToken, codeFlow,
  startIdentityServer } from './lib/identity.mjs';
import { signingKey } from './lib/idp.mjs';
import { sleep } from './lib/server.mjs';

async function verify(srv, headers) {
  const res = await fetch(`${srv.url}/auth/verify`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const b64 = (o) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');

describe('forged and misused credentials at /auth/verify', () => {
  let srv;
  let serverKey;      // the server's signing key (its file, written by the test)
  let kid;
  let good;           // a genuine access token's claims

  before(async () => {
    srv = await startIdentityServer({ extraClients: FLYTECTL });
    serverKey = createPrivateKey(srv.files['token_rsa_key.pem']);
    const jwks = await (await fetch(`${srv.url}/oauth2/jwks`)).json();
    kid = jwks.keys[0].kid;
    good = jose.decodeJwt(await clientToken(srv.url, 'flytepropeller'));
  });

  after(async () => { await srv?.stop(); });

  // Signed with the server's own key, as authz would mint it.
  function mint(claims, header = {}) {
    return new jose.SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, ...header })
      .sign(serverKey);
  }

  async function refused(name, token, status = 401, error = 'invalid_token') {
    const r = await verify(srv, { authorization: `Bearer ${token}` });
    assert.equal(r.status, status, `${name}: ${r.status} ${r.text}`);
    if (error) assert.match(r.headers.get('www-authenticate') ?? '', new RegExp(`error="${error}"`), name);
    assert.equal(r.headers.get('x-user-subject'), null, name);
  }

  test('the control: a genuine token and one minted the same way pass', async () => {
    const r = await verify(srv, { authorization: `Bearer ${await mint(good)}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('x-user-subject'), 'flytepropeller');
  });

  test('alg none, HS256 with the public key, unknown kid, jku/x5u/jwk', async () => {
    await refused('alg none', `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(good)}.`);
    await refused('alg None', `${b64({ alg: 'None', typ: 'at+jwt', kid })}.${b64(good)}.`);
    // The RS256/HS256 confusion, with the public key as PEM and as JWK text.
    const pub = createPublicKey(serverKey);
    for (const secret of [pub.export({ type: 'spki', format: 'pem' }),
      pub.export({ type: 'pkcs1', format: 'pem' }), JSON.stringify(pub.export({ format: 'jwk' }))]) {
      const hs = await new jose.SignJWT(good).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid })
        .sign(new TextEncoder().encode(secret));
      await refused('HS256 keyed with the public key', hs);
    }
    const attacker = await signingKey('RS256', 'attacker');
    const attackerPub = await jose.exportJWK(createPublicKey(await jose.exportPKCS8(attacker.privateKey)));
    const sign = (header) => new jose.SignJWT(good).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', ...header })
      .sign(attacker.privateKey);
    await refused('unknown kid', await sign({ kid: 'attacker' }));
    await refused('no kid', await sign({}));
    await refused('our kid, their key', await sign({ kid }));
    // Keys named by the token itself are never fetched nor used.
    await refused('jwk header', await sign({ kid: 'attacker', jwk: attackerPub }));
    await refused('jwk header with our kid', await sign({ kid, jwk: attackerPub }));
    await refused('jku header', await sign({ kid: 'attacker', jku: 'http://127.0.0.1:1/jwks' }));
    await refused('x5u header', await sign({ kid: 'attacker', x5u: 'http://127.0.0.1:1/cert.pem' }));
    assert.doesNotMatch(srv.stderr, /127\.0\.0\.1:1\//, 'nothing was fetched');
  });

  test('expired, not yet valid, wrong iss, wrong aud, wrong typ', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused('expired', await mint({ ...good, iat: now - 600, exp: now - 60 }));
    await refused('not yet valid', await mint({ ...good, nbf: now + 120 }));
    await refused('wrong iss', await mint({ ...good, iss: 'https://evil.example.com' }));
    await refused('wrong aud', await mint({ ...good, aud: ['https://other.example.com'] }));
    await refused('no exp', await mint(Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'exp'))));
    await refused('typ JWT', await mint(good, { typ: 'JWT' }));
  });

  test('a refresh token and an ID token are not access tokens', async () => {
    const t = await codeFlow(srv.url, { clientId: 'flytectl', redirectUri: FLYTECTL_REDIRECT,
      scope: 'all offline' });
    assert.ok(t.refresh_token);
    assert.equal((await verify(srv, { authorization: `Bearer ${t.access_token}` })).status, 200);
    await refused('refresh token', t.refresh_token);
    // An ID token signed with the same key (OIDC Core's shape: aud is the
    // client, typ JWT) is not an access token, whatever else it says.
    const now = Math.floor(Date.now() / 1000);
    const idToken = await mint({ iss: good.iss, sub: 'alice', aud: 'flytectl', azp: 'flytectl',
      iat: now, exp: now + 300, auth_time: now, nonce: 'n-0S6_WzA2Mj', scp: ['all'] }, { typ: 'JWT' });
    await refused('ID token', idToken);
    await refused('ID token without typ', await mint({ iss: good.iss, sub: 'alice', aud: 'flytectl',
      iat: now, exp: now + 300, nonce: 'n', scp: ['all'] }, { typ: undefined }));
    // ...and in flyteadmin's IDToken scheme, without an upstream IdP there
    // is nobody to accept it.
    const r = await verify(srv, { authorization: `IDToken ${idToken}` });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_token"/);
  });

  test('two headers, oversize and malformed tokens, the IDToken scheme from another IdP', async () => {
    const a = await clientToken(srv.url, 'flytepropeller');
    const b = await clientToken(srv.url, 'flytepropeller', CLIENT_SECRET);
    assert.notEqual(a, b);
    let r = await verify(srv, { authorization: `Bearer ${a}`, 'flyte-authorization': `Bearer ${b}` });
    assert.equal(r.status, 400);
    assert.match(r.headers.get('www-authenticate'), /error="invalid_request"/);
    r = await verify(srv, { authorization: `Bearer ${a}`, 'flyte-authorization': `Bearer ${a}` });
    assert.equal(r.status, 200, 'the same token twice is one credential');
    // 10 KB: over the 8 KiB token cap (and the 8 KiB header cap).
    r = await verify(srv, { authorization: `Bearer ${'A'.repeat(10 * 1024)}` });
    assert.equal(r.status, 431);
    r = await verify(srv, { authorization: `Bearer ${'A'.repeat(8 * 1024 + 1)}` });
    assert.ok([400, 431].includes(r.status), String(r.status));
    // Non-base64 segments: not a token68 at all (400), or not base64url JSON (401).
    await refused('non-token68 bytes', `${b64({ alg: 'RS256' })}.e30!.sig`, 400, 'invalid_request');
    await refused('base64 (not url) alphabet', `${b64({ alg: 'RS256', kid })}.${Buffer.from(JSON.stringify(good)).toString('base64').replace(/=+$/, '')}.a+b/`);
    await refused('garbage segments', 'aaaa.bbbb.cccc');
    await refused('two segments', `${b64({ alg: 'RS256', kid })}.${b64(good)}`);
    await refused('not JSON', `${b64('not json')}.${b64(good)}.sig`);
    // A token from another IdP in the IDToken scheme.
    const other = await signingKey('RS256', 'other-idp');
    const now = Math.floor(Date.now() / 1000);
    const foreign = await new jose.SignJWT({ sub: 'eve', aud: 'flytectl', iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'RS256', kid: 'other-idp' }).setIssuer('https://accounts.other.example')
      .sign(other.privateKey);
    r = await verify(srv, { authorization: `IDToken ${foreign}` });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('x-user-subject'), null);
    // No token ever reaches the log.
    assert.ok(!srv.stderr.includes(a) && !srv.stderr.includes(foreign));
  });
});

describe('revocation and the gate', () => {
  async function revoke(srv, token) {
    const basic = Buffer.from(`flytepropeller:${CLIENT_SECRET}`).toString('base64');
    const res = await fetch(`${srv.url}/oauth2/revoke`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    assert.equal(res.status, 200);
  }

  test('without checkRevocation a revoked token passes until it expires', async () => {
    const srv = await startIdentityServer();
    try {
      const t = await clientToken(srv.url, 'flytepropeller');
      assert.equal((await verify(srv, { authorization: `Bearer ${t}` })).status, 200);
      await revoke(srv, t);
      assert.equal((await verify(srv, { authorization: `Bearer ${t}` })).status, 200);
    } finally {
      await srv.stop();
    }
  });

  test('with checkRevocation the gate refuses it within seconds', async () => {
    const srv = await startIdentityServer({ extraSelf: '      checkRevocation: true\n' });
    try {
      assert.match(srv.stderr, /the gate checks revocation/);
      const t = await clientToken(srv.url, 'flytepropeller');
      assert.equal((await verify(srv, { authorization: `Bearer ${t}` })).status, 200);
      await revoke(srv, t);
      // The "not revoked" answer is remembered for 5 s at most.
      await sleep(5200);
      const r = await verify(srv, { authorization: `Bearer ${t}` });
      assert.equal(r.status, 401, r.text);
      assert.match(r.text, /revoked/);
      const me = await fetch(`${srv.url}/me`, { headers: { authorization: `Bearer ${t}` } });
      assert.equal(me.status, 401);
      // Another token of the client is unaffected.
      const u = await clientToken(srv.url, 'flytepropeller');
      assert.equal((await verify(srv, { authorization: `Bearer ${u}` })).status, 200);
    } finally {
      await srv.stop();
    }
  });
});
