// device_flow.test.mjs -- the device authorization grant (RFC 8628) of the
// real binary: a certified client library (npm openid-client v6) starts a
// device authorization and polls while a scripted user -- plain fetch with a
// cookie jar, as a browser without script -- logs in as a local user,
// enters the code on /device, checks the client and scopes and approves;
// the token is verified with npm jose against /oauth2/jwks. Then every
// refusal on the wire: deny, expiry, slow_down, another client, unknown
// codes, wrong user codes throttled, CSRF, tokens exactly once (a replayed
// device code revokes what it issued).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';

import { Jar, browse, hiddenInputs, submitLogin, unescapeHtml } from './lib/browser.mjs';
import { basic, postForm, run, sleep, startServer } from './lib/server.mjs';

const ALICE_PASSWORD = 'correct horse battery staple';
const BOB_PASSWORD = 'bob password 2';
const KIOSK_SECRET = 'kiosk secret+%:/x';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const USER_CODE = /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/;

async function hash(secret) {
  const r = await run(['hash-secret', '--cost', '4'], { input: secret });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

async function config({ lifespan = '10m' } = {}) {
  const [alice, bob, kiosk] = await Promise.all([
    hash(ALICE_PASSWORD), hash(BOB_PASSWORD), hash(KIOSK_SECRET)]);
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: DIR/flyteauth.db}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    localUsers:
      - {username: alice, passwordHash: "${alice}", name: Alice Example, email: alice@example.com}
      - {username: bob, passwordHash: "${bob}"}
  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      deviceCodeLifespan: ${lifespan}
      devicePollInterval: 1s
      staticClients:
        flytectl:
          id: flytectl
          redirect_uris: [http://localhost:53593/callback]
          grant_types: [authorization_code, refresh_token, "${DEVICE_GRANT}"]
          response_types: [code]
          scopes: [all, offline, access_token]
          public: true
        tv:
          id: tv
          grant_types: ["${DEVICE_GRANT}"]
          scopes: [all]
          public: true
        kiosk:
          id: kiosk
          client_secret: "${kiosk}"
          grant_types: ["${DEVICE_GRANT}"]
          scopes: [all]
          public: false
        nodevice:
          id: nodevice
          redirect_uris: [http://localhost:53593/callback]
          grant_types: [authorization_code]
          response_types: [code]
          scopes: [all]
          public: true
`;
}

// ---- the scripted user ---------------------------------------------------------

function codeField(html) {
  const m = /<input id="user_code" name="user_code"[^>]* value="([^"]*)">/.exec(html);
  return m ? unescapeHtml(m[1]) : null;
}

function form(params) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

// Opens `url` (/device...) in a browser that is not logged in, is sent to
// /login, logs in and comes back: returns the /device page it lands on.
async function loginVia(srv, url, jar, user = 'alice', password = ALICE_PASSWORD) {
  let res = await browse(url, jar);
  assert.equal(res.status, 302, `device page without a session: ${res.status}`);
  const loc = new URL(res.headers.get('location'), srv.url);
  assert.equal(loc.pathname, '/login');
  const back = loc.searchParams.get('redirect_url');
  assert.match(back, /^\/device(\?user_code=|$)/);
  res = await submitLogin(loc, jar, user, password);
  assert.equal(res.status, 303, `login: ${res.status}`);
  assert.equal(res.headers.get('location'), back);
  res = await browse(new URL(back, srv.url), jar);
  return { res, html: await res.text() };
}

// A logged-in browser on the entry form.
async function loggedIn(srv, user, password) {
  const jar = new Jar();
  const { res, html } = await loginVia(srv, `${srv.url}/device`, jar, user, password);
  assert.equal(res.status, 200);
  return { jar, csrf: hiddenInputs(html).csrf_token };
}

// The whole user side: verification_uri_complete, login, the entry form
// (prefilled), the confirmation page, then `action`.
async function userDecides(srv, da, action, { typed } = {}) {
  const jar = new Jar();
  const entry = await loginVia(srv, da.verification_uri_complete, jar);
  assert.equal(entry.res.status, 200, entry.html);
  assert.equal(codeField(entry.html), da.user_code, 'the code is prefilled');
  let res = await browse(`${srv.url}/device`, jar, form({
    csrf_token: hiddenInputs(entry.html).csrf_token, user_code: typed ?? da.user_code,
  }));
  const confirm = await res.text();
  assert.equal(res.status, 200, confirm);
  const fields = hiddenInputs(confirm);
  assert.equal(fields.user_code, da.user_code);
  assert.match(confirm, /name="action" value="approve"/);
  assert.match(confirm, /name="action" value="deny"/);
  res = await browse(`${srv.url}/device`, jar, form({ ...fields, action }));
  const done = await res.text();
  assert.equal(res.status, 200, done);
  return { jar, confirm, done };
}

function assertOAuthError(r, status, error) {
  assert.equal(r.res.status, status, r.text);
  assert.equal(r.json?.error, error, r.text);
  assert.equal(r.res.headers.get('cache-control'), 'no-store');
}

// Device authorization and one poll, without a client library.
async function rawStart(srv, clientId, params = {}, headers = {}) {
  const r = await postForm(srv, '/oauth2/device/authorize',
    { ...(clientId ? { client_id: clientId } : {}), ...params }, headers);
  assert.equal(r.res.status, 200, r.text);
  return r.json;
}

function rawPoll(srv, clientId, deviceCode) {
  return postForm(srv, '/oauth2/token',
    { grant_type: DEVICE_GRANT, client_id: clientId, device_code: deviceCode });
}

describe('device authorization grant (RFC 8628)', () => {
  let srv;
  let pub;
  let JWKS;
  const seen = [];     // every device and user code: none may reach the log

  const opts = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' };

  before(async () => {
    srv = await startServer({ config: await config() });
    pub = await client.discovery(new URL(srv.url), 'flytectl', undefined, client.None(), opts);
    JWKS = createRemoteJWKSet(new URL(pub.serverMetadata().jwks_uri));
  });

  after(async () => {
    if (!srv) return;
    const exited = await srv.stop();
    const out = srv.stdout + srv.stderr;
    for (const s of [ALICE_PASSWORD, BOB_PASSWORD, KIOSK_SECRET, ...seen]) {
      assert.ok(!out.includes(s), 'a code or secret reached the server output');
    }
    assert.doesNotMatch(out, /AddressSanitizer|LeakSanitizer|runtime error/);
    assert.equal(exited.code, 0, out.slice(-2000));
  });

  // Introspection asks as kiosk, the confidential client.
  async function introspect(token) {
    const r = await postForm(srv, '/oauth2/introspect', { token },
      { authorization: basic('kiosk', KIOSK_SECRET) });
    assert.equal(r.res.status, 200, r.text);
    return r.json;
  }

  function remember(da) {
    seen.push(da.device_code, da.user_code, da.user_code.replace('-', ''));
    return da;
  }

  test('metadata advertises the device endpoint and grant', () => {
    const meta = pub.serverMetadata();
    assert.equal(meta.device_authorization_endpoint, `${srv.url}/oauth2/device/authorize`);
    assert.ok(meta.grant_types_supported.includes(DEVICE_GRANT));
  });

  test('openid-client polls while the user logs in and approves', async () => {
    const da = remember(await client.initiateDeviceAuthorization(pub, { scope: 'all offline' }));
    assert.match(da.user_code, USER_CODE);
    assert.match(da.device_code, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(da.verification_uri, `${srv.url}/device`);
    assert.equal(da.verification_uri_complete, `${srv.url}/device?user_code=${da.user_code}`);
    assert.equal(da.expires_in, 600);
    assert.equal(da.interval, 1);

    // The client polls concurrently with the user.
    const polling = client.pollDeviceAuthorizationGrant(pub, da);
    polling.catch(() => {});
    await sleep(1500);    // at least one authorization_pending on the way
    // Typed as a person might: lower case, without the dash.
    const { confirm, done } = await userDecides(srv, da, 'approve',
      { typed: da.user_code.replace('-', '').toLowerCase() });
    assert.match(confirm, /<strong>flytectl<\/strong>/);
    assert.match(confirm, /<li>all<\/li>\s*<li>offline<\/li>/);
    assert.match(confirm, /Signed in as <strong>alice<\/strong>/);
    assert.match(done, /Device connected/);
    const tokens = await polling;

    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'all offline');
    assert.match(tokens.refresh_token, /^[A-Za-z0-9_-]{43}$/);
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, JWKS, {
      issuer: srv.url, audience: srv.url, typ: 'at+jwt',
    });
    assert.equal(protectedHeader.alg, 'RS256');
    assert.equal(payload.sub, 'alice');
    assert.equal(payload.client_id, 'flytectl');
    assert.deepEqual(payload.scp, ['all', 'offline']);
    assert.equal(payload.user_info.email, 'alice@example.com');
    seen.push(tokens.access_token, tokens.refresh_token);

    // The token is accepted by the gate, and the refresh token rotates.
    const me = await fetch(`${srv.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(me.status, 200);
    assert.equal((await me.json()).subject, 'alice');
    const refreshed = await client.refreshTokenGrant(pub, tokens.refresh_token);
    assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    seen.push(refreshed.access_token, refreshed.refresh_token);

    // Another client presenting the redeemed code: invalid_grant, nothing revoked.
    assertOAuthError(await rawPoll(srv, 'tv', da.device_code), 400, 'invalid_grant');
    assert.equal((await introspect(refreshed.refresh_token)).active, true);

    // Tokens exactly once: the code replayed by its client revokes what it issued.
    const replay = await rawPoll(srv, 'flytectl', da.device_code);
    assertOAuthError(replay, 400, 'invalid_grant');
    assert.match(replay.json.error_description, /revoked/);
    for (const t of [tokens.access_token, refreshed.access_token, refreshed.refresh_token]) {
      assert.deepEqual(await introspect(t), { active: false });
    }
    assertOAuthError(await postForm(srv, '/oauth2/token', { grant_type: 'refresh_token',
      client_id: 'flytectl', refresh_token: refreshed.refresh_token }), 400, 'invalid_grant');
  });

  test('device endpoint: client authentication, grant and scope checks', async () => {
    // Confidential client: Basic, as at the token endpoint.
    const da = remember(await rawStart(srv, null, { scope: 'all' },
      { authorization: basic('kiosk', KIOSK_SECRET) }));
    assert.match(da.user_code, USER_CODE);
    const wrong = await postForm(srv, '/oauth2/device/authorize', {},
      { authorization: basic('kiosk', 'wrong') });
    assertOAuthError(wrong, 401, 'invalid_client');
    assert.match(wrong.res.headers.get('www-authenticate'), /^Basic realm="flyteauth"/);
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize', { client_id: 'kiosk' }),
      401, 'invalid_client');
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize', { client_id: 'nosuch' }),
      401, 'invalid_client');
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize', {}), 401, 'invalid_client');
    // A client without the grant, and only scopes beyond the client's.
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize', { client_id: 'nodevice' }),
      400, 'unauthorized_client');
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize',
      { client_id: 'tv', scope: 'offline admin' }), 400, 'invalid_scope');
    assertOAuthError(await postForm(srv, '/oauth2/device/authorize',
      { client_id: 'tv', audience: 'https://elsewhere.example.com' }), 400, 'invalid_request');
    // And the device grant at the token endpoint for a client without it.
    assertOAuthError(await rawPoll(srv, 'nodevice', da.device_code), 400, 'unauthorized_client');
    // no-store on success too.
    const ok = await postForm(srv, '/oauth2/device/authorize', { client_id: 'tv' });
    assert.equal(ok.res.status, 200);
    assert.equal(ok.res.headers.get('cache-control'), 'no-store');
    remember(ok.json);
  });

  test('deny: the polling client gets access_denied', async () => {
    const da = remember(await client.initiateDeviceAuthorization(pub, { scope: 'all' }));
    const polling = assert.rejects(client.pollDeviceAuthorizationGrant(pub, da), (e) => {
      assert.equal(e.error, 'access_denied', `${e.name}: ${e.message}`);
      return true;
    });
    const { done } = await userDecides(srv, da, 'deny');
    assert.match(done, /Device denied/);
    await polling;
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'access_denied');
  });

  test('slow_down adds 5 seconds to the interval each time', async () => {
    const da = remember(await rawStart(srv, 'tv'));
    assertOAuthError(await rawPoll(srv, 'tv', da.device_code), 400, 'authorization_pending');
    const s1 = await rawPoll(srv, 'tv', da.device_code);
    assertOAuthError(s1, 400, 'slow_down');
    assert.match(s1.json.error_description, /at least 6 seconds/);
    const s2 = await rawPoll(srv, 'tv', da.device_code);
    assertOAuthError(s2, 400, 'slow_down');
    assert.match(s2.json.error_description, /at least 11 seconds/);
  });

  test('another client, unknown and missing device codes: invalid_grant', async () => {
    const da = remember(await rawStart(srv, 'flytectl'));
    assertOAuthError(await rawPoll(srv, 'tv', da.device_code), 400, 'invalid_grant');
    // The owner's state was not touched: its first poll is simply pending.
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'authorization_pending');
    assertOAuthError(await rawPoll(srv, 'flytectl', 'A'.repeat(43)), 400, 'invalid_grant');
    assertOAuthError(await rawPoll(srv, 'flytectl', 'not-a-code'), 400, 'invalid_grant');
    assertOAuthError(await postForm(srv, '/oauth2/token',
      { grant_type: DEVICE_GRANT, client_id: 'flytectl' }), 400, 'invalid_request');
  });

  test('concurrent polls after approval: exactly one gets tokens', async () => {
    const da = remember(await rawStart(srv, 'flytectl', { scope: 'all offline' }));
    await userDecides(srv, da, 'approve');
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => rawPoll(srv, 'flytectl', da.device_code)));
    const winners = answers.filter((a) => a.res.status === 200);
    assert.equal(winners.length, 1, answers.map((a) => a.text).join('\n'));
    for (const a of answers) {
      if (a.res.status !== 200) assertOAuthError(a, 400, 'invalid_grant');
    }
    const t = winners[0].json;
    seen.push(t.access_token, t.refresh_token);
    await jwtVerify(t.access_token, JWKS, { issuer: srv.url, audience: srv.url, typ: 'at+jwt' });
    assert.equal(winners[0].res.headers.get('cache-control'), 'no-store');
    // A loser that read the code redeemed was a replay and revoked the
    // family; one that lost the redemption write changed nothing.
    const replayed = answers.some((a) => /revoked/.test(a.json?.error_description ?? ''));
    assert.equal((await introspect(t.access_token)).active, !replayed);
    // A later replay: invalid_grant, and the tokens are revoked.
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'invalid_grant');
    assert.deepEqual(await introspect(t.access_token), { active: false });
    assert.deepEqual(await introspect(t.refresh_token), { active: false });
  });

  test('CSRF: no token, a wrong one or another session\'s is refused', async () => {
    const da = remember(await rawStart(srv, 'flytectl'));
    const alice = await loggedIn(srv, 'alice', ALICE_PASSWORD);
    const bob = await loggedIn(srv, 'bob', BOB_PASSWORD);
    const attempts = [
      {},                                              // missing
      { csrf_token: 'x'.repeat(43) },                  // forged
      { csrf_token: bob.csrf },                        // another session's
    ];
    for (const extra of attempts) {
      for (const action of [undefined, 'approve']) {
        const res = await browse(`${srv.url}/device`, alice.jar, form({
          user_code: da.user_code, ...(action ? { action } : {}), ...extra,
        }));
        const html = await res.text();
        assert.equal(res.status, 403, html);
        assert.match(html, /This form has expired or did not come from this page/);
        assert.doesNotMatch(html, /name="action"/);
      }
    }
    // Nothing was approved.
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'authorization_pending');
    // Alice's own token works.
    const res = await browse(`${srv.url}/device`, alice.jar, form({
      user_code: da.user_code, csrf_token: alice.csrf, action: 'approve' }));
    assert.equal(res.status, 200);
    const ok = await rawPoll(srv, 'flytectl', da.device_code);
    assert.equal(ok.res.status, 200, ok.text);
  });

  test('wrong user codes are throttled per login session, and logged without the code', async () => {
    const da = remember(await rawStart(srv, 'flytectl'));
    const { jar, csrf } = await loggedIn(srv, 'alice', ALICE_PASSWORD);
    const guesses = ['BBBB-BBBB', 'bcdf-bcdf', 'ZZZZZZZZ', 'AAAA-AAAA', 'QQQQ-QQQX'];
    for (const g of guesses) {
      const res = await browse(`${srv.url}/device`, jar, form({ csrf_token: csrf, user_code: g }));
      const html = await res.text();
      assert.equal(res.status, 400, html);
      assert.match(html, /That code is not valid or has expired/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }
    // Past the free ones, the session must wait (1 s after the fifth, then
    // 2, 4 ... 60): within the delay even the right code is refused,
    // before any lookup.
    const res = await browse(`${srv.url}/device`, jar,
      form({ csrf_token: csrf, user_code: da.user_code }));
    const html = await res.text();
    assert.equal(res.status, 429, html);
    assert.match(html, /Too many wrong codes/);
    const ra = Number(res.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 2, `Retry-After ${ra}`);
    // A delay, not a lock: after it, one more wrong code doubles it ...
    await new Promise((r) => setTimeout(r, ra * 1000 + 100));
    const sixth = await browse(`${srv.url}/device`, jar, form({ csrf_token: csrf, user_code: 'XXXX-XXXX' }));
    assert.equal(sixth.status, 400);
    const again = await browse(`${srv.url}/device`, jar,
      form({ csrf_token: csrf, user_code: da.user_code }));
    assert.equal(again.status, 429);
    const ra2 = Number(again.headers.get('retry-after'));
    assert.ok(ra2 >= 2 && ra2 <= 3, `Retry-After ${ra2}`);
    // ... and once that has passed, the right code works in this session.
    await new Promise((r) => setTimeout(r, ra2 * 1000 + 100));
    const late = await browse(`${srv.url}/device`, jar,
      form({ csrf_token: csrf, user_code: da.user_code }));
    assert.equal(late.status, 200, await late.text());
    // A fresh login session is a fresh count (the address cap is higher).
    const other = await loggedIn(srv, 'alice', ALICE_PASSWORD);
    const ok = await browse(`${srv.url}/device`, other.jar,
      form({ csrf_token: other.csrf, user_code: da.user_code }));
    assert.equal(ok.status, 200);
    const out = srv.stdout + srv.stderr;
    assert.match(out, /wrong device user code entered/);
    for (const g of [...guesses, 'XXXX-XXXX']) assert.ok(!out.includes(g), 'a typed code reached the log');
  });

  test('the page: login redirect, escaping, security headers', async () => {
    // POST without a session: to /login, carrying a well-formed code only.
    let res = await fetch(`${srv.url}/device`, {
      ...form({ user_code: 'bcdf-ghjk', action: 'approve' }), redirect: 'manual' });
    const back = (r) => {
      const loc = new URL(r.headers.get('location'), srv.url);
      assert.equal(loc.pathname, '/login');
      return loc.searchParams.get('redirect_url');
    };
    assert.equal(res.status, 303);
    assert.equal(back(res), '/device?user_code=BCDF-GHJK');
    res = await fetch(`${srv.url}/device?user_code=%3Cscript%3E`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(back(res), '/device');
    // Logged in: whatever comes in the query is escaped into the field.
    const { jar } = await loggedIn(srv, 'alice', ALICE_PASSWORD);
    res = await browse(`${srv.url}/device?user_code=${encodeURIComponent('"><script>x</script>')}`, jar);
    const html = await res.text();
    assert.equal(res.status, 200);
    assert.ok(!html.includes('<script'), html);
    assert.ok(html.includes('&quot;&gt;&lt;script&gt;'));
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    // No code typed, or an action that is neither approve nor deny.
    const csrf = hiddenInputs(html).csrf_token;
    res = await browse(`${srv.url}/device`, jar, form({ csrf_token: csrf }));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /Enter the code shown on your device/);
    res = await browse(`${srv.url}/device`, jar,
      form({ csrf_token: csrf, user_code: 'BCDF-GHJK', action: 'maybe' }));
    assert.equal(res.status, 400);
  });
});

describe('device authorization grant: expiry', () => {
  let srv;

  before(async () => {
    srv = await startServer({ config: await config({ lifespan: '2s' }) });
  });

  after(async () => {
    if (!srv) return;
    const exited = await srv.stop();
    assert.doesNotMatch(srv.stdout + srv.stderr, /AddressSanitizer|LeakSanitizer|runtime error/);
    assert.equal(exited.code, 0);
  });

  test('an expired device code: expired_token, and it can no longer be approved', async () => {
    const da = await rawStart(srv, 'flytectl');
    assert.equal(da.expires_in, 2);
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'authorization_pending');
    const { jar, csrf } = await loggedIn(srv, 'alice', ALICE_PASSWORD);
    await sleep(2100);
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'expired_token');
    const res = await browse(`${srv.url}/device`, jar,
      form({ csrf_token: csrf, user_code: da.user_code }));
    assert.equal(res.status, 400);
    assert.match(await res.text(), /not valid or has expired/);
    assertOAuthError(await rawPoll(srv, 'flytectl', da.device_code), 400, 'expired_token');
  });
});
