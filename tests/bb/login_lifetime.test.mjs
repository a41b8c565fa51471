// login_lifetime.test.mjs -- a removed user loses access, and no login
// lasts forever (issue 9 item 5): after alice is removed from localUsers
// and the server restarts on the same store and keys, her refresh token is
// invalid_grant and her browser session no longer works at /me, while
// bob's still do; a refresh family is refused once
// selfAuthServer.refreshTokenMaxLifespan has passed since the login, however
// recently it was rotated.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import {
  FLYTECTL, FLYTECTL_REDIRECT, Jar, PASSWORD, codeFlow, configYaml, login, me, secretFiles,
} from './lib/identity.mjs';
import { freePort, sleep, startServer, tempDir } from './lib/server.mjs';

async function refresh(url, refreshToken) {
  const res = await fetch(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken,
      client_id: 'flytectl' }),
  });
  return { status: res.status, json: await res.json() };
}

const flow = (url, username) => codeFlow(url, { clientId: 'flytectl', redirectUri: FLYTECTL_REDIRECT,
  scope: 'openid all offline', username });

test('a user removed from localUsers loses refresh tokens and sessions after a restart', async () => {
  const store = tempDir();
  const files = secretFiles();
  const port = await freePort();
  const yaml = (await configYaml({ extraClients: FLYTECTL }))
    .replace('DIR/flyteauth.db', path.join(store, 'flyteauth.db'));
  const start = (config) => startServer({ config, files, port });

  let srv = await start(yaml);
  let alice;
  let bob;
  const aliceJar = new Jar();
  const bobJar = new Jar();
  try {
    alice = await flow(srv.url, 'alice');
    bob = await flow(srv.url, 'bob');
    assert.ok(alice.refresh_token && bob.refresh_token);
    // A refresh works while alice is a user.
    const r = await refresh(srv.url, alice.refresh_token);
    assert.equal(r.status, 200, JSON.stringify(r.json));
    alice.refresh_token = r.json.refresh_token;
    assert.equal((await login(srv.url, aliceJar, 'alice', PASSWORD)).status, 303);
    assert.equal((await login(srv.url, bobJar, 'bob', PASSWORD)).status, 303);
    assert.equal((await me(srv.url, aliceJar.headers())).status, 200);
  } finally {
    await srv.stop();
  }

  const withoutAlice = yaml.replace(/^ *- \{username: alice,.*\n/m, '');
  assert.notEqual(withoutAlice, yaml);
  srv = await start(withoutAlice);
  try {
    // bob shows the store, the keys and the issuer survived the restart ...
    const b = await refresh(srv.url, bob.refresh_token);
    assert.equal(b.status, 200, JSON.stringify(b.json));
    assert.equal((await me(srv.url, bobJar.headers())).status, 200);
    // ... and alice, gone from the config, has nothing left.
    const a = await refresh(srv.url, alice.refresh_token);
    assert.equal(a.status, 400, JSON.stringify(a.json));
    assert.equal(a.json.error, 'invalid_grant');
    const m = await me(srv.url, aliceJar.headers());
    assert.equal(m.status, 401, m.text);
    // Her family is revoked: a retry stays refused.
    assert.equal((await refresh(srv.url, alice.refresh_token)).json.error, 'invalid_grant');
  } finally {
    await srv.stop();
  }
});

test('a refresh family dies refreshTokenMaxLifespan after the login, rotation or not', async () => {
  const srv = await startServer({
    config: await configYaml({ extraClients: FLYTECTL,
      extraSelf: '      refreshTokenMaxLifespan: 3s\n' }),
    files: secretFiles(),
  });
  try {
    // Shorter than refreshTokenLifespan (1h): the config is flagged.
    assert.match(srv.stderr, /refreshTokenMaxLifespan is shorter than refreshTokenLifespan/);
    const loggedInAt = Date.now();
    const t = await flow(srv.url, 'alice');
    let rt = t.refresh_token;
    // Rotations inside the window work ...
    for (let i = 0; i < 2; i++) {
      const r = await refresh(srv.url, rt);
      assert.equal(r.status, 200, JSON.stringify(r.json));
      rt = r.json.refresh_token;
      await sleep(500);
    }
    // ... and the latest token, minted under a second ago, dies with the
    // family's absolute lifetime (auth_time is whole seconds: + 1 s).
    await sleep(Math.max(0, loggedInAt + 4200 - Date.now()));
    const late = await refresh(srv.url, rt);
    assert.equal(late.status, 400, JSON.stringify(late.json));
    assert.equal(late.json.error, 'invalid_grant');
  } finally {
    await srv.stop();
  }
});
