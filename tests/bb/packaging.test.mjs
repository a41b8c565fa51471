// packaging.test.mjs -- how operators install and run flyteauth, checked
// against the real binary and the real tools: `make install` lays out the
// tree and `make uninstall` removes it, systemd-analyze accepts the unit,
// the Dockerfile installs exactly the packages the binary links against
// and its HEALTHCHECK works, the Kubernetes manifests parse and fit
// together, and every shipped config (systemd, container, Kubernetes)
// starts a server. Docker itself is not run: this machine has no container
// engine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { BIN, BUILD, run, startServer, tempDir } from './lib/server.mjs';
import { has, sh } from './lib/tools.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---- make install / uninstall -----------------------------------------------------

function tree(root) {
  const out = {};
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(root, p)] = statSync(p).mode & 0o7777;
    }
  };
  walk(root);
  return out;
}

function make(target, vars) {
  const r = sh('make', ['-s', '-C', REPO, target, ...Object.entries(vars).map(([k, v]) => `${k}=${v}`)],
    { env: { ...process.env, MAKEFLAGS: '' } });
  assert.equal(r.status, 0, `make ${target}: ${r.stdout}${r.stderr}`);
}

test('make install lays out the tree under DESTDIR and PREFIX; make uninstall removes it', async (t) => {
  const dest = tempDir('fa-bb-destdir-');
  const vars = { DESTDIR: dest, PREFIX: '/usr', INSTALL_BIN: BIN };
  make('install-files', vars);
  assert.deepEqual(tree(dest), {
    'usr/bin/flyteauth': 0o755,
    'usr/share/man/man1/flyteauth.1': 0o644,
    'usr/share/bash-completion/completions/flyteauth': 0o644,
    'usr/share/zsh/site-functions/_flyteauth': 0o644,
    'usr/lib/systemd/system/flyteauth.service': 0o644,
    'usr/share/doc/flyteauth/flyteauth.yaml': 0o644,
  });
  const bin = path.join(dest, 'usr/bin/flyteauth');
  const v = sh(bin, ['--version']);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^flyteauth \d+\.\d+\.\d+\n$/);
  // What was installed is what the binary generates.
  assert.equal(readFileSync(path.join(dest, 'usr/share/man/man1/flyteauth.1'), 'utf8'),
    (await run(['man'])).stdout);
  assert.equal(readFileSync(path.join(dest, 'usr/share/bash-completion/completions/flyteauth'), 'utf8'),
    (await run(['completion', 'bash'])).stdout);
  // man finds the installed page by name.
  const m = sh('man', ['-P', 'cat', 'flyteauth'], {
    env: { ...process.env, MANPATH: path.join(dest, 'usr/share/man'), MANWIDTH: '80' } });
  assert.equal(m.status, 0, m.stderr);
  assert.match(m.stdout, /flyteauth config check/);

  const unit = readFileSync(path.join(dest, 'usr/lib/systemd/system/flyteauth.service'), 'utf8');
  assert.match(unit, /^ExecStart=\/usr\/bin\/flyteauth serve --config \/etc\/flyteauth\/flyteauth\.yaml$/m);
  assert.doesNotMatch(unit, /@[A-Z]+@/, 'every @VAR@ filled in');
  if (has('systemd-analyze')) {
    // The unit as installed; the binary it names is the one in DESTDIR,
    // and man finds the page its Documentation= names there too.
    const dir = tempDir('fa-bb-unit-');
    const file = path.join(dir, 'flyteauth.service');
    writeFileSync(file, unit.replaceAll('/usr/bin/flyteauth', bin));
    const env = { ...process.env, MANPATH: path.join(dest, 'usr/share/man') };
    const verify = sh('systemd-analyze', ['verify', file], { env });
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.equal(verify.stdout + verify.stderr, '', 'systemd-analyze verify: no complaint');
    const sec = sh('systemd-analyze', ['security', '--offline=yes', '--man=no', file], { env });
    const level = /Overall exposure level for flyteauth\.service: (\d+\.\d+)/.exec(sec.stdout);
    assert.ok(level, sec.stdout + sec.stderr);
    assert.ok(Number(level[1]) <= 2.0, `exposure ${level[1]} (systemd calls <= 2 "OK")`);
  } else {
    t.diagnostic('systemd-analyze is not installed: the unit was not verified');
  }

  make('uninstall', vars);
  assert.deepEqual(tree(dest), {}, 'nothing left behind');
});

// ---- the systemd unit ---------------------------------------------------------------

function secretNames() {
  return ['claim_symmetric_key', 'cookie_hash_key', 'cookie_block_key', 'token_rsa_key.pem'];
}

test('the systemd unit is sandboxed and hands every secret over as a credential', () => {
  const unit = readFileSync(path.join(REPO, 'dist/flyteauth.service.in'), 'utf8');
  const set = (k) => [...unit.matchAll(new RegExp(`^${k}=(.*)$`, 'gm'))].map((m) => m[1]);
  for (const [k, v] of Object.entries({
    DynamicUser: 'yes', StateDirectory: 'flyteauth', ProtectSystem: 'strict',
    NoNewPrivileges: 'yes', PrivateTmp: 'yes', ProtectHome: 'yes', PrivateDevices: 'yes',
    CapabilityBoundingSet: '', MemoryDenyWriteExecute: 'yes', LockPersonality: 'yes',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', RestrictNamespaces: 'yes',
    SystemCallArchitectures: 'native',
  })) assert.deepEqual(set(k), [v], k);
  assert.ok(set('SystemCallFilter').includes('@system-service'));
  // Each secret `secrets init` writes, plus the optional old key, read by
  // systemd from /etc/flyteauth/secrets; the old key defaults to "none".
  const creds = set('LoadCredential').map((l) => l.split(':'));
  assert.deepEqual(creds.map(([id]) => id), [...secretNames(), 'token_rsa_key_old.pem']);
  for (const [id, p] of creds) assert.equal(p, `/etc/flyteauth/secrets/${id}`);
  assert.deepEqual(set('SetCredential'), ['token_rsa_key_old.pem:\\n']);
  // ...and the config the unit runs looks for them where systemd puts them.
  const cfg = readFileSync(path.join(REPO, 'dist/flyteauth.yaml'), 'utf8');
  assert.match(cfg, /^ {2}secrets-prefix: \/run\/credentials\/flyteauth\.service\b/m);
  assert.match(cfg, /file: \/var\/lib\/flyteauth\/flyteauth\.db/);
});

// ---- the container image ------------------------------------------------------------

test('the Dockerfile installs exactly the packages of the libraries the binary links', () => {
  const df = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const from = [...df.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(from, ['debian:12-slim', 'debian:12-slim']);
  const runtime = df.split(/^FROM /m)[2];
  assert.match(runtime, /^RUN sh \/tmp\/install-deps\.sh --runtime /m, 'the runtime list is the script\'s');
  assert.match(runtime, /^USER 10001:10001$/m, 'not root');
  assert.match(runtime, /^VOLUME \/var\/lib\/flyteauth$/m);
  assert.match(runtime, /^COPY deploy\/container\/flyteauth\.yaml \/etc\/flyteauth\/flyteauth\.yaml$/m);

  const list = sh('sh', [path.join(REPO, 'scripts/install-deps.sh'), '--runtime', '--list']);
  assert.equal(list.status, 0, list.stderr);
  const pkgs = list.stdout.split('\n').filter(Boolean);
  // The packages owning each library the binary names (DT_NEEDED), except
  // the sanitizer runtimes of this test build.
  const needed = [...sh('readelf', ['-d', BIN]).stdout.matchAll(/Shared library: \[(.+?)\]/g)]
    .map((m) => m[1]).filter((l) => !/^lib(asan|ubsan)\b/.test(l));
  assert.ok(needed.length >= 10, needed.join(' '));
  // Where the loader finds each one, then which package holds that file
  // (dpkg may know it under /lib or /usr/lib: merged /usr).
  const where = Object.fromEntries([...sh('ldd', [BIN]).stdout.matchAll(/^\s*(\S+) => (\S+)/gm)]
    .map((m) => [m[1], m[2]]));
  const owners = new Set();
  for (const lib of needed) {
    const p = where[lib];
    assert.ok(p, `ldd does not resolve ${lib}`);
    let r = sh('dpkg', ['-S', p]);
    if (r.status !== 0) r = sh('dpkg', ['-S', p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`]);
    assert.equal(r.status, 0, `no package owns ${p}`);
    owners.add(r.stdout.split(':')[0]);
  }
  // Besides libraries: CA certificates for TLS to an IdP, curl for HEALTHCHECK.
  assert.deepEqual([...owners].sort(), pkgs.filter((p) => !['ca-certificates', 'curl'].includes(p)).sort());
  assert.ok(pkgs.includes('curl') && /HEALTHCHECK[^\n]*\n?[^\n]*curl/.test(runtime));
});

test('the Dockerfile HEALTHCHECK command passes on a live server and fails on a dead one', async () => {
  const df = readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
  const hc = /^HEALTHCHECK[^\n]*\\\n\s*CMD (.+)$/m.exec(df);
  assert.ok(hc, 'HEALTHCHECK ... CMD <shell command>');
  const expose = /^EXPOSE (\d+)$/m.exec(df)[1];
  assert.ok(hc[1].includes(`127.0.0.1:${expose}/healthcheck`), hc[1]);
  const srv = await startServer();
  const cmd = hc[1].replace(`127.0.0.1:${expose}`, `127.0.0.1:${srv.port}`);
  try {
    assert.equal(sh('sh', ['-c', cmd]).status, 0, cmd);
  } finally {
    await srv.stop();
  }
  assert.notEqual(sh('sh', ['-c', cmd]).status, 0, 'fails once the server is gone');
});

// ---- the Kubernetes example -----------------------------------------------------------

function yaml(file) {
  const r = sh(path.join(BUILD, 'yaml2json'), [file]);
  assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

function kube() {
  const dir = path.join(REPO, 'deploy/kubernetes');
  const objs = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
    for (const o of yaml(path.join(dir, f))) objs[o.kind] = o;
  }
  return objs;
}

test('the Kubernetes example parses and its objects fit together', async () => {
  const k = kube();
  assert.deepEqual(Object.keys(k).sort(),
    ['ConfigMap', 'Deployment', 'PersistentVolumeClaim', 'Secret', 'Service']);
  const pod = k.Deployment.spec.template.spec;
  const c = pod.containers[0];
  const mount = (name) => c.volumeMounts.find((m) => m.name === name);
  const volume = (name) => pod.volumes.find((v) => v.name === name);
  const labels = k.Deployment.spec.template.metadata.labels;

  assert.deepEqual(k.Deployment.spec.selector.matchLabels, labels);
  assert.deepEqual(k.Service.spec.selector, labels);
  assert.equal(k.Deployment.spec.replicas, 1, 'SQLite: one replica');
  assert.equal(k.Deployment.spec.strategy.type, 'Recreate');
  assert.equal(k.Service.spec.ports[0].targetPort, c.ports[0].name);
  assert.equal(volume('config').configMap.name, k.ConfigMap.metadata.name);
  assert.equal(volume('secrets').secret.secretName, k.Secret.metadata.name);
  assert.equal(volume('secrets').secret.defaultMode, 0o440);
  assert.equal(volume('state').persistentVolumeClaim.claimName, k.PersistentVolumeClaim.metadata.name);
  assert.ok(k.ConfigMap.data[mount('config').subPath] !== undefined);
  assert.deepEqual(c.args, ['serve', '--config', mount('config').mountPath]);
  for (const p of [c.livenessProbe, c.readinessProbe]) {
    assert.deepEqual(p.httpGet, { path: '/healthcheck', port: c.ports[0].name });
  }
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 10001, 'the image\'s user');
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  // The Secret holds what `secrets init` writes, plus the old-key slot.
  assert.deepEqual(Object.keys(k.Secret.stringData), [...secretNames(), 'token_rsa_key_old.pem']);

  // The config: what the pod mounts, and a config flyteauth accepts.
  const dir = tempDir('fa-bb-kube-');
  const file = path.join(dir, 'flyteauth.yaml');
  writeFileSync(file, k.ConfigMap.data['flyteauth.yaml']);
  const cfg = yaml(file)[0];
  assert.equal(cfg.server.httpPort, c.ports[0].containerPort);
  assert.equal(cfg.secrets['secrets-prefix'], mount('secrets').mountPath);
  assert.equal(path.dirname(cfg.database.sqlite.file), mount('state').mountPath);
  const r = await run(['config', 'check', '--config', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /configuration OK/);
});

// Each shipped config, with its paths moved into a temp dir, starts a
// server that signs tokens: `config check` passing is not enough.
for (const [name, load] of [
  ['dist/flyteauth.yaml (systemd)', () => readFileSync(path.join(REPO, 'dist/flyteauth.yaml'), 'utf8')],
  ['deploy/container/flyteauth.yaml (image)',
    () => readFileSync(path.join(REPO, 'deploy/container/flyteauth.yaml'), 'utf8')],
  ['deploy/kubernetes/configmap.yaml', () => kube().ConfigMap.data['flyteauth.yaml']],
]) {
  test(`${name} serves`, async () => {
    const text = load()
      .replace(/secrets-prefix: \S+/, 'secrets-prefix: DIR')
      .replace(/file: \/var\/lib\/flyteauth\//, 'file: DIR/')
      .replace(/httpPort: 8088/, 'httpPort: PORT')
      .replace(/bindAddress: \S+/, 'bindAddress: 127.0.0.1');
    for (const s of ['secrets-prefix: DIR', 'file: DIR/flyteauth.db', 'httpPort: PORT']) {
      assert.ok(text.includes(s), s);
    }
    const srv = await startServer({ config: text });
    try {
      const jwks = await (await fetch(`${srv.url}/oauth2/jwks`)).json();
      assert.equal(jwks.keys.length, 1);
      assert.ok(existsSync(path.join(srv.dir, 'flyteauth.db')));
    } finally {
      await srv.stop();
    }
  });
}
