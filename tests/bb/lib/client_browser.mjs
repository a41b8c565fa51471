#!/usr/bin/env node
// client_browser.mjs URL -- a scripted browser for the CLI's Pkce flow.
// `flyteauth login` runs $BROWSER with the authorize URL; this follows it
// the way a browser would: the authorize redirect, flyteauth's local-user
// login form (GET /login for the csrf_token and cookie, POST /login with
// username, password and csrf_token), the authorize callback, and finally
// the redirect to the CLI's loopback listener, whose answer it checks.
// BB_USER / BB_PASSWORD choose the user; BB_BROWSER_LOG (a file) receives
// one line per step for the test to read. Exit 0 when the CLI's listener
// answered 200.
import { appendFileSync } from 'node:fs';

const start = process.argv[2];
const user = process.env.BB_USER ?? 'alice';
const password = process.env.BB_PASSWORD ?? '';
const logFile = process.env.BB_BROWSER_LOG;

function log(line) {
  if (logFile) appendFileSync(logFile, `${line}\n`);
}

const cookies = new Map();

function remember(res) {
  for (const sc of res.headers.getSetCookie()) {
    const nv = sc.split(';')[0];
    const i = nv.indexOf('=');
    const name = nv.slice(0, i).trim();
    const value = nv.slice(i + 1);
    if (/;\s*max-age=0/i.test(sc) || value === '') cookies.delete(name);
    else cookies.set(name, value);
  }
}

async function browse(url, init = {}) {
  const headers = { ...(init.headers || {}) };
  const u = new URL(url);
  // Cookies belong to the server, never to the CLI's loopback listener.
  if (cookies.size && u.pathname !== '/callback') {
    headers.cookie = [...cookies].map(([n, v]) => `${n}=${v}`).join('; ');
  }
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  remember(res);
  log(`${init.method || 'GET'} ${u.origin}${u.pathname} -> ${res.status}`);
  return res;
}

function hiddenInputs(html) {
  const out = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
    out[m[1]] = m[2].replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&lt;', '<')
      .replaceAll('&gt;', '>').replaceAll('&amp;', '&');
  }
  return out;
}

async function main() {
  let res = await browse(start);
  let loc = new URL(res.headers.get('location'), start);
  if (loc.pathname === '/login') {
    res = await browse(loc.href);
    const form = hiddenInputs(await res.text());
    res = await browse(new URL('/login', loc).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, username: user, password }).toString(),
    });
    if (![302, 303].includes(res.status)) throw new Error(`login answered ${res.status}`);
    loc = new URL(res.headers.get('location'), loc);
    res = await browse(loc.href);
    loc = new URL(res.headers.get('location'), loc);
  }
  // The last hop: the CLI's listener on the redirect URI.
  res = await browse(loc.href);
  const body = await res.text();
  log(`listener said: ${body.replace(/<[^>]*>/g, '').trim()}`);
  process.exit(res.status === 200 ? 0 : 1);
}

main().catch((e) => {
  log(`browser failed: ${e.message}`);
  process.exit(2);
});
