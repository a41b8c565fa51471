// multi_instance.test.mjs -- three `flyteauth serve` instances behind one
// (imaginary) load balancer: the same config, the same secrets dir, one
// throwaway PostgreSQL (lib/postgres.mjs). A user's flow hops between them
// as a load balancer without sticky sessions would send it: authorize at A,
// the login form at B, its POST at C, the code exchanged at B, refreshed at
// C, revoked at A and seen inactive at B and C. Then: one refresh token
// raced at A and B (exactly one wins; the family follows the reuse rule); a
// device code approved through A and polled at B; login throttles counted
// across instances; `kill -9` of one instance under load (the others keep
// serving; no rotation lost or doubled); PostgreSQL restarted mid-run (503
// and /readyz 503, /healthcheck still 200, then recovery without restart).
//
// Skipped only when PostgreSQL's server binaries are not installed (make
// test installs them: scripts/install-deps.sh --test).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { createRemoteJWKSet, jwtVerify } from 'jose';

import { Jar, browse, hiddenInputs, loginFields } from './lib/browser.mjs';
import { hashSecret, secretFiles } from './lib/identity.mjs';
import { pgBinDir, startPostgres } from './lib/postgres.mjs';
import { sleep, startServer, tempDir } from './lib/server.mjs';

const ISSUER = 'http://flyte.test';        // the load balancer's name
const REDIRECT = 'http://localhost:53593/callback';
const PASSWORD = 'correct horse battery staple';
const PROP_SECRET = 'propeller-' + randomBytes(8).toString('hex');
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

const skip = pgBinDir() ? false : 'PostgreSQL server binaries are not installed';

async function config(pg, secretsDir) {
  const [alice, prop] = await Promise.all([hashSecret(PASSWORD), hashSecret(PROP_SECRET)]);
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database:
${pg.config()}secrets: {secrets-prefix: ${secretsDir}, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [${ISSUER}]
  userAuth:
    localUsers:
      - {username: alice, passwordHash: '${alice}', name: Alice Example}
      - {username: bob, passwordHash: '${alice}'}
  appAuth:
    selfAuthServer:
      issuer: ${ISSUER}
      devicePollInterval: 1s
      staticClients:
        flytectl:
          id: flytectl
          redirect_uris: ['${REDIRECT}']
          grant_types: [authorization_code, refresh_token, '${DEVICE_GRANT}']
          response_types: [code]
          scopes: [all, offline]
          public: true
        flytepropeller:
          id: flytepropeller
          client_secret: '${prop}'
          grant_types: [client_credentials]
          response_types: [token]
          scopes: [all]
          public: false
`;
}

// A URL the server handed out (on the issuer, or a path) as the load
// balancer would send it: to instance srv.
function on(srv, location) {
  const u = new URL(location, ISSUER);
  assert.equal(u.origin, ISSUER, `a location on the issuer: ${location}`);
  return `${srv.url}${u.pathname}${u.search}`;
}

function form(params) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

const BASIC = 'Basic ' + Buffer.from(`flytepropeller:${PROP_SECRET}`).toString('base64');

async function post(srv, p, params, headers = {}) {
  const res = await fetch(`${srv.url}${p}`, {
    ...form(params), headers: { ...form(params).headers, ...headers },
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

const refresh = (srv, rt) => post(srv, '/oauth2/token',
  { grant_type: 'refresh_token', refresh_token: rt, client_id: 'flytectl' });

async function active(srv, token) {
  const r = await post(srv, '/oauth2/introspect', { token }, { authorization: BASIC });
  assert.equal(r.status, 200, r.text);
  return r.json.active === true;
}

// The browser half of a login: each step at the instance `hops` names
// (authorize, login form, login POST, callback). Returns the code.
async function browserLogin(hops, user = 'alice') {
  const [a, b, c, d] = hops;
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(12).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code', client_id: 'flytectl', redirect_uri: REDIRECT, scope: 'all offline',
    state, code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  let res = await browse(`${a.url}/oauth2/authorize?${q}`, jar);
  assert.equal(res.status, 302, await res.clone().text());
  const page = await browse(on(b, res.headers.get('location')), jar);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  res = await browse(`${c.url}/login`, jar, form({ ...loginFields(html), username: user, password: PASSWORD }));
  assert.equal(res.status, 303, await res.clone().text());
  res = await browse(on(d, res.headers.get('location')), jar);
  assert.equal(res.status, 302, await res.clone().text());
  const back = new URL(res.headers.get('location'));
  assert.equal(back.origin + back.pathname, REDIRECT);
  assert.equal(back.searchParams.get('state'), state);
  assert.equal(back.searchParams.get('iss'), ISSUER);
  return { code: back.searchParams.get('code'), verifier, jar };
}

async function exchange(srv, { code, verifier }) {
  const r = await post(srv, '/oauth2/token', {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'flytectl',
    code_verifier: verifier,
  });
  assert.equal(r.status, 200, r.text);
  assert.ok(r.json.refresh_token);
  return r.json;
}

describe('several instances on one PostgreSQL', { skip }, () => {
  let pg;
  let A; let B; let C;
  const secrets = [PASSWORD, PROP_SECRET];   // none may reach a log

  before(async () => {
    pg = await startPostgres();
    const shared = tempDir('fa-secrets-');
    for (const [name, content] of Object.entries(secretFiles())) {
      writeFileSync(path.join(shared, name), content, { mode: 0o600 });
    }
    const cfg = await config(pg, shared);
    // All three at once: they migrate the empty database once between them.
    [A, B, C] = await Promise.all([0, 1, 2].map(() => startServer({ config: cfg, secrets: false })));
  });

  after(async () => {
    for (const srv of [A, B, C]) {
      if (!srv) continue;
      const killed = srv.exited?.signal === 'SIGKILL';
      const exited = await srv.stop();
      const out = srv.stdout + srv.stderr;
      for (const s of secrets) assert.ok(!out.includes(s), 'a secret or token reached the server output');
      assert.ok(!out.includes(pg.password), 'the database password reached the server output');
      assert.doesNotMatch(out, /AddressSanitizer|LeakSanitizer|runtime error/);
      if (!killed) assert.equal(exited.code, 0, out.slice(-2000));
    }
    if (pg) await pg.stop();
  });

  test('one schema migration for three instances started together; all ready', async () => {
    const upgrades = [A, B, C].filter((s) => /schema upgraded from version 0 to 1/.test(s.stderr));
    assert.equal(upgrades.length, 1, 'exactly one instance created the schema');
    assert.equal(pg.sql('SELECT version FROM flyteauth_schema'), '1');
    for (const srv of [A, B, C]) {
      assert.match(srv.stderr, /store: postgres, \d+ connections/);
      const r = await fetch(`${srv.url}/readyz`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'ready\n');
    }
  });

  test('a login hops A, B, C; code at B, refresh at C, revoke at A, inactive at B and C', async () => {
    const login = await browserLogin([A, B, C, A]);
    const t1 = await exchange(B, login);
    secrets.push(login.code, t1.refresh_token, t1.access_token);
    // The same keys everywhere: a token from B verifies against A's JWKS.
    const jwks = createRemoteJWKSet(new URL(`${A.url}/oauth2/jwks`));
    const { payload } = await jwtVerify(t1.access_token, jwks, { issuer: ISSUER, typ: 'at+jwt' });
    assert.equal(payload.sub, 'alice');
    // The code is spent for every instance.
    const again = await post(C, '/oauth2/token', {
      grant_type: 'authorization_code', code: login.code, redirect_uri: REDIRECT,
      client_id: 'flytectl', code_verifier: login.verifier,
    });
    assert.equal(again.status, 400);
    assert.equal(again.json.error, 'invalid_grant');
    // That replay revoked what the code issued (everywhere): start over.
    assert.equal(await active(A, t1.refresh_token), false);
    const login2 = await browserLogin([B, C, A, C]);
    const t2 = await exchange(B, login2);
    const t3r = await refresh(C, t2.refresh_token);
    assert.equal(t3r.status, 200, t3r.text);
    const t3 = t3r.json;
    secrets.push(login2.code, t2.refresh_token, t3.refresh_token, t3.access_token);
    assert.equal(await active(A, t3.refresh_token), true);
    assert.equal(await active(B, t3.access_token), true);
    const rv = await post(A, '/oauth2/revoke', { token: t3.refresh_token, client_id: 'flytectl' });
    assert.equal(rv.status, 200, rv.text);
    for (const srv of [B, C]) {
      assert.equal(await active(srv, t3.refresh_token), false);
      assert.equal(await active(srv, t3.access_token), false, 'the family is revoked everywhere');
    }
    const dead = await refresh(B, t3.refresh_token);
    assert.equal(dead.status, 400);
    assert.equal(dead.json.error, 'invalid_grant');
  });

  test('one refresh token at A and B at the same instant: exactly one wins', async () => {
    const outcomes = { race: 0, reuse: 0 };
    for (let round = 0; round < 4; round++) {
      const t = await exchange(A, await browserLogin([C, A, B, C]));
      secrets.push(t.refresh_token);
      const [ra, rb] = await Promise.all([refresh(A, t.refresh_token), refresh(B, t.refresh_token)]);
      const wins = [ra, rb].filter((r) => r.status === 200);
      assert.equal(wins.length, 1, `${ra.status} ${ra.text} / ${rb.status} ${rb.text}`);
      const loser = ra.status === 200 ? rb : ra;
      assert.equal(loser.status, 400, loser.text);
      assert.equal(loser.json.error, 'invalid_grant');
      // The reuse rule (README "Refresh tokens rotate"): a request that lost
      // the write leaves the family alone; one that read the token already
      // spent revokes it.
      const revoked = /now revoked/.test(loser.json.error_description);
      assert.equal(await active(C, wins[0].json.refresh_token), !revoked, loser.text);
      outcomes[revoked ? 'reuse' : 'race']++;
    }
    console.log(`# concurrent refreshes: ${JSON.stringify(outcomes)}`);
  });

  test('a device code started at C, approved through A, polled at B', async () => {
    const start = await post(C, '/oauth2/device/authorize', { client_id: 'flytectl', scope: 'all offline' });
    assert.equal(start.status, 200, start.text);
    const da = start.json;
    secrets.push(da.device_code);
    const pending = await post(B, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'flytectl', device_code: da.device_code });
    assert.equal(pending.json?.error, 'authorization_pending', pending.text);
    // The user, at A: the verification page sends them to log in first.
    const jar = new Jar();
    let res = await browse(on(A, da.verification_uri_complete), jar);
    assert.equal(res.status, 302);
    const loginPage = await browse(on(A, res.headers.get('location')), jar);
    res = await browse(`${A.url}/login`, jar, form({ ...loginFields(await loginPage.text()), username: 'alice', password: PASSWORD }));
    assert.equal(res.status, 303);
    res = await browse(on(A, res.headers.get('location')), jar);
    let html = await res.text();
    assert.equal(res.status, 200, html);
    res = await browse(`${A.url}/device`, jar, form({ csrf_token: hiddenInputs(html).csrf_token, user_code: da.user_code }));
    html = await res.text();
    assert.equal(res.status, 200, html);
    res = await browse(`${A.url}/device`, jar, form({ ...hiddenInputs(html), action: 'approve' }));
    assert.equal(res.status, 200, await res.text());
    await sleep(1100);   // the poll interval, which every instance keeps
    const done = await post(B, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'flytectl', device_code: da.device_code });
    assert.equal(done.status, 200, done.text);
    secrets.push(done.json.access_token, done.json.refresh_token);
    assert.equal(await active(C, done.json.access_token), true);
    // Tokens exactly once, whichever instance is asked.
    const twice = await post(C, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'flytectl', device_code: da.device_code });
    assert.equal(twice.json?.error, 'invalid_grant', twice.text);
    // Polling too fast is seen across instances (the last poll is in the store).
    const d2 = (await post(A, '/oauth2/device/authorize', { client_id: 'flytectl', scope: 'all' })).json;
    secrets.push(d2.device_code);
    const p1 = await post(A, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'flytectl', device_code: d2.device_code });
    const p2 = await post(B, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'flytectl', device_code: d2.device_code });
    assert.equal(p1.json?.error, 'authorization_pending', p1.text);
    assert.equal(p2.json?.error, 'slow_down', p2.text);
  });

  test('failed logins are counted across instances', async () => {
    const hops = [A, B, C, A, B];
    for (const srv of hops) {
      const jar = new Jar();
      const page = await browse(`${srv.url}/login`, jar);
      const res = await browse(`${srv.url}/login`, jar, form({ ...loginFields(await page.text()), username: 'bob', password: 'wrong' }));
      assert.equal(res.status, 401);
    }
    const jar = new Jar();
    const page = await browse(`${C.url}/login`, jar);
    const res = await browse(`${C.url}/login`, jar, form({ ...loginFields(await page.text()), username: 'bob', password: PASSWORD }));
    assert.equal(res.status, 429, 'the sixth attempt, right password or not, is throttled');
  });

  test('kill -9 of one instance under load: the others serve on; no rotation lost or doubled', async () => {
    const WORKERS = 6;
    const chains = [];
    for (let i = 0; i < WORKERS; i++) {
      const t = await exchange([A, B, C][i % 3], await browserLogin([A, B, C, A]));
      chains.push({ rt: t.refresh_token, rotations: 0, lostInFlight: false });
    }
    const spent = new Set();          // every refresh token that got a 200
    const errors = [];
    let stop = false;
    let killedAt = 0;
    let okAfterKill = 0;
    const worker = async (chain, w) => {
      for (let n = w; !stop && !chain.lostInFlight; n++) {
        const srv = [A, B, C][n % 3];
        let r;
        try {
          r = await refresh(srv, chain.rt);
        } catch (e) {
          // C is gone: a load balancer would retry elsewhere; so do we.
          assert.equal(srv, C, `a network error from a live instance: ${e}`);
          r = await refresh(A, chain.rt);
          if (r.status === 400 && /now revoked/.test(r.json?.error_description)) {
            // C committed the rotation and died before answering: the
            // retry is reuse, and the rule revokes the family. Nothing
            // was issued twice.
            chain.lostInFlight = true;
            continue;
          }
        }
        if (r.status !== 200) {
          errors.push(`${srv === A ? 'A' : srv === B ? 'B' : 'C'}: ${r.status} ${r.text}`);
          return;
        }
        assert.ok(!spent.has(chain.rt), 'a refresh token rotated twice');
        spent.add(chain.rt);
        chain.rt = r.json.refresh_token;
        chain.rotations++;
        if (killedAt) okAfterKill++;
      }
    };
    const running = chains.map((c, i) => worker(c, i));
    await sleep(1500);
    process.kill(C.pid, 'SIGKILL');
    killedAt = Date.now();
    await C.exitPromise;
    await sleep(1500);
    stop = true;
    await Promise.all(running);
    assert.deepEqual(errors, []);
    assert.ok(okAfterKill > 0, 'A and B kept rotating after C died');
    // Not lost: the newest token of every chain still works, at A and B.
    for (const c of chains.filter((x) => !x.lostInFlight)) {
      assert.equal(await active(B, c.rt), true);
    }
    // Not doubled: no live family holds two live refresh tokens (a
    // rotation applied twice would leave two successors).
    const now = Math.floor(Date.now() / 1000);
    const j = (t) => `convert_from(${t}.value, 'UTF8')::json`;
    const doubled = pg.sql(`SELECT count(*) FROM (SELECT ${j('r')}->>'fam' AS fam, count(*) AS n ` +
      `FROM flyteauth_records r JOIN flyteauth_records f ON f.kind = 'family' AND ` +
      `f.key = ${j('r')}->>'fam' WHERE r.kind = 'rt' AND ${j('r')}->>'st' = 'active' AND ` +
      `${j('f')}->>'st' = 'active' AND r.expires_at > ${now} AND f.expires_at > ${now} ` +
      'GROUP BY 1) x WHERE n <> 1');
    assert.equal(doubled, '0', 'one live refresh token per live family');
    const total = chains.reduce((s, c) => s + c.rotations, 0);
    console.log(`# ${total} rotations by ${WORKERS} clients, ${okAfterKill} after the kill, ` +
      `${chains.filter((c) => c.lostInFlight).length} in flight to the killed instance`);
    for (const c of chains) secrets.push(c.rt);
    for (const srv of [A, B]) assert.equal((await fetch(`${srv.url}/readyz`)).status, 200);
  });

  test('PostgreSQL restarted: 503 and /readyz 503 meanwhile, then recovery without restart', async () => {
    const t = await exchange(A, await browserLogin([A, B, A, B]));
    secrets.push(t.refresh_token);
    await pg.halt();
    for (let i = 0; i < 10; i++) {
      for (const srv of [A, B]) {
        const r = await refresh(srv, t.refresh_token);
        assert.equal(r.status, 503, r.text);
        assert.equal(r.json.error, 'temporarily_unavailable');
        assert.equal(r.headers.get('cache-control'), 'no-store');
        assert.equal((await fetch(`${srv.url}/readyz`)).status, 503);
        assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
      }
    }
    // Machine tokens need no store: still issued.
    const cc = await post(B, '/oauth2/token', { grant_type: 'client_credentials' }, { authorization: BASIC });
    assert.equal(cc.status, 200, cc.text);
    secrets.push(cc.json.access_token);
    await pg.run();
    for (const srv of [A, B]) {
      const deadline = Date.now() + 15000;
      while ((await fetch(`${srv.url}/readyz`)).status !== 200) {
        assert.ok(Date.now() < deadline, 'ready again after the database came back');
        await sleep(100);
      }
    }
    // Nothing was half-written: the token presented during the outage works.
    const r = await refresh(B, t.refresh_token);
    assert.equal(r.status, 200, r.text);
    secrets.push(r.json.refresh_token);
    for (const srv of [A, B]) {
      // One line for the outage, one for the recovery: not one per request.
      assert.equal(srv.stderr.match(/store \(postgres\) failed: postgres /g)?.length, 1, srv.stderr.slice(-3000));
      assert.equal(srv.stderr.match(/store \(postgres\) works again/g)?.length, 1);
      assert.match(srv.stderr, /store \(postgres\) failed: postgres [a-z ]*127\.0\.0\.1:\d+\/postgres: /);
    }
  });
});
