// jose_interop.test.mjs -- flyteauth's JOSE layer (src/jose, driven through
// tests/tools/jose_tool) against the npm `jose` library, for every alg we
// implement (RS256/384/512, PS256/384/512, ES256, ES384, EdDSA): tokens
// signed by npm jose verify in ours and ours in npm jose (with the public JWK
// we export), keys cross over as PEM and JWK, our kid equals
// jose.calculateJwkThumbprint, and tampered, alg-confused and unsigned
// tokens are refused by ours, including genuine signatures of another alg
// made with the very key pair a key is pinned for.
//
// Run: FLYTEAUTH_BUILD=/tmp/build-x node --test tests/bb/jose_interop.test.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as jose from 'jose';

const BUILD = process.env.FLYTEAUTH_BUILD;
if (!BUILD) throw new Error('FLYTEAUTH_BUILD is not set');
const TOOL = path.join(BUILD, 'jose_tool');

let dir;
let seq = 0;

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fa-jose-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(content) {
  const p = path.join(dir, `f${seq++}`);
  writeFileSync(p, content, { mode: 0o600 });
  return p;
}

// Runs jose_tool: { code, stdout, stderr }. pin.alg, when set, is passed as
// --alg: keys that name no alg (PEM, bare JWK) are pinned to it.
const pin = { alg: null };
function tool(...args) {
  const argv = pin.alg ? ['--alg', pin.alg, ...args] : args;
  const r = spawnSync(TOOL, argv, { encoding: 'utf8', timeout: 30000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function toolOk(...args) {
  const r = tool(...args);
  assert.equal(r.code, 0, `jose_tool ${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

function rejects(jwksPath, token, message) {
  const r = tool('verify', jwksPath, file(token));
  assert.equal(r.code, 1, `token was accepted: ${r.stdout}`);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, message);
}

const claims = () => ({
  iss: 'https://flyte.example.com',
  sub: 'alice',
  aud: ['flytepropeller'],
  scp: ['all'],
  iat: Math.floor(Date.now() / 1000),
  exp: Math.floor(Date.now() / 1000) + 600,
});

const ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];

for (const alg of ALGS) {
  describe(`${alg} interop`, () => {
    before(() => { pin.alg = alg; });
    after(() => { pin.alg = null; });

    test('npm jose signs, flyteauth verifies', async () => {
      const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
      const jwk = await jose.exportJWK(publicKey);
      const kid = await jose.calculateJwkThumbprint(jwk);
      const jwks = file(JSON.stringify({ keys: [{ ...jwk, kid, alg, use: 'sig' }] }));
      const payload = claims();
      const token = await new jose.SignJWT(payload)
        .setProtectedHeader({ alg, kid, typ: 'at+jwt' })
        .sign(privateKey);
      assert.deepEqual(JSON.parse(toolOk('verify', jwks, file(token))), payload);

      // No kid in the token or the set: the key is found by its alg.
      const bare = file(JSON.stringify(jwk));
      const text = '{"any":"bytes"}';
      const noKid = await new jose.CompactSign(new TextEncoder().encode(text))
        .setProtectedHeader({ alg })
        .sign(privateKey);
      assert.equal(toolOk('verify', bare, file(noKid)), text);

      // npm's PKCS#8 and SPKI PEM and private JWK load in ours as the same key.
      const pkcs8 = file(await jose.exportPKCS8(privateKey));
      const spki = file(await jose.exportSPKI(publicKey));
      assert.equal(toolOk('thumbprint', pkcs8).trim(), kid);
      assert.equal(toolOk('thumbprint', spki).trim(), kid);
      const ours = JSON.parse(toolOk('jwk', pkcs8));
      for (const m of ['kty', 'crv', 'n', 'e', 'x', 'y']) assert.equal(ours[m], jwk[m], m);
      const privJwk = file(JSON.stringify(await jose.exportJWK(privateKey)));
      assert.equal(toolOk('thumbprint', privJwk).trim(), kid);

      // A tampered payload is refused with "bad signature", not "no key".
      const [h, p, s] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ ...payload, sub: 'admin' })).toString('base64url');
      rejects(jwks, `${h}.${forged}.${s}`, /signature does not verify/);
      const flipped = s[5] === 'A' ? 'B' : 'A';
      rejects(jwks, `${h}.${p}.${s.slice(0, 5)}${flipped}${s.slice(6)}`, /signature does not verify|signature must be/);
    });

    test('flyteauth signs, npm jose verifies with our public JWK', async () => {
      const pem = file(toolOk('generate', alg));
      const ourJwk = JSON.parse(toolOk('jwk', pem));
      assert.equal(ourJwk.alg, alg);
      assert.equal(ourJwk.use, 'sig');
      assert.equal(ourJwk.d, undefined);
      // Our kid is the RFC 7638 thumbprint as npm jose computes it.
      assert.equal(ourJwk.kid, await jose.calculateJwkThumbprint(ourJwk));
      assert.equal(toolOk('thumbprint', pem).trim(), ourJwk.kid);

      const payload = claims();
      const token = toolOk('sign', pem, file(JSON.stringify(payload)), 'at+jwt').trim();
      const key = await jose.importJWK(ourJwk, alg);
      const { payload: got, protectedHeader } = await jose.jwtVerify(token, key, {
        algorithms: [alg],
        typ: 'at+jwt',
        issuer: 'https://flyte.example.com',
        audience: 'flytepropeller',
      });
      assert.deepEqual(got, payload);
      assert.deepEqual(protectedHeader, { alg, typ: 'at+jwt', kid: ourJwk.kid });

      // Through a JWKS document, as a relying party fetches /oauth2/jwks.
      const jwksText = toolOk('jwks', pem);
      const set = jose.createLocalJWKSet(JSON.parse(jwksText));
      await jose.jwtVerify(token, set, { algorithms: [alg] });

      // Our PKCS#8 PEM loads in npm jose and signs tokens ours accepts.
      const npmKey = await jose.importPKCS8(readFileSync(pem, 'utf8'), alg);
      const back = await new jose.SignJWT(payload)
        .setProtectedHeader({ alg, kid: ourJwk.kid })
        .sign(npmKey);
      assert.deepEqual(JSON.parse(toolOk('verify', file(jwksText), file(back))), payload);

      // A signed private JWK from npm signs in ours; npm verifies.
      const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
      const privJwk = file(JSON.stringify(await jose.exportJWK(privateKey)));
      const t2 = toolOk('sign', privJwk, file('{"n":1}')).trim();
      const v = await jose.compactVerify(t2, publicKey);
      assert.equal(new TextDecoder().decode(v.payload), '{"n":1}');
    });

    test('alg confusion, alg none and foreign keys are refused by ours', async () => {
      const pem = file(toolOk('generate', alg));
      const ourJwk = JSON.parse(toolOk('jwk', pem));
      const jwks = file(toolOk('jwks', pem));
      const spki = await jose.exportSPKI(await jose.importJWK(ourJwk, alg));

      // HS256 keyed with our public key, as PEM and as the JWK text.
      for (const secret of [spki, JSON.stringify(ourJwk)]) {
        const hs = await new jose.SignJWT(claims())
          .setProtectedHeader({ alg: 'HS256', kid: ourJwk.kid })
          .sign(new TextEncoder().encode(secret));
        rejects(jwks, hs, /symmetric alg HS256 is never accepted/);
      }

      // Another asymmetric alg naming our kid, signed by an attacker's key.
      const other = alg === 'ES256' ? 'EdDSA' : 'ES256';
      const attacker = await jose.generateKeyPair(other, { extractable: true });
      const swapped = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: other, kid: ourJwk.kid })
        .sign(attacker.privateKey);
      rejects(jwks, swapped, new RegExp(`alg ${other} is not the alg ${alg} of key`));

      // A key embedded in the header (jwk) is never used: with our alg only
      // our key is tried, with another alg there is no key at all.
      const same = await jose.generateKeyPair(alg, { extractable: true });
      const embedded = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg, jwk: await jose.exportJWK(same.publicKey) })
        .sign(same.privateKey);
      rejects(jwks, embedded, /signature does not verify/);
      const attackerJwk = await jose.exportJWK(attacker.publicKey);
      const withJwk = await new jose.SignJWT(claims())
        .setProtectedHeader({ alg: other, jwk: attackerJwk })
        .sign(attacker.privateKey);
      rejects(jwks, withJwk, new RegExp(`no ${other} key in the key set`));

      // Unsigned.
      const none = new jose.UnsecuredJWT(claims()).encode();
      rejects(jwks, none, /alg none \(unsigned token\) is never accepted/);

      // Our own token with its header alg rewritten.
      const token = toolOk('sign', pem, file('{"sub":"alice"}')).trim();
      const [, p, s] = token.split('.');
      for (const a of ['HS256', 'none', other, 'RS512', 'PS256', 'ES384'].filter((x) => x !== alg)) {
        const h = Buffer.from(JSON.stringify({ alg: a, kid: ourJwk.kid })).toString('base64url');
        const r = tool('verify', jwks, file(`${h}.${p}.${s}`));
        assert.equal(r.code, 1, `alg ${a} accepted`);
      }
    });
  });
}

describe('a key is pinned to one alg, whatever the token says', () => {
  test('an RS256-pinned key refuses PS256 and RS384 tokens signed by its own private key', async () => {
    const pem = file(toolOk('generate', 'RS256'));
    const ourJwk = JSON.parse(toolOk('jwk', pem));
    assert.equal(ourJwk.alg, 'RS256');
    const jwks = file(toolOk('jwks', pem));
    for (const a of ['PS256', 'RS384', 'PS512', 'RS512']) {
      const key = await jose.importPKCS8(readFileSync(pem, 'utf8'), a);
      const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg: a, kid: ourJwk.kid }).sign(key);
      // The signature is genuine: npm jose verifies it with our public key.
      await jose.jwtVerify(token, await jose.importJWK({ ...ourJwk, alg: a }, a), { algorithms: [a] });
      rejects(jwks, token, new RegExp(`alg ${a} is not the alg RS256 of key`));
      // Pinned to that alg, the same public key accepts it.
      pin.alg = a;
      try {
        const pinned = file(JSON.stringify({ keys: [{ ...ourJwk, alg: undefined }] }));
        assert.equal(JSON.parse(toolOk('verify', pinned, file(token))).sub, 'alice');
      } finally {
        pin.alg = null;
      }
    }
  });

  test('an EC P-256 key refuses an ES384 token naming its kid', async () => {
    const pem = file(toolOk('generate', 'ES256'));
    const ourJwk = JSON.parse(toolOk('jwk', pem));
    const jwks = file(toolOk('jwks', pem));
    const p384 = await jose.generateKeyPair('ES384', { extractable: true });
    const token = await new jose.SignJWT(claims()).setProtectedHeader({ alg: 'ES384', kid: ourJwk.kid }).sign(p384.privateKey);
    rejects(jwks, token, /alg ES384 is not the alg ES256 of key/);
    // A P-256 JWK that claims ES384 is not a usable key at all.
    const r = tool('verify', file(JSON.stringify({ ...ourJwk, alg: 'ES384' })), file(token));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /JWK alg ES384 does not match the P-256 EC key it labels/);
  });
});
