// serve.test.mjs -- `flyteauth serve` as an operator meets it: the
// development server on its embedded defaults, a config file, bad configs
// refused before anything listens, bounded requests, an access log that
// never holds a secret, and a clean stop on SIGTERM.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  AS_ROOT, BIN, freePort, rawRequest, run, serveArgv, startServer, statusOf, tempDir,
} from './lib/server.mjs';

const CONFIG = `
server:
  httpPort: PORT
  bindAddress: 127.0.0.1
database:
  sqlite:
    file: DIR/flyteauth.db
secrets:
  secrets-prefix: DIR
`;

// Issue 9 item 8: root is refused unless --allow-root says so. Only root
// can see the refusal (CI and containers run the suite as root).
test('serve refuses to run as root without --allow-root', { skip: !AS_ROOT && 'not running as root' }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { existsSync } = await import('node:fs');
  const dir = tempDir();
  const port = await freePort();
  const env = { ...process.env, HOME: dir, XDG_STATE_HOME: path.join(dir, 'state'),
    FLYTEAUTH_LISTEN: `127.0.0.1:${port}` };
  const r = spawnSync(BIN, ['serve'], { env, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /refusing to run as root \(uid 0\).*--allow-root/);
  assert.doesNotMatch(r.stderr, /listening/);
  assert.equal(existsSync(path.join(dir, 'state')), false, 'nothing written');
  // The flag is the only difference: with it, the same start comes up.
  const srv = await startServer({ port });
  try {
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
  } finally {
    await srv.stop();
  }
});

test('--listen and FLYTEAUTH_LISTEN: bad values are refused before anything starts', async () => {
  for (const [args, env, re] of [
    [['--listen', '127.0.0.1:0'], {}, /--listen: expected ADDR:PORT with a port in 1\.\.65535/],
    [['--listen', '127.0.0.1:70000'], {}, /--listen: expected ADDR:PORT/],
    [['--listen', '::1:8088'], {}, /--listen: write an IPv6 address in brackets/],
    [[], { FLYTEAUTH_LISTEN: 'localhost:http' }, /FLYTEAUTH_LISTEN: expected ADDR:PORT/],
  ]) {
    const dir = tempDir();
    const r = await run(['serve', ...args], { env: { HOME: dir, XDG_STATE_HOME: path.join(dir, 'state'), ...env } });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /listening/);
  }
  const r = await run(['serve', '--listen']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--listen needs ADDR:PORT/);
});

test('development server: embedded defaults on loopback, secrets generated once', async (t) => {
  const srv = await startServer();
  let firstKey;
  try {
    const r = await fetch(`http://127.0.0.1:${srv.port}/healthcheck`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'OK\n');
    // SPEC §4: ready when the store answers.
    const ready = await fetch(`${srv.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.equal(await ready.text(), 'ready\n');
    assert.equal((await fetch(`${srv.url}/readyz`, { method: 'HEAD' })).status, 200);
    const state = path.join(srv.dir, 'state', 'flyteauth');
    for (const f of ['claim_symmetric_key', 'cookie_hash_key', 'cookie_block_key', 'token_rsa_key.pem', 'flyteauth.db']) {
      const st = statSync(path.join(state, f));
      assert.equal(st.mode & 0o777, 0o600, `${f} mode`);
    }
    assert.equal(statSync(state).mode & 0o777, 0o700);
    firstKey = readFileSync(path.join(state, 'token_rsa_key.pem'), 'utf8');
    assert.match(firstKey, /^-----BEGIN RSA PRIVATE KEY-----/);
    await logged(srv, new RegExp(`listening on http://127\\.0\\.0\\.1:${srv.port}`));
    // The issuer follows the port actually served.
    const md = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
    assert.equal(md.issuer, `http://localhost:${srv.port}`);
    // First start: the development user and the flytepropeller secret, once, on stdout only.
    assert.match(srv.stdout, /development user: flyte\npassword: [A-Za-z0-9_-]{16,}\n/);
    assert.match(srv.stdout, /generated confidential client: flytepropeller\nclient secret: [A-Za-z0-9_-]{32,}\n/);
    const pw = /password: (\S+)/.exec(srv.stdout)[1];
    assert.ok(!srv.stderr.includes(pw), 'the password reached the log');
  } finally {
    // Stop without removing the dir: the restart must reuse its secrets.
    process.kill(srv.pid, 'SIGTERM');
    await srv.exitPromise;
  }
  t.diagnostic('restart with the same state dir');
  const { spawn } = await import('node:child_process');
  const port2 = await freePort();
  const again = spawn(process.env.FLYTEAUTH_BIN, serveArgv(['serve', '--listen', `127.0.0.1:${port2}`]), {
    env: { ...process.env, HOME: srv.dir, XDG_STATE_HOME: path.join(srv.dir, 'state'), FLYTEAUTH_LISTEN: '127.0.0.1:1' },
  });
  let err = '';
  let out = '';
  again.stderr.on('data', (d) => { err += d; });
  again.stdout.on('data', (d) => { out += d; });
  try {
    for (let i = 0; i < 300 && !/listening/.test(err); i++) await new Promise((r) => setTimeout(r, 20));
    // --listen beats FLYTEAUTH_LISTEN.
    assert.match(err, new RegExp(`listening on http://127\\.0\\.0\\.1:${port2}`));
    assert.doesNotMatch(err, /generated server secrets/);
    assert.doesNotMatch(out, /password|client secret/);
    const key = readFileSync(path.join(srv.dir, 'state', 'flyteauth', 'token_rsa_key.pem'), 'utf8');
    assert.equal(key, firstKey);
  } finally {
    again.kill('SIGTERM');
    await new Promise((r) => again.on('close', r));
    await srv.stop();
  }
});

test('config file: serves, and stops cleanly on SIGTERM with exit 0', async () => {
  const srv = await startServer({ config: CONFIG });
  const r = await fetch(`${srv.url}/healthcheck`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  const exit = await srv.stop();
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.match(srv.stderr, /SIGTERM received, stopping/);
  assert.match(srv.stderr, /stopped/);
});

test('a second server on the same address and port fails with one line; the first keeps serving', async () => {
  const first = await startServer({ config: CONFIG });
  try {
    const dir = tempDir();
    const { writeFileSync } = await import('node:fs');
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, CONFIG.replaceAll('PORT', String(first.port)).replaceAll('DIR', dir));
    assert.equal((await run(['secrets', 'init', '-p', dir])).code, 0);
    const r = await run(['serve', '--config', cfg]);
    assert.equal(r.code, 1);
    // Log lines (time-stamped warnings about this config) aside, one line.
    const errors = r.stderr.split('\n').filter((l) => l && !/^\d{4}-\d\d-\d\dT/.test(l));
    assert.deepEqual(errors, [
      `flyteauth: serve: cannot listen on 127.0.0.1:${first.port}: Address already in use ` +
        '(another process listens there); nothing was started',
    ]);
    assert.doesNotMatch(r.stderr, /listening on/);
    // Nothing was shared: every request still reaches the first server.
    for (let i = 0; i < 20; i++) {
      assert.equal((await fetch(`${first.url}/healthcheck`)).status, 200);
    }
  } finally {
    await first.stop();
  }
  assert.match(first.stderr, /http: requests per worker:( \d+)+; open connections:/);
});

// The first match of re in the server's log, waiting up to 5 s for it:
// the log is read asynchronously, and serve may answer before a line it
// writes right after starting reaches us.
async function logged(srv, re) {
  let m = re.exec(srv.stderr);
  for (let i = 0; i < 250 && !m; i++) {
    await new Promise((r) => setTimeout(r, 20));
    m = re.exec(srv.stderr);
  }
  assert.ok(m, `${re} not in:\n${srv.stderr}`);
  return m;
}

// SIGUSR1's answer: the requests each HTTP worker has served.
async function servedPerWorker(srv) {
  process.kill(srv.pid, 'SIGUSR1');
  const m = await logged(srv, /http: requests per worker:((?: \d+)+); open connections:/);
  return m[1].trim().split(' ').map(Number);
}

test('SIGUSR1 logs the requests each HTTP worker has served', async () => {
  const srv = await startServer({ config: CONFIG });
  try {
    for (let i = 0; i < 10; i++) assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
    const served = await servedPerWorker(srv);
    // startServer's own health checks come before ours.
    assert.ok(served.reduce((a, b) => a + b, 0) >= 10, served.join(' '));
  } finally {
    await srv.stop();
  }
  assert.equal(srv.exited.code, 0);
});

// Threads follow the CPUs the server may use, not the machine's count
// (a container's quota or a cpuset), unless server.workers /
// server.bcryptWorkers say otherwise; SIGUSR1 shows the workers that run.
test('workers: one per usable CPU (taskset), or server.workers / bcryptWorkers', async () => {
  let srv = await startServer({ config: CONFIG, exec: ['taskset', '-c', '0'] });
  try {
    await logged(srv, /listening on http:\/\/127\.0\.0\.1:\d+ \(1 HTTP worker, 1 bcrypt worker; 1 CPU usable\)/);
    assert.equal((await servedPerWorker(srv)).length, 1);
  } finally {
    await srv.stop();
  }
  srv = await startServer({ config: CONFIG.replace('server:\n', 'server:\n  workers: 3\n  bcryptWorkers: 2\n') });
  try {
    // However many CPUs this machine lets it use (a CI container's quota
    // may be below what Node counts), the keys decide.
    await logged(srv, /listening on .* \(3 HTTP workers, 2 bcrypt workers; \d+ CPUs? usable\)/);
    assert.equal((await servedPerWorker(srv)).length, 3);
  } finally {
    await srv.stop();
  }
  assert.equal(srv.exited.code, 0);
});

test('a bad config starts nothing: exit 1 and FILE:LINE:COL lines', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'bad.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(cfg, 'server:\n  httpPort: 8088\n  securty:\n    secure: false\nauth:\n  appAuth:\n    authServerType: Sometimes\n');
  const r = await run(['serve', '--config', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`${cfg.replaceAll('/', '\\/')}:3:3: .*securty.*did you mean "security"`));
  assert.match(r.stderr, new RegExp(`${cfg.replaceAll('/', '\\/')}:7:21: .*Sometimes`));
  assert.match(r.stderr, /nothing was started/);
  assert.doesNotMatch(r.stderr, /listening/);
});

test('unknown path is 404 JSON, wrong method is 405 with Allow', async () => {
  const srv = await startServer({ config: CONFIG });
  try {
    let r = await fetch(`${srv.url}/nope`);
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type'), /application\/json/);
    r = await fetch(`${srv.url}/healthcheck`, { method: 'DELETE' });
    assert.equal(r.status, 405);
    assert.match(r.headers.get('allow'), /GET/);
  } finally {
    await srv.stop();
  }
});

test('oversized request line and headers get 4xx and the server stays healthy', async () => {
  const srv = await startServer({ config: CONFIG });
  try {
    const longLine = `GET /healthcheck?x=${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    const r1 = await rawRequest(srv.port, longLine);
    assert.ok([414, 431, 400].includes(statusOf(r1)), `request line: ${r1.slice(0, 60)}`);
    const bigHeader = `GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(9000)}\r\nConnection: close\r\n\r\n`;
    assert.equal(statusOf(await rawRequest(srv.port, bigHeader)), 431);
    let many = 'GET /healthcheck HTTP/1.1\r\nHost: x\r\nConnection: close\r\n';
    for (let i = 0; i < 100; i++) many += `X-H${i}: v\r\n`;
    assert.equal(statusOf(await rawRequest(srv.port, `${many}\r\n`)), 431);
    const dup = await rawRequest(srv.port, 'GET /healthcheck?a=1&a=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(dup), 400);
    assert.match(dup, /"error":"invalid_request"/);
    const ok = await fetch(`${srv.url}/healthcheck`);
    assert.equal(ok.status, 200);
  } finally {
    await srv.stop();
  }
});

test('the access log never holds a token, code or secret', async () => {
  const srv = await startServer({ config: CONFIG });
  try {
    const r = await fetch(`${srv.url}/healthcheck?code=SECRETCODE123&access_token=SECRETTOKEN456`, {
      headers: { Authorization: 'Bearer SECRETBEARER789', Cookie: 'flyte_session=SECRETCOOKIE' },
    });
    assert.equal(r.status, 200);
  } finally {
    await srv.stop();
  }
  assert.match(srv.stderr, /GET \/healthcheck 200/);
  for (const s of ['SECRETCODE123', 'SECRETTOKEN456', 'SECRETBEARER789', 'SECRETCOOKIE']) {
    assert.ok(!srv.stderr.includes(s), `${s} leaked into the log`);
  }
});

test('a missing secret stops serve with one line naming it and where it was looked for', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'config.yaml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(cfg, CONFIG.replaceAll('PORT', '18099').replaceAll('DIR', dir));
  const r = await run(['serve', '--config', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /token_rsa_key\.pem/);
  assert.match(r.stderr, /FLYTE_SECRET_token_rsa_key\.pem/);
  assert.doesNotMatch(r.stderr, /listening/);
});
