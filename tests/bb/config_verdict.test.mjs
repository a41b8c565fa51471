// config_verdict.test.mjs -- one verdict: every config fixture under
// tests/config/ (the seed's examples, the full flyteadmin config, and the
// cases in tests/config/verdict/ where the two used to disagree) goes
// through `config check`, `config check --online` and `serve`, with every
// secret the server needs at hand; all three accept it, or all three refuse
// it with the same FILE:LINE:COL lines, and serve refuses before it writes
// anything (no database file appears).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
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
// deployment may hand them over (FLYTE_SECRET_<name>), with the IdP's
// client secret; flyteadmin-full.yaml names its own prefix and names.
function secretEnv(dir, file) {
  const env = { HOME: dir, XDG_STATE_HOME: path.join(dir, 'state') };
  const s = secretFiles();
  for (const [name, value] of Object.entries(s)) env[`FLYTE_SECRET_${name}`] = value;
  env.FLYTE_SECRET_oidc_client_secret = 'idp-client-secret';
  if (path.basename(file) === 'flyteadmin-full.yaml') {
    Object.assign(env, {
      ACME_SECRET_hash_key: s.cookie_hash_key, ACME_SECRET_block_key: s.cookie_block_key,
      ACME_SECRET_claim_key: s.claim_symmetric_key,
      // Its tokenSigningAlgorithm is ES256.
      'ACME_SECRET_signing.pem': generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' }),
      ACME_SECRET_idp_secret: 'idp-client-secret',
    });
  }
  return env;
}

// Fixtures that name an IdP or external authorization server on the
// internet (the seed's Okta and Entra ID tenants, idp.example.com), which a
// test cannot reach: `config check` accepts them, `--online` refuses them
// only for that (one "cannot reach" line per service), and serve, with an
// upstream IdP alone, starts all the same (discovery retries in the
// background), while External mode refuses to start without its
// authorization server's metadata. flyteadmin-full.yaml also serves TLS
// from /etc/tls, which the test does not have: --online says so beside the
// IdP it cannot reach, and serve refuses to start for it.
const EXTERNAL = /externalAuthServer\.baseUrl: .*nothing was started/;
const NO_TLS = /:\d+:\d+: server\.security\.ssl\.certificateFile \/etc\/tls\/tls\.crt: No such file or directory$/;
const REMOTE = new Map([
  ['flyte-binary-oidc.yaml', { reach: 1, serves: true }],
  ['flyte-core-oidc-fixed.yaml', { reach: 1, serves: true }],
  ['flyteadmin-full.yaml', { reach: 1, tls: 1, serves: false, why: /ssl\.certificateFile \/etc\/tls\/tls\.crt/ }],
  ['flyte-binary-external.yaml', { reach: 2, serves: false, why: EXTERNAL }],
  ['flyte-core-external.yaml', { reach: 2, serves: false, why: EXTERNAL }],
  ['flyte-core-entra-fixed.yaml', { reach: 2, serves: false, why: EXTERNAL }],
]);

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
  let remotes = 0;
  for (const file of files) {
    const dir = tempDir();
    try {
      const env = secretEnv(dir, file);
      const name = path.basename(file);
      const check = await run(['config', 'check', '--config', file], { env, cwd: dir });
      const remote = REMOTE.get(name);
      if (remote) {
        assert.equal(check.code, 0, `${name}: ${check.stderr}`);
        const online = await run(['config', 'check', '--config', file, '--online'], { env, cwd: dir });
        assert.equal(online.code, 1, name);
        const lines = errorLines(online.stderr, file);
        assert.equal(lines.length, remote.reach + (remote.tls ?? 0), `${name}: ${online.stderr}`);
        const tls = lines.filter((l) => NO_TLS.test(l));
        assert.equal(tls.length, remote.tls ?? 0, `${name}: ${online.stderr}`);
        for (const l of lines.filter((x) => !NO_TLS.test(x))) {
          assert.match(l, /:\d+:\d+: cannot reach the .* at https:\/\//, name);
        }
        const srv = await serveVerdict(file, dir, env);
        assert.equal(srv.listening, remote.serves, `${name}: ${srv.stderr}`);
        if (!remote.serves) assert.match(srv.stderr, remote.why, name);
        remotes++;
        continue;
      }
      const srv = await serveVerdict(file, dir, env);
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
  assert.ok(accepted >= 2 && refused >= 8, `accepted ${accepted}, refused ${refused}`);
  assert.equal(remotes, REMOTE.size);
});
