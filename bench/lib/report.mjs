// report.mjs -- turns one bench/run into its table and its JSON: the median
// of each scenario's runs, the flyteauth/peer ratios, every server's tokens
// per CPU-second against `openssl speed` from the same run (CPU-normalised
// efficiency), how evenly flyteauth's workers shared each run, latency at
// 50% and 90% of the peak rate, logins against the bcrypt ceiling of the
// same run, and the targets of issues 6 and 15, each marked met, MISSED or
// n/a.
//
// Usage: node report.mjs META.json RESULTS.jsonl OUT.json
import { readFileSync, writeFileSync } from 'node:fs';

const [metaPath, resultsPath, outPath] = process.argv.slice(2);
const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
const all = readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
// bench/lib/bcrypt.c's runs (the login ceiling) are not server scenarios.
const lines = all.filter((l) => l.system !== 'bcrypt');
const bcryptRuns = all.filter((l) => l.system === 'bcrypt');

const median = (xs) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// ---- one row per (system, scenario) ------------------------------------------

const order = ['healthcheck', 'cc_rs256', 'cc_es256', 'introspect', 'me', 'auth_verify', 'login', 'login_cost10',
  'device', 'healthcheck_at50', 'cc_rs256_at50', 'cc_rs256_at90', 'me_at50', 'me_at90',
  'cc_rs256_at50_flood_secret', 'healthcheck_at50_flood_secret', 'cc_rs256_at50_flood_login',
  'healthcheck_at50_flood_login'];
const label = {
  healthcheck: 'HTTP ceiling (GET)', cc_rs256: 'client_credentials RS256',
  cc_es256: 'client_credentials ES256', introspect: 'introspection', me: '/me (bearer)',
  auth_verify: '/auth/verify (bearer)',
  login: 'code+PKCE login', login_cost10: 'code+PKCE login, cost 10', device: 'device flow',
  cc_rs256_at50: 'client_credentials @50% peak', cc_rs256_at90: 'client_credentials @90% peak',
  me_at50: '/me @50% peak', me_at90: '/me @90% peak', healthcheck_at50: '/healthcheck @50% peak',
  cc_rs256_at50_flood_secret: 'client_credentials @50%, secret flood',
  healthcheck_at50_flood_secret: '/healthcheck @50%, secret flood',
  cc_rs256_at50_flood_login: 'client_credentials @50%, login flood',
  healthcheck_at50_flood_login: '/healthcheck @50%, login flood',
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
      target_rate: row.runs[0].target_rate ?? null,
      // The worst worker's distance from its fair share (1/n of the run's
      // requests) over all runs: 0.05 = every worker within ±5%.
      worker_max_dev: row.runs.every((r) => r.workers)
        ? Math.max(...row.runs.map((r) => {
          const q = r.workers.requests;
          const fair = q.reduce((a, b) => a + b, 0) / q.length;
          return fair > 0 ? Math.max(...q.map((x) => Math.abs(x - fair) / fair)) : 0;
        }))
        : null,
      errors,
      runs: row.runs.map(({ system, scenario, ...r }) => r),
    });
    if (row.unavailable) out.note = row.unavailable;
  }
  scenarios.push(out);
}
const sysOrder = ['flyteauth', 'flyteauth-bcrypt-all', 'flyteauth-es256', 'flyteauth-external', 'flyteauth-pg',
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
  'top thread', 'workers ±', 'db CPU s', 'loader CPU s', 'other CPU s'];
const table = scenarios.map((s) => (s.unavailable
  ? [s.system, label[s.scenario] ?? s.scenario, `n/a: ${s.unavailable}`]
  : [s.system, label[s.scenario] ?? s.scenario, fmt(s.per_s) + (s.errors ? ` (${s.errors} errors)` : ''),
     fmt(s.p50_ms, 2), fmt(s.p99_ms, 2), mb(s.peak_rss_kb), fmt(s.cpu_s, 2), fmt(s.per_cpu_s),
     Number.isFinite(s.busiest_thread_share) ? `${fmt(100 * s.busiest_thread_share)}%` : '-',
     s.worker_max_dev === null ? '-' : `${fmt(100 * s.worker_max_dev)}%`,
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
print('workers ±: flyteauth\'s HTTP workers, the largest distance of one worker\'s requests from its fair share, worst run;');
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
const sp = meta.openssl_speed;
print();
print('CPU-normalised efficiency: tokens per CPU-second of the server process (utime + stime over the run)');
print('divided by openssl speed signatures per CPU-second of one core, taken before the servers started and');
print(`after the last scenario: rsa2048 ${fmt(sp.before?.rsa2048_sign_per_s ?? rsa)} / ${fmt(sp.after?.rsa2048_sign_per_s ?? rsa)} sign/s ` +
  `(mean ${fmt(rsa)}), ecdsap256 ${fmt(sp.before?.ecdsap256_sign_per_s ?? ec)} / ${fmt(sp.after?.ecdsap256_sign_per_s ?? ec)} (mean ${fmt(ec)}).`);
print('1.00 = the server signs as fast per CPU-second as openssl speed does and everything else is free.');
const ceiling = [
  ['flyteauth', 'cc_rs256', rsa, 'rsa2048'], ['flyteauth-es256', 'cc_es256', ec, 'ecdsap256'],
  ['oidc-provider', 'cc_rs256', rsa, 'rsa2048'], ['glewlwyd', 'cc_rs256', rsa, 'rsa2048'],
];
const efficiency = {};
for (const [system, scenario, sign, alg] of ceiling) {
  const s = get(system, scenario);
  const v = s ? s.per_cpu_s / sign : null;
  ratios[`${system}_${scenario}_per_core_vs_${alg}_sign`] = v;
  efficiency[`${system}_${scenario}`] = v;
  print(`  ${(system + ' ' + label[scenario]).padEnd(46)} ${s ? `${fmt(v, 2)}  (${fmt(s.per_cpu_s)} tokens per CPU-s / ${fmt(sign)} ${alg} sign/s)` : 'n/a'}`);
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


// ---- latency under load -------------------------------------------------------

const latency = {};
print();
print('latency under load (wrk paced by bench/wrk/request.lua; flyteauth; median of the runs):');
for (const base of ['cc_rs256', 'me']) {
  const peak = get('flyteauth', base);
  if (peak) {
    print(`  ${label[base].padEnd(30)} peak ${fmt(peak.per_s).padStart(6)}/s            p50 ${fmt(peak.p50_ms, 2).padStart(6)} ms  p99 ${fmt(peak.p99_ms, 2).padStart(7)} ms`);
  }
  for (const pct of [50, 90]) {
    const s = get('flyteauth', `${base}_at${pct}`);
    latency[`${base}_at${pct}`] = s ? { target_per_s: s.target_rate, per_s: s.per_s, p50_ms: s.p50_ms, p99_ms: s.p99_ms } : null;
    print(`  ${label[`${base}_at${pct}`].padEnd(30)} ${s ? `asked ${fmt(s.target_rate).padStart(6)}/s got ${fmt(s.per_s).padStart(6)}/s  p50 ${fmt(s.p50_ms, 2).padStart(6)} ms  p99 ${fmt(s.p99_ms, 2).padStart(7)} ms` : 'n/a'}`);
  }
}

// ---- latency under the abuse floods -------------------------------------------

// The same paced requests while bench/lib/flood.mjs floods the server with
// wrong client secrets or wrong /login passwords; each beside its quiet
// 50% row, as ratios (flood / quiet). The attacker's answers (status
// counts, summed over the runs) show that the flood ran and how it was
// refused.
const underFlood = {};
print();
print(`latency under the abuse floods (${meta.settings.flood_loops ?? '?'} attacker connections from as many loopback addresses;` +
  ' the same pacing as the quiet 50% rows; ratio = under flood / quiet):');
for (const mode of ['secret', 'login']) {
  for (const base of ['cc_rs256', 'healthcheck']) {
    const key = `${base}_at50_flood_${mode}`;
    const all = scenarios.find((x) => x.system === 'flyteauth' && x.scenario === key);
    const q = get('flyteauth', `${base}_at50`);
    const f = get('flyteauth', key);
    const counts = {};
    let sent = 0;
    for (const r of all?.runs ?? []) {
      sent += r.flood?.sent ?? 0;
      for (const [k, v] of Object.entries(r.flood?.counts ?? {})) counts[k] = (counts[k] ?? 0) + v;
    }
    underFlood[key] = q && f ? {
      target_per_s: f.target_rate, per_s: f.per_s, p50_ms: f.p50_ms, p99_ms: f.p99_ms,
      quiet_p50_ms: q.p50_ms, quiet_p99_ms: q.p99_ms,
      p50_ratio: f.p50_ms / q.p50_ms, p99_ratio: f.p99_ms / q.p99_ms,
      flood_sent: sent, flood_counts: counts,
    } : null;
    const u = underFlood[key];
    print(`  ${label[key].padEnd(38)} ${u ? `asked ${fmt(u.target_per_s).padStart(6)}/s got ${fmt(u.per_s).padStart(6)}/s` +
      `  p50 ${fmt(u.p50_ms, 2)} ms (quiet ${fmt(u.quiet_p50_ms, 2)}, ${fmt(u.p50_ratio, 2)}x)` +
      `  p99 ${fmt(u.p99_ms, 2)} ms (quiet ${fmt(u.quiet_p99_ms, 2)}, ${fmt(u.p99_ratio, 2)}x)` +
      `  attacker: ${sent} sent ${JSON.stringify(counts)}` : `n/a${all?.errors ? ` (${all.errors} errors)` : ''}`}`);
  }
}

// ---- logins against the bcrypt ceiling ---------------------------------------

// bench/lib/bcrypt.c checked the user's password against the user's hash
// on every core; a login spends one such check, so the ceiling in logins
// per second is its checks per second. Both per wall second (the loader
// shares the cores) and per CPU-second (the server's CPU vs bcrypt's).
const bcrypt = {};
print();
print('code+PKCE logins against the bcrypt ceiling (bench/lib/bcrypt.c, the user\'s hash, every core, same run):');
for (const [system, scenario, cost] of [['flyteauth', 'login', 'cost6'], ['flyteauth', 'login_cost10', 'cost10'],
  ['flyteauth-bcrypt-all', 'login_cost10', 'cost10']]) {
  const runs = bcryptRuns.filter((r) => r.scenario === cost);
  const lg = get(system, scenario);
  const key = system === 'flyteauth' ? scenario : `${scenario}_bcrypt_all`;
  const name = system === 'flyteauth' ? label[scenario] : `${label[scenario]}, bcryptWorkers ${runs[0]?.threads}`;
  if (!runs.length || !lg) {
    bcrypt[key] = null;
    print(`  ${name.padEnd(42)} n/a`);
    continue;
  }
  const perS = median(runs.map((r) => r.checks * 1e6 / r.duration_us));
  const perCpuS = median(runs.map((r) => r.checks / r.cpu_s));
  bcrypt[key] = {
    bcrypt_checks_per_s: perS, bcrypt_checks_per_cpu_s: perCpuS, threads: runs[0].threads,
    logins_per_s: lg.per_s, logins_per_cpu_s: lg.per_cpu_s,
    wall_ratio: lg.per_s / perS, cpu_ratio: lg.per_cpu_s / perCpuS,
    non_bcrypt_ms_per_login: 1000 / lg.per_cpu_s - 1000 / perCpuS,
  };
  const b = bcrypt[key];
  print(`  ${name.padEnd(42)} ${fmt(lg.per_s)}/s of ${fmt(perS)} checks/s = ${fmt(100 * b.wall_ratio)}%;` +
    ` ${fmt(lg.per_cpu_s)} per server CPU-s of ${fmt(perCpuS)} checks per CPU-s = ${fmt(100 * b.cpu_ratio)}%` +
    ` (${fmt(b.non_bcrypt_ms_per_login, 2)} ms CPU per login besides the check)`);
}

// ---- targets ---------------------------------------------------------------------

const targets = [];
const target = (name, value, goal, met, shown) => {
  targets.push({ target: name, value, goal, met });
  print(`  ${(met === null ? 'n/a   ' : met ? 'met   ' : 'MISSED')}  ${name.padEnd(66)} ${shown}`);
};
print();
print('targets (issues 6 and 12, and issue 15 where it raised them):');
{
  const v = ratios['cc_rs256_vs_oidc-provider'];
  target('client_credentials RS256 >= 2.5x node-oidc-provider', v, 2.5, v === null ? null : v >= 2.5, v === null ? 'n/a' : `${fmt(v, 2)}x`);
  const c = efficiency.flyteauth_cc_rs256 ?? null;
  target('client_credentials RS256 >= 0.90 of rsa2048 sign/s per CPU-second', c, 0.9, c === null ? null : c >= 0.9, c === null ? 'n/a' : fmt(c, 2));
  const e = get('flyteauth-es256', 'cc_es256');
  target('client_credentials ES256 >= 15,000/s', e?.per_s ?? null, 15000, e ? e.per_s >= 15000 : null, e ? `${fmt(e.per_s)}/s` : 'n/a');
  const me = get('flyteauth', 'me');
  const hc = get('flyteauth', 'healthcheck');
  const m = me && hc ? me.per_s / hc.per_s : null;
  target('/me >= 80% of /healthcheck', m, 0.8, m === null ? null : m >= 0.8, m === null ? 'n/a' : `${fmt(100 * m)}%`);
  const av = get('flyteauth', 'auth_verify');
  const a = av && hc ? av.per_s / hc.per_s : null;
  target('/auth/verify >= 80% of /healthcheck (issues 12, 15)', a, 0.8, a === null ? null : a >= 0.8, a === null ? 'n/a' : `${fmt(100 * a)}%`);
  const xv = get('flyteauth-external', 'auth_verify');
  const x = xv && av ? xv.per_s / av.per_s : null;
  target('External /auth/verify within 10% of Self (issue 12)', x, 0.9, x === null ? null : x >= 0.9, x === null ? 'n/a' : `${fmt(100 * x)}% of Self`);
  const lg = get('flyteauth', 'login');
  target('code + PKCE login (bcrypt cost 6) >= 250/s', lg?.per_s ?? null, 250, lg ? lg.per_s >= 250 : null, lg ? `${fmt(lg.per_s)}/s` : 'n/a');
  for (const scenario of ['login', 'login_cost10']) {
    const b = bcrypt[scenario];
    target(`${label[scenario]}: >= 90% of the bcrypt ceiling per CPU-second`, b?.cpu_ratio ?? null, 0.9,
      b ? b.cpu_ratio >= 0.9 : null, b ? `${fmt(100 * b.cpu_ratio)}% (wall ${fmt(100 * b.wall_ratio)}%)` : 'n/a');
  }
  {
    const b = bcrypt.login_cost10_bcrypt_all;
    target('code+PKCE login, cost 10, bcryptWorkers = CPUs: >= 90% of it per second', b?.wall_ratio ?? null, 0.9,
      b ? b.wall_ratio >= 0.9 : null, b ? `${fmt(100 * b.wall_ratio)}% (CPU ${fmt(100 * b.cpu_ratio)}%)` : 'n/a');
  }
  const st = Math.max(meta.systems.flyteauth.startup_ms, meta.systems['flyteauth-es256'].startup_ms);
  target('start-up < 100 ms', st, 100, st < 100, `${fmt(st, 1)} ms`);
  const fa = scenarios.filter((s) => s.system.startsWith('flyteauth') && !s.unavailable);
  const peak = fa.length ? Math.max(...fa.map((s) => s.peak_rss_kb)) : null;
  target('RSS < 32 MB under load', peak, 32 * 1024, peak === null ? null : peak < 32 * 1024, peak === null ? 'n/a' : `${mb(peak)} MB peak`);
  // With wrk's 16 connections only: a flood row's per-worker counts
  // include the attacker's 48 connections and their refusals.
  const spread = fa.filter((s) => s.worker_max_dev !== null && !s.scenario.includes('_flood_'));
  const worst = spread.length ? Math.max(...spread.map((s) => s.worker_max_dev)) : null;
  target('every worker within ±25% of its fair share, every run', worst, 0.25, worst === null ? null : worst <= 0.25,
    worst === null ? 'n/a' : `worst ±${fmt(100 * worst)}% (${spread.find((s) => s.worker_max_dev === worst).scenario})`);
}
print();

writeFileSync(outPath, `${JSON.stringify({ ...meta, scenarios, ratios, efficiency, latency, under_flood: underFlood, bcrypt, targets }, null, 2)}\n`);
