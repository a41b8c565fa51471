// logout_csrf.test.mjs -- /logout is not a CSRF target (issue 9 item 7): a
// cross-site GET (any page can embed one) keeps the session and only shows
// a confirmation form; a same-origin GET (Sec-Fetch-Site) or the form's
// POST with its CSRF token ends it; a POST without the token, or with a
// forged one, is 400 and the session still works; redirect_url keeps the
// open-redirect rule.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Jar, browse, hiddenInputs } from './lib/browser.mjs';
import { PASSWORD, login, me, startIdentityServer } from './lib/identity.mjs';

let srv;
before(async () => { srv = await startIdentityServer(); });
after(async () => { await srv?.stop(); });

async function loggedIn() {
  const jar = new Jar();
  const res = await login(srv.url, jar, 'alice', PASSWORD);
  assert.equal(res.status, 303);
  assert.equal((await me(srv.url, jar.headers())).status, 200);
  return jar;
}

function postLogout(jar, fields) {
  return browse(`${srv.url}/logout`, jar, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

test('a cross-site GET keeps the session and shows a confirmation form; its POST ends it', async () => {
  const jar = await loggedIn();
  for (const site of ['cross-site', 'same-site', 'none', undefined]) {
    const headers = site ? { 'sec-fetch-site': site } : {};
    const res = await browse(`${srv.url}/logout?redirect_url=%2Fbye`, jar, { headers });
    assert.equal(res.status, 200, `${site}`);
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.getSetCookie().some((c) => c.startsWith('flyte_session=')), false);
    const html = await res.text();
    assert.match(html, /<form method="post" action="\/logout">/);
    assert.doesNotMatch(html, /<script/i);
    assert.match(res.headers.get('content-security-policy'), /frame-ancestors 'none'/);
    assert.match(jar.lines.get('flyte_csrf_state'), /Path=\/logout/);
    assert.equal((await me(srv.url, jar.headers())).status, 200, `session survives a ${site} GET`);
  }
  const page = await (await browse(`${srv.url}/logout?redirect_url=%2Fbye`, jar)).text();
  const fields = hiddenInputs(page);
  assert.equal(fields.redirect_url, '/bye');
  assert.match(fields.csrf_token, /^[A-Za-z0-9_-]{43}$/);
  const stolen = jar.headers();
  const res = await postLogout(jar, fields);
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/bye');
  assert.match(jar.lines.get('flyte_session'), /Max-Age=0/);
  assert.equal((await me(srv.url, jar.headers())).status, 401);
  assert.equal((await me(srv.url, stolen)).status, 401, 'copies of the cookie die too');
});

test('a same-origin GET ends the session at once', async () => {
  const jar = await loggedIn();
  const stolen = jar.headers();
  const res = await browse(`${srv.url}/logout?redirect_url=%2Fbye`, jar,
    { headers: { 'sec-fetch-site': 'same-origin' } });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/bye');
  assert.equal((await me(srv.url, stolen)).status, 401);
});

test('without a session, GET /logout just redirects', async () => {
  const res = await browse(`${srv.url}/logout`, new Jar(), { headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/');
});

test('POST /logout without the token, or with a wrong one, is 400 and changes nothing', async () => {
  const jar = await loggedIn();
  const page = await (await browse(`${srv.url}/logout`, jar)).text();
  const good = hiddenInputs(page);
  // A cross-site form post: the browser sends the session cookie (SameSite
  // Lax does not cover all of them) but the attacker knows no token.
  const noCsrfCookie = new Jar();
  noCsrfCookie.cookies.set('flyte_session', jar.get('flyte_session'));
  const attempts = [
    [jar, {}],
    [jar, { redirect_url: '/' }],
    [jar, { csrf_token: '' }],
    [jar, { csrf_token: 'A'.repeat(43) }],
    [jar, { csrf_token: `${good.csrf_token.slice(0, 42)}${good.csrf_token.at(-1) === 'A' ? 'B' : 'A'}` }],
    [noCsrfCookie, { csrf_token: good.csrf_token }],
  ];
  // A login form's token does not open /logout either.
  const lf = new Jar();
  const lres = await browse(`${srv.url}/login`, lf);
  const lfields = hiddenInputs(await lres.text());
  const mixed = new Jar();
  mixed.cookies.set('flyte_session', jar.get('flyte_session'));
  mixed.cookies.set('flyte_csrf_state', lf.get('flyte_csrf_state'));
  attempts.push([mixed, { csrf_token: lfields.csrf_token }]);
  for (const [j, fields] of attempts) {
    const res = await postLogout(j, fields);
    assert.equal(res.status, 400, JSON.stringify(fields));
    assert.equal((await res.json()).error, 'invalid_request');
    assert.equal(res.headers.get('location'), null);
    assert.equal(res.headers.getSetCookie().some((c) => c.startsWith('flyte_session=')), false);
    assert.equal((await me(srv.url, jar.headers())).status, 200, 'session still valid');
  }
  // The real form still works afterwards.
  assert.equal((await postLogout(jar, good)).status, 303);
  assert.equal((await me(srv.url, jar.headers())).status, 401);
});

test('redirect_url to a foreign host is refused, by GET and by POST', async () => {
  const jar = await loggedIn();
  for (const p of ['https://evil.com/', '//evil.com', `${srv.url}@evil.com`]) {
    for (const site of ['same-origin', 'cross-site']) {
      const res = await browse(`${srv.url}/logout?redirect_url=${encodeURIComponent(p)}`, jar,
        { headers: { 'sec-fetch-site': site } });
      assert.equal(res.status, 400, `${site} ${p}`);
      assert.equal(res.headers.get('location'), null);
    }
  }
  const fields = hiddenInputs(await (await browse(`${srv.url}/logout`, jar)).text());
  const res = await postLogout(jar, { ...fields, redirect_url: 'https://evil.com/' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  assert.equal((await me(srv.url, jar.headers())).status, 200, 'nothing changed');
  // An authorized absolute URL is fine.
  const ok = await postLogout(jar, { ...fields, redirect_url: `${srv.url}/console` });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), `${srv.url}/console`);
  assert.equal((await me(srv.url, jar.headers())).status, 401);
});
