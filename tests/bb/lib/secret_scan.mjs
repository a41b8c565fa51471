// secret_scan.mjs -- the black-box suite's half of the log scan (issue 9
// item 9): every token, code, secret and password a test sends or receives
// is recorded, and every log a flyteauth process writes is kept, so that
// tests/tools/log_scan.mjs can search every log for every recorded string
// when the suite ends (the Makefile's bb target). Nothing happens unless
// FA_SECRET_SCAN_DIR names the directory to write to:
//   $FA_SECRET_SCAN_DIR/secrets/<pid>.jsonl   {kind, value, file} a line
//   $FA_SECRET_SCAN_DIR/logs/<test>-<pid>-<n>-<name>.log
// Recording happens at the library level: fetch() is wrapped (requests'
// Basic and Bearer credentials and form fields, responses' JSON token
// fields, redirect parameters and session cookies), and the server
// helpers record the secrets they write (secret files, FLYTE_SECRET_*
// environment values, the test passwords and client secrets).
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const DIR = process.env.FA_SECRET_SCAN_DIR || '';
// Shorter strings are not secrets anyone would search for (and would match
// ordinary words): every secret the suite issues is longer.
export const MIN_SECRET_LEN = 8;

const seen = new Set();
let logs = 0;
const testFile = path.basename(process.argv[1] || 'unknown');

if (DIR) {
  mkdirSync(path.join(DIR, 'secrets'), { recursive: true });
  mkdirSync(path.join(DIR, 'logs'), { recursive: true });
}

export const scanning = Boolean(DIR);

// Records one sensitive string under kind ("access token", "password", ...).
export function recordSecret(kind, value) {
  if (!DIR || typeof value !== 'string' || value.length < MIN_SECRET_LEN) return;
  const key = `${kind}\n${value}`;
  if (seen.has(key)) return;
  seen.add(key);
  appendFileSync(path.join(DIR, 'secrets', `${process.pid}.jsonl`),
    `${JSON.stringify({ kind, value, file: testFile })}\n`, { mode: 0o600 });
}

// A PEM file's secret is its base64 body: any line of it in a log is a leak.
export function recordFile(kind, content) {
  const text = String(content);
  if (text.includes('-----BEGIN')) {
    for (const line of text.split('\n')) {
      if (!line.startsWith('-----')) recordSecret(kind, line.trim());
    }
  } else {
    recordSecret(kind, text.trim());
  }
}

// A new log file for one process (name: what it is, e.g. "serve"); null
// when not scanning. The caller appends everything the process writes to
// its log streams.
export function logPath(name) {
  if (!DIR) return null;
  logs += 1;
  const base = `${testFile.replace(/\.test\.mjs$/, '')}-${process.pid}-${logs}-${name}`;
  return path.join(DIR, 'logs', `${base.replace(/[^\w.-]/g, '_')}.log`);
}

export function appendLog(file, chunk) {
  if (file) appendFileSync(file, chunk);
}

// ---- fetch ------------------------------------------------------------------

// Form fields that carry a credential, by the kind they are recorded as.
const FORM_FIELDS = {
  password: 'password', client_secret: 'client secret', code: 'authorization code',
  refresh_token: 'refresh token', code_verifier: 'PKCE verifier', device_code: 'device code',
  token: 'token', access_token: 'access token', id_token_hint: 'ID token',
  client_assertion: 'client assertion', csrf_token: 'CSRF token',
};
// JSON answer fields that carry one.
const JSON_FIELDS = {
  access_token: 'access token', refresh_token: 'refresh token', id_token: 'ID token',
  device_code: 'device code', client_secret: 'client secret',
};
// Redirect (Location) parameters that carry one.
const LOCATION_PARAMS = { code: 'authorization code', access_token: 'access token', id_token: 'ID token' };
// Cookies that carry one.
const COOKIES = ['flyte_session'];

function headerOf(headers, name) {
  if (!headers) return undefined;
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined;
  if (Array.isArray(headers)) {
    const e = headers.find(([k]) => k.toLowerCase() === name);
    return e ? e[1] : undefined;
  }
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return v;
  return undefined;
}

function recordAuthorization(value) {
  if (typeof value !== 'string') return;
  const m = /^\s*(\w+)\s+(\S+)/.exec(value);
  if (!m) return;
  if (/^basic$/i.test(m[1])) {
    const plain = Buffer.from(m[2], 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon < 0) return;
    let secret = plain.slice(colon + 1);
    try { secret = decodeURIComponent(secret.replaceAll('+', ' ')); } catch { /* as sent */ }
    recordSecret('client secret', secret);
  } else {
    recordSecret(`${m[1]} token`, m[2]);
  }
}

function recordForm(body) {
  let params = null;
  if (body instanceof URLSearchParams) params = body;
  else if (typeof body === 'string' && /^[\w.~%+-]+=/.test(body)) params = new URLSearchParams(body);
  if (!params) return;
  for (const [k, v] of params) if (FORM_FIELDS[k]) recordSecret(FORM_FIELDS[k], v);
}

function recordUrl(url) {
  try {
    const u = new URL(url, 'http://x');
    for (const [k, kind] of Object.entries(LOCATION_PARAMS)) {
      recordSecret(kind, u.searchParams.get(k));
      if (u.hash) recordSecret(kind, new URLSearchParams(u.hash.slice(1)).get(k));
    }
  } catch { /* not a URL */ }
}

function recordJson(obj, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 3) return;
  for (const [k, v] of Object.entries(obj)) {
    if (JSON_FIELDS[k] && typeof v === 'string') recordSecret(JSON_FIELDS[k], v);
    else if (v && typeof v === 'object') recordJson(v, depth + 1);
  }
}

async function recordResponse(res) {
  const loc = res.headers.get('location');
  if (loc) recordUrl(loc);
  for (const line of res.headers.getSetCookie?.() ?? []) {
    const m = /^([^=;\s]+)=([^;]*)/.exec(line);
    if (m && COOKIES.includes(m[1])) recordSecret('session cookie', m[2]);
  }
  if (!/json/i.test(res.headers.get('content-type') || '')) return;
  try {
    recordJson(await res.clone().json());
  } catch { /* not JSON after all, or the body is gone */ }
}

function recordRequest(input, init) {
  const url = typeof input === 'string' ? input : input?.url;
  if (url) recordUrl(url);
  recordAuthorization(headerOf(init?.headers, 'authorization'));
  recordAuthorization(headerOf(init?.headers, 'flyte-authorization'));
  const cookie = headerOf(init?.headers, 'cookie');
  if (typeof cookie === 'string') {
    for (const part of cookie.split(';')) {
      const [k, ...v] = part.trim().split('=');
      if (COOKIES.includes(k)) recordSecret('session cookie', v.join('='));
    }
  }
  recordForm(init?.body);
}

if (DIR && !globalThis.fetch.faSecretScan) {
  const inner = globalThis.fetch;
  const wrapped = async (input, init) => {
    try { recordRequest(input, init); } catch { /* recording never breaks a test */ }
    const res = await inner(input, init);
    try { await recordResponse(res); } catch { /* as above */ }
    return res;
  };
  wrapped.faSecretScan = true;
  globalThis.fetch = wrapped;
}
