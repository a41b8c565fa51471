// gate_me.test.mjs -- GET /me on the real binary: a client_credentials
// token from the real token endpoint (both header names), a browser
// session, no credentials (401 + WWW-Authenticate: Bearer), a client
// without scope `all` (403 insufficient_scope), and tokens that must never
// pass: alg none, HS256 keyed with the public key, wrong issuer, wrong
// audience, expired, wrong typ, tampered. The forged ones are signed with
// the server's real private key (the test wrote it), so only the claim
// under test is wrong.
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey } from 'node:crypto';
import { test } from 'node:test';
import { SignJWT, base64url, createRemoteJWKSet, jwtVerify } from 'jose';
import {
  Jar, PASSWORD, clientToken, configYaml, login, me, secretFiles, startIdentityServer,
} from './lib/identity.mjs';
import { startServer } from './lib/server.mjs';

function invalidToken(r, what) {
  assert.equal(r.status, 401, `${what}: ${r.text}`);
  assert.match(r.res.headers.get('www-authenticate'), /^Bearer error="invalid_token"/, what);
  assert.equal(r.json.error, 'invalid_token', what);
  assert.equal(r.res.headers.get('x-user-subject'), null, what);
}

test('/me with a client_credentials token, a session, and without credentials', async () => {
  const srv = await startIdentityServer();
  try {
    const token = await clientToken(srv.url, 'flytepropeller');
    // The token is what the contracts say (verified independently with jose).
    const jwks = createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`));
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: srv.url, audience: srv.url, typ: 'at+jwt',
    });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.sub, 'flytepropeller');

    for (const header of ['authorization', 'flyte-authorization']) {
      const r = await me(srv.url, { [header]: `Bearer ${token}` });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.subject, 'flytepropeller', header);
      assert.equal(r.res.headers.get('x-user-subject'), 'flytepropeller');
      assert.equal(r.res.headers.get('cache-control'), 'no-store');
      for (const k of ['name', 'preferred_username', 'given_name', 'family_name', 'email', 'picture']) {
        assert.equal(r.json[k], '', k);
      }
      assert.equal(r.json.additional_claims.client_id, 'flytepropeller');
      assert.equal(r.json.additional_claims.jti, payload.jti);
    }
    // The scheme is case-insensitive.
    assert.equal((await me(srv.url, { authorization: `bearer ${token}` })).status, 200);
    // The same token in both headers (a proxy copied it) is one credential;
    // two different tokens in one request are malformed.
    const same = await me(srv.url, { authorization: `Bearer ${token}`, 'flyte-authorization': `Bearer ${token}` });
    assert.equal(same.status, 200);
    const two = await me(srv.url, { authorization: `Bearer ${token}`, 'flyte-authorization': `Bearer ${token}A` });
    assert.equal(two.status, 400);
    assert.match(two.res.headers.get('www-authenticate'), /error="invalid_request"/);

    const none = await me(srv.url);
    assert.equal(none.status, 401);
    assert.equal(none.res.headers.get('www-authenticate'), 'Bearer');
    const basic = await me(srv.url, { authorization: 'Basic YWxpY2U6cHc=' });
    assert.equal(basic.status, 401);
    assert.equal(basic.res.headers.get('www-authenticate'), 'Bearer');

    // A browser session.
    const jar = new Jar();
    assert.equal((await login(srv.url, jar, 'alice', PASSWORD)).status, 303);
    const s = await me(srv.url, jar.headers());
    assert.equal(s.status, 200, s.text);
    assert.equal(s.json.subject, 'alice');
    assert.equal(s.json.name, 'Alice Example');
    assert.equal(s.res.headers.get('x-user-subject'), 'alice');
    assert.ok(!srv.stderr.includes(token.split('.')[2]), 'no token in the log');
  } finally {
    await srv.stop();
  }
});

// The public URL is normalised in one place (the config module) and the
// same string goes to authz, which mints `iss`, and the gate, which checks
// it: a trailing '/' in authorizedUris (no selfAuthServer.issuer) used to
// make every token minted here fail at /me.
test('a token from /oauth2/token passes /me with and without a trailing slash in authorizedUris', async () => {
  for (const uri of ['http://127.0.0.1:PORT/', 'http://127.0.0.1:PORT']) {
    const yaml = (await configYaml())
      .replace('authorizedUris: [http://127.0.0.1:PORT]', `authorizedUris: ['${uri}']`)
      .replace(/\n      issuer: [^\n]*/, '');
    assert.ok(yaml.includes(`'${uri}'`) && !yaml.includes('issuer:'), yaml);
    const srv = await startServer({ config: yaml, files: secretFiles() });
    try {
      const token = await clientToken(srv.url, 'flytepropeller');
      const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`)));
      assert.equal(payload.iss, srv.url, uri);
      const meta = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
      assert.equal(meta.issuer, srv.url, uri);
      const r = await me(srv.url, { authorization: `Bearer ${token}` });
      assert.equal(r.status, 200, `${uri}: ${r.text}`);
      assert.equal(r.json.subject, 'flytepropeller');
    } finally {
      await srv.stop();
    }
  }
});

test('403 insufficient_scope for a token without scope all', async () => {
  const srv = await startIdentityServer();
  try {
    const token = await clientToken(srv.url, 'noall');
    const r = await me(srv.url, { authorization: `Bearer ${token}` });
    assert.equal(r.status, 403, r.text);
    assert.match(r.res.headers.get('www-authenticate'), /^Bearer error="insufficient_scope", error_description="[^"]*", scope="all"$/);
    assert.equal(r.json.error, 'insufficient_scope');
  } finally {
    await srv.stop();
  }
});

test('forged and misdirected tokens are 401 invalid_token', async () => {
  const srv = await startIdentityServer();
  try {
    const real = await clientToken(srv.url, 'flytepropeller');
    const priv = createPrivateKey(srv.files['token_rsa_key.pem']);
    const pubPem = createPublicKey(priv).export({ type: 'spki', format: 'pem' });
    const jwks = await (await fetch(`${srv.url}/oauth2/jwks`)).json();
    const kid = jwks.keys[0].kid;
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      iss: srv.url, sub: 'mallory', aud: [srv.url], exp: now + 600, iat: now, jti: 'forged',
      scp: ['all'], client_id: 'flytepropeller',
    };
    const sign = (over = {}, header = {}) => new SignJWT({ ...claims, ...over })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, key_id: kid, ...header })
      .sign(priv);
    const enc = (o) => base64url.encode(JSON.stringify(o));

    // Sanity: with every claim right, the real key's signature passes.
    const good = await me(srv.url, { authorization: `Bearer ${await sign()}` });
    assert.equal(good.status, 200, good.text);
    assert.equal(good.json.subject, 'mallory');

    const h = (t) => ({ authorization: `Bearer ${t}` });
    invalidToken(await me(srv.url, h(`${enc({ alg: 'none', typ: 'at+jwt' })}.${enc(claims)}.`)), 'alg none');
    const hsInput = `${enc({ alg: 'HS256', typ: 'at+jwt', kid })}.${enc(claims)}`;
    const hsSig = createHmac('sha256', pubPem).update(hsInput).digest('base64url');
    invalidToken(await me(srv.url, h(`${hsInput}.${hsSig}`)), 'HS256 with the public key');
    invalidToken(await me(srv.url, h(await sign({ iss: 'https://evil.example.com' }))), 'wrong issuer');
    invalidToken(await me(srv.url, h(await sign({ aud: ['https://other.example.com'] }))), 'wrong audience');
    invalidToken(await me(srv.url, h(await sign({ exp: now - 60 }))), 'expired');
    invalidToken(await me(srv.url, h(await sign({ nbf: now + 600 }))), 'not yet valid');
    invalidToken(await me(srv.url, h(await sign({}, { typ: 'JWT' }))), 'typ JWT (an ID token)');
    const [hd, , sig] = real.split('.');
    invalidToken(await me(srv.url, h(`${hd}.${enc({ ...claims, sub: 'admin' })}.${sig}`)), 'tampered payload');
    const flipped = real.slice(0, -4) + (real.at(-4) === 'A' ? 'B' : 'A') + real.slice(-3);
    invalidToken(await me(srv.url, h(flipped)), 'tampered signature');
  } finally {
    await srv.stop();
  }
});
