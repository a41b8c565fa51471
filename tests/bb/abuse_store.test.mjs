// abuse_store.test.mjs -- issue 9 item 3: unauthenticated endpoints cannot
// fill the store. POST /oauth2/device/authorize and an anonymous GET
// /oauth2/authorize are rate-limited per address and per client, and the
// live pending device codes and authorization requests are capped
// (selfAuthServer.maxPendingDeviceCodes / maxPendingAuthorizationRequests):
// over a limit nothing is written. A flood from several loopback addresses
// leaves the database (read with the sqlite3 CLI) far under what it wrote
// before (2,800 rows/s) and legitimate device and code flows still work.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { test } from 'node:test';
import { browse, hiddenInputs, submitLogin } from './lib/browser.mjs';
import { postForm, sleep } from './lib/server.mjs';
import { Jar, PASSWORD, startIdentityServer } from './lib/identity.mjs';
import { flood } from './lib/flood.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const REDIRECT = 'http://localhost:53593/callback';
const client = (id) => `        ${id}: {id: ${id}, public: true, redirect_uris: ['${REDIRECT}'], ` +
  `grant_types: [authorization_code, refresh_token, "${DEVICE_GRANT}"], response_types: [code], ` +
  `scopes: [all, offline]}\n`;

// Live rows per kind, straight from the server's SQLite file.
function liveRows(srv) {
  const out = execFileSync('sqlite3', [`${srv.dir}/flyteauth.db`,
    "SELECT kind, count(*) FROM records WHERE expires_at > CAST(strftime('%s','now') AS INTEGER) GROUP BY kind"],
  { encoding: 'utf8' });
  const rows = {};
  for (const line of out.trim().split('\n').filter(Boolean)) {
    const [kind, n] = line.split('|');
    rows[kind] = Number(n);
  }
  return rows;
}

// Pending device codes: their user-code index rows ("uc:" keys).
function pendingDeviceCodes(srv) {
  return Number(execFileSync('sqlite3', [`${srv.dir}/flyteauth.db`,
    "SELECT count(*) FROM records WHERE kind = 'device' AND key LIKE 'uc:%' " +
    "AND expires_at > CAST(strftime('%s','now') AS INTEGER)"], { encoding: 'utf8' }).trim());
}

function get(srv, path, from) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path, localAddress: from,
      agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

function post(srv, path, body, from) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, path, method: 'POST', localAddress: from,
      agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function authorizeQuery(clientId, state) {
  const verifier = randomBytes(32).toString('base64url');
  return {
    verifier,
    q: new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT,
      scope: 'all offline', state, code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256' }),
  };
}

// The whole device flow for `clientId`, as a user and a CLI do it.
async function deviceFlow(srv, clientId) {
  const start = await postForm(srv, '/oauth2/device/authorize', { client_id: clientId, scope: 'all' });
  assert.equal(start.res.status, 200, start.text);
  const da = start.json;
  const jar = new Jar();
  let res = await browse(da.verification_uri_complete, jar);
  assert.equal(res.status, 302);
  res = await submitLogin(new URL(res.headers.get('location'), srv.url), jar, 'alice', PASSWORD);
  assert.equal(res.status, 303);
  res = await browse(new URL(res.headers.get('location'), srv.url), jar);
  const entry = await res.text();
  assert.equal(res.status, 200, entry);
  const form = (p) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(p).toString() });
  res = await browse(`${srv.url}/device`, jar, form({ csrf_token: hiddenInputs(entry).csrf_token,
    user_code: da.user_code }));
  const confirm = await res.text();
  assert.equal(res.status, 200, confirm);
  res = await browse(`${srv.url}/device`, jar, form({ ...hiddenInputs(confirm), action: 'approve' }));
  assert.equal(res.status, 200);
  const tok = await postForm(srv, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: clientId,
    device_code: da.device_code });
  assert.equal(tok.res.status, 200, tok.text);
  assert.ok(tok.json.access_token);
}

// The code flow with PKCE for `clientId`.
async function codeFlow(srv, clientId) {
  const jar = new Jar();
  const { q, verifier } = authorizeQuery(clientId, 'legit-state');
  let res = await browse(`${srv.url}/oauth2/authorize?${q}`, jar);
  assert.equal(res.status, 302);
  assert.match(res.headers.get('location'), /\/login\?/);
  res = await submitLogin(new URL(res.headers.get('location'), srv.url), jar, 'alice', PASSWORD);
  assert.equal(res.status, 303);
  res = await browse(new URL(res.headers.get('location'), srv.url), jar);
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location'));
  assert.equal(back.searchParams.get('state'), 'legit-state');
  const tok = await postForm(srv, '/oauth2/token', { grant_type: 'authorization_code', client_id: clientId,
    code: back.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier });
  assert.equal(tok.res.status, 200, tok.text);
}

const FLOOD_MS = 15000;
const ADDRS = 8;

test('a flood of device and authorize requests from 8 addresses is rate-limited; legitimate flows still work',
  { timeout: 120000 }, async (t) => {
    const srv = await startIdentityServer({ extraClients: client('flytectl') + client('kiosk') });
    try {
      const common = { port: srv.port, ms: FLOOD_MS, loops: 2 * ADDRS, addrs: ADDRS, first: 20 };
      const [dev, az] = await Promise.all([
        flood({ ...common, mode: 'device', params: { clientId: 'flytectl', scope: 'all' } }),
        flood({ ...common, mode: 'authorize', first: 40,
          params: { clientId: 'flytectl', redirectUri: REDIRECT, scope: 'all offline' } }),
      ]);
      const rows = liveRows(srv);
      const pending = pendingDeviceCodes(srv);
      const line = `device flood: ${dev.sent} requests ${JSON.stringify(dev.counts)}, ${pending} pending codes ` +
        `stored; authorize flood: ${az.sent} requests ${JSON.stringify(az.counts)}, ` +
        `${rows.authreq ?? 0} authorization requests stored; live rows ${JSON.stringify(rows)}`;
      t.diagnostic(line);
      console.log(`# ${line}`);
      assert.ok(dev.sent > 500 && az.sent > 500, 'the floods ran');
      assert.ok(dev.counts[429] > 0, 'device requests over the rate get 429');
      // Per address: the burst plus the refill over the flood (30 + 0.5/s);
      // per client: 100 + 10/s. Either bound is far from 2,800 rows/s.
      const devBound = ADDRS * (30 + 0.5 * FLOOD_MS / 1000) + 5;
      assert.ok(pending <= devBound, `${pending} pending device codes (bound ${devBound})`);
      assert.equal(pending, dev.counts[200] ?? 0, 'one stored code per 200');
      const azBound = Math.min(ADDRS * (60 + 2 * FLOOD_MS / 1000), 300 + 15 * FLOOD_MS / 1000) + 5;
      assert.ok((rows.authreq ?? 0) <= azBound, `${rows.authreq} authorization requests (bound ${azBound})`);
      // Refused authorize requests went back to the client: 302 with an error.
      assert.ok(az.counts[302] > 0);
      // Once more from one address, until its bucket is empty again.
      let over;
      for (let i = 0; i < 200; i++) {
        over = await get(srv, `/oauth2/authorize?${authorizeQuery('flytectl', 'over-state').q}`, '127.0.0.40');
        assert.equal(over.status, 302);
        if (!over.headers.location.startsWith('/login')) break;
      }
      const loc = new URL(over.headers.location);
      assert.equal(`${loc.origin}${loc.pathname}`, REDIRECT);
      assert.equal(loc.searchParams.get('error'), 'temporarily_unavailable');
      assert.equal(loc.searchParams.get('state'), 'over-state');
      assert.match(over.headers['retry-after'], /^\d+$/);
      const dover = await post(srv, '/oauth2/device/authorize', 'client_id=flytectl', '127.0.0.20');
      assert.equal(dover.status, 429);
      assert.equal(dover.json.error, 'slow_down');

      // Legitimate users (another client, another address) still get through.
      await deviceFlow(srv, 'kiosk');
      await codeFlow(srv, 'kiosk');
    } finally {
      await srv.stop();
    }
  });

test('over maxPendingDeviceCodes / maxPendingAuthorizationRequests nothing is written', async () => {
  const srv = await startIdentityServer({
    extraClients: client('flytectl'),
    extraSelf: '      maxPendingDeviceCodes: 5\n      maxPendingAuthorizationRequests: 5\n',
  });
  try {
    for (let i = 0; i < 5; i++) {
      const r = await post(srv, '/oauth2/device/authorize', 'client_id=flytectl', `127.0.1.${i + 1}`);
      assert.equal(r.status, 200);
      const a = await get(srv, `/oauth2/authorize?${authorizeQuery('flytectl', `state-${i}-abc`).q}`, `127.0.1.${i + 1}`);
      assert.equal(a.status, 302);
      assert.match(a.headers.location, /\/login\?/);
    }
    assert.equal(pendingDeviceCodes(srv), 5);
    assert.equal(liveRows(srv).authreq, 5);
    await sleep(1100);   // past the once-a-second count
    const d = await post(srv, '/oauth2/device/authorize', 'client_id=flytectl', '127.0.1.9');
    assert.equal(d.status, 503);
    assert.equal(d.json.error, 'slow_down');
    assert.match(d.headers['retry-after'], /^[1-9]\d*$/);
    const a = await get(srv, `/oauth2/authorize?${authorizeQuery('flytectl', 'full-state').q}`, '127.0.1.9');
    assert.equal(a.status, 302);
    const loc = new URL(a.headers.location);
    assert.equal(loc.searchParams.get('error'), 'temporarily_unavailable');
    assert.equal(loc.searchParams.get('state'), 'full-state');
    assert.equal(pendingDeviceCodes(srv), 5, 'no device code written');
    assert.equal(liveRows(srv).authreq, 5, 'no authorization request written');
    assert.match(srv.stderr, /the pending cap \(5\) is reached/);
  } finally {
    await srv.stop();
  }
});

test('selfAuthServer.rateLimits sets the buckets: lowered they refuse sooner, raised they admit more', async () => {
  const srv = await startIdentityServer({
    extraClients: client('flytectl'),
    extraSelf: '      rateLimits:\n' +
      '        authorizePerAddress: {burst: 1000, perMinute: 60000}\n' +
      '        devicePerAddress: {burst: 2, perMinute: 1}\n' +
      '        devicePerClient: {burst: 3, perMinute: 1}\n',
  });
  try {
    // Per address raised to 1,000: 100 anonymous authorize requests from
    // one address pass (the default burst is 60).
    for (let i = 0; i < 100; i++) {
      const a = await get(srv, `/oauth2/authorize?${authorizeQuery('flytectl', `rl-${i}-state`).q}`, '127.0.2.1');
      assert.match(a.headers.location, /\/login\?/, `request ${i + 1}`);
    }
    // Device per address lowered to 2, per client to 3: two from one
    // address, its third refused; one more from a second address; then a
    // fresh address is refused by the client's bucket.
    const dev = (addr) => post(srv, '/oauth2/device/authorize', 'client_id=flytectl', addr);
    assert.equal((await dev('127.0.2.30')).status, 200);
    assert.equal((await dev('127.0.2.30')).status, 200);
    const overAddr = await dev('127.0.2.30');
    assert.equal(overAddr.status, 429);
    assert.equal(overAddr.json.error, 'slow_down');
    assert.equal((await dev('127.0.2.31')).status, 200);
    const overClient = await dev('127.0.2.32');
    assert.equal(overClient.status, 429);
    assert.equal(overClient.json.error, 'slow_down');
    assert.equal(pendingDeviceCodes(srv), 3);
    assert.equal(liveRows(srv).authreq, 100);
  } finally {
    await srv.stop();
  }
});

test('serve refuses maxPending* and rateLimits that are not positive integers, naming file:line:col', async () => {
  for (const bad of ['maxPendingDeviceCodes: 0', 'maxPendingAuthorizationRequests: many',
    'rateLimits: {devicePerClient: {burst: 0}}', 'rateLimits: {authorizePerAddress: {perMinute: 1.5}}',
    'rateLimits: {authorizePerClient: {perMinute: 6000001}}']) {
    const err = await startIdentityServer({ extraSelf: `      ${bad}\n` }).catch((e) => e);
    assert.ok(err instanceof Error, `serve refuses ${bad}`);
    assert.match(err.message, /config\.yaml:\d+:\d+: .*(maxPending|burst|perMinute)/);
  }
});
