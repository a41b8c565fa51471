// client_flows.test.mjs -- `flyteauth login|token|whoami|logout` against the
// real server: ClientSecret with every way of giving the secret (the
// config's clientSecretLocation file and clientSecretEnvVar, the seed's CI
// variables, and the _FROM_ENV_VAR / _FROM_FILE redirections), Pkce with a
// scripted browser through the local-user login, the cache (0600, bound to
// its endpoint, a failed refresh that keeps the token), ten parallel
// `token` calls that refresh once, whoami, and logout that revokes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  CI_SECRET, browserEnv, cli, logSettled, machine, startClientServer, tokenPosts, verified,
} from './lib/client.mjs';

let srv;

before(async () => { srv = await startClientServer(); });
after(async () => { await srv?.stop(); });

function adminConfig(m, extra = '') {
  return m.file('.flyte/config.yaml', `admin:\n  endpoint: ${srv.url}\n  insecure: true\n${extra}`);
}

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$/;

describe('ClientSecret: every way of giving the secret', () => {
  const ways = {
    'clientSecretLocation (a file)': (m) => {
      const secret = m.file('secrets/client_secret', `${CI_SECRET}\n`);
      adminConfig(m, `  authType: ClientSecret\n  clientId: flytepropeller\n  clientSecretLocation: ${secret}\n`);
      return {};
    },
    'clientSecretEnvVar': (m) => {
      adminConfig(m, '  authType: ClientSecret\n  clientId: flytepropeller\n  clientSecretEnvVar: MY_CI_SECRET\n');
      return { MY_CI_SECRET: CI_SECRET };
    },
    "the seed's CI variables (no config file)": () => ({
      FLYTE_PLATFORM_URL: srv.url,
      FLYTE_PLATFORM_INSECURE: 'True',
      FLYTE_PLATFORM_AUTH: 'True',
      FLYTE_CREDENTIALS_AUTH_MODE: 'basic',
      FLYTE_CREDENTIALS_CLIENT_ID: 'flytepropeller',
      FLYTE_CREDENTIALS_CLIENT_SECRET: CI_SECRET,
      FLYTE_CREDENTIALS_OAUTH_SCOPES: 'all',
      FLYTE_CREDENTIALS_AUTHORIZATION_METADATA_KEY: 'flyte-authorization',
    }),
    'FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_ENV_VAR': (m) => {
      adminConfig(m, '  authType: ClientSecret\n  clientId: flytepropeller\n');
      return { FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_ENV_VAR: 'CI_SYSTEM_SECRET', CI_SYSTEM_SECRET: CI_SECRET };
    },
    'FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_FILE': (m) => {
      const f = m.file('ci/secret.txt', `  ${CI_SECRET}  \n`);
      adminConfig(m, '  authType: ClientSecret\n  clientId: flytepropeller\n');
      return { FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_FILE: f };
    },
  };
  for (const [name, arrange] of Object.entries(ways)) {
    test(name, async () => {
      const m = machine();
      const env = arrange(m);
      const r = await cli(m, ['token'], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, JWT, 'token prints only the token');
      const claims = await verified(srv, r.stdout.trim());
      assert.equal(claims.sub, 'flytepropeller');
      assert.equal(claims.client_id, 'flytepropeller');
      assert.ok(claims.scp.includes('all'), JSON.stringify(claims.scp));
      assert.ok(!r.stderr.includes(CI_SECRET));
      // whoami with the same settings: the client is the subject.
      const w = await cli(m, ['whoami'], env);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(JSON.parse(w.stdout).subject, 'flytepropeller');
      // The token was cached: a second call answers without the server.
      await logSettled(srv);
      const before2 = srv.stderr.length;
      const r2 = await cli(m, ['token'], env);
      assert.equal(r2.stdout, r.stdout);
      await logSettled(srv);
      assert.equal(tokenPosts(srv, before2).length, 0);
    });
  }

  test('a wrong secret: one line naming the endpoint, the mode and what to do', async () => {
    const m = machine();
    const r = await cli(m, ['token'], {
      FLYTE_PLATFORM_URL: srv.url, FLYTE_PLATFORM_INSECURE: '1', FLYTE_CREDENTIALS_AUTH_MODE: 'basic',
      FLYTE_CREDENTIALS_CLIENT_ID: 'flytepropeller', FLYTE_CREDENTIALS_CLIENT_SECRET: 'not-the-secret',
    });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`^flyteauth: token: ${srv.url} \\(ClientSecret\\): .*invalid_client`));
    assert.match(lines[0], /check the client id and secret/);
    assert.ok(!r.stderr.includes('not-the-secret'));
  });

  test('a missing secret file names the setting', async () => {
    const m = machine();
    adminConfig(m, '  authType: ClientSecret\n  clientSecretLocation: /nonexistent/client_secret\n');
    const r = await cli(m, ['token']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no client secret: cannot read \/nonexistent\/client_secret: No such file or directory \(admin\.clientSecretLocation, config line 5\); fix the setting named above$/m);
  });
});

describe('Pkce with a scripted browser', () => {
  test('login, token, whoami, cache file, endpoint binding, logout revokes', async () => {
    const m = machine();
    adminConfig(m, '  authType: Pkce\n');
    const login = await cli(m, ['login'], browserEnv(m));
    assert.equal(login.code, 0, `${login.stderr}\n${readBrowserLog(m)}`);
    assert.equal(login.stdout, `Logged in to ${srv.url} as alice (Alice Example)\n`);
    assert.match(login.stderr, /Log in to http:\/\/127\.0\.0\.1:\d+ in your browser:\n {2}http:\/\/127\.0\.0\.1:\d+\/oauth2\/authorize\?response_type=code&client_id=flytectl&redirect_uri=http%3A%2F%2Flocalhost%3A\d+%2Fcallback&scope=all%20offline&state=[\w-]{43}&code_challenge=[\w-]{43}&code_challenge_method=S256\n/);
    assert.match(readBrowserLog(m), /listener said: .*Login complete/);

    // The cache: 0600 in a 0700 directory, bound to the endpoint.
    const file = m.cachePath(srv.url);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(file)).mode & 0o777, 0o700);
    const cached = JSON.parse(readFileSync(file, 'utf8'));
    assert.equal(cached.endpoint, srv.url);
    assert.equal(cached.auth_type, 'Pkce');
    assert.equal(cached.client_id, 'flytectl');
    assert.ok(cached.refresh_token.length >= 43);

    // token (not a terminal) answers from the cache.
    const t = await cli(m, ['token']);
    assert.equal(t.code, 0, t.stderr);
    assert.equal(t.stdout.trim(), cached.access_token);
    const claims = await verified(srv, cached.access_token);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.scp.sort(), ['all', 'offline']);
    const w = await cli(m, ['whoami']);
    assert.equal(w.code, 0, w.stderr);
    const me = JSON.parse(w.stdout);
    assert.equal(me.subject, 'alice');
    assert.equal(me.email, 'alice@example.com');

    // test_token_other_endpoint: the same server under another name has
    // no token (and never gets this one).
    const other = await cli(m, ['token'], { FLYTE_PLATFORM_URL: `http://localhost:${srv.port}` });
    assert.equal(other.code, 1);
    assert.match(other.stderr, new RegExp(`^flyteauth: token: http://localhost:${srv.port} \\(Pkce\\): no cached token for http://localhost:${srv.port}; run \`flyteauth login\``));

    // logout revokes the refresh token and forgets everything.
    const out = await cli(m, ['logout']);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, `Logged out of ${srv.url}\n`);
    assert.throws(() => statSync(file), /ENOENT/);
    const reuse = await fetch(`${srv.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cached.refresh_token, client_id: 'flytectl' }),
    });
    assert.equal(reuse.status, 400);
    assert.equal((await reuse.json()).error, 'invalid_grant');
    const again = await cli(m, ['logout']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, `Not logged in to ${srv.url}; nothing to do\n`);
    const none = await cli(m, ['token']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no cached token .*; run `flyteauth login` \(on a terminal\) first/);
  });

  test('a wrong password never reaches the listener: login times out', async () => {
    const m = machine();
    adminConfig(m, '  authType: Pkce\n  pkceConfig: {timeout: 3s}\n');
    const r = await cli(m, ['login'], browserEnv(m, 'wrong password'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\(Pkce\): the login was not completed in time \(pkceConfig\.timeout\); run `flyteauth login` again and finish it before the timeout/);
  });
});

function readBrowserLog(m) {
  try { return readFileSync(path.join(m.home, 'browser.log'), 'utf8'); } catch { return ''; }
}

describe('the cache under pressure', () => {
  async function loggedIn() {
    const m = machine();
    adminConfig(m, '  authType: Pkce\n');
    const login = await cli(m, ['login'], browserEnv(m));
    assert.equal(login.code, 0, `${login.stderr}\n${readBrowserLog(m)}`);
    return m;
  }

  // Moves the cached token into its refresh window (still valid).
  function due(m, patch = {}) {
    const file = m.cachePath(srv.url);
    const c = JSON.parse(readFileSync(file, 'utf8'));
    const now = Math.floor(Date.now() / 1000);
    Object.assign(c, { obtained_at: now - 1700, expires_at: now + 100 }, patch);
    writeFileSync(file, JSON.stringify(c), { mode: 0o600 });
    return c;
  }

  // Holds the cache's lock file (util-linux flock) until released, so the
  // ten processes below all start, find it held, and pile up behind it.
  async function holdLock(file) {
    const child = spawn('flock', [`${file}.lock`, '-c', 'echo locked; read _'], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((resolve, reject) => {
      child.stdout.once('data', resolve);
      child.once('error', reject);
    });
    return () => new Promise((resolve) => { child.once('close', resolve); child.stdin.end('\n'); });
  }

  test('ten parallel `flyteauth token` refresh once', async () => {
    const m = await loggedIn();
    const old = due(m);
    await logSettled(srv);
    const mark = srv.stderr.length;
    const release = await holdLock(m.cachePath(srv.url));
    let done = 0;
    const pending = Array.from({ length: 10 }, () => cli(m, ['token']).then((r) => { done++; return r; }));
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(done, 0, 'every process waits for the lock');
    await release();
    const runs = await Promise.all(pending);
    for (const r of runs) assert.equal(r.code, 0, r.stderr);
    const tokens = new Set(runs.map((r) => r.stdout));
    assert.equal(tokens.size, 1, 'every process got the same, refreshed token');
    assert.notEqual(runs[0].stdout.trim(), old.access_token);
    await verified(srv, runs[0].stdout.trim());
    // Let the server write its access log, then count grants.
    await logSettled(srv);
    assert.equal(tokenPosts(srv, mark).length, 1, tokenPosts(srv, mark).join('\n'));
    const now = JSON.parse(readFileSync(m.cachePath(srv.url), 'utf8'));
    assert.notEqual(now.refresh_token, old.refresh_token, 'rotated');
    assert.equal(now.access_token, runs[0].stdout.trim());
  });

  test('a failed refresh keeps the cached token and uses it while valid', async () => {
    const m = await loggedIn();
    const old = due(m, { refresh_token: 'not-a-refresh-token-of-this-server-000000000' });
    const r = await cli(m, ['token']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), old.access_token);
    assert.match(r.stderr, /warn refreshing the token for .* failed: .*invalid_grant/);
    const still = JSON.parse(readFileSync(m.cachePath(srv.url), 'utf8'));
    assert.equal(still.access_token, old.access_token, 'never deleted');
    assert.equal(still.refresh_token, old.refresh_token);
    // Once expired, a non-interactive call fails with what to do.
    due(m, { refresh_token: old.refresh_token, expires_at: Math.floor(Date.now() / 1000) - 5 });
    const expired = await cli(m, ['token']);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /\(Pkce\): the cached token for .* has expired and could not be refreshed; run `flyteauth login`/);
    assert.ok(statSync(m.cachePath(srv.url)).size > 0, 'still not deleted');
  });
});
