// client_config.test.mjs -- how the client commands read their settings,
// without a server: bad config lines reported as FILE:LINE:COL (several at
// once), --config > $FLYTECTL_CONFIG > ~/.flyte/config.yaml, environment
// errors that name the variable and never the secret, ExternalCommand,
// usage and --help, and the exit codes (0, 1, 2).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { cli, machine } from './lib/client.mjs';

test('bad config lines: every one, with FILE:LINE:COL, then one failure line', async () => {
  const m = machine();
  const cfg = m.file('.flyte/config.yaml', [
    'admin:',
    '  endpont: dns:///flyte.example.com',
    '  authType: Password',
    '  insecure: maybe',
    '  pkceConfig:',
    '    timeout: soon',
    'logger: {level: 4}',
    '',
  ].join('\n'));
  const r = await cli(m, ['token']);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trim().split('\n');
  assert.deepEqual(lines.slice(0, 4), [
    `${cfg}:2:3: unknown key "endpont" in admin; did you mean "endpoint"?`,
    `${cfg}:3:13: admin.authType: bad value "Password"; expected Pkce, ClientSecret, DeviceFlow or ExternalCommand (or flytekit's standard, basic, client_credentials, external_process)`,
    `${cfg}:4:13: admin.insecure: expected a boolean (true or false), got "maybe"`,
    `${cfg}:6:14: admin.pkceConfig.timeout: bad duration "soon"; use Go syntax such as 30m, 1h30m or 500ms`,
  ]);
  assert.equal(lines.length, 5);
  // Each problem once: the summary does not repeat a line (SPEC §2: one clear line).
  assert.equal(lines[4], 'flyteauth: token: 4 error(s) in the client config, above; fix them');
});

test('a bad endpoint is reported at its line', async () => {
  const m = machine();
  const cfg = m.file('c.yaml', 'admin:\n  endpoint: https://user:pw@flyte.example.com\n');
  const r = await cli(m, ['whoami', '--config', cfg]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`^${cfg}:2:13: admin\\.endpoint: bad endpoint "https://user:pw@flyte\\.example\\.com": must not contain credentials`));
});

test('--config beats $FLYTECTL_CONFIG beats ~/.flyte/config.yaml', async () => {
  const m = machine();
  m.file('.flyte/config.yaml', 'admin: {endpoint: home.example.com}\n');
  const ctl = m.file('ctl.yaml', 'admin: {endpoint: ctl.example.com}\n');
  const arg = m.file('arg.yaml', 'admin: {endpoint: arg.example.com}\n');
  // Pkce off a terminal with nothing cached: the error names the endpoint.
  let r = await cli(m, ['token']);
  assert.match(r.stderr, /^flyteauth: token: https:\/\/home\.example\.com \(Pkce\): no cached token/);
  r = await cli(m, ['token'], { FLYTECTL_CONFIG: ctl });
  assert.match(r.stderr, /^flyteauth: token: https:\/\/ctl\.example\.com \(Pkce\)/);
  r = await cli(m, ['token', '--config', arg], { FLYTECTL_CONFIG: ctl });
  assert.match(r.stderr, /^flyteauth: token: https:\/\/arg\.example\.com \(Pkce\)/);
  // ... and the environment beats them all.
  r = await cli(m, ['token', '--config', arg], { FLYTE_PLATFORM_URL: 'env.example.com:8443' });
  assert.match(r.stderr, /^flyteauth: token: https:\/\/env\.example\.com:8443 \(Pkce\)/);
  r = await cli(m, ['token', '--config', `${m.home}/missing.yaml`]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `flyteauth: token: ${m.home}/missing.yaml: cannot read the file: No such file or directory; check --config and $FLYTECTL_CONFIG\n`);
});

test('environment errors name the variable, never the value', async () => {
  const m = machine();
  let r = await cli(m, ['token'], {
    FLYTE_PLATFORM_URL: 'x.example.com', FLYTE_CREDENTIALS_AUTH_MODE: 'basic',
    FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_FILE: `${m.home}/nope`,
  });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `flyteauth: token: https://x.example.com (ClientSecret): FLYTE_CREDENTIALS_CLIENT_SECRET_FROM_FILE: cannot read ${m.home}/nope: No such file or directory; fix the setting named above\n`);
  r = await cli(m, ['token'], {
    FLYTE_PLATFORM_URL: 'x.example.com', FLYTE_CREDENTIALS_AUTH_MODE: 'basic',
    FLYTE_CREDENTIALS_CLIENT_SECRET: 'topsecret\u0007value',
  });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /FLYTE_CREDENTIALS_CLIENT_SECRET contains a control character/);
  assert.ok(!r.stderr.includes('topsecret'));
  r = await cli(m, ['token'], { FLYTE_PLATFORM_URL: 'x.example.com', FLYTE_PLATFORM_INSECURE: 'perhaps' });
  assert.equal(r.stderr, 'flyteauth: token: FLYTE_PLATFORM_INSECURE: expected true or false; fix the setting named above\n');
  r = await cli(m, ['token']);
  assert.equal(r.stderr, 'flyteauth: token: no endpoint: set admin.endpoint in the config file or FLYTE_PLATFORM_URL; fix the setting named above\n');
});

test('ExternalCommand: the command prints the token', async () => {
  const m = machine();
  const cfg = m.file('c.yaml', "admin:\n  authType: ExternalCommand\n  command: [sh, -c, 'echo \"  ext.token.1  \"']\n");
  let r = await cli(m, ['token', '--config', cfg]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'ext.token.1\n');
  const bad = m.file('bad.yaml', "admin:\n  authType: ExternalCommand\n  command: [sh, -c, 'exit 4']\n");
  r = await cli(m, ['token', '--config', bad]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr, 'flyteauth: token: no endpoint (ExternalCommand): admin.command (sh) failed (exit status 4); check admin.command\n');
});

test('usage and --help', async () => {
  const m = machine();
  for (const cmd of ['login', 'token', 'whoami', 'logout']) {
    const h = await cli(m, [cmd, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, new RegExp(`^usage: flyteauth ${cmd} \\[--config FILE\\]`));
    assert.match(h.stdout, /FLYTE_PLATFORM_URL/);
    const u = await cli(m, [cmd, '--bogus']);
    assert.equal(u.code, 2);
    assert.equal(u.stderr, `flyteauth: unknown option '--bogus'\nusage: flyteauth ${cmd} [--config FILE]\n`);
    const n = await cli(m, [cmd, '--config']);
    assert.equal(n.code, 2);
  }
});
