// secrets.test.mjs -- black-box tests of `flyteauth secrets init` and
// `flyteauth hash-secret` against the real binary (FLYTEAUTH_BIN).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

import { run, tempDir } from './lib/server.mjs';

const KEYS = [
  ['claim_symmetric_key', 32],
  ['cookie_hash_key', 64],
  ['cookie_block_key', 32],
];
const PEM = 'token_rsa_key.pem';
const ALL = [...KEYS.map(([n]) => n), PEM];
const BCRYPT = /^\$2b\$(\d\d)\$[./A-Za-z0-9]{53}$/;

function readAll(dir) {
  return Object.fromEntries(ALL.map((n) => [n, readFileSync(path.join(dir, n), 'utf8')]));
}

function checkSecretsDir(dir) {
  assert.deepEqual(readdirSync(dir).sort(), [...ALL].sort(), 'exactly the four files, no temp files');
  for (const n of ALL) {
    const st = statSync(path.join(dir, n));
    assert.ok(st.isFile(), n);
    assert.equal(st.mode & 0o777, 0o600, `${n} mode`);
  }
  for (const [n, len] of KEYS) {
    const text = readFileSync(path.join(dir, n), 'utf8');
    // unpadded standard base64, no newline (what flyteadmin writes and reads)
    assert.match(text, /^[A-Za-z0-9+/]+$/, n);
    assert.equal(text.length, Math.ceil((len * 4) / 3), `${n} length`);
    assert.equal(Buffer.from(text, 'base64').length, len, `${n} decoded length`);
  }
  const pem = readFileSync(path.join(dir, PEM), 'utf8');
  assert.ok(pem.startsWith('-----BEGIN RSA PRIVATE KEY-----\n'), 'PKCS#1 PEM');
  const key = createPrivateKey({ key: pem, format: 'pem' });
  assert.equal(key.asymmetricKeyType, 'rsa');
  assert.equal(key.asymmetricKeyDetails.modulusLength, 2048);
}

function assertNoSecretsIn(text, contents) {
  for (const [n, v] of Object.entries(contents)) {
    const probe = n === PEM ? v.split('\n')[1] : v;
    assert.ok(!text.includes(probe), `output leaks ${n}`);
  }
}

test('secrets init -p DIR writes four 0600 files in flyteadmin formats', async () => {
  const base = tempDir('fa-bb-secrets-');
  try {
    const dir = path.join(base, 'nested', 'secrets');
    const r = await run(['secrets', 'init', '-p', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(dir).mode & 0o777, 0o700, 'created directory mode');
    checkSecretsDir(dir);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 4);
    for (const n of ALL) assert.ok(r.stdout.includes(`${dir}/${n}`), `stdout names ${n}`);
    assertNoSecretsIn(r.stdout + r.stderr, readAll(dir));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('secrets init refuses to overwrite, writes nothing, and --force replaces', async () => {
  const dir = tempDir('fa-bb-secrets-');
  try {
    let r = await run(['secrets', 'init', '--localPath', dir]);
    assert.equal(r.code, 0, r.stderr);
    const before = readAll(dir);

    r = await run(['secrets', 'init', '-p', dir]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^flyteauth: .*claim_symmetric_key already exists; nothing was written.*--force/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
    assert.deepEqual(readAll(dir), before, 'files unchanged');
    assert.deepEqual(readdirSync(dir).sort(), [...ALL].sort());

    // one existing file is enough to refuse them all
    const partial = tempDir('fa-bb-secrets-');
    try {
      r = await run(['secrets', 'init', '-p', partial]);
      assert.equal(r.code, 0, r.stderr);
      for (const n of ALL.slice(0, 3)) rmSync(path.join(partial, n));
      r = await run(['secrets', 'init', '-p', partial]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /token_rsa_key\.pem already exists/);
      assert.deepEqual(readdirSync(partial), [PEM]);
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }

    r = await run(['secrets', 'init', '-p', dir, '--force']);
    assert.equal(r.code, 0, r.stderr);
    checkSecretsDir(dir);
    const after = readAll(dir);
    for (const n of ALL) assert.notEqual(after[n], before[n], `${n} regenerated`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secrets init without -p writes into the current directory', async () => {
  const dir = tempDir('fa-bb-secrets-');
  try {
    const r = await run(['secrets', 'init'], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    checkSecretsDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secrets: usage errors exit 2, --help exits 0', async () => {
  const dir = tempDir('fa-bb-secrets-');
  try {
    for (const args of [
      ['secrets'],
      ['secrets', 'frobnicate'],
      ['secrets', 'init', '--bogus'],
      ['secrets', 'init', '-p'],
      ['secrets', 'init', '-p', ''],
      ['secrets', 'init', dir],
    ]) {
      const r = await run(args, { cwd: dir });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: flyteauth secrets init/);
    }
    assert.deepEqual(readdirSync(dir), [], 'bad usage writes nothing');
    for (const args of [['secrets', '--help'], ['secrets', 'init', '--help'], ['secrets', 'init', '-h']]) {
      const r = await run(args, { cwd: dir });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /usage: flyteauth secrets init \[-p DIR\] \[--force\]/);
      assert.match(r.stdout, /default: \./);
    }
    assert.deepEqual(readdirSync(dir), [], '--help writes nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function decodeHash(stdout) {
  assert.match(stdout, /^[A-Za-z0-9+/]+={0,2}\n$/, 'bare base64 on one line');
  return Buffer.from(stdout.trim(), 'base64').toString('latin1');
}

test('hash-secret reads stdin and prints base64(bcrypt) at cost 10', async () => {
  const r = await run(['hash-secret'], { input: 'hunter2-correct-horse\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().length, 80);
  const h = decodeHash(r.stdout);
  assert.match(h, BCRYPT);
  assert.equal(h.slice(0, 7), '$2b$10$');
  assert.ok(!(r.stdout + r.stderr).includes('hunter2'), 'secret not echoed');

  // a fresh salt each time
  const r2 = await run(['hash-secret'], { input: 'hunter2-correct-horse\n' });
  assert.equal(r2.code, 0);
  assert.notEqual(r2.stdout, r.stdout);
});

test('hash-secret --cost', async () => {
  for (const [args, cost] of [[['--cost', '6'], '06'], [['--cost=4'], '04'], [['--cost', '12'], '12']]) {
    const r = await run(['hash-secret', ...args], { input: 'pw' });
    assert.equal(r.code, 0, r.stderr);
    const h = decodeHash(r.stdout);
    assert.match(h, BCRYPT);
    assert.equal(h.slice(0, 7), `$2b$${cost}$`);
  }
  for (const bad of [['--cost', '3'], ['--cost', '32'], ['--cost', 'abc'], ['--cost', '-5'],
    ['--cost', ''], ['--cost'], ['--bogus'], ['extra']]) {
    const r = await run(['hash-secret', ...bad], { input: 'pw\n' });
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /usage: flyteauth hash-secret \[--cost N\]/);
  }
});

test('hash-secret refuses empty and over-long secrets', async () => {
  for (const input of ['', '\n', '\r\n']) {
    const r = await run(['hash-secret'], { input });
    assert.equal(r.code, 1, JSON.stringify(input));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^flyteauth: .*empty/);
  }
  const r73 = await run(['hash-secret', '--cost', '4'], { input: 'x'.repeat(73) + '\n' });
  assert.equal(r73.code, 1);
  assert.match(r73.stderr, /longer than 72 bytes/);
  assert.ok(!r73.stderr.includes('xxxx'), 'secret not echoed');
  const rhuge = await run(['hash-secret', '--cost', '4'], { input: 'y'.repeat(100000) });
  assert.equal(rhuge.code, 1);
  assert.match(rhuge.stderr, /longer than 72 bytes/);
  const r72 = await run(['hash-secret', '--cost', '4'], { input: 'x'.repeat(72) + '\n' });
  assert.equal(r72.code, 0, r72.stderr);
  assert.match(decodeHash(r72.stdout), BCRYPT);
  // only one newline is dropped: the second is part of the secret
  const r2nl = await run(['hash-secret', '--cost', '4'], { input: 'a\n\n' });
  assert.equal(r2nl.code, 0);
  const rnul = await run(['hash-secret', '--cost', '4'], { input: 'a\0b' });
  assert.equal(rnul.code, 1);
  assert.match(rnul.stderr, /NUL/);
});

test('hash-secret --help', async () => {
  const r = await run(['hash-secret', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /usage: flyteauth hash-secret \[--cost N\]/);
  assert.match(r.stdout, /default 10/);
});

test('no test wrote secrets into the working directory', () => {
  assert.ok(!existsSync(path.join(process.cwd(), 'claim_symmetric_key')));
});
