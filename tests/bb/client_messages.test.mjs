// client_messages.test.mjs -- the client's failures name their fix: a wait
// on another login's cache lock says so; a taken redirect-URI port is a
// port clash, not a cache-directory problem; an http:// endpoint without
// `insecure: true` names `insecure`; an untrusted TLS certificate names
// `caCertFilePath`; and logout leaves nothing in the cache directory, lock
// file included. Against the real binary and a real server.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { CI_SECRET, cli, machine, startClientServer } from './lib/client.mjs';
import { BIN, freePort, tempDir } from './lib/server.mjs';

let srv;
before(async () => { srv = await startClientServer(); });
after(async () => { await srv?.stop(); });

function pkceConfig(m, timeout = '60s') {
  return m.file('.flyte/config.yaml',
    `admin:\n  endpoint: ${srv.url}\n  insecure: true\n  authType: Pkce\n  pkceConfig:\n    timeout: ${timeout}\n`);
}

function secretConfig(m, endpoint, extra = '') {
  const secret = m.file('secrets/client_secret', `${CI_SECRET}\n`);
  return m.file('.flyte/config.yaml', `admin:\n  endpoint: ${endpoint}\n  authType: ClientSecret\n` +
    `  clientId: flytepropeller\n  clientSecretLocation: ${secret}\n${extra}`);
}

// `flyteauth login` in the background, until it waits for the browser.
async function loginWaiting(m) {
  const clean = {};
  for (const k of Object.keys(process.env)) if (/^FLYTE(CTL)?_/.test(k)) clean[k] = '';
  const child = spawn(BIN, ['login'], { env: { ...process.env, ...clean, ...m.env } });
  const p = { child, stderr: '', exited: false };
  child.stderr.on('data', (d) => { p.stderr += d; });
  child.stdout.resume();
  p.done = new Promise((resolve) => { child.on('close', () => { p.exited = true; resolve(); }); });
  const deadline = Date.now() + 20000;
  while (!/\/oauth2\/authorize\?/.test(p.stderr) && !p.exited && Date.now() < deadline) {
    await new Promise((r) => { setTimeout(r, 25); });
  }
  assert.match(p.stderr, /\/oauth2\/authorize\?/, 'login did not start waiting for the browser');
  return p;
}

test('waiting on another login\'s lock says so', async () => {
  const m = machine();
  pkceConfig(m, '3s');
  const login = await loginWaiting(m);
  try {
    const r = await cli(m, ['token']);
    assert.match(r.stderr, new RegExp(`^waiting for another flyteauth process \\(a login in progress\\?\\) that holds the token cache of ${srv.url.replaceAll('.', '\\.')}; up to \\d+s$`, 'm'));
    // The login gave up (its timeout), and then the token command went on.
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no cached token/);
  } finally {
    if (!login.exited) process.kill(login.child.pid, 'SIGTERM');
    await login.done;
  }
});

test('a taken redirect-URI port is a port clash, not a cache problem', async () => {
  const m = machine();
  pkceConfig(m);
  const holder = net.createServer();
  await new Promise((resolve) => { holder.listen(srv.cbPort, '127.0.0.1', resolve); });
  try {
    const r = await cli(m, ['login']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`port ${srv.cbPort} of the login redirect URI is in use on 127\\.0\\.0\\.1: another login \\(flyteauth, flytectl, pyflyte\\) or another program listens there; let the other process named above finish \\(or stop it\\) and try again\\n$`));
    assert.doesNotMatch(r.stderr, /cache/);
  } finally {
    await new Promise((resolve) => { holder.close(resolve); });
  }
});

test('an http:// endpoint without insecure: true names admin.insecure', async () => {
  const m = machine();
  const cfg = secretConfig(m, srv.url);
  const r = await cli(m, ['token']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `flyteauth: token: admin.endpoint (${cfg}:2:13): http:// needs admin.insecure: true (or FLYTE_PLATFORM_INSECURE=true); else use https://; fix the setting named above\n`);
  // With the setting, the same config works.
  secretConfig(m, srv.url, '  insecure: true\n');
  const ok = await cli(m, ['token']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('an untrusted TLS certificate names admin.caCertFilePath; with it, TLS passes', async () => {
  const dir = tempDir('fa-bb-tls-');
  const sh = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem',
    '-out', 'ca.pem', '-days', '1', '-subj', '/CN=flyteauth test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']);
  sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'srv.csr',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  sh(['x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem',
    '-days', '1', '-copy_extensions', 'copy']);
  const port = await freePort();
  const server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) },
    (req, res) => { res.writeHead(404); res.end(); });
  await new Promise((resolve) => { server.listen(port, '127.0.0.1', resolve); });
  try {
    const m = machine();
    secretConfig(m, `dns:///127.0.0.1:${port}`);
    const r = await cli(m, ['token']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `flyteauth: token: https://127.0.0.1:${port} (ClientSecret): https://127.0.0.1:${port}/.well-known/oauth-authorization-server: the server's TLS certificate is not signed by a CA this machine trusts; set admin.caCertFilePath to the PEM file of the CA that signed the server's certificate\n`);
    secretConfig(m, `dns:///127.0.0.1:${port}`, `  caCertFilePath: ${path.join(dir, 'ca.pem')}\n`);
    const r2 = await cli(m, ['token']);
    assert.equal(r2.code, 1);
    // Past TLS: now it is the (404) answer that is wrong.
    assert.doesNotMatch(r2.stderr, /certificate|caCertFilePath/);
    assert.match(r2.stderr, /404/);
  } finally {
    server.closeAllConnections?.();
    await new Promise((resolve) => { server.close(resolve); });
  }
});

test('logout leaves nothing in the cache directory, lock file included', async () => {
  const m = machine();
  secretConfig(m, srv.url, '  insecure: true\n');
  const dir = path.join(m.cache, 'flyteauth');
  // Not logged in: said so, and nothing is left behind either.
  const none = await cli(m, ['logout']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, `Not logged in to ${srv.url}; nothing to do\n`);
  assert.deepEqual(readdirSync(dir), []);
  const t = await cli(m, ['token']);
  assert.equal(t.code, 0, t.stderr);
  assert.ok(readdirSync(dir).some((f) => f.endsWith('.lock')), 'no lock file while logged in');
  const out = await cli(m, ['logout']);
  assert.equal(out.code, 0, out.stderr);
  assert.deepEqual(readdirSync(dir), []);
});
