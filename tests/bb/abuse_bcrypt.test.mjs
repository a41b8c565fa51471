// abuse_bcrypt.test.mjs -- issue 9 item 1: an unauthenticated flood of
// wrong client secrets or wrong passwords cannot stall the server. bcrypt
// runs on a small pool apart from the HTTP workers (a full queue is a 503
// at once), and failed client authentication is throttled per address and
// per client id (429 slow_down, no bcrypt). Meanwhile a legitimate machine
// client (its secret remembered by the check cache) and /healthcheck stay
// fast. The attacker runs on its own thread (lib/flood.mjs) from 48
// loopback addresses, so the per-address throttle alone does not absorb it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { run } from './lib/server.mjs';
import { CLIENT_SECRET, Jar, clientToken, getForm, startIdentityServer } from './lib/identity.mjs';
import { flood, median, sample } from './lib/flood.mjs';

const LOOPS = 48;
const FLOOD_MS = 6000;

// A confidential client whose hash has the default cost (10), as a real
// deployment's: each wrong secret for it is a full bcrypt.
async function costlyClient() {
  const r = await run(['hash-secret', '--cost', '10'], { input: 'victim-secret-0123456789\n' });
  assert.equal(r.code, 0, r.stderr);
  return `        victim: {id: victim, client_secret: '${r.stdout.trim()}', ` +
    `redirect_uris: ['http://localhost:3846/callback'], grant_types: [client_credentials], ` +
    `response_types: [token], scopes: [all], public: false}\n`;
}

// The legitimate client's token request and /healthcheck, timed while the
// flood runs; every legitimate request must succeed.
async function measure(srv, ms) {
  const tokenMs = sample(async () => {
    assert.ok(await clientToken(srv.url, 'flytepropeller', CLIENT_SECRET));
  }, { ms, gapMs: 40 });
  const healthMs = sample(async () => {
    const r = await fetch(`${srv.url}/healthcheck`);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  }, { ms, gapMs: 40 });
  return { token: await tokenMs, health: await healthMs };
}

function report(t, what, base, m, res) {
  const line = `${what}: ${res.sent} attack requests ${JSON.stringify(res.counts)}; ` +
    `client_credentials median ${median(m.token).toFixed(1)} ms (n=${m.token.length}, ` +
    `${median(base.token).toFixed(1)} ms without the flood), ` +
    `/healthcheck median ${median(m.health).toFixed(1)} ms (n=${m.health.length}, ` +
    `${median(base.health).toFixed(1)} ms without)`;
  t.diagnostic(line);
  console.log(`# ${line}`);
}

// The bounds: 50 ms for the client, 20 ms for /healthcheck (the
// unfixed server took 1.3-3.8 s and 1.2-2.6 s). The test machine is shared
// with other builds: when even the quiet baseline measured just before is
// slow, the bound is three times that baseline instead, which a server that
// stalls on bcrypt still misses by far.
function assertFast(base, m) {
  const tokenMax = Math.max(50, 3 * median(base.token));
  const healthMax = Math.max(20, 3 * median(base.health));
  assert.ok(median(m.token) < tokenMax, `client_credentials median ${median(m.token)} ms (bound ${tokenMax})`);
  assert.ok(median(m.health) < healthMax, `/healthcheck median ${median(m.health)} ms (bound ${healthMax})`);
}

test('a flood of wrong client secrets leaves a cached client and /healthcheck fast',
  { timeout: 90000 }, async (t) => {
    const srv = await startIdentityServer({ extraClients: await costlyClient() });
    try {
      await clientToken(srv.url, 'flytepropeller', CLIENT_SECRET);   // remembered from now on
      const base = await measure(srv, 2000);
      const attack = flood({ port: srv.port, mode: 'secret', loops: LOOPS, ms: FLOOD_MS,
        params: { clientId: 'victim' } });
      await new Promise((r) => setTimeout(r, 500));
      const m = await measure(srv, FLOOD_MS - 1500);
      const res = await attack;
      report(t, 'wrong client secrets', base, m, res);
      assert.ok(res.sent > 200, `the flood ran (${res.sent})`);
      assert.ok(res.counts[429] > 0 || res.counts[503] > 0, 'refused at once: 429 or 503');
      for (const s of Object.keys(res.counts)) {
        assert.ok(['401', '429', '503'].includes(s), `attack answered ${s}`);
      }
      assertFast(base, m);

      // The throttle answers at once, with a Retry-After, and runs no bcrypt.
      const basic = 'Basic ' + Buffer.from('victim:wrong').toString('base64');
      let r;
      for (let i = 0; i < 30; i++) {
        r = await fetch(`${srv.url}/oauth2/token`, { method: 'POST', headers: {
          authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials' });
        if (r.status === 429) break;
      }
      assert.equal(r.status, 429);
      assert.equal((await r.json()).error, 'slow_down');
      assert.match(r.headers.get('retry-after'), /^[1-9][0-9]*$/);
      // The same throttle guards introspection, revocation and the device endpoint.
      for (const path of ['/oauth2/introspect', '/oauth2/revoke', '/oauth2/device/authorize']) {
        const x = await fetch(`${srv.url}${path}`, { method: 'POST', headers: {
          authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'token=x' });
        assert.equal(x.status, 429, path);
      }
      // The right secret still works: the legitimate client was never locked out.
      assert.ok(await clientToken(srv.url, 'flytepropeller', CLIENT_SECRET));
    } finally {
      await srv.stop();
    }
  });

test('a flood of wrong passwords at /login leaves a cached client and /healthcheck fast',
  { timeout: 90000 }, async (t) => {
    const srv = await startIdentityServer();
    try {
      await clientToken(srv.url, 'flytepropeller', CLIENT_SECRET);
      const base = await measure(srv, 2000);
      const csrf = [];
      const cookie = [];
      for (let i = 0; i < LOOPS; i++) {
        const jar = new Jar();
        const form = await getForm(srv.url, jar, '/console');
        assert.equal(form.res.status, 200);
        csrf.push(form.csrf);
        cookie.push(jar.header());
      }
      const attack = flood({ port: srv.port, mode: 'login', loops: LOOPS, ms: FLOOD_MS,
        params: { csrf, cookie, username: 'alice' } });
      await new Promise((r) => setTimeout(r, 500));
      const m = await measure(srv, FLOOD_MS - 1500);
      const res = await attack;
      report(t, 'wrong passwords', base, m, res);
      assert.ok(res.sent > 200, `the flood ran (${res.sent})`);
      for (const s of Object.keys(res.counts)) {
        assert.ok(['401', '429', '503'].includes(s), `attack answered ${s}`);
      }
      assertFast(base, m);
    } finally {
      await srv.stop();
    }
  });
