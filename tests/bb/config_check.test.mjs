// config_check.test.mjs -- `flyteauth config check`: every YAML example of
// the seed loads (or, where the seed itself is mis-indented, fails with a
// line that names the fix), and --online loads the secrets as serve does and
// reaches an external authorization server and a real IdP (npm
// oidc-provider).
import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startIdp } from './lib/idp.mjs';
import { freePort, run, tempDir } from './lib/server.mjs';

const SEED = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'config', 'seed');
// The seed's flyte-core examples whose `openId:` block is mis-indented.
const MISINDENTED = new Set(['flyte-core-entra.yaml', 'flyte-core-oidc.yaml']);

test('every seed example loads, or names the fix where the seed is mis-indented', async () => {
  const files = readdirSync(SEED).filter((f) => f.endsWith('.yaml'));
  assert.ok(files.length >= 8, `only ${files.length} seed fixtures`);
  for (const f of files) {
    const file = path.join(SEED, f);
    const r = await run(['config', 'check', '--config', file]);
    if (MISINDENTED.has(f)) {
      assert.equal(r.code, 1, f);
      assert.match(r.stderr, new RegExp(`${f.replace('.', '\\.')}:\\d+:\\d+: key "baseUrl" is not valid under auth\\.userAuth; it belongs under auth\\.userAuth\\.openId — indent it under "openId:"`));
    } else {
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout, /configuration OK\nhint: secrets were not loaded and no remote service was reached; "flyteauth config check --online" does both, as serve will\n$/, f);
    }
  }
});

test('--online: the secrets serve needs, loaded as serve loads them', async () => {
  const dir = tempDir();
  try {
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, `secrets:\n  secrets-prefix: ${dir}\nauth:\n  userAuth:\n    localUsers: []\n`);
    // Missing: each secret named once, at the key that chose where it was
    // looked up (the config set secrets-prefix, not a built-in default).
    let r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 1);
    for (const name of ['cookie_hash_key', 'cookie_block_key', 'claim_symmetric_key', 'token_rsa_key.pem']) {
      assert.match(r.stderr, new RegExp(`^${cfg.replaceAll('/', '\\/')}:2:19: secret ${name.replace('.', '\\.')} not found \\(tried env FLYTE_SECRET_${name.replace('.', '\\.')}, file .*\\) \\(looked up under secrets\\.secrets-prefix\\)$`, 'm'));
    }
    assert.doesNotMatch(r.stderr, /built-in default/);
    assert.match(r.stderr, /4 problem\(s\) found online/);
    assert.equal((await run(['secrets', 'init', '-p', dir])).code, 0);
    r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /token signing key: RS256, kid [A-Za-z0-9_-]{43} \(1 key\(s\) published\)/);
    assert.match(r.stdout, /configuration OK \(secrets loaded, remote services reached\)\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--online: a secret looked up under the built-in prefixes says so, at the file', async () => {
  const dir = tempDir();
  try {
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'server:\n  httpPort: 8088\n');
    const r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^${cfg.replaceAll('/', '\\/')}: secret token_rsa_key\\.pem not found \\(tried env FLYTE_SECRET_token_rsa_key\\.pem, file /etc/secrets/token_rsa_key\\.pem\\) \\(secrets\\.secrets-prefix and secrets\\.env-prefix are not set in the file: the built-in defaults\\)$`, 'm'));
    assert.doesNotMatch(r.stderr, /^built-in default:/m);
    // Without --online the last line says what was not checked.
    const off = await run(['config', 'check', '--config', cfg]);
    assert.equal(off.code, 0, off.stderr);
    assert.match(off.stdout, /configuration OK\nhint: secrets were not loaded and no remote service was reached; "flyteauth config check --online" does both, as serve will\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clientSecret: null (Helm makes no secret): one story, the secret is generated on first start', async () => {
  const r = await run(['config', 'check', '--config', path.join(SEED, 'disable-helm-secret.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /static clients: .*flytepropeller \(confidential, secret generated on first start\)/);
  assert.match(r.stderr + r.stdout, /note: the built-in static client flytepropeller gets a secret generated on the installation's first start/);
  assert.doesNotMatch(r.stderr + r.stdout, /disabled|no secret/);
});

// What every config below starts with: loopback, its own database and
// secrets under dir; the user authentication follows under `userAuth:`.
function configHead(dir) {
  return `server:
  httpPort: 8088
  bindAddress: 127.0.0.1
database:
  sqlite:
    file: ${dir}/flyteauth.db
secrets:
  secrets-prefix: ${dir}
auth:
  authorizedUris: [http://127.0.0.1:8088]
  userAuth:
`;
}

function selfConfig(dir, idpUrl) {
  return `${configHead(dir)}    openId:
      baseUrl: ${idpUrl}
      clientId: flyteauth
`;
}

test('--online: secrets loaded and the IdP reached', async () => {
  const idp = await startIdp({ clients: [{ client_id: 'flyteauth', client_secret: 's3cret', redirect_uris: ['http://127.0.0.1:8088/callback'] }] });
  const dir = tempDir();
  try {
    assert.equal((await run(['secrets', 'init', '-p', dir])).code, 0);
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, selfConfig(dir, idp.issuer));

    // The IdP client secret is missing: named with both places, at its position.
    let r = await run(['config', 'check', '--config', cfg, '--online'], { env: { FLYTE_SECRET_oidc_client_secret: '' } });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /FLYTE_SECRET_oidc_client_secret/);

    writeFileSync(path.join(dir, 'oidc_client_secret'), 's3cret\n', { mode: 0o600 });
    r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`IdP ${idp.issuer.replaceAll('/', '\\/')}: reachable, issuer matches`));
    assert.match(r.stdout, /token signing key: RS256, kid [A-Za-z0-9_-]{43} \(1 key\(s\) published\)/);
    assert.match(r.stdout, /configuration OK \(secrets loaded, remote services reached\)\n$/);
    assert.ok(!r.stdout.includes('s3cret') && !r.stderr.includes('s3cret'), 'secret value printed');

    // A wrong issuer is explained.
    writeFileSync(cfg, selfConfig(dir, `${idp.issuer}/`.replace('127.0.0.1', 'localhost')));
    r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config\.yaml:13:16: the IdP at http:\/\/localhost:\d+\/ says its issuer is "http:\/\/127\.0\.0\.1:\d+"; set openId\.baseUrl to exactly that/);
  } finally {
    await idp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--online: an unreachable IdP is reported at baseUrl with FILE:LINE:COL', async () => {
  const dir = tempDir();
  try {
    assert.equal((await run(['secrets', 'init', '-p', dir])).code, 0);
    writeFileSync(path.join(dir, 'oidc_client_secret'), 'x');
    const cfg = path.join(dir, 'config.yaml');
    const port = await freePort(); // nothing listens there
    writeFileSync(cfg, selfConfig(dir, `http://127.0.0.1:${port}`));
    const r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${cfg.replaceAll('/', '\\/')}:13:16: cannot reach the IdP's discovery document at http://127\\.0\\.0\\.1:${port}/\\.well-known/openid-configuration`));
    assert.match(r.stderr, /1 problem\(s\) found online/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// External mode with local users (no upstream IdP): the external
// authorization server is reached, and the token signing keys, which only
// a Self server uses, are not asked for.
function externalConfig(dir, asUrl) {
  return `${configHead(dir)}    localUsers: []
  appAuth:
    authServerType: External
    externalAuthServer:
      baseUrl: ${asUrl}
      metadataUrl: .well-known/openid-configuration
      AllowedAudience: [https://flyte.example.com]
`;
}

test('--online: an External authorization server\'s metadata and JWKS are reached', async () => {
  const idp = await startIdp();
  const dir = tempDir();
  try {
    assert.equal((await run(['secrets', 'init', '-p', dir])).code, 0);
    rmSync(path.join(dir, 'token_rsa_key.pem'));
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, externalConfig(dir, idp.issuer));
    let r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /external authorization server http:\/\/127\.0\.0\.1:\d+: reachable, \d+ signing key\(s\)/);
    assert.match(r.stdout, /configuration OK \(secrets loaded, remote services reached\)\n$/);
    assert.doesNotMatch(r.stdout, /token signing key/);

    // Nothing answers there: reported at metadataUrl (where the URL was
    // completed), and serve would not start either.
    const port = await freePort();
    writeFileSync(cfg, externalConfig(dir, `http://127.0.0.1:${port}`));
    r = await run(['config', 'check', '--config', cfg, '--online']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${cfg.replaceAll('/', '\\/')}:17:20: .*the external authorization server's metadata`));
    assert.match(r.stderr, /1 problem\(s\) found online/);
  } finally {
    await idp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
