// gate_verify.test.mjs -- GET /auth/verify behind a real nginx (Debian's)
// with auth_request in front of a static upstream (another nginx server
// block that echoes the identity headers it receives): a valid token passes
// and the upstream sees X-User-Subject (and never a client's forgery of
// it), no token is 401, a token without `all` is 403, and a browser without
// a session is sent to /login and comes back logged in. Then the redirect
// target's open-redirect attacks, each asserted.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Jar, browse, submitLogin } from './lib/browser.mjs';
import { PASSWORD, clientToken, startIdentityServer } from './lib/identity.mjs';
import { startNginx } from './lib/nginx.mjs';
import { freePort } from './lib/server.mjs';

const HTML = { accept: 'text/html,application/xhtml+xml' };

// The nginx side of the README's example, on loopback ports.
function nginxServers(nx, fa, up) {
  return `
  server {
    listen 127.0.0.1:${nx};
    # flyteauth's login pages on the same origin, so its session cookie
    # comes back with every request to the app.
    location = /login { proxy_pass http://127.0.0.1:${fa}; }
    location = /healthcheck { proxy_pass http://127.0.0.1:${fa}; }
    location = /_flyteauth {
      internal;
      proxy_pass http://127.0.0.1:${fa}/auth/verify;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
    }
    # A 401 from auth_request: ask again with where the browser was going;
    # a browser with no credential is sent to /login, anyone else gets the 401.
    # (auth_request already copied the first answer's WWW-Authenticate.)
    location @flyteauth_login {
      proxy_pass http://127.0.0.1:${fa}/auth/verify?rd=$request_uri;
      proxy_hide_header WWW-Authenticate;
    }
    location /app/ {
      auth_request /_flyteauth;
      auth_request_set $fa_subject $upstream_http_x_user_subject;
      auth_request_set $fa_client $upstream_http_x_user_client_id;
      auth_request_set $fa_scopes $upstream_http_x_user_scopes;
      auth_request_set $fa_email $upstream_http_x_user_email;
      error_page 401 = @flyteauth_login;
      proxy_set_header X-User-Subject $fa_subject;
      proxy_set_header X-User-Client-Id $fa_client;
      proxy_set_header X-User-Scopes $fa_scopes;
      proxy_set_header X-User-Email $fa_email;
      proxy_pass http://127.0.0.1:${up};
    }
  }
  server {
    listen 127.0.0.1:${up};
    location / {
      default_type application/json;
      return 200 '{"subject":"$http_x_user_subject","client":"$http_x_user_client_id","scopes":"$http_x_user_scopes","email":"$http_x_user_email","uri":"$request_uri"}';
    }
  }`;
}

describe('/auth/verify behind nginx auth_request', () => {
  let srv;
  let nx;
  let nxUrl;

  before(async () => {
    const nxPort = await freePort();
    const upPort = await freePort();
    nxUrl = `http://127.0.0.1:${nxPort}`;
    srv = await startIdentityServer({ publicUrl: nxUrl });
    nx = await startNginx({ servers: nginxServers(nxPort, srv.port, upPort),
      probe: `${nxUrl}/healthcheck` });
  });

  after(async () => {
    await nx?.stop();
    await srv?.stop();
  });

  async function app(path, headers = {}) {
    const res = await fetch(`${nxUrl}${path}`, { headers, redirect: 'manual' });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { res, status: res.status, json, text };
  }

  test('a valid token passes and the upstream sees who it is', async () => {
    const token = await clientToken(srv.url, 'flytepropeller');
    const r = await app('/app/page', { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.subject, 'flytepropeller');
    assert.equal(r.json.client, 'flytepropeller');
    assert.equal(r.json.scopes, 'all');
    assert.equal(r.json.uri, '/app/page');
    // flyteauth's configured header works the same.
    const f = await app('/app/x', { 'flyte-authorization': `Bearer ${token}` });
    assert.equal(f.json.subject, 'flytepropeller');
    // A client cannot name itself: nginx replaces the header with the verified one.
    const forged = await app('/app/y', { authorization: `Bearer ${token}`, 'x-user-subject': 'mallory' });
    assert.equal(forged.json.subject, 'flytepropeller');
  });

  test('no token is 401, a bad one 401 invalid_token, one without all 403', async () => {
    const none = await app('/app/page');
    assert.equal(none.status, 401);
    assert.equal(none.res.headers.get('www-authenticate'), 'Bearer');
    const bad = await app('/app/page', { authorization: 'Bearer not.a.token' });
    assert.equal(bad.status, 401);
    assert.match(bad.res.headers.get('www-authenticate'), /error="invalid_token"/);
    const noall = await clientToken(srv.url, 'noall', undefined, 'access_token');
    const scoped = await app('/app/page', { authorization: `Bearer ${noall}` });
    assert.equal(scoped.status, 403);
    // Straight from flyteauth, the challenge names the scope.
    const direct = await fetch(`${srv.url}/auth/verify`, { headers: { authorization: `Bearer ${noall}` } });
    assert.equal(direct.status, 403);
    assert.match(direct.headers.get('www-authenticate'), /error="insufficient_scope".*scope="all"/);
    // A browser with a bad token is not sent to log in: it has a credential.
    const badHtml = await app('/app/page', { ...HTML, authorization: 'Bearer not.a.token' });
    assert.equal(badHtml.status, 401);
  });

  test('a browser without a session goes to /login and comes back logged in', async () => {
    const jar = new Jar();
    const first = await browse(`${nxUrl}/app/report?id=7`, jar, { headers: HTML });
    assert.equal(first.status, 302);
    const loc = new URL(first.headers.get('location'));
    assert.equal(loc.origin, nxUrl);
    assert.equal(loc.pathname, '/login');
    assert.equal(loc.searchParams.get('redirect_url'), '/app/report?id=7');
    const done = await submitLogin(loc.href, jar, 'alice', PASSWORD);
    assert.ok([302, 303].includes(done.status), `login: ${done.status}`);
    assert.equal(done.headers.get('location'), '/app/report?id=7');
    const back = await browse(`${nxUrl}/app/report?id=7`, jar, { headers: HTML });
    assert.equal(back.status, 200);
    const seen = await back.json();
    assert.equal(seen.subject, 'alice');
    assert.equal(seen.email, 'alice@example.com');
    assert.equal(seen.scopes, 'all');
    assert.equal(seen.client, '');
  });

  test('the way back is checked: no open redirect', async () => {
    const nxHost = new URL(nxUrl).host;
    // Each rd is sent as written (already percent-encoded where shown);
    // flyteauth decodes a query value once, never twice.
    const attacks = [
      'https://evil.example.com/',
      '//evil.example.com/',
      '/\\evil.example.com/',
      '\\\\evil.example.com',
      '%2F%2Fevil.example.com',
      '%252F%252Fevil.example.com',
      '/%5Cevil.example.com',
      'https:evil.example.com',
      `http://${nxHost}@evil.example.com/`,
      `http://evil.example.com%2F%40${nxHost}/`,
      'javascript:alert(1)',
      'data:text/html,%3Cscript%3E',
      '%20//evil.example.com',
      '/%09/evil.example.com',
      '/app%0D%0ASet-Cookie:%20x=1',
      `${nxUrl.replace('http:', 'https:')}/app`,
      `http://127.0.0.1:1/app`,
    ];
    for (const rd of attacks) {
      const r = await fetch(`${srv.url}/auth/verify?rd=${rd}`, { headers: HTML, redirect: 'manual' });
      assert.equal(r.status, 401, `rd=${rd}: ${r.status} ${r.headers.get('location')}`);
      assert.equal(r.headers.get('location'), null, `rd=${rd}`);
      assert.equal(r.headers.get('set-cookie'), null, `rd=${rd}`);
    }
    // What is allowed: a path here, or a URL on an authorizedUris origin,
    // and only the way back goes into the login URL, encoded.
    for (const [rd, back] of [['/app/x', '/app/x'], [`${nxUrl}/app/y`, `${nxUrl}/app/y`],
      [encodeURIComponent('/app/z?a=1&b=2'), '/app/z?a=1&b=2']]) {
      const r = await fetch(`${srv.url}/auth/verify?rd=${rd}`, { headers: HTML, redirect: 'manual' });
      assert.equal(r.status, 302, `rd=${rd}`);
      const loc = new URL(r.headers.get('location'));
      assert.equal(`${loc.origin}${loc.pathname}`, `${nxUrl}/login`);
      assert.equal(loc.searchParams.get('redirect_url'), back);
      assert.deepEqual([...loc.searchParams.keys()], ['redirect_url']);
    }
    // X-Forwarded-Uri/Host from a peer that is not a trusted proxy: ignored.
    const fwd = await fetch(`${srv.url}/auth/verify`, {
      headers: { ...HTML, 'x-forwarded-uri': '/app/x', 'x-forwarded-host': 'evil.example.com',
        'x-forwarded-proto': 'https' },
      redirect: 'manual',
    });
    assert.equal(fwd.status, 401);
  });
});
