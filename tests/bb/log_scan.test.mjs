// log_scan.test.mjs -- the log scan that ends `make test`'s black-box
// suite (tests/tools/log_scan.mjs; issue 9 item 9) finds a recorded secret
// in a log and fails naming the log and the kind of secret, never the
// secret itself; a clean set of logs passes; and nothing recorded at all
// is a failure, not a pass. (The real case is `make test` itself.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { tempDir } from './lib/server.mjs';

const SCAN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'log_scan.mjs');

function scan(dir) {
  return spawnSync(process.execPath, [SCAN, dir], { encoding: 'utf8' });
}

function fixture(records, logs) {
  const dir = tempDir('fa-bb-scan-');
  mkdirSync(path.join(dir, 'secrets'));
  mkdirSync(path.join(dir, 'logs'));
  writeFileSync(path.join(dir, 'secrets', '1.jsonl'),
    records.map(([kind, value]) => `${JSON.stringify({ kind, value, file: 'x.test.mjs' })}\n`).join(''));
  for (const [name, text] of Object.entries(logs)) writeFileSync(path.join(dir, 'logs', name), text);
  return dir;
}

const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz';
const REFRESH = 'Zq3xR7vK9mP2wL5tY8nB4cD6fG1hJ0sA3eU7iO9pQ2r';

test('a secret in a log fails the scan, naming the log and the kind only', () => {
  const dir = fixture([['access token', TOKEN], ['refresh token', REFRESH], ['password', 'correct-horse']],
    { 'a-serve.log': 'info listening\n', 'b-serve.log': `warn bad request: token=${REFRESH} refused\n` });
  const r = scan(dir);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /b-serve\.log contains a refresh token \(recorded by x\.test\.mjs\)/);
  assert.doesNotMatch(r.stderr, /a-serve\.log/);
  assert.match(r.stdout, /2 logs .* searched for 3 sensitive strings/);
  assert.ok(!(r.stdout + r.stderr).includes(REFRESH), 'the secret itself is never printed');
});

test('clean logs pass; nothing recorded fails', () => {
  const clean = scan(fixture([['access token', TOKEN]], { 's.log': `info token ${TOKEN.slice(0, 7)}… verified\n` }));
  assert.equal(clean.status, 0, clean.stderr);
  assert.match(clean.stdout, /no secret in any log/);
  const empty = scan(fixture([], {}));
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /nothing was recorded/);
});
