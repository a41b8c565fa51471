// identity_login.test.mjs -- the local-user login of the real binary, as a
// browser or a script meets it: the form round trip with cookies, cookie
// flags, CSRF, identical answers for a wrong password and an unknown user,
// the throttle (keyed on the username across browsers), open-redirect
// payloads refused, logout, and /.well-known/openid-configuration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Jar, PASSWORD, getForm, login, me, postLogin, startIdentityServer,
} from './lib/identity.mjs';

test('login form round trip: cookies, session, /me, logout', async () => {
  const srv = await startIdentityServer();
  try {
    const jar = new Jar();
    const form = await getForm(srv.url, jar, '/console/projects');
    assert.equal(form.res.status, 200);
    assert.match(form.res.headers.get('content-type'), /^text\/html/);
    assert.equal(form.res.headers.get('cache-control'), 'no-store');
    assert.match(form.html, /<form method="post" action="\/login">/);
    assert.match(form.html, /name="username"/);
    assert.match(form.html, /name="password" type="password"/);
    assert.doesNotMatch(form.html, /<script/i);
    assert.equal(form.redirect, '/console/projects');
    const csrfLine = jar.lines.get('flyte_csrf_state');
    assert.match(csrfLine, /HttpOnly/);
    assert.match(csrfLine, /SameSite=Lax/);

    const res = await postLogin(srv.url, jar, {
      username: 'alice', password: PASSWORD, csrf_token: form.csrf, redirect_url: form.redirect,
    });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/console/projects');
    const line = jar.lines.get('flyte_session');
    assert.ok(line, 'session cookie set');
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Lax/);
    assert.match(line, /; Path=\/(;|$)/);
    assert.doesNotMatch(line, /Secure/, 'insecureCookieHeader: true drops Secure');
    assert.equal(jar.get('flyte_csrf_state'), undefined, 'the form cookie is consumed');
    assert.doesNotMatch(srv.stderr, new RegExp(PASSWORD));
    assert.ok(!srv.stderr.includes(jar.get('flyte_session')), 'no session cookie in the log');

    // The session works for /me ...
    const m = await me(srv.url, jar.headers());
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.subject, 'alice');
    assert.equal(m.json.preferred_username, 'alice');
    assert.equal(m.json.name, 'Alice Example');
    assert.equal(m.json.email, 'alice@example.com');
    assert.equal(m.res.headers.get('x-user-subject'), 'alice');

    // ... a logged-in browser skips the form ...
    const again = await fetch(`${srv.url}/login?redirect_url=%2Fconsole`, { headers: jar.headers(), redirect: 'manual' });
    assert.equal(again.status, 302);
    assert.equal(again.headers.get('location'), '/console');

    // ... and logout ends it, for copies of the cookie too.
    const stolen = jar.headers();
    const out = jar.update(await fetch(`${srv.url}/logout?redirect_url=%2Fbye`,
      { headers: jar.headers({ 'sec-fetch-site': 'same-origin' }), redirect: 'manual' }));
    assert.equal(out.status, 303);
    assert.equal(out.headers.get('location'), '/bye');
    assert.match(jar.lines.get('flyte_session'), /Max-Age=0/);
    assert.equal((await me(srv.url, jar.headers())).status, 401);
    assert.equal((await me(srv.url, stolen)).status, 401);
  } finally {
    await srv.stop();
  }
});

test('cookie flags: Secure unless insecureCookieHeader', async () => {
  const srv = await startIdentityServer({ insecureCookieHeader: false });
  try {
    const jar = new Jar();
    const res = await login(srv.url, jar, 'alice', PASSWORD);
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/console');
    const line = jar.lines.get('flyte_session');
    assert.match(line, /; Secure/);
    assert.match(line, /; HttpOnly/);
    assert.match(line, /; SameSite=Lax/);
    assert.match(jar.lines.get('flyte_csrf_state'), /; Secure/);
  } finally {
    await srv.stop();
  }
});

test('wrong password and unknown user get the same answer', async () => {
  const srv = await startIdentityServer();
  try {
    const a = await login(srv.url, new Jar(), 'alice', 'wrong-password');
    const b = await login(srv.url, new Jar(), 'nobody', 'wrong-password');
    assert.equal(a.status, 401);
    assert.equal(b.status, 401);
    const norm = (html) => html
      .replace(/name="csrf_token" value="[^"]*"/, 'csrf')
      .replace(/required value="[^"]*"/, 'user');
    const ha = await a.text();
    const hb = await b.text();
    assert.match(ha, /Invalid username or password\./);
    assert.equal(norm(ha), norm(hb));
    assert.deepEqual([...a.headers.keys()].sort(), [...b.headers.keys()].sort());
    assert.equal(a.headers.getSetCookie().some((c) => c.startsWith('flyte_session=')), false);
  } finally {
    await srv.stop();
  }
});

test('throttle: 5 failures for a username, from fresh browsers, then 429', async () => {
  const srv = await startIdentityServer();
  try {
    for (let i = 0; i < 5; i++) {
      const r = await login(srv.url, new Jar(), 'alice', `nope-${i}`);
      assert.equal(r.status, 401, `attempt ${i + 1}`);
    }
    // The right password is not even looked at now.
    const r = await login(srv.url, new Jar(), 'alice', PASSWORD);
    assert.equal(r.status, 429);
    const ra = Number(r.headers.get('retry-after'));
    assert.ok(ra > 0 && ra <= 900, `Retry-After ${ra}`);
    assert.match(await r.text(), /Too many failed sign-in attempts/);
    assert.equal(r.headers.getSetCookie().some((c) => c.startsWith('flyte_session=')), false);
    // Another user from the same address is not throttled (5 < 20).
    const bob = await login(srv.url, new Jar(), 'bob', PASSWORD);
    assert.equal(bob.status, 303);
  } finally {
    await srv.stop();
  }
});

test('CSRF: a post without the form cookie, or with another form\'s token, is refused', async () => {
  const srv = await startIdentityServer();
  try {
    const naked = await postLogin(srv.url, new Jar(), { username: 'alice', password: PASSWORD, csrf_token: 'x' });
    assert.equal(naked.status, 403);
    const j1 = new Jar();
    const j2 = new Jar();
    await getForm(srv.url, j1);
    const f2 = await getForm(srv.url, j2);
    const cross = await postLogin(srv.url, j1, { username: 'alice', password: PASSWORD, csrf_token: f2.csrf });
    assert.equal(cross.status, 403);
    assert.equal(cross.headers.getSetCookie().some((c) => c.startsWith('flyte_session=')), false);
  } finally {
    await srv.stop();
  }
});

test('test_open_redirect: /login and /logout refuse foreign targets', async () => {
  const payloads = [
    '//evil.com', '/\\evil.com', 'https://evil.com', 'http://127.0.0.1.evil.com/',
    'https://flyte.example.com.evil.com', 'javascript:alert(1)', '%2F%2Fevil.com',
    'http://127.0.0.1@evil.com/', '/\t/evil.com', 'http:/evil.com', 'data:text/html,x',
  ];
  const srv = await startIdentityServer();
  try {
    payloads.push(`${srv.url}@evil.com`, `http://127.0.0.1:${srv.port + 1}/`);
    for (const p of payloads) {
      for (const path of ['/login', '/logout']) {
        const r = await fetch(`${srv.url}${path}?redirect_url=${encodeURIComponent(p)}`, { redirect: 'manual' });
        assert.equal(r.status, 400, `${path} ${p}`);
        assert.equal(r.headers.get('location'), null);
        assert.equal((await r.json()).error, 'invalid_request');
      }
      // The form field cannot smuggle one in either.
      const jar = new Jar();
      const form = await getForm(srv.url, jar);
      const r = await postLogin(srv.url, jar, { username: 'alice', password: PASSWORD, csrf_token: form.csrf, redirect_url: p });
      assert.equal(r.status, 400, `POST ${p}`);
      assert.equal(r.headers.get('location'), null);
    }
    // An absolute URL on the authorized origin is fine.
    const ok = await login(srv.url, new Jar(), 'alice', PASSWORD, `${srv.url}/console`);
    assert.equal(ok.status, 303);
    assert.equal(ok.headers.get('location'), `${srv.url}/console`);
  } finally {
    await srv.stop();
  }
});

test('/.well-known/openid-configuration is flyteauth\'s own without an IdP', async () => {
  const srv = await startIdentityServer();
  try {
    const r = await fetch(`${srv.url}/.well-known/openid-configuration`);
    assert.equal(r.status, 200);
    const d = await r.json();
    assert.equal(d.issuer, srv.url);
    assert.equal(d.userinfo_endpoint, `${srv.url}/oauth2/userinfo`);
  } finally {
    await srv.stop();
  }
});
