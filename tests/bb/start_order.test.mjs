// start_order.test.mjs -- a start checks before it writes: config, secrets
// and the port come first; the state directory, the database and the
// once-printed credentials only after. A port already taken or a refused
// config leaves nothing behind and prints no credential. Also: the SQLite
// file defaults to the state directory, and `flyteauth dev reset` gets new
// development credentials printed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { run, startServer, tempDir } from './lib/server.mjs';

// A loopback port held by this process (as another program would hold it).
async function holdPort() {
  const s = net.createServer();
  await new Promise((resolve, reject) => {
    s.on('error', reject);
    s.listen(0, '127.0.0.1', resolve);
  });
  return { port: s.address().port, close: () => new Promise((r) => { s.close(r); }) };
}

function stateEnv(dir) {
  return { HOME: dir, XDG_STATE_HOME: path.join(dir, 'state') };
}

// Every file under dir, relative, sorted.
function files(dir) {
  return readdirSync(dir, { recursive: true }).map(String).sort();
}

test('development server on a taken port: exit 1, nothing printed, no state written', async () => {
  const dir = tempDir();
  const held = await holdPort();
  try {
    const r = await run(['serve', '--listen', `127.0.0.1:${held.port}`], { env: stateEnv(dir), cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'a credential was printed by a start that failed');
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${held.port}: Address already in use \\(another process listens there\\); nothing was started`));
    assert.doesNotMatch(r.stderr, /generated|schema/);
    assert.deepEqual(files(dir), [], 'the failed start wrote state');
  } finally {
    await held.close();
  }
  // The port free again: this first real start prints the credentials.
  const srv = await startServer({ env: stateEnv(dir) });
  try {
    assert.match(srv.stdout, /development user: flyte\npassword: /);
  } finally {
    await srv.stop();
  }
});

const CONFIG = `server:
  httpPort: PORT
  bindAddress: 127.0.0.1
secrets:
  secrets-prefix: DIR
`;

test('config file on a taken port: no database, in the state directory or here', async () => {
  const dir = tempDir();
  const held = await holdPort();
  try {
    const init = await run(['secrets', 'init', '-p', dir]);
    assert.equal(init.code, 0, init.stderr);
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, CONFIG.replace('PORT', String(held.port)).replace('DIR', dir));
    const before = files(dir);
    const r = await run(['serve', '--config', cfg], { env: stateEnv(dir), cwd: dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Address already in use/);
    assert.deepEqual(files(dir), before);
  } finally {
    await held.close();
  }
});

test('missing secrets or a refused config: nothing bound, nothing written', async () => {
  const dir = tempDir();
  const cfg = path.join(dir, 'config.yaml');
  // No secrets in DIR.
  writeFileSync(cfg, CONFIG.replace('PORT', '1').replace('DIR', dir));
  let r = await run(['serve', '--config', cfg], { env: stateEnv(dir), cwd: dir });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /secret token_rsa_key\.pem not found/);
  // Port 1 was never tried: the secrets stopped the start first.
  assert.doesNotMatch(r.stderr, /cannot listen/);
  assert.deepEqual(files(dir), ['config.yaml']);
  // A config serve refuses.
  writeFileSync(cfg, 'server:\n  httpPort: 1\n  bindAddress: 127.0.0.1\nauth:\n  appAuth:\n    selfAuthServer:\n      accessTokenLifespan: 500ms\n');
  r = await run(['serve', '--config', cfg], { env: stateEnv(dir), cwd: dir });
  assert.equal(r.code, 1);
  // Each error once: its FILE:LINE:COL line, then the one-line summary.
  assert.equal(r.stderr, `${cfg}:7:28: auth.appAuth.selfAuthServer.accessTokenLifespan: must be at least 1s\n` +
    `flyteauth: serve: ${cfg} is not a valid configuration; nothing was started\n`);
  assert.equal(r.stdout, '');
  assert.deepEqual(files(dir), ['config.yaml']);
});

test('a TLS file that cannot be read stops the start before it writes or prints', async () => {
  const dir = tempDir();
  const init = await run(['secrets', 'init', '-p', dir]);
  assert.equal(init.code, 0, init.stderr);
  const cfg = path.join(dir, 'config.yaml');
  const text = CONFIG.replace('PORT', '1').replace('DIR', dir).replace('  bindAddress: 127.0.0.1\n',
    `  bindAddress: 127.0.0.1\n  security:\n    secure: true\n    ssl:\n      certificateFile: ${dir}/missing-cert.pem\n      keyFile: ${dir}/missing-key.pem\n`);
  writeFileSync(cfg, text);
  const before = files(dir);
  const r = await run(['serve', '--config', cfg], { env: stateEnv(dir), cwd: dir });
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, `flyteauth: serve: server.security.ssl.certificateFile ${dir}/missing-cert.pem: No such file or directory; nothing was started\n`);
  assert.deepEqual(files(dir), before);
});

test('a TLS key that is not the certificate\'s, or a file that is not PEM: config check --online and serve refuse it alike, nothing written', async () => {
  // (The pair is checked by OpenSSL, then loaded by libmicrohttpd's GnuTLS
  // as the workers will load it.)
  const dir = tempDir();
  const init = await run(['secrets', 'init', '-p', dir]);
  assert.equal(init.code, 0, init.stderr);
  const sh = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem',
    '-out', 'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1']);
  sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'other-key.pem']);
  writeFileSync(path.join(dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  const cfg = path.join(dir, 'config.yaml');
  const withTls = (cert, key) => CONFIG.replace('PORT', '1').replace('DIR', dir).replace('  bindAddress: 127.0.0.1\n',
    `  bindAddress: 127.0.0.1\n  security:\n    secure: true\n    ssl:\n      certificateFile: ${dir}/${cert}\n      keyFile: ${dir}/${key}\n`);
  const cases = [
    ['cert.pem', 'other-key.pem', 'the private key is not the certificate\'s'],
    ['garbage.pem', 'key.pem', 'the certificate file holds no PEM certificate'],
    ['cert.pem', 'garbage.pem', 'the key file holds no PEM private key without a passphrase'],
  ];
  for (const [cert, key, why] of cases) {
    writeFileSync(cfg, withTls(cert, key));
    const what = `server.security.ssl.certificateFile ${dir}/${cert} with keyFile ${dir}/${key}`;
    const online = await run(['config', 'check', '--config', cfg, '--online'], { env: stateEnv(dir), cwd: dir });
    assert.equal(online.code, 1, online.stderr);
    assert.match(online.stderr, new RegExp(`^${cfg}:7:24: `));
    assert.equal(online.stderr, `${online.stderr.split(': ')[0]}: ${what}: ${why}\n` +
      'flyteauth: config check: 1 problem(s) found online\n');
    const before = files(dir);
    const r = await run(['serve', '--config', cfg], { env: stateEnv(dir), cwd: dir });
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `flyteauth: serve: ${what}: ${why}; nothing was started\n`);
    assert.deepEqual(files(dir), before);
  }
  // The matching pair passes the same check.
  writeFileSync(cfg, withTls('cert.pem', 'key.pem'));
  const ok = await run(['config', 'check', '--config', cfg, '--online'], { env: stateEnv(dir), cwd: dir });
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /configuration OK/);
});

test('a config without database.sqlite.file keeps its database in the state directory', async () => {
  const srv = await startServer({ config: CONFIG });
  try {
    assert.ok(existsSync(path.join(srv.dir, 'state', 'flyteauth', 'flyteauth.db')));
    assert.ok(!existsSync(path.join(srv.dir, 'flyteauth.db')), 'database in the working directory');
    const r = await run(['config', 'check', '--config', path.join(srv.dir, 'config.yaml')],
      { env: stateEnv(srv.dir) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^database: sqlite flyteauth\.db in the state directory \(\$XDG_STATE_HOME\/flyteauth or ~\/\.local\/state\/flyteauth; database\.sqlite\.file to choose\)$/m);
  } finally {
    await srv.stop();
  }
});

async function clientCredentials(url, secret) {
  const r = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`flytepropeller:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return r.status;
}

test('dev reset: the next start prints new credentials, and only they work', async () => {
  const dir = tempDir();
  const env = stateEnv(dir);
  // Nothing started yet: nothing to reset, and nothing is created.
  let r = await run(['dev', 'reset'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^nothing to reset: .*flyteauth\.db does not exist/);
  assert.deepEqual(files(dir), []);

  let srv = await startServer({ env });
  const first = /client secret: (\S+)/.exec(srv.stdout)[1];
  const firstPw = /password: (\S+)/.exec(srv.stdout)[1];
  process.kill(srv.pid, 'SIGTERM');
  await srv.exitPromise;

  r = await run(['dev', 'reset'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^forgot the password of the development user flyte and the secret of flytepropeller in .*flyteauth\.db\n/);

  srv = await startServer({ env });
  try {
    const second = /client secret: (\S+)/.exec(srv.stdout)[1];
    const secondPw = /password: (\S+)/.exec(srv.stdout)[1];
    assert.notEqual(second, first);
    assert.notEqual(secondPw, firstPw);
    assert.equal(await clientCredentials(srv.url, first), 401);
    assert.equal(await clientCredentials(srv.url, second), 200);
    // The keys stayed.
    assert.doesNotMatch(srv.stderr, /generated server secrets/);
  } finally {
    await srv.stop();
  }
  r = await run(['dev', 'bogus']);
  assert.equal(r.code, 2);
});

