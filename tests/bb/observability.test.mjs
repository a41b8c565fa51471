// observability.test.mjs -- what an operator watches, on the real binary:
// GET /metrics on its own listener, scraped with a real Prometheus text
// parser (npm parse-prometheus-text-format) before and after real traffic,
// with the exact difference asserted per series; flytestdlib's logger keys
// (logger.level, logger.formatter.type) with every line parsed; and one
// audit event per login, token grant, refusal, revocation and device
// decision, none of them carrying a secret, token, code or password.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { browse, hiddenInputs } from './lib/browser.mjs';
import {
  CLIENT_SECRET, Jar, PASSWORD, clientToken, configYaml, login, me, secretFiles,
} from './lib/identity.mjs';
import { freePort, run, startServer, tempDir } from './lib/server.mjs';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

// The identity tests' server (users alice and bob, clients flytepropeller
// and noall) plus a public device client, and `top` as more top-level YAML.
async function start(top, { extraClients = '' } = {}) {
  const config = (await configYaml()) + extraClients + top;
  const srv = await startServer({ config, files: secretFiles() });
  return srv;
}

const TV_CLIENT = `        tv: {id: tv, grant_types: ["${DEVICE_GRANT}"], scopes: [all], public: true}\n`;

async function scrape(port) {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  strictFormat(text);
  return { text, families: parsePrometheusTextFormat(text) };
}

// The text format's grammar, line by line (exposition_formats.md): HELP and
// TYPE once per family and before its samples, metric and label names,
// quoted label values with only \\ \" \n escapes, a number, no duplicate
// series, newline at the end.
function strictFormat(text) {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const typed = new Map();
  const seen = new Set();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const sample = new RegExp(`^(${name})(\\{${label}(?:,${label})*\\})? (-?[0-9]+(?:\\.[0-9]+)?|\\+Inf|NaN)$`);
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = new RegExp(`^# HELP (${name}) [^\\n]*$`).exec(line))) {
      assert.ok(!typed.has(m[1]), `HELP before TYPE, once: ${line}`);
      continue;
    }
    if ((m = new RegExp(`^# TYPE (${name}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      assert.ok(!typed.has(m[1]), `one TYPE per family: ${line}`);
      typed.set(m[1], m[2]);
      continue;
    }
    m = sample.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const family = [...typed.keys()].find((f) => m[1] === f ||
      (typed.get(f) === 'histogram' && [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(m[1])));
    assert.ok(family, `sample before its TYPE: ${line}`);
    const key = m[1] + (m[2] ?? '');
    assert.ok(!seen.has(key), `duplicate series ${key}`);
    seen.add(key);
  }
}

// The value of one series (0 when absent: counters left out are zero).
function value(families, family, labels) {
  const f = families.find((x) => x.name === family);
  if (!f) return 0;
  const m = f.metrics.find((x) => Object.keys(labels).length === Object.keys(x.labels ?? {}).length &&
    Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m ? Number(m.value ?? m.count) : 0;
}

function delta(before, after, family, labels) {
  return value(after.families, family, labels) - value(before.families, family, labels);
}

function form(params) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params).toString(),
  };
}

function basic(id, secret) {
  return 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
}

// JSON log lines of a run; every line of stderr must be one (the config's
// warnings included).
function jsonLines(stderr) {
  return stderr.trim().split('\n').map((l) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(l); }, `not JSON: ${l}`);
    assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, l);
    assert.ok(['debug', 'info', 'warning', 'error'].includes(o.level), l);
    assert.equal(typeof o.msg, 'string', l);
    return o;
  });
}

test('GET /metrics: its own listener, strict text format, exact counts after real traffic', async () => {
  const mport = await freePort();
  const srv = await start(`metrics: {enabled: true, port: ${mport}}\n`);
  try {
    // Not on the public listener.
    assert.equal((await fetch(`${srv.url}/metrics`)).status, 404);
    const before = await scrape(mport);
    const R = 'flyteauth_http_requests_total';
    const T = 'flyteauth_token_requests_total';

    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
    assert.equal((await fetch(`${srv.url}/no/such/path`)).status, 404);
    // Two grants, a wrong secret, an unsupported grant type.
    const token = await clientToken(srv.url, 'flytepropeller');
    await clientToken(srv.url, 'flytepropeller');
    let r = await fetch(`${srv.url}/oauth2/token`, { ...form({ grant_type: 'client_credentials' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('flytepropeller', 'wrong') } });
    assert.equal(r.status, 401);
    r = await fetch(`${srv.url}/oauth2/token`, { ...form({ grant_type: 'password' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('flytepropeller', CLIENT_SECRET) } });
    assert.equal(r.status, 400);
    // The same token twice at /me: verified once, then from the cache...
    for (let i = 0; i < 2; i++) assert.equal((await me(srv.url, { authorization: `Bearer ${token}` })).status, 200);
    // /auth/verify shares that cache: a third look-up, a second hit.
    assert.equal((await fetch(`${srv.url}/auth/verify`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    // A login, a wrong password, then bob's account throttled.
    assert.equal((await login(srv.url, new Jar(), 'alice', PASSWORD)).status, 303);
    assert.equal((await login(srv.url, new Jar(), 'alice', 'not it')).status, 401);
    for (let i = 0; i < 5; i++) assert.equal((await login(srv.url, new Jar(), 'bob', `guess ${i}`)).status, 401);
    assert.equal((await login(srv.url, new Jar(), 'bob', PASSWORD)).status, 429);

    const after = await scrape(mport);
    const d = (f, l) => delta(before, after, f, l);
    assert.equal(d(R, { method: 'GET', route: '/healthcheck', code: '200' }), 3);
    assert.equal(d(R, { method: 'other', route: 'other', code: '404' }), 1);
    assert.equal(d(R, { method: 'POST', route: '/oauth2/token', code: '200' }), 2);
    assert.equal(d(R, { method: 'POST', route: '/oauth2/token', code: '401' }), 1);
    assert.equal(d(R, { method: 'POST', route: '/oauth2/token', code: '400' }), 1);
    assert.equal(d(R, { method: 'GET', route: '/me', code: '200' }), 2);
    assert.equal(d(R, { method: 'GET', route: '/auth/verify', code: '200' }), 1);
    assert.equal(d(R, { method: 'GET', route: '/login', code: '200' }), 8);
    assert.equal(d(R, { method: 'POST', route: '/login', code: '303' }), 1);
    assert.equal(d(R, { method: 'POST', route: '/login', code: '401' }), 6);
    assert.equal(d(R, { method: 'POST', route: '/login', code: '429' }), 1);
    assert.equal(d(T, { grant_type: 'client_credentials', outcome: 'success' }), 2);
    assert.equal(d(T, { grant_type: 'client_credentials', outcome: 'invalid_client' }), 1);
    assert.equal(d(T, { grant_type: 'other', outcome: 'unsupported_grant_type' }), 1);
    assert.equal(d('flyteauth_logins_total', { outcome: 'success' }), 1);
    assert.equal(d('flyteauth_logins_total', { outcome: 'failure' }), 6);
    assert.equal(d('flyteauth_throttle_hits_total', { limiter: 'login' }), 1);
    assert.equal(d('flyteauth_verified_token_cache_total', { result: 'miss' }), 1);
    assert.equal(d('flyteauth_verified_token_cache_total', { result: 'hit' }), 2);
    // The scrapes themselves are not counted.
    assert.doesNotMatch(after.text, /route="\/metrics"/);

    // Store latency: a histogram per operation (read from the text: the
    // npm parser keeps no labels of histogram series); the logins and the
    // throttle read (get) and counted (incr).
    const h = after.families.find((f) => f.name === 'flyteauth_store_duration_seconds');
    assert.equal(h.type, 'HISTOGRAM');
    for (const op of ['get', 'incr']) {
      const series = (s) => [...after.text.matchAll(new RegExp(
        `^flyteauth_store_duration_seconds_${s}\\{op="${op}"(?:,le="([^"]+)")?\\} (\\S+)$`, 'gm'))];
      const buckets = series('bucket');
      assert.equal(buckets.length, 16, `the buckets of ${op}`);
      assert.equal(buckets.at(-1)[1], '+Inf');
      const les = buckets.slice(0, -1).map((b) => Number(b[1]));
      for (let i = 1; i < les.length; i++) assert.ok(les[i] > les[i - 1], 'ascending le');
      const counts = buckets.map((b) => Number(b[2]));
      for (let i = 1; i < counts.length; i++) assert.ok(counts[i] >= counts[i - 1], 'cumulative buckets');
      const [count] = series('count').map((m) => Number(m[2]));
      const [sum] = series('sum').map((m) => Number(m[2]));
      assert.equal(counts.at(-1), count, '+Inf is the count');
      assert.ok(count >= 6, `${op} ran for each checked login: ${count}`);
      assert.ok(sum > 0 && sum < count * 5, `sum ${sum}`);
    }
    // Never a subject, client, token or secret as a label.
    for (const s of ['alice', 'bob', 'flytepropeller', token, CLIENT_SECRET, PASSWORD, '127.0.0.1']) {
      assert.ok(!after.text.includes(s), `the exposition names ${s.slice(0, 12)}`);
    }
  } finally {
    const exited = await srv.stop();
    assert.doesNotMatch(srv.stderr, /AddressSanitizer|LeakSanitizer|runtime error/);
    assert.equal(exited.code, 0, srv.stderr.slice(-2000));
  }
});

test('metrics are off by default: no second listener', async () => {
  const port = await freePort();
  const srv = await start(`metrics: {port: ${port}}\n`);
  try {
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
    assert.doesNotMatch(srv.stderr, /metrics: http/);
  } finally {
    await srv.stop();
  }
});

test('logger.formatter.type json: every line is JSON; access lines carry the request fields', async () => {
  const srv = await start('logger: {level: 4, formatter: {type: json}}\n');
  let lines;
  try {
    assert.equal((await fetch(`${srv.url}/healthcheck?code=SECRETQUERY`)).status, 200);
    await clientToken(srv.url, 'flytepropeller');
  } finally {
    await srv.stop();
    lines = jsonLines(srv.stderr);
  }
  const access = lines.filter((o) => o.msg === 'http');
  const hc = access.find((o) => o.path === '/healthcheck' && o.status === 200);
  assert.ok(hc, srv.stderr);
  assert.equal(hc.level, 'info');
  assert.equal(hc.method, 'GET');
  assert.equal(hc.remote_addr, '127.0.0.1');
  assert.equal(typeof hc.duration_ms, 'number');
  assert.equal(typeof hc.bytes, 'number');
  assert.match(hc.request_id, /^[0-9a-f]{8}-[0-9a-f]+$/);
  assert.equal(new Set(access.map((o) => o.request_id)).size, access.length, 'ids are unique');
  assert.ok(!srv.stderr.includes('SECRETQUERY'), 'never the query');
  // The token's audit event and its access line share the request id.
  const grant = lines.find((o) => o.msg === 'audit' && o.event === 'token');
  const tokenLine = access.find((o) => o.path === '/oauth2/token');
  assert.equal(grant.request_id, tokenLine.request_id);
  assert.ok(lines.some((o) => o.level === 'info' && /^listening on /.test(o.msg)));
  // The config's warning (flytectl is not a static client here) is a line too.
  assert.ok(lines.some((o) => o.level === 'warning' && /config\.yaml: warning: .*"flytectl" is not one of the static clients/.test(o.msg)), srv.stderr);
});

test('logger.level: 3 (warning) drops info lines; 5 (debug) and text format show debug ones', async () => {
  let srv = await start('logger: {level: 3, formatter: {type: json}}\n');
  try {
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
  } finally {
    await srv.stop();
  }
  const lines = jsonLines(srv.stderr);
  assert.ok(lines.every((o) => o.level === 'warning' || o.level === 'error'), srv.stderr);
  assert.doesNotMatch(srv.stderr, /listening on|"msg":"http"/);

  // A device polling before its user decided is a debug line.
  srv = await start('logger: {level: 5, formatter: {type: text}, show-source: true}\n',
    { extraClients: TV_CLIENT });
  try {
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
    const da = await (await fetch(`${srv.url}/oauth2/device/authorize`, form({ client_id: 'tv', scope: 'all' }))).json();
    const poll = await fetch(`${srv.url}/oauth2/token`, form({ grant_type: DEVICE_GRANT, client_id: 'tv', device_code: da.device_code }));
    assert.equal((await poll.json()).error, 'authorization_pending');
  } finally {
    await srv.stop();
  }
  const text = srv.stderr.trim().split('\n');
  for (const l of text) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warn|error) \S/, l);
  assert.ok(text.some((l) => / debug token: client tv polls: authorization_pending$/.test(l)), srv.stderr);
  assert.ok(text.some((l) => / info http 127\.0\.0\.1 GET \/healthcheck 200 \d+ \d+ms id=[0-9a-f]{8}-[0-9a-f]+$/.test(l)), srv.stderr);
});

test('logger.mute: nothing is logged', async () => {
  const srv = await start('logger: {mute: true}\n');
  try {
    assert.equal((await fetch(`${srv.url}/healthcheck`)).status, 200);
  } finally {
    await srv.stop();
  }
  assert.equal(srv.stderr, '');
});

test('bad logger and metrics keys: FILE:LINE:COL from config check and serve', async () => {
  const dir = tempDir();
  const cases = [
    ['logger:\n  level: info\n', /c\.yaml:2:10: logger\.level: expected an integer/],
    ['logger:\n  level: 7\n', /c\.yaml:2:10: logger\.level: 7 is out of range \(0-6\)/],
    ['logger:\n  formatter:\n    type: xml\n', /c\.yaml:3:11: logger\.formatter\.type: bad value "xml"; expected json or text/],
    ['metrics:\n  enabled: true\n  port: 0\n', /c\.yaml:3:9: metrics\.port: port 0 is out of range \(1-65535\)/],
    ['metrics:\n  enabled: true\n  bindAddress: 10.0.0.1:80\n', /c\.yaml:3:16: metrics\.bindAddress: bad address "10\.0\.0\.1:80"/],
    ['server:\n  httpPort: 9000\nmetrics:\n  enabled: true\n  port: 9000\n', /c\.yaml:5:9: metrics\.port 9000 is server\.httpPort too: the metrics listener needs a port of its own/],
  ];
  for (const [yaml, want] of cases) {
    const file = `${dir}/c.yaml`;
    writeFileSync(file, yaml);
    for (const args of [['config', 'check', '--config', file], ['serve', '--config', file]]) {
      const r = await run(args, { env: { FLYTEAUTH_LISTEN: `127.0.0.1:${await freePort()}` } });
      assert.equal(r.code, 1, `${args[0]} ${yaml}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, want, `${args[0]}: ${r.stderr}`);
    }
  }
});

test('audit events: login, token grant, refusal, revocation, device decision; never a secret', async () => {
  const srv = await start('logger: {formatter: {type: json}}\n', { extraClients: TV_CLIENT });
  const secrets = [PASSWORD, CLIENT_SECRET, 'not it'];
  let lines;
  try {
    // Logins.
    const jar = new Jar();
    assert.equal((await login(srv.url, jar, 'alice', PASSWORD)).status, 303);
    assert.equal((await login(srv.url, new Jar(), 'alice', 'not it')).status, 401);
    assert.equal((await login(srv.url, new Jar(), PASSWORD, 'not it')).status, 401);
    // A grant, a refusal, a revocation.
    const token = await clientToken(srv.url, 'flytepropeller');
    secrets.push(token);
    const refused = await fetch(`${srv.url}/oauth2/token`, { ...form({ grant_type: 'client_credentials', scope: 'admin' }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('noall', CLIENT_SECRET) } });
    assert.equal(refused.status, 400);
    const rev = await fetch(`${srv.url}/oauth2/revoke`, { ...form({ token }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('flytepropeller', CLIENT_SECRET) } });
    assert.equal(rev.status, 200);
    // A device decision by alice (logged in above).
    const da = await (await fetch(`${srv.url}/oauth2/device/authorize`, form({ client_id: 'tv', scope: 'all' }))).json();
    secrets.push(da.device_code, da.user_code, da.user_code.replace('-', ''));
    let res = await browse(`${srv.url}/device`, jar);
    const entry = await res.text();
    assert.equal(res.status, 200, entry);
    res = await browse(`${srv.url}/device`, jar, form({ csrf_token: hiddenInputs(entry).csrf_token, user_code: da.user_code }));
    const confirm = await res.text();
    assert.equal(res.status, 200, confirm);
    res = await browse(`${srv.url}/device`, jar, form({ ...hiddenInputs(confirm), action: 'approve' }));
    assert.equal(res.status, 200, await res.text());
    const poll = await (await fetch(`${srv.url}/oauth2/token`, form({ grant_type: DEVICE_GRANT, client_id: 'tv', device_code: da.device_code }))).json();
    assert.ok(poll.access_token, JSON.stringify(poll));
    secrets.push(poll.access_token);
  } finally {
    await srv.stop();
    lines = jsonLines(srv.stderr);
  }
  const audit = lines.filter((o) => o.msg === 'audit');
  const pick = (o) => Object.fromEntries(['event', 'outcome', 'subject', 'client_id', 'grant_type', 'reason']
    .filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
  assert.deepEqual(audit.map(pick), [
    { event: 'login', outcome: 'success', subject: 'alice' },
    { event: 'login', outcome: 'failure', subject: 'alice', reason: 'wrong password' },
    // A name that is no account may be a password typed in the wrong field.
    { event: 'login', outcome: 'failure', reason: 'unknown user' },
    { event: 'token', outcome: 'success', subject: 'flytepropeller', client_id: 'flytepropeller', grant_type: 'client_credentials' },
    { event: 'token', outcome: 'refused', client_id: 'noall', grant_type: 'client_credentials', reason: 'invalid_scope' },
    { event: 'revoke', outcome: 'success', client_id: 'flytepropeller' },
    { event: 'device', outcome: 'approved', subject: 'alice', client_id: 'tv' },
    { event: 'token', outcome: 'success', subject: 'alice', client_id: 'tv', grant_type: 'device_code' },
  ]);
  for (const o of audit) {
    assert.equal(o.level, 'info');
    assert.equal(o.remote_addr, '127.0.0.1');
    assert.match(o.request_id, /^[0-9a-f]{8}-[0-9a-f]+$/);
  }
  for (const s of secrets) assert.ok(!srv.stderr.includes(s), `a secret reached the log: ${s.slice(0, 6)}...`);
});
