// idp_login.test.mjs -- flyteauth as the relying party of an upstream IdP
// (userAuth.openId), black-box: a real OpenID Provider (npm oidc-provider,
// lib/idp.mjs) on loopback, a person's login at its forms, and the real
// `flyteauth serve`. The full login lands on redirect_url with /me showing
// the IdP's claims; forged state, a replayed callback, the IdP's error,
// an ID token with one thing wrong (nonce, signature, aud) are refused with
// nothing written; an IdP that is down at start makes /login 503 until it
// comes up; the Self server's code flow after an IdP login mints tokens for
// the IdP's subject; local users stay usable beside the IdP; and
// client_secret_post is used when the IdP offers only that.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

import { Jar, browse, hiddenInputs } from './lib/browser.mjs';
import { FLYTECTL, FLYTECTL_REDIRECT, PASSWORD, hashSecret, login, me, secretFiles } from './lib/identity.mjs';
import { idpLogin, signingKey, startIdp } from './lib/idp.mjs';
import { freePort, postForm, run, sleep, startServer, tempDir } from './lib/server.mjs';

const IDP_SECRET = 'idp-client-secret-0123456789';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const ACCOUNTS = {
  '00u1alice': {
    name: 'Alice Example', preferred_username: 'alice@corp.example', given_name: 'Alice',
    family_name: 'Example', email: 'alice@corp.example', email_verified: true,
    picture: 'https://corp.example/alice.png', department: 'ml-platform',
  },
};
const CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'given_name', 'family_name', 'picture', 'department'],
  email: ['email', 'email_verified'],
};

async function rpConfig({ idpUrl, localUsers = false, clientId = 'flyteauth', sameSite = 'DefaultMode',
  db = 'DIR/flyteauth.db' }) {
  const users = localUsers
    ? `    localUsers:\n      - {username: breakglass, passwordHash: '${await hashSecret(PASSWORD)}', name: Break Glass}\n`
    : '';
  return `
server: {httpPort: PORT, bindAddress: 127.0.0.1, security: {secure: false, insecureCookieHeader: true}}
database: {sqlite: {file: ${db}}}
secrets: {secrets-prefix: DIR, env-prefix: FLYTE_SECRET_TEST_UNUSED_}
auth:
  authorizedUris: [http://127.0.0.1:PORT]
  userAuth:
    redirectUrl: /console
    cookieSetting: {sameSitePolicy: ${sameSite}}
    openId:
      baseUrl: ${idpUrl}
      clientId: ${clientId}
      scopes: [openid, profile, email]
${users}  appAuth:
    selfAuthServer:
      issuer: http://127.0.0.1:PORT
      staticClients:
${FLYTECTL}        tv: {id: tv, grant_types: ['${DEVICE_GRANT}'], scopes: [all], public: true}
`;
}

// flyteauth for idp on a port chosen first (the IdP client's redirect URI).
// Discovery runs in the background: with `ready`, waits until it is done.
async function startRp(idpUrl, port, { ready = true, files = secretFiles(), ...opts } = {}) {
  const rp = await startServer({
    config: await rpConfig({ idpUrl, ...opts }), port,
    files: { ...files, oidc_client_secret: IDP_SECRET },
  });
  const deadline = Date.now() + 10000;
  while (ready && (await browse(`${rp.url}/login?upstream=1`, null)).status === 503) {
    if (Date.now() > deadline) {
      await rp.stop();
      throw new Error(`the IdP's discovery did not load: ${rp.stderr}`);
    }
    await sleep(50);
  }
  return rp;
}

// Stops a server, then checks what it wrote: no sanitizer report, a clean
// exit, and not our IdP client secret in its output.
async function stopChecked(rp) {
  const exited = await rp.stop();
  const out = rp.stdout + rp.stderr;
  assert.doesNotMatch(out, /AddressSanitizer|LeakSanitizer|runtime error/);
  assert.ok(!out.includes(IDP_SECRET), 'the IdP client secret reached the log');
  assert.equal(exited.code, 0, out.slice(-2000));
}

function idpClient(port, extra = {}) {
  return {
    client_id: 'flyteauth', client_secret: IDP_SECRET,
    redirect_uris: [`http://127.0.0.1:${port}/callback`],
    post_logout_redirect_uris: [`http://127.0.0.1:${port}/`, `http://127.0.0.1:${port}/console`], ...extra,
  };
}

// Rows of the store, by kind.
function rows(srv, kind) {
  assert.match(kind, /^[a-z_]+$/);
  const out = execFileSync('sqlite3', ['-readonly', path.join(srv.dir, 'flyteauth.db'),
    `SELECT count(*) FROM records WHERE kind = '${kind}'`]);
  return Number(String(out).trim());
}

// GET /login[?redirect_url] in jar: the IdP authorization URL it sends to.
async function startLogin(srv, jar, redirectUrl) {
  const q = redirectUrl ? `?redirect_url=${encodeURIComponent(redirectUrl)}` : '';
  const res = await browse(`${srv.url}/login${q}`, jar);
  assert.equal(res.status, 302, await res.text());
  return new URL(res.headers.get('location'));
}

let key;       // the IdP's signing key (private JWK), for re-signing
let stranger;  // a key the IdP does not publish
let idp;
let rpPort;
let srv;

before(async () => {
  key = await signingKey('RS256', 'idp-key-1');
  stranger = await signingKey('RS256', 'idp-key-1');
  rpPort = await freePort();
  idp = await startIdp({ clients: [idpClient(rpPort)], accounts: ACCOUNTS, claims: CLAIMS,
    jwks: { keys: [key.jwk] } });
  srv = await startRp(idp.issuer, rpPort);
});

after(async () => {
  if (srv) await stopChecked(srv);
  await idp?.stop();
});

test('a full login through the IdP lands on redirect_url, and /me shows the IdP claims', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console/projects');
  // The authorization request: our client, our callback, state, nonce, PKCE S256.
  assert.equal(auth.origin, idp.issuer);
  const q = auth.searchParams;
  assert.equal(q.get('client_id'), 'flyteauth');
  assert.equal(q.get('response_type'), 'code');
  assert.equal(q.get('redirect_uri'), `${srv.url}/callback`);
  assert.equal(q.get('scope'), 'openid profile email');
  assert.equal(q.get('code_challenge_method'), 'S256');
  assert.match(q.get('code_challenge'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get('state'), /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get('nonce'), /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(q.get('state'), q.get('nonce'));
  const csrf = jar.lines.get('flyte_csrf_state');
  assert.match(csrf, /Path=\/callback/i);
  assert.match(csrf, /HttpOnly/i);
  assert.ok(!csrf.includes(q.get('state')), 'state readable in the cookie');

  const back = await idpLogin(auth.href, '00u1alice');
  assert.ok(back.startsWith(`${srv.url}/callback?`), back);
  const res = await browse(back, jar);
  assert.equal(res.status, 302, await res.text());
  assert.equal(res.headers.get('location'), '/console/projects');
  assert.ok(jar.get('flyte_session'), 'no session cookie');
  assert.equal(jar.get('flyte_csrf_state'), undefined, 'state cookie not cleared');
  // One small cookie, no IdP token in it.
  assert.ok(jar.get('flyte_session').length < 200);

  const m = await me(srv.url, { cookie: jar.header() });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.json.subject, '00u1alice');
  assert.equal(m.res.headers.get('x-user-subject'), '00u1alice');
  assert.equal(m.json.name, 'Alice Example');
  assert.equal(m.json.preferred_username, 'alice@corp.example');
  assert.equal(m.json.given_name, 'Alice');
  assert.equal(m.json.family_name, 'Example');
  assert.equal(m.json.email, 'alice@corp.example');
  assert.equal(m.json.picture, 'https://corp.example/alice.png');
  assert.equal(m.json.additional_claims.department, 'ml-platform');
  assert.equal(m.json.additional_claims.nonce, undefined);
  assert.equal(m.json.additional_claims.iss, undefined);

  // Logged in: /login goes straight on.
  const again = await browse(`${srv.url}/login?redirect_url=/console`, jar);
  assert.equal(again.status, 302);
  assert.equal(again.headers.get('location'), '/console');
  // Nothing of the IdP's tokens or our secret in the log.
  assert.ok(!srv.stderr.includes(IDP_SECRET) && !srv.stdout.includes(IDP_SECRET));
});

test('a callback whose state is not the browser\'s is refused with nothing written', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  const back = new URL(await idpLogin(auth.href, '00u1alice'));
  const before = [rows(srv, 'session'), rows(srv, 'idp_state')];
  const tokenHits = idp.hits['/token'] ?? 0;

  // A forged state, the right cookie.
  const forged = new URL(back);
  forged.searchParams.set('state', randomBytes(32).toString('base64url'));
  let res = await browse(forged.href, jar);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /not started in this browser/);
  // The right state in another browser (no cookie): login CSRF.
  res = await browse(back.href, new Jar());
  assert.equal(res.status, 400);
  // No state at all.
  const none = new URL(back);
  none.searchParams.delete('state');
  res = await browse(none.href, jar);
  assert.equal(res.status, 400);
  assert.deepEqual([rows(srv, 'session'), rows(srv, 'idp_state')], before);
  assert.equal(idp.hits['/token'] ?? 0, tokenHits, 'the code was exchanged');
  // The real one still works afterwards.
  res = await browse(back.href, jar);
  assert.equal(res.status, 302);
});

test('a replayed callback changes nothing', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  const state = jar.get('flyte_csrf_state');
  const back = await idpLogin(auth.href, '00u1alice');
  let res = await browse(back, jar);
  assert.equal(res.status, 302);
  const session = jar.get('flyte_session');
  const before = [rows(srv, 'session'), rows(srv, 'idp_state')];
  const tokenHits = idp.hits['/token'];
  // The same callback with the same cookie again (an attacker who copied both).
  const replay = new Jar();
  replay.cookies.set('flyte_csrf_state', state);
  res = await browse(back, replay);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /cannot be used again/);
  assert.equal(replay.get('flyte_session'), undefined);
  assert.deepEqual([rows(srv, 'session'), rows(srv, 'idp_state')], before);
  assert.equal(idp.hits['/token'], tokenHits);
  assert.equal((await me(srv.url, { cookie: `flyte_session=${session}` })).status, 200);
});

test('the IdP\'s error is shown readably and escaped', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  const cb = new URL(`${srv.url}/callback`);
  cb.searchParams.set('state', auth.searchParams.get('state'));
  cb.searchParams.set('error', 'access_denied');
  cb.searchParams.set('error_description', 'User <b>refused</b> & left');
  const res = await browse(cb.href, jar);
  assert.equal(res.status, 403);
  const html = await res.text();
  assert.match(html, /access_denied: User &lt;b&gt;refused&lt;\/b&gt; &amp; left/);
  assert.ok(!html.includes('<b>refused'));
  assert.equal(jar.get('flyte_session'), undefined);

  // Through the IdP itself: consent refused at its form... the abort link.
  const jar2 = new Jar();
  const auth2 = await startLogin(srv, jar2, '/console');
  const ijar = new Jar();
  let r = await browse(auth2.href, ijar);
  const interaction = new URL(r.headers.get('location'), idp.issuer);
  r = await browse(`${interaction.href}/abort`, ijar);
  while ([302, 303].includes(r.status) && new URL(r.headers.get('location'), idp.issuer).origin === idp.issuer) {
    r = await browse(new URL(r.headers.get('location'), idp.issuer).href, ijar);
  }
  const back = r.headers.get('location');
  assert.ok(back.startsWith(`${srv.url}/callback?`), back);
  r = await browse(back, jar2);
  assert.equal(r.status, 403);
  assert.match(await r.text(), /access_denied: End-User aborted interaction/);
});

// The login up to the IdP's redirect back, with idp.tamper rewriting the
// token response; returns the callback's answer.
async function tamperedLogin(tamper, editAuth = (u) => u) {
  const jar = new Jar();
  const auth = editAuth(await startLogin(srv, jar, '/console'));
  const back = await idpLogin(auth.href, '00u1alice');
  const sessions = rows(srv, 'session');
  if (tamper) idp.tamper = tamper;
  try {
    const res = await browse(back, jar);
    assert.equal(jar.get('flyte_session'), undefined, 'a session was set');
    assert.equal(rows(srv, 'session'), sessions, 'a session was written');
    return { res, html: await res.text() };
  } finally {
    idp.tamper = null;
  }
}

// Re-signs the token response's ID token after edit(claims, header).
function resign(edit, signer = key) {
  return async (json) => {
    const claims = jose.decodeJwt(json.id_token);
    const header = jose.decodeProtectedHeader(json.id_token);
    edit(claims, header);
    // The same private key, imported for the header's alg (a valid
    // signature whatever alg the test put there).
    const k = await jose.importJWK({ ...signer.jwk, alg: header.alg }, header.alg);
    json.id_token = await new jose.SignJWT(claims).setProtectedHeader(header).sign(k);
    return json;
  };
}

test('an ID token with one thing wrong is refused, and nothing is written', async () => {
  // The control: re-signing with the IdP's own key and nothing changed passes.
  let r = await (async () => {
    const jar = new Jar();
    const auth = await startLogin(srv, jar, '/console');
    const back = await idpLogin(auth.href, '00u1alice');
    idp.tamper = resign(() => {});
    try {
      return await browse(back, jar);
    } finally {
      idp.tamper = null;
    }
  })();
  assert.equal(r.status, 302);

  const cases = [
    ['wrong aud', resign((c) => { c.aud = 'someone-else'; })],
    ['aud with us among several, no azp', resign((c) => { c.aud = ['flyteauth', 'api']; delete c.azp; })],
    ['wrong nonce', resign((c) => { c.nonce = randomBytes(32).toString('base64url'); })],
    ['no nonce', resign((c) => { delete c.nonce; })],
    ['expired', resign((c) => { c.exp = Math.floor(Date.now() / 1000) - 600; c.iat = c.exp - 60; })],
    ['another issuer', resign((c) => { c.iss = 'http://127.0.0.1:1'; })],
    ['signed by a key not in the JWKS', resign(() => {}, stranger)],
    ['alg differing from the key\'s', resign((c, h) => { h.alg = 'PS256'; })],
    ['no id_token', async (json) => { delete json.id_token; return json; }],
    ['malformed JSON', async () => '{"id_token": "a.b.c", '],
    ['an answer over 64 KiB (5 MB)', async (json) => ({ ...json, pad: 'x'.repeat(5 * 1024 * 1024) })],
  ];
  for (const [name, tamper] of cases) {
    r = await tamperedLogin(tamper);
    assert.equal(r.res.status, 502, `${name}: ${r.res.status} ${r.html}`);
    assert.match(r.html, /could not be accepted/, name);
  }
  // Userinfo naming another subject.
  idp.tamperUserinfo = async (json) => ({ ...json, sub: '00u2mallory' });
  try {
    r = await tamperedLogin(null);
  } finally {
    idp.tamperUserinfo = null;
  }
  assert.equal(r.res.status, 502);
  assert.match(srv.stderr, /userinfo names another subject than the ID token/);
  // The nonce of the authorization request swapped in transit: the IdP
  // signs the wrong nonce itself.
  r = await tamperedLogin(null, (u) => { u.searchParams.set('nonce', 'attacker-nonce'); return u; });
  assert.equal(r.res.status, 502);
  assert.match(srv.stderr, /nonce is not this sign-in's/);
});

test('the Self server\'s code flow after an IdP login: tokens for the IdP subject with user_info', async () => {
  const jar = new Jar();
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id: 'flytectl', redirect_uri: FLYTECTL_REDIRECT,
    scope: 'all offline', state: 'state-0001', code_challenge: challenge, code_challenge_method: 'S256' });
  let res = await browse(`${srv.url}/oauth2/authorize?${q}`, jar);
  assert.equal(res.status, 302);
  const loginUrl = new URL(res.headers.get('location'), srv.url);
  assert.equal(loginUrl.pathname, '/login');
  res = await browse(loginUrl.href, jar);
  assert.equal(res.status, 302);
  const back = await idpLogin(res.headers.get('location'), '00u1alice');
  res = await browse(back, jar);
  assert.equal(res.status, 302);
  res = await browse(new URL(res.headers.get('location'), srv.url).href, jar);
  assert.equal(res.status, 302);
  const cb = new URL(res.headers.get('location'));
  assert.equal(cb.searchParams.get('state'), 'state-0001');
  const tok = await fetch(`${srv.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: cb.searchParams.get('code'),
      redirect_uri: FLYTECTL_REDIRECT, client_id: 'flytectl', code_verifier: verifier }),
  });
  const json = await tok.json();
  assert.equal(tok.status, 200, JSON.stringify(json));
  const at = jose.decodeJwt(json.access_token);
  assert.equal(at.sub, '00u1alice');
  assert.equal(at.user_info.sub, '00u1alice');
  assert.equal(at.user_info.name, 'Alice Example');
  assert.equal(at.user_info.email, 'alice@corp.example');
  const m = await me(srv.url, { authorization: `Bearer ${json.access_token}` });
  assert.equal(m.status, 200, m.text);
  assert.equal(m.json.subject, '00u1alice');
});

test('local users beside the IdP: the page offers both, and break-glass works', async () => {
  const port = await freePort();
  const idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS });
  const rp = await startRp(idp2.issuer, port, { localUsers: true });
  try {
    const jar = new Jar();
    let res = await browse(`${rp.url}/login?redirect_url=/console`, jar);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /Sign in with 127\.0\.0\.1/);
    assert.match(html, /href="\/login\?upstream=1&amp;redirect_url=\/console"/);
    assert.match(html, /name="password"/);
    // The IdP link.
    res = await browse(`${rp.url}/login?upstream=1&redirect_url=/console`, jar);
    assert.equal(res.status, 302);
    assert.equal(new URL(res.headers.get('location')).origin, idp2.issuer);
    // Break-glass: the IdP is down, the local user logs in.
    await idp2.stop();
    const j2 = new Jar();
    res = await login(rp.url, j2, 'breakglass', PASSWORD, '/console');
    assert.equal(res.status, 303);
    const m = await me(rp.url, { cookie: j2.header() });
    assert.equal(m.json.subject, 'breakglass');
  } finally {
    await stopChecked(rp);
    await idp2.stop();
  }
});

// The Self server's code flow for flytectl (scope all offline) in a
// browser that already has a session: /oauth2/authorize and flyteauth's
// own redirects until flytectl's redirect URI, then the code exchange.
async function tokensWithSession(url, jar) {
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({ response_type: 'code', client_id: 'flytectl', redirect_uri: FLYTECTL_REDIRECT,
    scope: 'all offline', state: 'state-session-1', code_challenge_method: 'S256',
    code_challenge: createHash('sha256').update(verifier).digest('base64url') });
  let next = `${url}/oauth2/authorize?${q}`;
  for (let i = 0; i < 5 && !next.startsWith(FLYTECTL_REDIRECT); i++) {
    const res = await browse(next, jar);
    assert.equal(res.status, 302, `${next}: ${res.status}`);
    next = new URL(res.headers.get('location'), url).href;
  }
  const code = new URL(next).searchParams.get('code');
  assert.ok(code, next);
  const tok = await postForm({ url }, '/oauth2/token', { grant_type: 'authorization_code', code,
    redirect_uri: FLYTECTL_REDIRECT, client_id: 'flytectl', code_verifier: verifier });
  assert.equal(tok.res.status, 200, tok.text);
  assert.ok(tok.json.refresh_token);
  return tok.json;
}

test('a break-glass user removed from localUsers loses the session and its refresh tokens after a restart; IdP users keep both', async () => {
  const port = await freePort();
  const dir = tempDir();
  const db = path.join(dir, 'shared.db');
  const files = secretFiles();
  const idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS });
  try {
    let rp = await startRp(idp2.issuer, port, { localUsers: true, db, files });
    let glassTokens;
    let aliceTokens;
    const glass = new Jar();
    const jar = new Jar();
    try {
      assert.equal((await login(rp.url, glass, 'breakglass', PASSWORD, '/console')).status, 303);
      const up = await browse(`${rp.url}/login?upstream=1&redirect_url=/console`, jar);
      assert.equal(up.status, 302);
      assert.equal((await browse(await idpLogin(up.headers.get('location'), '00u1alice'), jar)).status, 302);
      assert.equal((await me(rp.url, { cookie: glass.header() })).status, 200);
      assert.equal((await me(rp.url, { cookie: jar.header() })).status, 200);
      glassTokens = await tokensWithSession(rp.url, glass);
      aliceTokens = await tokensWithSession(rp.url, jar);
      assert.equal(jose.decodeJwt(glassTokens.access_token).sub, 'breakglass');
      assert.equal(jose.decodeJwt(aliceTokens.access_token).sub, '00u1alice');
    } finally {
      await stopChecked(rp);
    }
    // The same store and keys, breakglass no longer in the config.
    rp = await startRp(idp2.issuer, port, { db, files });
    try {
      assert.equal((await me(rp.url, { cookie: glass.header() })).status, 401);
      const m = await me(rp.url, { cookie: jar.header() });
      assert.equal(m.status, 200);
      assert.equal(m.json.subject, '00u1alice');
      assert.match(rp.stderr, /session of removed user breakglass ended/);
      // Its refresh family too: checked against localUsers, beside the IdP.
      const refresh = (t) => postForm(rp, '/oauth2/token', { grant_type: 'refresh_token',
        refresh_token: t.refresh_token, client_id: 'flytectl' });
      const gone = await refresh(glassTokens);
      assert.equal(gone.res.status, 400, gone.text);
      assert.equal(gone.json.error, 'invalid_grant');
      const kept = await refresh(aliceTokens);
      assert.equal(kept.res.status, 200, kept.text);
      assert.equal(jose.decodeJwt(kept.json.access_token).sub, '00u1alice');
    } finally {
      await stopChecked(rp);
    }
  } finally {
    await idp2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an IdP down at start: serve starts, /login answers 503 naming it, then works once it is up', async () => {
  const idpPort = await freePort();
  const port = await freePort();
  const rp = await startRp(`http://127.0.0.1:${idpPort}`, port, { ready: false });
  let idp2;
  try {
    const res = await browse(`${rp.url}/login`, new Jar());
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '5');
    const html = await res.text();
    assert.match(html, /Sign-in is temporarily unavailable/);
    assert.ok(html.includes(`http://127.0.0.1:${idpPort}/.well-known/openid-configuration`), html);
    // One log line naming the URL and the error (once the first attempt
    // has failed; the request above may have come first).
    const logged = () => rp.stderr.split('\n').filter((l) => l.includes(`127.0.0.1:${idpPort}`));
    for (const until = Date.now() + 10000; logged().length === 0 && Date.now() < until;) await sleep(50);
    await sleep(300);
    const lines = logged();
    assert.equal(lines.length, 1, rp.stderr);
    assert.match(lines[0], /cannot load the IdP's discovery document/);
    // /callback too is unavailable rather than wrong.
    idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS, port: idpPort });
    const deadline = Date.now() + 20000;
    let status;
    for (;;) {
      status = (await browse(`${rp.url}/login`, new Jar())).status;
      if (status === 302 || Date.now() > deadline) break;
      await sleep(250);
    }
    assert.equal(status, 302);
    const jar = new Jar();
    const auth = await startLogin(rp, jar, '/console');
    const r = await browse(await idpLogin(auth.href, '00u1alice'), jar);
    assert.equal(r.status, 302);
    assert.equal((await me(rp.url, { cookie: jar.header() })).json.subject, '00u1alice');
  } finally {
    await stopChecked(rp);
    await idp2?.stop();
  }
});

test('client_secret_post when the IdP offers only that; under StrictMode the state cookie stays Lax', async () => {
  const port = await freePort();
  const idp2 = await startIdp({
    clients: [idpClient(port, { token_endpoint_auth_method: 'client_secret_post' })],
    accounts: ACCOUNTS, claims: CLAIMS,
    providerOptions: { clientAuthMethods: ['client_secret_post'] },
  });
  // With SameSite=Strict cookies, as some operators set: the state cookie
  // still comes back on the IdP's (cross-site) redirect, so it is Lax.
  const rp = await startRp(idp2.issuer, port, { sameSite: 'StrictMode' });
  try {
    const jar = new Jar();
    const auth = await startLogin(rp, jar, '/console');
    assert.match(jar.lines.get('flyte_csrf_state'), /SameSite=Lax/);
    const res = await browse(await idpLogin(auth.href, '00u1alice'), jar);
    assert.equal(res.status, 302, await res.text());
    assert.match(jar.lines.get('flyte_session'), /SameSite=Strict/);
    assert.equal((await me(rp.url, { cookie: jar.header() })).json.subject, '00u1alice');
  } finally {
    await stopChecked(rp);
    await idp2.stop();
  }
});

test('logout ends the session, then goes to the IdP\'s end_session_endpoint with id_token_hint', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  let res = await browse(await idpLogin(auth.href, '00u1alice'), jar);
  assert.equal(res.status, 302);
  const cookie = jar.header();
  // A same-origin navigation, as the console's logout link is.
  res = await browse(`${srv.url}/logout?redirect_url=/console`, jar, { headers: { 'sec-fetch-site': 'same-origin' } });
  assert.equal(res.status, 303);
  const to = new URL(res.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, `${idp.issuer}/session/end`);
  assert.equal(to.searchParams.get('client_id'), 'flyteauth');
  assert.equal(to.searchParams.get('post_logout_redirect_uri'), `${srv.url}/console`);
  const hint = jose.decodeJwt(to.searchParams.get('id_token_hint'));
  assert.equal(hint.sub, '00u1alice');
  assert.equal(hint.aud, 'flyteauth');
  // The session is gone before the browser reaches the IdP.
  assert.equal((await me(srv.url, { cookie })).status, 401);
  // The IdP takes the request (an unknown hint or redirect would be a 400
  // error page): its logout confirmation.
  const page = await browse(to.href, new Jar());
  assert.equal(page.status, 200, await page.text());
  // Without a session: straight to redirect_url.
  res = await browse(`${srv.url}/logout?redirect_url=/console`, new Jar(), { headers: { 'sec-fetch-site': 'same-origin' } });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/console');
});

test('a cross-site GET /logout of an IdP session only asks; the confirmed POST goes on to the IdP\'s end_session_endpoint', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  let res = await browse(await idpLogin(auth.href, '00u1alice'), jar);
  assert.equal(res.status, 302);
  const cookie = jar.header();
  // A link on another site: no Sec-Fetch-Site same-origin, so a form.
  res = await browse(`${srv.url}/logout?redirect_url=/console`, jar, { headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('location'), null);
  const fields = hiddenInputs(await res.text());
  assert.equal((await me(srv.url, { cookie })).status, 200, 'the session survives the cross-site GET');
  // A forged POST changes nothing.
  res = await browse(`${srv.url}/logout`, jar, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...fields, csrf_token: 'A'.repeat(43) }).toString(),
  });
  assert.equal(res.status, 400);
  assert.equal((await me(srv.url, { cookie })).status, 200, 'the session survives a forged POST');
  // The user confirms: the session ends, then on to the IdP with the hint.
  res = await browse(`${srv.url}/logout`, jar, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
  assert.equal(res.status, 303);
  const to = new URL(res.headers.get('location'));
  assert.equal(`${to.origin}${to.pathname}`, `${idp.issuer}/session/end`);
  assert.equal(jose.decodeJwt(to.searchParams.get('id_token_hint')).sub, '00u1alice');
  assert.equal(to.searchParams.get('post_logout_redirect_uri'), `${srv.url}/console`);
  assert.equal((await me(srv.url, { cookie })).status, 401);
});

test('the IdP\'s tokens are refreshed when they expire, and a refused refresh ends the session', async () => {
  const port = await freePort();
  const accounts = { ...ACCOUNTS };
  const opts = {
    clients: [idpClient(port, { grant_types: ['authorization_code', 'refresh_token'] })],
    accounts, claims: CLAIMS, jwks: { keys: [key.jwk] },
    providerOptions: {
      issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
      ttl: { AccessToken: 5, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 3600, Grant: 3600,
        Interaction: 600, Session: 3600 },
    },
  };
  const idp2 = await startIdp(opts);
  const rp = await startRp(idp2.issuer, port);
  try {
    const jar = new Jar();
    const auth = await startLogin(rp, jar, '/console');
    const res = await browse(await idpLogin(auth.href, '00u1alice'), jar);
    assert.equal(res.status, 302);
    const cookie = jar.header();
    assert.equal(idp2.hits['/token'], 1);
    assert.equal((await me(rp.url, { cookie })).status, 200);
    assert.equal(idp2.hits['/token'], 1, 'refreshed a fresh token');
    // The IdP's access token expires: the next lookup refreshes, once.
    await sleep(5500);
    const ms = await Promise.all([1, 2, 3].map(() => me(rp.url, { cookie })));
    for (const m of ms) assert.equal(m.status, 200);
    assert.equal(idp2.hits['/token'], 2, 'not one refresh');
    // The user is removed at the IdP: the next refresh is refused and the
    // session ends.
    delete accounts['00u1alice'];
    await sleep(5500);
    let m = await me(rp.url, { cookie });
    // A lookup that raced the removal may have refreshed once more.
    const deadline = Date.now() + 10000;
    while (m.status === 200 && Date.now() < deadline) {
      await sleep(500);
      m = await me(rp.url, { cookie });
    }
    assert.equal(m.status, 401, rp.stderr.split("\n").filter((l) => !l.includes(" http ")).join("\n"));
    assert.ok(idp2.hits['/token'] >= 3);
    assert.match(rp.stderr, /a session ended: the IdP's token endpoint answered 400 invalid_grant/);
    // Ended for good: the record is gone.
    assert.equal(rows(rp, 'session'), 0);
  } finally {
    await stopChecked(rp);
    await idp2.stop();
  }
});

test('the device flow\'s verification page logs the user in through the IdP', async () => {
  const da = (await postForm(srv, '/oauth2/device/authorize', { client_id: 'tv', scope: 'all' })).json;
  assert.ok(da?.user_code, JSON.stringify(da));
  const jar = new Jar();
  let res = await browse(da.verification_uri_complete, jar);
  assert.equal(res.status, 302);
  res = await browse(new URL(res.headers.get('location'), srv.url).href, jar);
  assert.equal(res.status, 302);
  res = await browse(await idpLogin(res.headers.get('location'), '00u1alice'), jar);
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get('location'), srv.url);
  assert.equal(back.pathname, '/device');
  res = await browse(back.href, jar);
  const entry = await res.text();
  assert.equal(res.status, 200, entry);
  const post = (params) => browse(`${srv.url}/device`, jar, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  });
  res = await post({ csrf_token: hiddenInputs(entry).csrf_token, user_code: da.user_code });
  const confirm = await res.text();
  assert.equal(res.status, 200, confirm);
  res = await post({ ...hiddenInputs(confirm), action: 'approve' });
  assert.equal(res.status, 200, await res.text());
  const tok = await postForm(srv, '/oauth2/token', { grant_type: DEVICE_GRANT, client_id: 'tv', device_code: da.device_code });
  assert.equal(tok.res.status, 200, tok.text);
  const at = jose.decodeJwt(tok.json.access_token);
  assert.equal(at.sub, '00u1alice');
  assert.equal(at.user_info.email, 'alice@corp.example');
});

test('the README\'s values file for each IdP is accepted by config check once its placeholders are filled', async () => {
  const readme = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf('### Login through your IdP');
  const end = readme.indexOf('\n### ', start + 10);
  const section = readme.slice(start, end);
  const idps = [...section.matchAll(/^#### (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(idps, ['Okta', 'Google', 'Keycloak', 'Microsoft Entra ID']);
  const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 4);
  const hash = await hashSecret('propeller-password');
  const fill = {
    '<org-id>': 'acme', '<client_ID>': '0oa1acmeflyteweb', '<client_secret>': 'acme-oidc-secret',
    '<your-random-password>': 'propeller-password', '<your-hashed-password>': hash,
    '<your-flyte-deployment-URL>': 'flyte.acme.example.com', '<keycloak-url>': 'kc.acme.example.com',
    '<keycloak-realm>': 'flyte', '<tenant-id>': '72f988bf-86f1-41af-91ab-2d7cd011db47',
  };
  const dir = tempDir();
  try {
    for (const [i, block] of blocks.entries()) {
      let yaml = block;
      for (const [k, v] of Object.entries(fill)) yaml = yaml.replaceAll(k, v);
      assert.doesNotMatch(yaml, /<[^>]+>/, `${idps[i]}: a placeholder left`);
      const file = path.join(dir, `values-${i}.yaml`);
      writeFileSync(file, yaml);
      const r = await run(['config', 'check', '--config', file]);
      assert.equal(r.code, 0, `${idps[i]}: ${r.stderr}`);
      assert.match(r.stdout, /configuration OK/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an IdP that goes down during a login: the callback fails readably and writes no session', async () => {
  const port = await freePort();
  const idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS });
  const rp = await startRp(idp2.issuer, port);
  try {
    const jar = new Jar();
    const auth = await startLogin(rp, jar, '/console');
    const back = await idpLogin(auth.href, '00u1alice');
    await idp2.stop();
    const res = await browse(back, jar);
    assert.equal(res.status, 502);
    assert.match(await res.text(), /could not be accepted/);
    assert.equal(jar.get('flyte_session'), undefined);
    assert.equal(rows(rp, 'session'), 0);
    assert.match(rp.stderr, /sign-in through the IdP refused: .*127\.0\.0\.1:\d+\/token/);
  } finally {
    await stopChecked(rp);
    await idp2.stop();
  }
});

test('the discovery document kept in the store serves a restart while the IdP is down', async () => {
  const port = await freePort();
  const dir = tempDir();
  const db = path.join(dir, 'shared.db');
  const idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS });
  try {
    let rp = await startRp(idp2.issuer, port, { db });
    await stopChecked(rp);
    await idp2.stop();
    rp = await startRp(idp2.issuer, port, { db, ready: false });
    try {
      const res = await browse(`${rp.url}/login`, new Jar());
      assert.equal(res.status, 302, await res.text());
      assert.equal(new URL(res.headers.get('location')).origin, idp2.issuer);
      assert.match(rp.stderr, /the IdP's discovery document from the store \(fetched \d+ s ago\)/);
    } finally {
      await stopChecked(rp);
    }
  } finally {
    await idp2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a login whose claims and tokens would not fit one store record still works, without the ID token', async () => {
  const jar = new Jar();
  const auth = await startLogin(srv, jar, '/console');
  const back = await idpLogin(auth.href, '00u1alice');
  const big = (n) => randomBytes(n).toString('base64url').slice(0, n);
  idp.tamper = async (json) => {
    json.refresh_token = big(2800);
    const claims = jose.decodeJwt(json.id_token);
    const header = jose.decodeProtectedHeader(json.id_token);
    const k = await jose.importJWK(key.jwk, header.alg);
    // A note that takes the ID token to about 2.8 KB (kept when alone).
    claims.note = big(Math.floor((2800 - json.id_token.length) * 3 / 4));
    json.id_token = await new jose.SignJWT(claims).setProtectedHeader(header).sign(k);
    assert.ok(json.id_token.length <= 2900 && json.id_token.length > 2600, `${json.id_token.length}`);
    return json;
  };
  idp.tamperUserinfo = async (json) => {
    for (let i = 0; i < 12; i++) json[`extra${i}`] = big(1000);
    return json;
  };
  let res;
  try {
    res = await browse(back, jar);
  } finally {
    idp.tamper = null;
    idp.tamperUserinfo = null;
  }
  assert.equal(res.status, 302, await res.text());
  assert.match(srv.stderr, /the IdP's ID token is not kept \(the session record would be too large\)/);
  const m = await me(srv.url, { cookie: jar.header() });
  assert.equal(m.status, 200);
  assert.equal(m.json.subject, '00u1alice');
  const kept = Object.keys(m.json.additional_claims).filter((k) => k.startsWith('extra'));
  // Claims up to 10 KiB in all: some of the twelve, not all.
  assert.ok(kept.length >= 6 && kept.length < 12, `${kept.length} extra claims kept`);
});

test('callbacks that would write are limited per address: 429 with nothing written past the burst', async () => {
  const port = await freePort();
  const idp2 = await startIdp({ clients: [idpClient(port)], accounts: ACCOUNTS, claims: CLAIMS });
  const rp = await startRp(idp2.issuer, port);
  try {
    // A script collects states from /login and sends each back with a
    // made-up code: each spends its state and asks the IdP, up to the burst.
    // Until the first refusal: the burst, plus what refilled meanwhile.
    const t0 = Date.now();
    let passed = 0;
    let refused = null;
    for (let i = 0; i < 150 && !refused; i++) {
      const jar = new Jar();
      const auth = await startLogin(rp, jar, '/console');
      const res = await browse(`${rp.url}/callback?code=made-up-${i}&state=${auth.searchParams.get('state')}`, jar);
      if (res.status === 429) refused = res;
      else assert.equal(res.status, 502, await res.text());
      if (res.status === 502) passed++;
    }
    const elapsed = (Date.now() - t0) / 1000;
    assert.ok(refused, 'never limited');
    assert.match(refused.headers.get('retry-after'), /^[1-9]\d*$/);
    assert.match(await refused.text(), /Too many sign-ins from this address/);
    assert.ok(passed >= 30 && passed <= 30 + Math.ceil(elapsed) + 1, `${passed} got through in ${elapsed} s`);
    assert.equal(rows(rp, 'idp_state'), passed, 'a limited callback wrote');
    assert.equal(idp2.hits['/token'], passed, 'a limited callback called the IdP');
    assert.equal(rows(rp, 'session'), 0);
  } finally {
    await stopChecked(rp);
    await idp2.stop();
  }
});
