// rotation.test.mjs -- `flyteauth secrets rotate` against a running
// deployment: a server issues tokens, the keys are rotated on disk, the
// server restarts on the same state and keys, and tokens signed with
// either key pass /me and introspection while new ones carry the new kid;
// JWKS lists both keys, current first, and npm jose (what a resource
// server would run) verifies both through it. Also: the refusal to drop a
// live old key, --force, the two-step rotation for several instances, a
// change of algorithm, and the empty old key a systemd unit passes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';

import { CLIENT_SECRET, clientToken, hashSecret, me } from './lib/identity.mjs';
import { freePort, run, startServer, tempDir } from './lib/server.mjs';

const CUR = 'token_rsa_key.pem';
const OLD = 'token_rsa_key_old.pem';

// One installation: its keys and database live in `dir` across restarts.
async function installation({ alg = 'RS256' } = {}) {
  const dir = tempDir('fa-bb-rotate-');
  const r = await run(['secrets', 'init', '-p', dir]);
  assert.equal(r.code, 0, r.stderr);
  const secret = await hashSecret(CLIENT_SECRET);
  const config = (tokenAlg) => `
server: {httpPort: PORT, bindAddress: 127.0.0.1}
database: {sqlite: {file: ${dir}/flyteauth.db}}
secrets: {secrets-prefix: ${dir}, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      tokenSigningAlgorithm: ${tokenAlg}
      staticClients:
        flytepropeller: {id: flytepropeller, client_secret: '${secret}', grant_types: [client_credentials],
                         response_types: [token], scopes: [all], public: false}
`;
  // Restarts keep the port, and so the issuer, as a real deployment does.
  const port = await freePort();
  return {
    dir,
    start: (tokenAlg = alg) => startServer({ config: config(tokenAlg), secrets: false, port }),
    rotate: (...args) => run(['secrets', 'rotate', '-p', dir, ...args]),
    read: (name) => readFileSync(path.join(dir, name), 'utf8'),
  };
}

async function jwks(srv) {
  const res = await fetch(`${srv.url}/oauth2/jwks`);
  assert.equal(res.status, 200);
  return (await res.json()).keys.map((k) => k.kid);
}

async function introspect(srv, token) {
  const basic = Buffer.from(`flytepropeller:${CLIENT_SECRET}`).toString('base64');
  const res = await fetch(`${srv.url}/oauth2/introspect`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }),
  });
  assert.equal(res.status, 200);
  return res.json();
}

// The token passes everywhere a relying party checks it.
async function accepted(srv, token) {
  const m = await me(srv.url, { authorization: `Bearer ${token}` });
  assert.equal(m.status, 200, m.text);
  assert.equal((await introspect(srv, token)).active, true);
  const set = createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`));
  await jwtVerify(token, set, { issuer: srv.url, typ: 'at+jwt' });
}

const kid = (token) => decodeProtectedHeader(token).kid;

function dirNames(dir) {
  return readdirSync(dir).filter((n) => !n.startsWith('flyteauth.db')).sort();
}

test('rotate: old tokens stay valid, new ones carry the new kid, JWKS lists both, current first', async () => {
  const inst = await installation();
  let srv = await inst.start();
  let t1;
  try {
    t1 = await clientToken(srv.url, 'flytepropeller');
    assert.deepEqual(await jwks(srv), [kid(t1)]);
  } finally {
    await srv.stop();
  }
  const before = inst.read(CUR);

  let r = await inst.rotate();
  assert.equal(r.code, 0, r.stderr);
  // The previous key, byte for byte, in the old slot; a new one in its place.
  assert.equal(inst.read(OLD), before);
  assert.notEqual(inst.read(CUR), before);
  assert.match(inst.read(CUR), /^-----BEGIN RSA PRIVATE KEY-----\n/, 'same type: RSA, PKCS#1');
  for (const n of [CUR, OLD]) assert.equal(statSync(path.join(inst.dir, n)).mode & 0o777, 0o600, n);
  assert.deepEqual(dirNames(inst.dir),
    ['claim_symmetric_key', 'cookie_block_key', 'cookie_hash_key', CUR, OLD], 'no temp file left');
  assert.ok(r.stdout.includes(kid(t1)), 'names the old kid');
  assert.ok(!r.stdout.includes('PRIVATE KEY') && !r.stderr.includes('PRIVATE KEY'));

  srv = await inst.start();
  try {
    const t2 = await clientToken(srv.url, 'flytepropeller');
    assert.notEqual(kid(t2), kid(t1));
    assert.ok(r.stdout.includes(kid(t2)), 'names the new kid');
    assert.deepEqual(await jwks(srv), [kid(t2), kid(t1)]);
    await accepted(srv, t1);
    await accepted(srv, t2);
  } finally {
    await srv.stop();
  }

  // A second rotation would drop the key t1 was signed with: refused,
  // nothing changes.
  const files = { cur: inst.read(CUR), old: inst.read(OLD) };
  r = await inst.rotate();
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^flyteauth: .*token_rsa_key_old\.pem exists; tokens signed with it may still be live.*--force/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.deepEqual({ cur: inst.read(CUR), old: inst.read(OLD) }, files);

  // --force drops it: t1 is refused from then on, t2 still passes.
  r = await inst.rotate('--force');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(inst.read(OLD), files.cur);
  srv = await inst.start();
  try {
    const t3 = await clientToken(srv.url, 'flytepropeller');
    const m = await me(srv.url, { authorization: `Bearer ${t1}` });
    assert.equal(m.status, 401);
    assert.match(m.res.headers.get('www-authenticate'), /invalid_token/);
    const list = await jwks(srv);
    assert.equal(list.length, 2);
    assert.equal(list[0], kid(t3));
    assert.ok(!list.includes(kid(t1)));
  } finally {
    await srv.stop();
  }
});

test('two steps for several instances: --stage publishes the new key, --promote signs with it', async () => {
  const inst = await installation();
  let r = await inst.rotate('--promote');
  assert.equal(r.code, 1, 'nothing staged yet');
  assert.match(r.stderr, /nothing is staged to promote/);

  let srv = await inst.start();
  const t1 = await clientToken(srv.url, 'flytepropeller');
  await srv.stop();
  r = await inst.rotate('--stage');
  assert.equal(r.code, 0, r.stderr);
  const staged = inst.read(OLD);

  // Every instance restarted after --stage accepts the staged key and
  // publishes it, but still signs with the current one.
  srv = await inst.start();
  let kStaged;
  try {
    const t = await clientToken(srv.url, 'flytepropeller');
    assert.equal(kid(t), kid(t1));
    const list = await jwks(srv);
    assert.equal(list.length, 2);
    assert.equal(list[0], kid(t1));
    kStaged = list[1];
  } finally {
    await srv.stop();
  }

  r = await inst.rotate('--promote');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(inst.read(CUR), staged);
  srv = await inst.start();
  try {
    const t2 = await clientToken(srv.url, 'flytepropeller');
    assert.equal(kid(t2), kStaged);
    assert.deepEqual(await jwks(srv), [kStaged, kid(t1)]);
    await accepted(srv, t1);
    await accepted(srv, t2);
  } finally {
    await srv.stop();
  }
});

test('--alg changes the algorithm; tokens of the old algorithm still verify', async () => {
  const inst = await installation();
  let srv = await inst.start();
  const t1 = await clientToken(srv.url, 'flytepropeller');
  await srv.stop();
  const r = await inst.rotate('--alg', 'ES256');
  assert.equal(r.code, 0, r.stderr);
  assert.match(inst.read(CUR), /^-----BEGIN PRIVATE KEY-----\n/);
  // The config must follow: a server still set to RS256 refuses the key.
  await assert.rejects(inst.start('RS256'), /ES256|EC/);
  srv = await inst.start('ES256');
  try {
    const t2 = await clientToken(srv.url, 'flytepropeller');
    assert.equal(decodeProtectedHeader(t2).alg, 'ES256');
    assert.equal(decodeProtectedHeader(t1).alg, 'RS256');
    await accepted(srv, t1);
    await accepted(srv, t2);
  } finally {
    await srv.stop();
  }
});

test('an empty old key (what the systemd unit passes when there is none) means no old key', async () => {
  const inst = await installation();
  writeFileSync(path.join(inst.dir, OLD), '\n', { mode: 0o600 });
  const srv = await inst.start();
  try {
    const t = await clientToken(srv.url, 'flytepropeller');
    assert.deepEqual(await jwks(srv), [kid(t)]);
  } finally {
    await srv.stop();
  }
  // ...but an old key that is not a key stops the start.
  writeFileSync(path.join(inst.dir, OLD), 'not a key\n', { mode: 0o600 });
  await assert.rejects(inst.start(), /token_rsa_key_old\.pem/);
});

test('rotate refuses what it cannot do and changes nothing', async () => {
  const dir = tempDir('fa-bb-rotate-');
  let r = await run(['secrets', 'rotate', '-p', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /token_rsa_key\.pem does not exist: there is no key to rotate/);
  writeFileSync(path.join(dir, CUR), 'not a key\n', { mode: 0o600 });
  r = await run(['secrets', 'rotate', '-p', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not an unencrypted PEM private key/);
  assert.deepEqual(readdirSync(dir), [CUR]);
  for (const argv of [['--alg', 'HS256'], ['--stage', '--promote'], ['--promote', '--alg', 'ES256'],
    ['--key', OLD, '--old-key', OLD], ['--key', '../x'], ['-p']]) {
    r = await run(['secrets', 'rotate', '-p', dir, ...argv]);
    assert.ok([1, 2].includes(r.code), `${argv.join(' ')}: ${r.code}`);
    assert.match(r.stderr, /^flyteauth: /);
  }
  assert.deepEqual(readdirSync(dir), [CUR]);
});
