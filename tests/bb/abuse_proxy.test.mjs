// abuse_proxy.test.mjs -- issue 9 item 2: behind a proxy, one attacker
// cannot lock out everybody. server.security.trustedProxies decides whose
// X-Forwarded-For / Forwarded is believed; the throttles count the client
// the trusted proxy names, and an untrusted peer's forwarding headers are
// ignored. A username's failed logins cost a progressive delay (1, 2, 4 ...
// 60 s after the last failure), never a lock, so the real user, elsewhere,
// still signs in after an attacker's guesses.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { run, sleep } from './lib/server.mjs';
import { PASSWORD, startIdentityServer } from './lib/identity.mjs';

// One request from loopback address `from` (all of 127/8 is lo).
function request(srv, { from = '127.0.0.1', method = 'GET', path, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: srv.port, method, path, headers,
      localAddress: from, agent: false }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A wrong secret for a client that does not exist: throttled per address.
function wrongSecret(srv, from, headers = {}) {
  const basic = 'Basic ' + Buffer.from(`nobody-${Math.random()}:wrong`).toString('base64');
  return request(srv, { from, method: 'POST', path: '/oauth2/token', body: 'grant_type=client_credentials',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded', ...headers } });
}

// Wrong secrets until the address is throttled: how many were 401 first.
async function untilThrottled(srv, from, headers) {
  for (let i = 0; i < 40; i++) {
    const r = await wrongSecret(srv, from, headers);
    if (r.status === 429) return i;
    assert.equal(r.status, 401, r.text);
  }
  assert.fail('never throttled');
}

test('config check: trustedProxies entries must be addresses or CIDR ranges', async () => {
  const srv = await startIdentityServer();
  try {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const cfgPath = `${srv.dir}/config.yaml`;
    const cfg = readFileSync(cfgPath, 'utf8').replace('security: {secure: false,',
      'security: {trustedProxies: [10.0.0.0/8, "2001:db8::/32", 127.0.0.1, proxy.example.com], secure: false,');
    writeFileSync(`${srv.dir}/bad.yaml`, cfg);
    const r = await run(['config', 'check', '--config', `${srv.dir}/bad.yaml`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /bad\.yaml:\d+:\d+: .*trustedProxies\[3\] is not an IP address or CIDR range/);
    writeFileSync(`${srv.dir}/good.yaml`, cfg.replace(', proxy.example.com', ''));
    const ok = await run(['config', 'check', '--config', `${srv.dir}/good.yaml`]);
    assert.equal(ok.code, 0, ok.stderr + ok.stdout);
  } finally {
    await srv.stop();
  }
});

test('from a trusted proxy, X-Forwarded-For / Forwarded name the client; from others they are ignored', async () => {
  // 127.0.0.1 is the proxy; 127.0.0.9 reaches the server directly.
  const srv = await startIdentityServer({ serverSecurity: 'trustedProxies: [127.0.0.1/32, "10.0.0.0/8"]' });
  try {
    // Two clients behind the proxy are throttled separately ...
    const a = await untilThrottled(srv, '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
    assert.equal(a, 10, 'ten failures, then 429');
    const again = await wrongSecret(srv, '127.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
    assert.equal(again.status, 429);
    assert.match(again.headers['retry-after'], /^[1-9]\d*$/);
    // ... a second client is not (the proxy itself is not what is counted) ...
    assert.equal((await wrongSecret(srv, '127.0.0.1', { 'x-forwarded-for': '198.51.100.8' })).status, 401);
    // ... nor what the client wrote left of what the proxy appended, nor
    // the inner proxy (10.x is trusted too): the rightmost untrusted hop.
    assert.equal((await wrongSecret(srv, '127.0.0.1',
      { 'x-forwarded-for': '198.51.100.7, 198.51.100.9, 10.1.2.3' })).status, 401);
    assert.equal((await wrongSecret(srv, '127.0.0.1',
      { 'x-forwarded-for': '198.51.100.9, 198.51.100.7, 10.1.2.3' })).status, 429);
    // RFC 7239 Forwarded, when there is no X-Forwarded-For.
    assert.equal((await wrongSecret(srv, '127.0.0.1',
      { forwarded: 'for="[2001:db8::7]:4711";proto=https, for=198.51.100.7' })).status, 429);
    assert.equal((await wrongSecret(srv, '127.0.0.1',
      { forwarded: 'for=198.51.100.10;proto=https' })).status, 401);

    // An untrusted peer's forwarding headers are its own word: a new
    // X-Forwarded-For on every request does not reset its count.
    let n = 0;
    for (; n < 40; n++) {
      const r = await wrongSecret(srv, '127.0.0.9', { 'x-forwarded-for': `203.0.113.${n + 1}`,
        forwarded: `for=203.0.113.${n + 1}` });
      if (r.status === 429) break;
      assert.equal(r.status, 401);
    }
    assert.equal(n, 10, 'the peer address was counted');
    // The access log names the forwarded client, and the untrusted peer as itself.
    await sleep(1200);
    assert.match(srv.stderr, /198\.51\.100\.7 POST \/oauth2\/token/);
    assert.match(srv.stderr, /127\.0\.0\.9 POST \/oauth2\/token/);
    assert.doesNotMatch(srv.stderr, /203\.0\.113\.\d+ POST/);
  } finally {
    await srv.stop();
  }
});

// The login form round trip from `from` with these headers.
async function tryLogin(srv, from, headers, username, password) {
  const get = await request(srv, { from, path: '/login?redirect_url=%2Fconsole', headers });
  assert.equal(get.status, 200);
  const csrf = /name="csrf_token" value="([^"]+)"/.exec(get.text)[1];
  const cookie = get.headers['set-cookie'].map((c) => c.split(';')[0]).join('; ');
  const body = new URLSearchParams({ csrf_token: csrf, redirect_url: '/console', username, password });
  return request(srv, { from, method: 'POST', path: '/login', body: body.toString(),
    headers: { ...headers, cookie, 'content-type': 'application/x-www-form-urlencoded' } });
}

test('an attacker\'s wrong passwords delay the real user elsewhere, never lock her out', async () => {
  const srv = await startIdentityServer({ serverSecurity: 'trustedProxies: [127.0.0.1]' });
  try {
    const attacker = { 'x-forwarded-for': '198.51.100.66' };
    const alice = { 'x-forwarded-for': '192.0.2.10' };
    // The attacker: six wrong passwords (five free, the sixth after the delay).
    let failures = 0;
    let delayed = 0;
    while (failures < 6) {
      const r = await tryLogin(srv, '127.0.0.1', attacker, 'alice', `guess-${failures}`);
      if (r.status === 429) {
        delayed++;
        const ra = Number(r.headers['retry-after']);
        assert.ok(ra >= 1 && ra <= 60, `Retry-After ${ra}`);
        assert.match(r.text, /Too many failed sign-in attempts/);
        await sleep(ra * 1000 + 50);
        continue;
      }
      assert.equal(r.status, 401, r.text);
      failures++;
    }
    assert.ok(delayed >= 1, 'the sixth guess had to wait');
    // Right after, alice from her own address is asked to wait (2 s after
    // the sixth failure) -- not locked out for a quarter hour.
    let r = await tryLogin(srv, '127.0.0.1', alice, 'alice', PASSWORD);
    assert.equal(r.status, 429);
    const ra = Number(r.headers['retry-after']);
    assert.ok(ra >= 1 && ra <= 2, `Retry-After ${ra}`);
    assert.equal((r.headers['set-cookie'] || []).some((c) => c.startsWith('flyte_session=')), false);
    await sleep(ra * 1000 + 50);
    r = await tryLogin(srv, '127.0.0.1', alice, 'alice', PASSWORD);
    assert.equal(r.status, 303, r.text);
    assert.ok(r.headers['set-cookie'].some((c) => c.startsWith('flyte_session=')));
    // The delay grows with each failure: after one more, 4 s.
    await sleep(100);
    r = await tryLogin(srv, '127.0.0.1', attacker, 'alice', 'guess-7');
    assert.equal(r.status, 401);
    r = await tryLogin(srv, '127.0.0.1', alice, 'alice', PASSWORD);
    assert.equal(r.status, 429);
    assert.ok(Number(r.headers['retry-after']) >= 3 && Number(r.headers['retry-after']) <= 4,
      `Retry-After ${r.headers['retry-after']}`);
    // Another user is untouched.
    r = await tryLogin(srv, '127.0.0.1', attacker, 'bob', PASSWORD);
    assert.equal(r.status, 303);
  } finally {
    await srv.stop();
  }
});
