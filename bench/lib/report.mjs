// report.mjs -- turns one bench/run into its table and its JSON: the median
// of each scenario's runs, the flyteauth/peer ratios, flyteauth against the
// crypto ceiling of `openssl speed` from the same run, and the issue-6
// targets, each marked met, MISSED or n/a.
//
// Usage: node report.mjs META.json RESULTS.jsonl OUT.json
import { readFileSync, writeFileSync } from 'node:fs';

const [metaPath, resultsPath, outPath] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
const lines = readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// ---- one row per (system, scenario) ------------------------------------------

const order = ['healthcheck', 'cc_rs256', 'cc_es256', 'introspect', 'me', 'auth_verify', 'login', 'device'];
const label = {
  healthcheck: 'HTTP ceiling (GET)', cc_rs256: 'client_credentials RS256',
  cc_es256: 'client_credentials ES256', introspect: 'introspection', me: '/me (bearer)',
  auth_verify: '/auth/verify (bearer)', login: 'code+PKCE login', device: 'device flow',
};
const rows = new Map();
for (const l of lines) {
  const key = `${l.system}\t${l.scenario}`;
  if (!rows.has(key)) rows.set(key, { system: l.system, scenario: l.scenario, runs: [] });
  const row = rows.get(key);
  if (l.unavailable) row.unavailable = l.unavailable;
  else row.runs.push(l);
}
const scenarios = [];
for (const row of rows.values()) {
  const out = { system: row.system, scenario: row.scenario };
  if (row.unavailable && row.runs.length === 0) {
    out.unavailable = row.unavailable;
  } else {
    const rate = (r) => r.requests * 1e6 / r.duration_us;
    const errors = row.runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
    Object.assign(out, {
      per_s: median(row.runs.map(rate)),
      p50_ms: median(row.runs.map((r) => r.p50_us / 1000)),
      p99_ms: median(row.runs.map((r) => r.p99_us / 1000)),
      peak_rss_kb: Math.max(...row.runs.map((r) => r.hwm_kb)),
      cpu_s: median(row.runs.map((r) => r.cpu_s)),
      loader_cpu_s: median(row.runs.map((r) => r.loader_cpu_s)),
      other_cpu_s: median(row.runs.map((r) => r.other_cpu_s)),
      // PostgreSQL's CPU (postmaster and backends), for systems on it.
      db_cpu_s: median(row.runs.map((r) => (r.db_cpu_s == null ? NaN : r.db_cpu_s))),
      per_all_cpu_s: median(row.runs.map((r) => (r.db_cpu_s == null ? NaN
        : r.requests / (r.cpu_s + r.db_cpu_s)))),
      busiest_thread_share: median(row.runs.map((r) => r.busiest_thread_share)),
      // Completed requests per second of server CPU: the per-core rate.
      per_cpu_s: median(row.runs.map((r) => (r.cpu_s > 0 ? r.requests / r.cpu_s : NaN))),
      errors,
      runs: row.runs.map(({ system, scenario, ...r }) => r),
    });
    if (row.unavailable) out.note = row.unavailable;
  }
  scenarios.push(out);
}
const sysOrder = ['flyteauth', 'flyteauth-es256', 'flyteauth-external', 'flyteauth-pg',
  'flyteauth-pg3', 'oidc-provider', 'glewlwyd'];
scenarios.sort((a, b) => sysOrder.indexOf(a.system) - sysOrder.indexOf(b.system) ||
  order.indexOf(a.scenario) - order.indexOf(b.scenario));
const get = (system, scenario) => {
  const s = scenarios.find((x) => x.system === system && x.scenario === scenario);
  return s && !s.unavailable && s.errors === 0 ? s : null;
};

// ---- the table ------------------------------------------------------------------

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const mb = (kb) => fmt(kb / 1024, 1);
const head = ['system', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'peak RSS MB', 'CPU s', 'req/CPU-s',
  'top thread', 'db CPU s', 'loader CPU s', 'other CPU s'];
const table = scenarios.map((s) => (s.unavailable
  ? [s.system, label[s.scenario] ?? s.scenario, `n/a: ${s.unavailable}`]
  : [s.system, label[s.scenario] ?? s.scenario, fmt(s.per_s) + (s.errors ? ` (${s.errors} errors)` : ''),
     fmt(s.p50_ms, 2), fmt(s.p99_ms, 2), mb(s.peak_rss_kb), fmt(s.cpu_s, 2), fmt(s.per_cpu_s),
     Number.isFinite(s.busiest_thread_share) ? `${fmt(100 * s.busiest_thread_share)}%` : '-',
     fmt(s.db_cpu_s, 2), fmt(s.loader_cpu_s, 2), fmt(s.other_cpu_s, 2)]));
const widths = head.map((h, i) => Math.max(h.length, ...table.filter((r) => r.length > 3).map((r) => String(r[i]).length)));
const line = (cells) => cells.map((c, i) => (i < 2 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
const print = (s = '') => process.stdout.write(`${s}\n`);

print();
print(`flyteauth benchmark, ${meta.date}, ${meta.machine.nproc} cores, ${meta.machine.cpu_model}`);
print(`wrk 1 thread ${meta.settings.wrk_connections} connections; login/device ${meta.settings.flow_workers} workers; ` +
  `warm-up ${meta.settings.warmup_s}s then median of ${meta.settings.reps} x ${meta.settings.duration_s}s`);
print('CPU s: the server\'s CPU seconds per run; req/CPU-s: requests per server CPU-second (the per-core rate);');
print('top thread: the share of the server\'s CPU its busiest thread took (100% = one core did all the work);');
print('db CPU s: PostgreSQL\'s CPU seconds (flyteauth-pg: 1 instance, flyteauth-pg3: 3 instances, one database);');
print('loader/other CPU s: the load generator\'s, and every other process\'s, CPU seconds in the same run.');
if (meta.machine.background_busy_pct_before_run > 10) {
  print(`WARNING: before the run other processes kept ${meta.machine.background_busy_pct_before_run}% of all CPUs busy`);
}
print();
print(line(head));
print(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) print(r.length > 3 ? line(r) : `${String(r[0]).padEnd(widths[0])}  ${String(r[1]).padEnd(widths[1])}  ${r[2]}`);
print();
print('start-up (exec to first 2xx, median of restarts; flyteauth also its first start on an empty state dir) and idle RSS:');
for (const [name, s] of Object.entries(meta.systems)) {
  const first = s.first_start_ms === undefined ? '' : `  (first start ${fmt(s.first_start_ms, 1)} ms)`;
  print(`  ${name.padEnd(16)} ${fmt(s.startup_ms, 1).padStart(7)} ms  idle RSS ${mb(s.idle_rss_kb).padStart(6)} MB${first}`);
}

// ---- ratios -----------------------------------------------------------------------

const ratios = {};
print();
print('flyteauth / peer (req/s):');
for (const scenario of ['cc_rs256', 'introspect', 'healthcheck']) {
  for (const peer of ['oidc-provider', 'glewlwyd']) {
    const f = get('flyteauth', scenario);
    const p = get(peer, scenario);
    const v = f && p ? f.per_s / p.per_s : null;
    ratios[`${scenario}_vs_${peer}`] = v;
    print(`  ${(label[scenario] + ' vs ' + peer).padEnd(46)} ${v === null ? 'n/a' : fmt(v, 2) + 'x'}`);
  }
}
const rsa = meta.openssl_speed.rsa2048_sign_per_s;
const ec = meta.openssl_speed.ecdsap256_sign_per_s;
print();
print(`crypto ceiling (openssl speed, one core): rsa2048 ${fmt(rsa)} sign/s, ecdsap256 ${fmt(ec)} sign/s`);
const ceiling = [
  ['flyteauth', 'cc_rs256', rsa, 'rsa2048'], ['flyteauth-es256', 'cc_es256', ec, 'ecdsap256'],
  ['oidc-provider', 'cc_rs256', rsa, 'rsa2048'], ['glewlwyd', 'cc_rs256', rsa, 'rsa2048'],
];
for (const [system, scenario, sign, alg] of ceiling) {
  const s = get(system, scenario);
  const v = s ? s.per_cpu_s / sign : null;
  ratios[`${system}_${scenario}_per_core_vs_${alg}_sign`] = v;
  print(`  ${(system + ' ' + label[scenario]).padEnd(46)} ${s ? `${fmt(s.per_cpu_s)} tokens per server CPU-second = ${fmt(100 * v)}% of ${alg} sign/s` : 'n/a'}`);
}

// ---- PostgreSQL beside SQLite ----------------------------------------------------

print();
print('PostgreSQL, 1 and 3 instances on one database, beside SQLite (requests per CPU-second:');
print('flyteauth\'s own CPU, then flyteauth + PostgreSQL):');
const pgRows = {};
for (const scenario of ['cc_rs256', 'login']) {
  const sq = get('flyteauth', scenario);
  for (const system of ['flyteauth', 'flyteauth-pg', 'flyteauth-pg3']) {
    const x = get(system, scenario);
    const name = { flyteauth: 'SQLite', 'flyteauth-pg': 'PostgreSQL x1', 'flyteauth-pg3': 'PostgreSQL x3' }[system];
    pgRows[`${system}_${scenario}`] = x ? {
      per_s: x.per_s, per_cpu_s: x.per_cpu_s, per_all_cpu_s: x.per_all_cpu_s ?? null,
      vs_sqlite_per_cpu_s: sq ? x.per_cpu_s / sq.per_cpu_s : null,
    } : null;
    print(`  ${(label[scenario] + ', ' + name).padEnd(42)} ${x ? `${fmt(x.per_s).padStart(6)}/s  ${fmt(x.per_cpu_s).padStart(6)} /CPU-s` +
      (Number.isFinite(x.per_all_cpu_s) ? `  ${fmt(x.per_all_cpu_s).padStart(6)} /(CPU+db)-s  db ${fmt(x.db_cpu_s, 2)} s` : '') +
      (sq && system !== 'flyteauth' ? `  = ${fmt(100 * x.per_cpu_s / sq.per_cpu_s)}% of SQLite per CPU-s` : '') : 'n/a'}`);
  }
}
ratios.postgres = pgRows;

// ---- issue-6 targets ------------------------------------------------------------

const targets = [];
const target = (name, value, goal, met, shown) => {
  targets.push({ target: name, value, goal, met });
  print(`  ${(met === null ? 'n/a   ' : met ? 'met   ' : 'MISSED')}  ${name.padEnd(52)} ${shown}`);
};
print();
print('targets (issues 6 and 12):');
{
  const v = ratios['cc_rs256_vs_oidc-provider'];
  target('client_credentials RS256 >= 2.5x node-oidc-provider', v, 2.5, v === null ? null : v >= 2.5, v === null ? 'n/a' : `${fmt(v, 2)}x`);
  const c = ratios['flyteauth_cc_rs256_per_core_vs_rsa2048_sign'];
  target('client_credentials RS256 >= 80% of RS256 sign/s per core', c, 0.8, c === null ? null : c >= 0.8, c === null ? 'n/a' : `${fmt(100 * c)}%`);
  const e = get('flyteauth-es256', 'cc_es256');
  target('client_credentials ES256 >= 15,000/s', e?.per_s ?? null, 15000, e ? e.per_s >= 15000 : null, e ? `${fmt(e.per_s)}/s` : 'n/a');
  const me = get('flyteauth', 'me');
  const hc = get('flyteauth', 'healthcheck');
  const m = me && hc ? me.per_s / hc.per_s : null;
  target('/me >= 60% of /healthcheck', m, 0.6, m === null ? null : m >= 0.6, m === null ? 'n/a' : `${fmt(100 * m)}%`);
  const av = get('flyteauth', 'auth_verify');
  const a = av && hc ? av.per_s / hc.per_s : null;
  target('/auth/verify >= 80% of /healthcheck (issue 12)', a, 0.8, a === null ? null : a >= 0.8, a === null ? 'n/a' : `${fmt(100 * a)}%`);
  const xv = get('flyteauth-external', 'auth_verify');
  const x = xv && av ? xv.per_s / av.per_s : null;
  target('External /auth/verify within 10% of Self (issue 12)', x, 0.9, x === null ? null : x >= 0.9, x === null ? 'n/a' : `${fmt(100 * x)}% of Self`);
  const lg = get('flyteauth', 'login');
  target('code + PKCE login (bcrypt cost 6) >= 250/s', lg?.per_s ?? null, 250, lg ? lg.per_s >= 250 : null, lg ? `${fmt(lg.per_s)}/s` : 'n/a');
  const st = Math.max(meta.systems.flyteauth.startup_ms, meta.systems['flyteauth-es256'].startup_ms);
  target('start-up < 100 ms', st, 100, st < 100, `${fmt(st, 1)} ms`);
  const fa = scenarios.filter((s) => s.system.startsWith('flyteauth') && !s.unavailable);
  const peak = fa.length ? Math.max(...fa.map((s) => s.peak_rss_kb)) : null;
  target('RSS < 32 MB under load', peak, 32 * 1024, peak === null ? null : peak < 32 * 1024, peak === null ? 'n/a' : `${mb(peak)} MB peak`);
}
print();

writeFileSync(outPath, `${JSON.stringify({ ...meta, scenarios, ratios, targets }, null, 2)}\n`);
