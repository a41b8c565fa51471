// idp_browser.test.mjs -- a real browser (Debian's headless Chromium, driven
// by playwright-core) through flyteauth's logins: a person types at a login
// form -- flyteauth's own for a local user, and glewlwyd's script-driven
// page for a user of that upstream IdP -- lands on redirect_url, the browser
// itself asks for /me with the session cookie it keeps (the IdP's claims
// for the IdP's user), and `flyteauth login` (Pkce) then completes in that
// same browser: its $BROWSER hands the authorize URL over, Chromium opens
// it with the session it has, and the CLI's loopback listener gets the code.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet } from 'jose';

import { hasChromium, launchChromium } from './lib/chromium.mjs';
import { PASSWORD, cli, machine, startClientServer, verified } from './lib/client.mjs';
import { glewlwydPageLogin, startGlewlwyd } from './lib/glewlwyd.mjs';
import { sleep } from './lib/server.mjs';
import { rpPort, startRpServer } from './lib/upstream.mjs';

// `flyteauth login` with a $BROWSER that hands the URL to the test (written
// to a file), for Chromium to open. Resolves to { result, url }.
async function cliLoginInBrowser(m, context, serverUrl) {
  m.file('.flyte/config.yaml', `admin:\n  endpoint: ${serverUrl}\n  insecure: true\n  authType: Pkce\n`);
  const urlFile = path.join(m.home, 'browser-url');
  const handoff = m.file('handoff-browser', '#!/bin/sh\nprintf \'%s\\n\' "$1" > "$BB_URL_FILE.tmp" && mv "$BB_URL_FILE.tmp" "$BB_URL_FILE"\n');
  chmodSync(handoff, 0o755);
  const running = cli(m, ['login'], { BROWSER: handoff, BB_URL_FILE: urlFile });
  let url = null;
  for (let i = 0; i < 500 && !url; i++) {
    if (existsSync(urlFile)) url = readFileSync(urlFile, 'utf8').trim();
    else await sleep(20);
  }
  assert.ok(url, 'the CLI started $BROWSER with the authorize URL');
  const page = await context.newPage();
  try {
    const done = page.waitForResponse((r) => new URL(r.url()).pathname === '/callback' &&
      new URL(r.url()).hostname === 'localhost');
    await page.goto(url);
    const res = await done;
    assert.equal(res.status(), 200, 'the CLI\'s listener answers the browser');
    assert.match(await page.textContent('body'), /Login complete/);
  } finally {
    await page.close();
  }
  return { result: await running, url };
}

// GET /me as the browser's own navigation (the landing page's CSP allows
// no fetch from script, rightly): { status, body, subject header }.
async function meInBrowser(page, base) {
  const r = await page.goto(`${base}/me`);
  return { status: r.status(), body: await r.json(), subject: r.headers()['x-user-subject'] };
}

describe('Chromium', { skip: !hasChromium() && 'Debian chromium is not installed' }, () => {
  let ch;
  before(async () => { ch = await launchChromium(); });
  after(async () => { await ch?.close(); });

  test('flyteauth\'s local login form, redirect_url, /me from the page, then `flyteauth login`', async () => {
    const srv = await startClientServer();
    const context = await ch.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${srv.url}/login?redirect_url=${encodeURIComponent('/?from=browser')}`);
      await page.fill('input[name="username"]', 'alice');
      await page.fill('input[name="password"]', PASSWORD);
      await Promise.all([
        page.waitForURL(`${srv.url}/?from=browser`),
        page.click('button[type="submit"]'),
      ]);
      assert.match(await page.textContent('body'), /Signed in as/);
      // The browser itself asks for /me, with the cookie it keeps (HttpOnly:
      // no script can read it).
      assert.equal(await page.evaluate(() => document.cookie), '');
      const me = await meInBrowser(page, srv.url);
      assert.equal(me.status, 200);
      assert.equal(me.body.subject, 'alice');
      assert.equal(me.subject, 'alice');
      assert.equal(me.body.name, 'Alice Example');
      assert.equal(me.body.email, 'alice@example.com');

      const m = machine();
      const { result } = await cliLoginInBrowser(m, context, srv.url);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `Logged in to ${srv.url} as alice (Alice Example)\n`);
      const cached = JSON.parse(readFileSync(m.cachePath(srv.url), 'utf8'));
      assert.equal((await verified(srv, cached.access_token)).sub, 'alice');
    } finally {
      await context.close();
      await srv.stop();
    }
  });

  test('through glewlwyd: its login form, redirect_url, /me with its claims, then `flyteauth login`', async () => {
    const user = { username: 'gwen', password: 'gwen-password-1', name: 'Gwen Glew', email: 'gwen@example.org' };
    const rp = await rpPort();
    const gl = await startGlewlwyd({
      users: [user],
      clients: [{ clientId: 'flyteauth', secret: 'flyteauthSecret0123456789', redirectUris: [rp.callback] }],
    });
    let srv;
    const context = await ch.browser.newContext();
    try {
      srv = await startRpServer({ port: rp.port, baseUrl: gl.issuer, clientId: 'flyteauth',
        secret: 'flyteauthSecret0123456789' });
      const page = await context.newPage();
      await page.goto(`${srv.url}/login?redirect_url=${encodeURIComponent('/?from=idp')}`);
      assert.ok(page.url().startsWith(`${gl.url}/login.html?`), `at glewlwyd's login page: ${page.url()}`);
      await glewlwydPageLogin(page, user);
      await page.waitForURL(`${srv.url}/?from=idp`);
      assert.match(await page.textContent('body'), /Signed in as/);
      const me = await meInBrowser(page, srv.url);
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, user.name);
      assert.equal(me.body.email, user.email);
      assert.equal(me.body.preferred_username, user.username);
      assert.ok(me.body.subject && me.body.subject !== user.username, 'the subject is glewlwyd\'s own');
      assert.equal(me.subject, me.body.subject);

      const m = machine();
      const { result } = await cliLoginInBrowser(m, context, srv.url);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Logged in to ${srv.url} as .*${user.name}`));
      const cached = JSON.parse(readFileSync(m.cachePath(srv.url), 'utf8'));
      srv.jwks ??= createRemoteJWKSet(new URL(`${srv.url}/oauth2/jwks`));
      assert.equal((await verified(srv, cached.access_token)).sub, me.body.subject);
    } finally {
      await context.close();
      await srv?.stop();
      await gl.stop();
    }
  });
});
