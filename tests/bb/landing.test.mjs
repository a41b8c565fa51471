// landing.test.mjs -- the page at `/`: who is signed in in this browser, or
// a sign-in link; links to the device page and to sign out. The
// development server's login lands there (userAuth.redirectUrl "/": it has
// no console), a configured server keeps flyteadmin's /console.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Jar, browse, submitLogin } from './lib/browser.mjs';
import { PASSWORD, login, startIdentityServer } from './lib/identity.mjs';
import { startServer } from './lib/server.mjs';

test('/ signed out: a sign-in link and the device page; signed in: who, device, sign out', async () => {
  const srv = await startIdentityServer();
  try {
    const jar = new Jar();
    let res = await browse(`${srv.url}/`, jar);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/html/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-security-policy'), /default-src 'none'/);
    let html = await res.text();
    assert.match(html, /<title>Flyte - Flyte<\/title>/);
    assert.match(html, /You are not signed in\./);
    assert.match(html, /<a href="\/login\?redirect_url=%2F">Sign in<\/a>/);
    assert.match(html, /<a href="\/device">Approve a device<\/a>/);
    assert.doesNotMatch(html, /Sign out/);

    // The sign-in link leads back here.
    res = await submitLogin(`${srv.url}/login?redirect_url=%2F`, jar, 'alice', PASSWORD);
    assert.equal(res.status, 303);
    assert.equal(new URL(res.headers.get('location'), srv.url).pathname, '/');
    html = await (await browse(`${srv.url}/`, jar)).text();
    assert.match(html, /Signed in as <span class="who">Alice Example<\/span> \(alice@example\.com\)/);
    assert.match(html, /<a href="\/device">Approve a device<\/a>/);
    assert.match(html, /<a href="\/logout">Sign out<\/a>/);
    assert.doesNotMatch(html, /not signed in/);

    // bob has no name: his subject is shown.
    const jar2 = new Jar();
    await login(srv.url, jar2, 'bob', PASSWORD, '/');
    html = await (await browse(`${srv.url}/`, jar2)).text();
    assert.match(html, /Signed in as <span class="who">bob<\/span><\/p>/);

    // Sign out, and the page says so.
    // (the link is same-origin: a browser says so in Sec-Fetch-Site)
    res = await browse(`${srv.url}/logout`, jar, { headers: { 'sec-fetch-site': 'same-origin' } });
    assert.ok([302, 303].includes(res.status), `logout: ${res.status}`);
    html = await (await browse(`${srv.url}/`, jar)).text();
    assert.match(html, /You are not signed in\./);
    // A login without a target on a configured server goes to /console.
    const jar3 = new Jar();
    res = await login(srv.url, jar3, 'alice', PASSWORD);
    assert.equal(new URL(res.headers.get('location'), srv.url).pathname, '/console');
  } finally {
    await srv.stop();
  }
});

test('the development server: a login with no target lands on /, not a 404 at /console', async () => {
  const srv = await startServer();
  try {
    const password = /password: (\S+)/.exec(srv.stdout)[1];
    const jar = new Jar();
    const res = await submitLogin(`${srv.url}/login`, jar, 'flyte', password);
    assert.equal(res.status, 303);
    const where = new URL(res.headers.get('location'), srv.url);
    assert.equal(where.pathname, '/');
    const page = await browse(where.href, jar);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Signed in as <span class="who">flyte<\/span>/);
  } finally {
    await srv.stop();
  }
});
