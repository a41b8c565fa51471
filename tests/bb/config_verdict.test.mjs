// config_verdict.test.mjs -- one verdict: every config fixture under
// tests/config/ (the seed's examples, the full flyteadmin config, and the
// cases in tests/config/verdict/ where the two used to disagree) goes
// through `config check`, `config check --online` and `serve`, with every
// secret the server needs at hand; all three accept it, or all three refuse
// it with the same FILE:LINE:COL lines, and serve refuses before it writes
// anything (no database file appears).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { secretFiles } from './lib/identity.mjs';
import { BIN, freePort, run, serveArgv, tempDir } from './lib/server.mjs';

const CONFIGS = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config');

function fixtures() {
  const out = [];
  for (const dir of ['', 'seed', 'verdict']) {
    for (const f of readdirSync(path.join(CONFIGS, dir))) {
      if (f.endsWith('.yaml')) out.push(path.join(CONFIGS, dir, f));
    }
  }
  return out.sort();
}

// The error lines about the file: "FILE:LINE:COL: message" or "FILE: message",
// not warnings or notes, not the one-line summary.
function errorLines(stderr, file) {
  return stderr.split('\n')
    .filter((l) => l.startsWith(`${file}:`) && !/^[^ ]*: (warning|note): /.test(l))
    .sort();
}

// The server's secrets through the environment, as an operator's
// deployment may hand them over (FLYTE_SECRET_<name>).
function secretEnv(dir) {
  const env = { HOME: dir, XDG_STATE_HOME: path.join(dir, 'state') };
  for (const [name, value] of Object.entries(secretFiles())) env[`FLYTE_SECRET_${name}`] = value;
  return env;
}

// Runs serve until it listens (true) or exits (its stderr).
async function serveVerdict(file, dir, env) {
  const port = await freePort();
  const child = spawn(BIN, serveArgv(['serve', '--config', file, '--listen', `127.0.0.1:${port}`]),
    { cwd: dir, env: { ...process.env, ...env } });
  let stderr = '';
  let exited = null;
  child.stderr.on('data', (d) => { stderr += d; });
  child.stdout.resume();
  const done = new Promise((resolve) => {
    child.on('close', (code) => { exited = code; resolve(); });
  });
  const deadline = Date.now() + 20000;
  while (exited === null && !/listening on http/.test(stderr) && Date.now() < deadline) {
    await new Promise((r) => { setTimeout(r, 25); });
  }
  const listening = exited === null;
  if (listening) process.kill(child.pid, 'SIGTERM');
  await done;
  return { listening, code: exited, stderr };
}

test('config check, config check --online and serve give one verdict on every fixture', async () => {
  const files = fixtures();
  assert.ok(files.length >= 15, `only ${files.length} fixtures`);
  let accepted = 0;
  let refused = 0;
  for (const file of files) {
    const dir = tempDir();
    try {
      const env = secretEnv(dir);
      const check = await run(['config', 'check', '--config', file], { env, cwd: dir });
      const srv = await serveVerdict(file, dir, env);
      const name = path.basename(file);
      assert.equal(srv.listening, check.code === 0,
        `${name}: config check exit ${check.code}, serve ${srv.listening ? 'listened' : `exit ${srv.code}`}\n` +
        `${check.stderr}\n---\n${srv.stderr}`);
      if (check.code === 0) {
        accepted++;
        assert.match(check.stdout, /configuration OK\nhint: .*--online/, name);
        const online = await run(['config', 'check', '--config', file, '--online'], { env, cwd: dir });
        assert.equal(online.code, 0, `${name}: --online: ${online.stderr}`);
      } else {
        refused++;
        const lines = errorLines(check.stderr, file);
        assert.ok(lines.length > 0, `${name}: no FILE:LINE:COL line: ${check.stderr}`);
        assert.deepEqual(errorLines(srv.stderr, file), lines, name);
        assert.doesNotMatch(check.stdout, /configuration OK/, name);
        // Refused before anything was written.
        assert.ok(!existsSync(path.join(dir, 'flyteauth.db')), `${name}: serve wrote its database`);
        const online = await run(['config', 'check', '--config', file, '--online'], { env, cwd: dir });
        assert.equal(online.code, 1, name);
        assert.deepEqual(errorLines(online.stderr, file), lines, `${name} --online`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.ok(accepted >= 2 && refused >= 10, `accepted ${accepted}, refused ${refused}`);
});

test('what this build cannot serve yet is refused at its key, once each', async () => {
  const expected = {
    'flyte-binary-oidc.yaml': ['auth.userAuth.openId.baseUrl'],
    'flyte-binary-external.yaml': ['auth.userAuth.openId.baseUrl'],
    'flyte-core-external.yaml': ['auth.userAuth.openId.baseUrl'],
    'flyte-core-entra-fixed.yaml': ['auth.userAuth.openId.baseUrl'],
    'flyte-core-oidc-fixed.yaml': ['auth.userAuth.openId.baseUrl'],
    'flyteadmin-full.yaml': ['auth.userAuth.openId.baseUrl'],
  };
  for (const file of fixtures()) {
    const keys = expected[path.basename(file)];
    if (!keys) continue;
    const r = await run(['config', 'check', '--config', file]);
    assert.equal(r.code, 1, file);
    const lines = errorLines(r.stderr, file);
    assert.equal(lines.length, keys.length, `${file}: ${r.stderr}`);
    for (const key of keys) {
      assert.ok(lines.some((l) => new RegExp(`^[^ ]+:\\d+:\\d+: ${key.replaceAll('.', '\\.')}.* is not supported yet by this build; use `).test(l)),
        `${file}: no refusal of ${key}: ${r.stderr}`);
    }
  }
});
