// client_device.test.mjs -- `flyteauth login` with authType DeviceFlow
// against the real server's device grant (RFC 8628): the CLI prints the
// verification URI and user code, a scripted user approves (or denies) on
// the /device page after logging in, and the CLI's polling ends with a
// cached token and refresh token -- so the headless machine then gets
// tokens without logging in again. Skipped when the server does not
// advertise a device_authorization_endpoint.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { BIN } from './lib/server.mjs';
import { Jar, login } from './lib/identity.mjs';
import { PASSWORD, cli, machine, startClientServer, verified } from './lib/client.mjs';

let srv;
let hasDevice = false;

before(async () => {
  srv = await startClientServer({ extraSelf: '      devicePollInterval: 1s\n' });
  const md = await (await fetch(`${srv.url}/.well-known/oauth-authorization-server`)).json();
  hasDevice = Boolean(md.device_authorization_endpoint);
});
after(async () => { await srv?.stop(); });

// Starts `flyteauth login`, resolves with the code once the CLI shows it,
// and with the exit once it ends.
function startLogin(m) {
  const clean = {};
  for (const k of Object.keys(process.env)) if (/^FLYTE(CTL)?_/.test(k)) clean[k] = '';
  const child = spawn(BIN, ['login'], { env: { ...process.env, ...clean, ...m.env } });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { out.stdout += d; });
  const shown = new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      out.stderr += d;
      const mm = /open (\S+) on any device and enter the code (\S+)\n/.exec(out.stderr);
      if (mm) resolve({ uri: mm[1], code: mm[2] });
    });
    child.on('close', () => reject(new Error(`login ended first: ${out.stderr}`)));
  });
  shown.catch(() => {});
  const done = new Promise((resolve) => child.on('close', (code) => resolve({ code, ...out })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
  done.then(() => clearTimeout(timer));
  return { shown, done };
}

function hidden(html) {
  const o = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) o[m[1]] = m[2].replaceAll('&amp;', '&');
  return o;
}

// A person on another device: logs in, enters the code, decides.
async function decide(code, action) {
  const jar = new Jar();
  const res = await login(srv.url, jar, 'alice', PASSWORD);
  assert.equal(res.status, 303);
  const post = async (fields) => jar.update(await fetch(`${srv.url}/device`, {
    method: 'POST',
    headers: jar.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  }));
  const entry = jar.update(await fetch(`${srv.url}/device?user_code=${encodeURIComponent(code)}`, { headers: jar.headers(), redirect: 'manual' }));
  assert.equal(entry.status, 200);
  const f1 = hidden(await entry.text());
  const confirm = await post({ ...f1, user_code: code });
  assert.equal(confirm.status, 200);
  const f2 = hidden(await confirm.text());
  const done = await post({ ...f2, action });
  assert.equal(done.status, 200);
}

describe('DeviceFlow', () => {
  test('approve: login, cached refresh token, token without a second login', async (t) => {
    if (!hasDevice) { t.skip('the server has no device_authorization_endpoint'); return; }
    const m = machine();
    m.file('.flyte/config.yaml', `admin:\n  endpoint: ${srv.url}\n  insecure: true\n  authType: DeviceFlow\n  clientId: flytectl\n`);
    const run = startLogin(m);
    const { uri, code } = await run.shown;
    assert.equal(uri, `${srv.url}/device`);
    assert.match(run.shown && code, /^[A-Z0-9-]{4,}$/);
    await decide(code, 'approve');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Logged in to ${srv.url} as alice (Alice Example)\n`);
    const cached = JSON.parse(readFileSync(m.cachePath(srv.url), 'utf8'));
    assert.equal(cached.auth_type, 'DeviceFlow');
    assert.ok(cached.refresh_token.length > 0, 'the device flow keeps its refresh token');
    const claims = await verified(srv, cached.access_token);
    assert.equal(claims.sub, 'alice');
    const tok = await cli(m, ['token']);
    assert.equal(tok.code, 0, tok.stderr);
    assert.equal(tok.stdout.trim(), cached.access_token);
  });

  test('deny: the CLI stops with access_denied', async (t) => {
    if (!hasDevice) { t.skip('the server has no device_authorization_endpoint'); return; }
    const m = machine();
    m.file('.flyte/config.yaml', `admin:\n  endpoint: ${srv.url}\n  insecure: true\n  authType: deviceflow\n`);
    const run = startLogin(m);
    const { code } = await run.shown;
    await decide(code, 'deny');
    const r = await run.done;
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`flyteauth: login: ${srv.url} \\(DeviceFlow\\): .*access_denied`));
  });
});
