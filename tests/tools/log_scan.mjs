#!/usr/bin/env node
// log_scan.mjs DIR -- the end of the black-box suite's log scan (issue 9
// item 9; tests/bb/lib/secret_scan.mjs is the recording half). Reads every
// sensitive string the suite recorded (DIR/secrets/*.jsonl: every token,
// code, secret and password a test sent or received) and searches every
// log a flyteauth process wrote during the suite (DIR/logs/*.log) for
// each of them. A hit fails: it names the log file, the kind of secret and
// the test file that recorded it -- never the secret itself. Prints how
// many logs and strings it scanned.
//
// The search is one pass per log: every recorded string is indexed by its
// first MIN (8) characters, and each position of a log is looked up in
// that index, so the cost is the logs' size, not logs x strings.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const MIN = 8;
const dir = process.argv[2];
if (!dir) {
  console.error('usage: log_scan.mjs DIR');
  process.exit(2);
}

function files(sub, ext) {
  const d = path.join(dir, sub);
  try {
    return readdirSync(d).filter((f) => f.endsWith(ext)).map((f) => path.join(d, f));
  } catch {
    return [];
  }
}

// value -> { kind, file } (the first recording of it); prefix -> [values].
const secrets = new Map();
for (const f of files('secrets', '.jsonl')) {
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (!line) continue;
    let rec;
    try { rec = JSON.parse(line); } catch { continue; }
    if (typeof rec.value === 'string' && rec.value.length >= MIN && !secrets.has(rec.value)) {
      secrets.set(rec.value, { kind: rec.kind, file: rec.file });
    }
  }
}
const index = new Map();
for (const v of secrets.keys()) {
  const k = v.slice(0, MIN);
  if (!index.has(k)) index.set(k, []);
  index.get(k).push(v);
}

const logs = files('logs', '.log');
let bytes = 0;
const hits = [];
for (const log of logs) {
  const text = readFileSync(log, 'latin1');
  bytes += statSync(log).size;
  const found = new Set();
  for (let i = 0; i + MIN <= text.length; i++) {
    const cands = index.get(text.slice(i, i + MIN));
    if (!cands) continue;
    for (const v of cands) {
      if (!found.has(v) && text.startsWith(Buffer.from(v, 'utf8').toString('latin1'), i)) found.add(v);
    }
  }
  for (const v of found) hits.push({ log: path.basename(log), ...secrets.get(v) });
}

const kinds = new Map();
for (const { kind } of secrets.values()) kinds.set(kind, (kinds.get(kind) || 0) + 1);
const byKind = [...kinds].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ');
console.log(`log scan: ${logs.length} logs (${bytes} bytes) searched for ${secrets.size} ` +
  `sensitive strings${byKind ? ` (${byKind})` : ''}`);
if (logs.length === 0 || secrets.size === 0) {
  console.error('log scan: nothing was recorded: is FA_SECRET_SCAN_DIR reaching the tests?');
  process.exit(1);
}
for (const h of hits) {
  console.error(`log scan: ${h.log} contains a ${h.kind} (recorded by ${h.file})`);
}
if (hits.length) {
  console.error(`log scan: FAILED: ${hits.length} secret(s) found in logs`);
  process.exit(1);
}
console.log('log scan: no secret in any log');
